"""``dacs broker``: credentials, ACL and configuration of the central broker."""

from __future__ import annotations

import argparse
from pathlib import Path
import sys

from dacs.broker import (
    DEFAULT_AGGREGATOR_USER,
    BrokerAuthError,
    CentralBrokerOptions,
    add_home,
    render_acl,
    render_central_config,
    write_atomically,
)

_DEFAULTS = CentralBrokerOptions()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``broker add-home``, ``broker render-acl`` and ``broker render-config``."""
    broker = subparsers.add_parser("broker", help="central broker administration")
    commands = broker.add_subparsers(
        dest="broker_command", required=True, metavar="WHAT"
    )

    add = commands.add_parser(
        "add-home",
        help="add a home's account (or replace its password); prints the password",
    )
    add.add_argument("--password-file", type=Path, required=True)
    add.add_argument("--home-id", required=True)
    add.add_argument(
        "--password", help="the home's password (default: a new random one)"
    )
    add.add_argument("--aggregator-user", default=DEFAULT_AGGREGATOR_USER)
    add.set_defaults(handler=run_add_home)

    acl = commands.add_parser("render-acl", help="print the central broker's ACL")
    acl.add_argument("--aggregator-user", default=DEFAULT_AGGREGATOR_USER)
    acl.add_argument("--output", type=Path, help="write to this file instead")
    acl.set_defaults(handler=run_render_acl)

    config = commands.add_parser(
        "render-config", help="print the central broker's mosquitto.conf"
    )
    config.add_argument("--tls-port", type=int, default=_DEFAULTS.tls_port)
    config.add_argument("--cafile", default=_DEFAULTS.cafile)
    config.add_argument("--certfile", default=_DEFAULTS.certfile)
    config.add_argument("--keyfile", default=_DEFAULTS.keyfile)
    config.add_argument("--password-file", default=_DEFAULTS.password_file)
    config.add_argument("--acl-file", default=_DEFAULTS.acl_file)
    config.add_argument(
        "--persistence-location", default=_DEFAULTS.persistence_location
    )
    config.add_argument(
        "--plain-port",
        type=int,
        default=_DEFAULTS.plain_port,
        help="listener without TLS for the aggregator (0: none)",
    )
    config.add_argument(
        "--plain-address",
        default=_DEFAULTS.plain_address,
        help="address of that listener ('*': every interface)",
    )
    config.add_argument("--output", type=Path, help="write to this file instead")
    config.set_defaults(handler=run_render_config)


def run_add_home(args: argparse.Namespace) -> int:
    """Add the home and print its password on stdout."""
    try:
        password = add_home(
            args.password_file,
            args.home_id,
            args.password,
            aggregator_user=args.aggregator_user,
        )
    except BrokerAuthError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(
        f"home {args.home_id} can log in; reload the broker (SIGHUP) to apply",
        file=sys.stderr,
    )
    print(password)
    return 0


def run_render_acl(args: argparse.Namespace) -> int:
    """Print or write the ACL."""
    try:
        text = render_acl(args.aggregator_user)
    except BrokerAuthError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return _emit(text, args.output, mode=0o644)


def run_render_config(args: argparse.Namespace) -> int:
    """Print or write ``mosquitto.conf``."""
    options = CentralBrokerOptions(
        tls_port=args.tls_port,
        cafile=args.cafile,
        certfile=args.certfile,
        keyfile=args.keyfile,
        password_file=args.password_file,
        acl_file=args.acl_file,
        persistence_location=args.persistence_location,
        plain_port=args.plain_port or None,
        plain_address=None if args.plain_address == "*" else args.plain_address,
    )
    return _emit(render_central_config(options), args.output, mode=0o644)


def _emit(text: str, output: Path | None, *, mode: int) -> int:
    if output is None:
        sys.stdout.write(text)
    else:
        write_atomically(output, text, mode=mode)
    return 0

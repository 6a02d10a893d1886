"""``dacs connect``: the add-on's service, its preparation step and health check."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
import logging
import os
from pathlib import Path
import shlex
import signal
import sys

import aiohttp

from dacs.broker import BrokerAuthError
from dacs.connect import (
    AddonRuntime,
    AddonSettings,
    CommandBrokerController,
    HomeBrokerSettings,
    ManualBrokerController,
    SupervisorSettings,
    addon_hostname,
    load_enrollment,
    prepare_home_broker,
)
from dacs.connect.addon import DEFAULT_STATUS_PORT
from dacs.connect.broker_control import BrokerController
from dacs.connect.discovery import DEFAULT_SUPERVISOR_URL, SUPERVISOR_TOKEN_ENV
from dacs.connect.enrollment_store import ENROLLMENT_FILE
from dacs.connect.errors import EnrollmentStoreError
from dacs.connect.local_broker import broker_directory

_LOGGER = logging.getLogger(__name__)

_DEFAULT_DATA_DIR = Path("/data")
_HEALTH_TIMEOUT_S = 5.0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``connect run``, ``connect prepare`` and ``connect healthcheck``."""
    connect = subparsers.add_parser(
        "connect", help="the DACS Connect add-on: connect this home to the aggregator"
    )
    commands = connect.add_subparsers(
        dest="connect_command", required=True, metavar="WHAT"
    )

    run = commands.add_parser(
        "run", help="enroll, bridge to the aggregator and serve the status page"
    )
    _add_common_arguments(run)
    run.add_argument(
        "--options",
        type=Path,
        help="the options file (default: DATA_DIR/options.json)",
    )
    run.add_argument("--status-host", default="0.0.0.0")  # noqa: S104 - ingress
    run.add_argument("--status-port", type=int, default=DEFAULT_STATUS_PORT)
    run.add_argument(
        "--restart-command",
        help="command that restarts the home broker, e.g. "
        "'s6-svc -r /run/service/mosquitto' (default: ask in the log)",
    )
    run.add_argument(
        "--aggregator-ca-file",
        type=Path,
        help="CA certificates to verify the enrollment API with "
        "(default: the system's)",
    )
    run.add_argument(
        "--supervisor-url",
        default=DEFAULT_SUPERVISOR_URL,
        help=f"the Supervisor API; discovery needs ${SUPERVISOR_TOKEN_ENV}",
    )
    run.add_argument(
        "--addon-hostname",
        help="host name Home Assistant uses to reach the broker "
        "(default: $DACS_ADDON_HOSTNAME or this machine's host name)",
    )
    run.set_defaults(handler=run_service)

    prepare = commands.add_parser(
        "prepare", help="write the home broker's files (no network), then exit"
    )
    _add_common_arguments(prepare)
    prepare.set_defaults(handler=run_prepare)

    health = commands.add_parser(
        "healthcheck", help="exit 0 when the service answers and reaches its broker"
    )
    health.add_argument(
        "--url", default=f"http://127.0.0.1:{DEFAULT_STATUS_PORT}/api/status"
    )
    health.set_defaults(handler=run_healthcheck)


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=_DEFAULT_DATA_DIR)
    parser.add_argument("--broker-port", type=int, default=1883)
    parser.add_argument(
        "--broker-address",
        help="address of the home broker's listener (default: every interface)",
    )
    parser.add_argument(
        "--broker-user",
        help="the user Mosquitto runs as (Mosquitto's 'user' option)",
    )


def _broker_settings(args: argparse.Namespace) -> HomeBrokerSettings:
    return replace(
        HomeBrokerSettings.in_directory(broker_directory(args.data_dir)),
        listen_port=args.broker_port,
        listen_address=args.broker_address,
        run_as_user=args.broker_user,
    )


def _log_to_stdout() -> None:
    # The app's log is the container's output; keep it in one stream. Only
    # the console handler moves: others (files, test capture) stay as they are.
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
            handler.setStream(sys.stdout)


def run_prepare(args: argparse.Namespace) -> int:
    """Write the home broker's files from the stored enrollment, if any."""
    _log_to_stdout()
    try:
        stored = load_enrollment(args.data_dir / ENROLLMENT_FILE)
    except EnrollmentStoreError as err:
        _LOGGER.warning("ignoring the stored enrollment: %s", err)
        stored = None
    try:
        prepared = prepare_home_broker(
            args.data_dir, _broker_settings(args), stored.response if stored else None
        )
    except (OSError, ValueError, BrokerAuthError) as err:
        print(f"error: cannot prepare the home broker: {err}", file=sys.stderr)
        return 1
    _LOGGER.info(
        "home broker configuration %s (%s)",
        prepared.config_file,
        "with bridge" if prepared.bridged else "not enrolled: no bridge yet",
    )
    return 0


def run_service(args: argparse.Namespace) -> int:
    """Run the service until SIGINT or SIGTERM."""
    _log_to_stdout()
    token = os.environ.get(SUPERVISOR_TOKEN_ENV)
    settings = AddonSettings(
        data_dir=args.data_dir,
        options_file=args.options or args.data_dir / "options.json",
        broker=_broker_settings(args),
        status_host=args.status_host,
        status_port=args.status_port,
        aggregator_ca_file=args.aggregator_ca_file,
        supervisor=(
            SupervisorSettings(url=args.supervisor_url, token=token) if token else None
        ),
        addon_hostname=args.addon_hostname or addon_hostname(),
    )
    controller: BrokerController = (
        CommandBrokerController(shlex.split(args.restart_command))
        if args.restart_command
        else ManualBrokerController()
    )
    asyncio.run(_serve(AddonRuntime(settings, controller)))
    return 0


async def _serve(service: AddonRuntime) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await service.run(stop)


def run_healthcheck(args: argparse.Namespace) -> int:
    """Exit 0 when the status API says the service is healthy."""
    problem = asyncio.run(_check_health(args.url))
    if problem is None:
        return 0
    print(f"unhealthy: {problem}", file=sys.stderr)
    return 1


async def _check_health(url: str) -> str | None:
    """None when healthy, otherwise what is wrong."""
    try:
        async with (
            asyncio.timeout(_HEALTH_TIMEOUT_S),
            aiohttp.ClientSession() as session,
            session.get(url) as answer,
        ):
            if answer.status != 200:
                return f"{url} answered HTTP {answer.status}"
            status = await answer.json()
    except (TimeoutError, aiohttp.ClientError, ValueError) as err:
        return f"{url} did not answer: {err or type(err).__name__}"
    if not isinstance(status, dict) or status.get("healthy") is not True:
        return "the service cannot reach its home broker"
    return None

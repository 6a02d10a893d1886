"""The ``dacs`` command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import logging

from . import __version__
from .commands import broker, connect, demo, sim_device


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser for all subcommands."""
    parser = argparse.ArgumentParser(
        prog="dacs", description="DACS-HW: hybrid heat pumps against grid congestion."
    )
    parser.add_argument("--version", action="version", version=f"dacs {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo.register(subparsers)
    sim_device.register(subparsers)
    broker.register(subparsers)
    connect.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``dacs`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # pymodbus narrates every connection at INFO.
        logging.getLogger("pymodbus").setLevel(logging.WARNING)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    result: int = handler(args)
    return result

"""The ``dacs`` command."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import importlib
import sys

from . import __version__
from .logs import LOG_FORMAT_ENV, LogFormat, configure_logging, log_format_from_env

# Subcommand -> module with register(subparsers). Only the module of the
# command being run is imported: `dacs connect healthcheck` should not pay
# for the simulator's imports.
_COMMANDS = {
    "demo": "dacs.commands.neighbourhood_demo",
    "demo-device": "dacs.commands.demo",
    "sim": "dacs.commands.sim_device",
    "broker": "dacs.commands.broker",
    "connect": "dacs.commands.connect",
    "aggregator": "dacs.commands.aggregator",
    "scenario": "dacs.commands.scenario",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Build the argument parser (for one subcommand, or for all)."""
    parser = argparse.ArgumentParser(
        prog="dacs", description="DACS-HW: hybrid heat pumps against grid congestion."
    )
    parser.add_argument("--version", action="version", version=f"dacs {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--log-format",
        choices=[f.value for f in LogFormat],
        default=None,
        help=f"text (default) or json lines; also from {LOG_FORMAT_ENV}",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in _COMMANDS.items():
        if only is None or name == only:
            importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``dacs`` command."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["--version"]:
        print(f"dacs {__version__}")
        return 0
    chosen = next((a for a in arguments if not a.startswith("-")), None)
    parser = build_parser(chosen if chosen in _COMMANDS else None)
    args = parser.parse_args(arguments)
    try:
        log_format = (
            LogFormat(args.log_format) if args.log_format else log_format_from_env()
        )
    except ValueError as err:
        parser.error(str(err))
    configure_logging(verbose=args.verbose, log_format=log_format)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    result: int = handler(args)
    return result

"""``dacs aggregator serve``: run the congestion service provider."""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``aggregator serve``."""
    aggregator = subparsers.add_parser(
        "aggregator", help="the congestion service provider"
    )
    commands = aggregator.add_subparsers(
        dest="aggregator_command", required=True, metavar="WHAT"
    )
    serve = commands.add_parser(
        "serve", help="run the aggregator (API, dashboard, control loop)"
    )
    serve.add_argument(
        "--config", type=Path, default=None, help="TOML configuration file"
    )
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Load the configuration and serve until interrupted."""
    from aiohttp import web  # noqa: PLC0415 - only this command needs the server

    from dacs.aggregator.api.access_log import RedactingAccessLogger  # noqa: PLC0415
    from dacs.aggregator.app import create_app  # noqa: PLC0415
    from dacs.aggregator.config import ConfigError, load_config  # noqa: PLC0415

    try:
        config = load_config(args.config, os.environ)
    except ConfigError as err:
        # Logged, not printed: in a container the error must reach the log collector.
        logging.getLogger(__name__).error("configuration error: %s", err)  # noqa: TRY400 - the message names the setting; a traceback adds nothing
        return 2
    if not config.api.operator_tokens:
        logging.getLogger(__name__).warning(
            "no operator token configured: the operators' API is closed (set DACS_API_OPERATOR_TOKENS)"
        )
    web.run_app(
        create_app(config),
        host=config.api.host,
        port=config.api.port,
        print=None,
        access_log_class=RedactingAccessLogger,
    )
    return 0

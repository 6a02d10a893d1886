"""``dacs demo``: a congestion evening in a virtual neighbourhood, with and without control."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from datetime import timedelta
import logging
from pathlib import Path
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dacs.testbed.neighbourhood.counterfactual import LoadTrace
    from dacs.testbed.neighbourhood.scenario import Scenario
    from dacs.testbed.servers import MosquittoBroker
    from dacs.testbed.servers.embedded_broker import EmbeddedBroker


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``demo`` to the parser."""
    demo = subparsers.add_parser(
        "demo",
        help="the main job: a neighbourhood's congestion evening under DACS-HW control",
    )
    demo.add_argument(
        "--homes",
        type=int,
        default=50,
        help="homes behind the transformer (default 50)",
    )
    demo.add_argument(
        "--s2-homes",
        type=int,
        default=0,
        metavar="N",
        help="of those, N whose heat pumps speak S2 (EN 50491-12-2) instead of "
        "Modbus (default 0)",
    )
    demo.add_argument(
        "--speed",
        type=float,
        default=120.0,
        help="simulated seconds per real second (default 120)",
    )
    demo.add_argument(
        "--hours",
        type=float,
        default=8.0,
        help="simulated hours, from 14:00 local (default 8)",
    )
    demo.add_argument(
        "--cap-share",
        type=float,
        default=0.8,
        help="the event's cap as a share of the uncontrolled peak (default 0.8)",
    )
    demo.add_argument(
        "--port",
        type=int,
        default=8080,
        help="dashboard port on 127.0.0.1 (0: any free port)",
    )
    demo.add_argument(
        "--broker",
        choices=("auto", "mosquitto", "embedded"),
        default="auto",
        help="MQTT broker: Mosquitto when installed, else an embedded one (default auto)",
    )
    demo.add_argument(
        "--grid-signal",
        choices=("profile", "openadr", "uftp"),
        default="profile",
        help="how the grid operator asks for the evening's cap: a day-ahead profile "
        "(default), an OpenADR 3 event from its VTN, or a GOPACS FlexRequest over UFTP",
    )
    demo.add_argument(
        "--vtn-mode",
        choices=("normal", "strict"),
        default="normal",
        help="with --grid-signal openadr: the test VTN as it is (default), or strict: "
        "a minimal, specification-literal VTN (form-body credentials, no NL-flex "
        "extension, zone-less timestamps, per-operation notifier topics)",
    )
    demo.add_argument(
        "--vtn-version",
        choices=("3.1.0", "3.0.1"),
        default="3.1.0",
        help="with --grid-signal openadr: the OpenADR version the test VTN speaks "
        "(default 3.1.0); the VEN finds it out itself",
    )
    demo.add_argument("--seed", type=int, default=2025)
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("artifacts/demo"),
        help="folder for the evening's per-minute CSV and plot (default artifacts/demo)",
    )
    demo.set_defaults(handler=run)


def _choose_broker(choice: str) -> tuple[MosquittoBroker | EmbeddedBroker, str]:
    """The broker to run and the aggregator's shared-subscription group for it."""
    from dacs.testbed.servers import MosquittoBroker  # noqa: PLC0415
    from dacs.testbed.servers.embedded_broker import EmbeddedBroker  # noqa: PLC0415
    from dacs.testbed.servers.mosquitto import mosquitto_binary  # noqa: PLC0415

    if choice == "mosquitto" or (choice == "auto" and mosquitto_binary() is not None):
        return MosquittoBroker(), "dacs"
    if choice == "auto":
        print("Mosquitto is not installed: using the embedded MQTT broker (amqtt).")
    # amqtt has no shared subscriptions; one aggregator subscribes plainly.
    return EmbeddedBroker(), ""


def run(args: argparse.Namespace) -> int:
    """Run the demo; Ctrl-C stops it cleanly."""
    if not args.verbose:
        # Fifty homes each narrating their flex events would bury the summary.
        logging.getLogger("dacs.home").setLevel(logging.WARNING)
        for name in ("s2python", "websockets", "dacs.testbed.sim.s2_resource_manager"):
            logging.getLogger(name).setLevel(logging.WARNING)
    if not 0 <= args.s2_homes <= args.homes:
        print(
            f"--s2-homes must lie between 0 and --homes ({args.homes})", file=sys.stderr
        )
        return 2
    try:
        return asyncio.run(_main(args))
    except KeyboardInterrupt:
        print("\nstopped", file=sys.stderr)
        return 130


async def _main(args: argparse.Namespace) -> int:
    from dacs.aggregator.domain.envelope import AMSTERDAM  # noqa: PLC0415 - heavy imports here
    from dacs.testbed.neighbourhood.counterfactual import (  # noqa: PLC0415
        limits_from_peak,
        run_uncontrolled,
    )
    from dacs.testbed.neighbourhood.evening_record import (  # noqa: PLC0415
        format_over_spans,
        over_spans,
        write_evening,
    )
    from dacs.testbed.neighbourhood.grid_signal import GridSignal  # noqa: PLC0415
    from dacs.testbed.neighbourhood.live import event_profile, run_live  # noqa: PLC0415
    from dacs.testbed.neighbourhood.scenario import Scenario  # noqa: PLC0415
    from dacs.testbed.neighbourhood.settlement_run import format_settlement  # noqa: PLC0415
    from dacs.testbed.neighbourhood.summary import (  # noqa: PLC0415
        format_alerts,
        format_clock_lag,
        format_summary,
        limit_per_minute,
        summarise,
    )
    from dacs.testbed.servers import ServiceStartError  # noqa: PLC0415
    from dacs.testbed.servers.ports import port_accepts  # noqa: PLC0415

    hours = timedelta(hours=args.hours)
    quarter = timedelta(minutes=15)
    # Day-ahead profiles run on quarter hours.
    event_start = min(timedelta(hours=2), (hours / 4) // quarter * quarter)
    scenario = Scenario(
        homes=args.homes,
        seed=args.seed,
        duration=hours,
        event_start=event_start,
        event_duration=min(
            timedelta(hours=4, minutes=30),
            (hours - event_start - hours / 8) // quarter * quarter,
        ),
        cap_share=args.cap_share,
    )
    local_start = scenario.start.astimezone(AMSTERDAM)
    print(
        f"Simulating {scenario.homes} homes with hybrid heat pumps behind one transformer, "
        f"{local_start:%A %d %B %Y} from {local_start:%H:%M}, KNMI De Bilt weather."
    )
    uncontrolled = run_uncontrolled(scenario)
    peak = float(uncontrolled.total_kw.max())
    rated_kw, cap_kw = limits_from_peak(uncontrolled, scenario.cap_share)
    begin, end = scenario.event_window
    print(
        f"Without control the evening peaks at {peak:.1f} kW. The grid operator asks for at most "
        f"{cap_kw:.1f} kW from {begin.astimezone(AMSTERDAM):%H:%M} to {end.astimezone(AMSTERDAM):%H:%M} "
        "(day-ahead profile, 15-minute intervals)."
    )
    port = args.port
    if port and port_accepts(port):
        port = 0  # taken: any free port will do, the URL is printed
    broker, shared_group = _choose_broker(args.broker)
    try:
        broker.start()
    except ServiceStartError as err:
        print(f"cannot start the MQTT broker: {err}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    last_print = [-60.0]

    def progress(minute: float, load_kw: float, cap: float) -> None:
        if minute - last_print[0] >= 30:
            last_print[0] = minute
            clock_time = scenario.start + timedelta(minutes=minute)
            print(
                f"  {clock_time.astimezone(AMSTERDAM):%H:%M}  transformer {load_kw:6.1f} kW  limit {cap:6.1f} kW",
                flush=True,
            )

    try:
        live = asyncio.create_task(
            run_live(
                scenario,
                broker_host="127.0.0.1",
                broker_port=broker.port,
                shared_group=shared_group,
                speed=args.speed,
                cap_kw=cap_kw,
                rated_kw=rated_kw,
                http_port=port,
                on_ready=lambda url: print(f"Dashboard: {url}", flush=True),
                on_progress=progress,
                grid_signal=GridSignal(args.grid_signal),
                expected_kw=_per_interval_kw(uncontrolled, scenario),
                vtn_strict=args.vtn_mode == "strict",
                vtn_version=args.vtn_version,
                s2_homes=args.s2_homes,
            )
        )
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait(
            {live, stopper}, return_when=asyncio.FIRST_COMPLETED
        )
        if live not in done:
            live.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await live
            print("\nstopped", file=sys.stderr)
            return 130
        stopper.cancel()
        result = live.result()
    finally:
        broker.cleanup()
    event = result.event or event_profile(scenario, cap_kw, rated_kw)
    summary = summarise(
        scenario=scenario,
        uncontrolled=uncontrolled,
        controlled=result.trace,
        curtailed_minutes=result.curtailed_minutes,
        event=event,
        rated_kw=rated_kw,
        commands_sent=result.commands_sent,
        shortfall_minutes=result.shortfall_minutes,
    )
    limits = limit_per_minute(
        scenario,
        event,
        rated_kw,
        min(len(uncontrolled.minutes), len(result.trace.minutes)),
    )
    print()
    print(format_summary(summary))
    print(format_over_spans(over_spans(scenario.start, result.trace.total_kw, limits)))
    print(format_clock_lag(result.lag_s, result.trace.total_kw, limits, args.speed))
    csv_path, plot_path = write_evening(
        args.out,
        start=scenario.start,
        uncontrolled=uncontrolled,
        controlled=result.trace,
        limit_kw=limits,
        compliance=summary.compliance_controlled,
    )
    print(f"the evening minute by minute: {csv_path}; plotted: {plot_path}")
    if args.s2_homes:
        over_s2 = result.curtailed_minutes[-args.s2_homes :]
        print(
            f"Over S2: {sum(1 for m in over_s2 if m > 0)} of {args.s2_homes} homes "
            f"curtailed, {sum(over_s2) / len(over_s2):.0f} minutes on average "
            f"(all homes: {sum(result.curtailed_minutes) / len(result.curtailed_minutes):.0f})."
        )
    print(format_alerts(result.alerts))
    if result.grid_note:
        print(result.grid_note)
    if result.settlement is not None:
        print()
        print(format_settlement(result.settlement, received=result.statements_received))
    return 0


def _per_interval_kw(uncontrolled: LoadTrace, scenario: Scenario) -> list[float]:
    """The uncontrolled load averaged per 15 minutes of the event: what the DSO expects."""
    begin, end = scenario.event_window
    first = (begin - scenario.start).total_seconds() / 60
    quarters = int((end - begin).total_seconds() // 900)
    return [
        mean if mean is not None else 0.0
        for mean in uncontrolled.quarter_means_kw(first, quarters)
    ]

"""``dacs scenario``: the scenario suite on the real control code, with a report."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import replace
import logging
from pathlib import Path
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dacs.testbed.scenarios.live_check import LiveCheck
    from dacs.testbed.scenarios.suite_run import ScenarioResult


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``scenario`` to the parser."""
    parser = subparsers.add_parser(
        "scenario",
        help="run the scenario suite (fast path) and write a report with plots",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("scenario-report"),
        help="folder for report.md and the plots (default ./scenario-report)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="six small scenarios, one per signal kind"
    )
    parser.add_argument(
        "--only", nargs="+", metavar="NAME", help="run only these scenarios"
    )
    parser.add_argument(
        "--homes", type=int, help="the same number of homes in every scenario"
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="scenarios run in parallel (processes)"
    )
    parser.add_argument(
        "--list", action="store_true", help="list the scenarios and exit"
    )
    parser.add_argument(
        "--live",
        nargs="+",
        metavar="NAME",
        default=[],
        help="run these scenarios of the suite again through the real broker path "
        "(MQTT broker, aggregator, home controllers, Modbus) and compare",
    )
    parser.add_argument(
        "--live-speed",
        type=float,
        default=240.0,
        help="simulated seconds per real second on the broker path (default 240)",
    )
    parser.add_argument(
        "--physics",
        choices=("per_home", "vectorised"),
        default="per_home",
        help="step each home on its own (default) or the street at once",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the suite and print one line per scenario as it finishes."""
    # Imported here: `dacs --help` should not pay for matplotlib and scipy.
    from dacs.testbed.scenarios.live_check import check_live_allowed, format_live_checks  # noqa: PLC0415
    from dacs.testbed.scenarios.report import summarise, write_report  # noqa: PLC0415
    from dacs.testbed.scenarios.spec import ScenarioError, suite  # noqa: PLC0415
    from dacs.testbed.scenarios.suite_run import CONTROL_LOGGER, run_suite  # noqa: PLC0415

    if not args.verbose:
        # Hundreds of simulated evenings: the report counts the cycles short
        # of flexibility, a warning per cycle would bury the progress lines.
        logging.getLogger(CONTROL_LOGGER).setLevel(logging.ERROR)
    specs = suite(quick=args.quick)
    if args.only:
        known = {s.name: s for s in suite(quick=False) + suite(quick=True)}
        unknown = [name for name in args.only if name not in known]
        if unknown:
            print(f"unknown scenarios: {', '.join(unknown)}", file=sys.stderr)
            return 2
        specs = [known[name] for name in args.only]
    named = {s.name: s for s in specs}
    for name in args.live:
        if name not in named:
            print(f"--live {name}: not among the scenarios run", file=sys.stderr)
            return 2
        try:
            check_live_allowed(named[name])
        except ScenarioError as err:
            print(f"--live: {err}", file=sys.stderr)
            return 2
    if args.list:
        for spec in specs:
            print(
                f"{spec.name}: {spec.homes} homes, {spec.day}, "
                f"{round(spec.depth * 100)} % under the peak, {spec.signal.value}"
            )
        return 0
    if args.homes is not None:
        try:
            specs = [
                replace(s, homes=args.homes, opt_outs=min(s.opt_outs, args.homes))
                for s in specs
            ]
        except ScenarioError as err:
            print(f"--homes {args.homes}: {err}", file=sys.stderr)
            return 2
    if args.jobs < 1:
        print("--jobs must be at least 1", file=sys.stderr)
        return 2
    began = time.perf_counter()
    print(f"running {len(specs)} scenarios, {args.jobs} at a time", flush=True)

    def progress(result: ScenarioResult, done: int, total: int) -> None:
        ours = result.ours
        short = " (flexibility short)" if result.flexibility_short else ""
        ratio = f", gas {result.gas_ratio:.2f} x best" if result.gas_ratio else ""
        print(
            f"[{done}/{total}] {result.spec.name}: {ours.isps_over} ISPs over, "
            f"{100 * ours.compliance.share_minutes_over:.1f} % minutes over, "
            f"extra gas {ours.extra_gas_m3:.1f} m³{ratio}{short} "
            f"({result.runtime_s:.0f} s)",
            flush=True,
        )

    results = run_suite(specs, jobs=args.jobs, on_done=progress, physics=args.physics)
    checks = _live_checks(results, args.live, args.live_speed)
    report = write_report(results, args.out, extra_sections=format_live_checks(checks))
    summary = summarise(results)
    print(
        f"{summary.compliant_with_enough} of {summary.with_enough_flexibility} "
        "scenarios with enough flexibility had 0 ISPs over the cap; median extra "
        "gas "
        + (
            f"{summary.median_gas_ratio:.2f} x the best plan"
            if summary.median_gas_ratio is not None
            else "n/a"
        )
        + f"; report: {report} ({time.perf_counter() - began:.0f} s)"
    )
    return 0


def _live_checks(
    results: list[ScenarioResult], names: list[str], speed: float
) -> list[LiveCheck]:
    """Run the named scenarios again through the broker path, printing each."""
    from dacs.testbed.scenarios.live_check import run_live_check  # noqa: PLC0415

    # Every home controller narrates its flex events; the check's lines suffice.
    logging.getLogger("dacs.home").setLevel(logging.WARNING)
    checks = []
    for result in (r for r in results if r.spec.name in names):
        print(f"{result.spec.name}: again through the real broker path ...", flush=True)
        check = asyncio.run(run_live_check(result, speed=speed))
        print(
            f"  broker path: {check.live.isps_over} ISPs over "
            f"(fast path {check.fast_isps_over}), "
            f"{100 * check.live_share_minutes_over:.1f} % minutes over, "
            f"extra gas {check.live_extra_gas_m3:.1f} m³ "
            f"(fast path {check.fast_extra_gas_m3:.1f}), largest ISP gap "
            f"{check.largest_isp_gap_kw:.1f} kW "
            f"({100 * check.largest_isp_gap_share:.0f} % of its cap) over "
            f"{check.isps_compared} ISPs under the same caps; behind the clock "
            f"in {len(check.behind)} ISPs (worst lag {check.worst_lag_s:.0f} s) "
            f"({check.runtime_s:.0f} s)",
            flush=True,
        )
        checks.append(check)
    return checks

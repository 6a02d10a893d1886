"""The suite's report: a Markdown table per scenario and controller, and PNG plots."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
import statistics

import matplotlib as mpl

mpl.use("Agg")  # files only: no screen on servers and in CI
import matplotlib.pyplot as plt

from .outcome import over_by_more_than_shortfall
from .suite_run import ScenarioResult

_LABELS = {
    "none": "no control",
    "equal_share": "equal share",
    "dacs": "DACS-HW",
}
_COLOURS = {"none": "#999999", "equal_share": "#e69f00", "dacs": "#0072b2"}


@dataclass(frozen=True, kw_only=True)
class SuiteSummary:
    """The figures the suite is judged by."""

    scenarios: int
    with_enough_flexibility: int
    compliant_with_enough: int  # of those, how many had 0 ISPs over the cap
    short_scenarios_beyond_shortfall: int  # short ones with excess beyond the shortfall
    median_gas_ratio: float | None
    not_following_alerts: int
    isps_over: dict[str, int]  # per controller, over every scenario
    median_share_minutes_over: dict[str, float]


def summarise(results: Sequence[ScenarioResult]) -> SuiteSummary:
    """The suite's headline figures."""
    enough = [r for r in results if not r.flexibility_short]
    short = [r for r in results if r.flexibility_short]
    ratios = [r.gas_ratio for r in results if r.gas_ratio is not None]
    beyond = sum(
        1
        for r in short
        if r.best is not None
        and over_by_more_than_shortfall(r.ours, r.best.shortfall_w)
    )
    return SuiteSummary(
        scenarios=len(results),
        with_enough_flexibility=len(enough),
        compliant_with_enough=sum(1 for r in enough if r.ours.isps_over == 0),
        short_scenarios_beyond_shortfall=beyond,
        median_gas_ratio=statistics.median(ratios) if ratios else None,
        not_following_alerts=sum(r.ours.not_following_alerts for r in results),
        isps_over={
            name: sum(r.outcomes[name].isps_over for r in results) for name in _LABELS
        },
        median_share_minutes_over={
            name: statistics.median(
                r.outcomes[name].compliance.share_minutes_over for r in results
            )
            for name in _LABELS
        },
    )


def write_report(
    results: Sequence[ScenarioResult],
    out: Path,
    *,
    extra_sections: Sequence[str] = (),
) -> Path:
    """Write ``report.md`` and its plots into ``out``; returns the report's path.

    ``extra_sections`` are Markdown lines put before the plots (the broker path's
    check, when it ran).
    """
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(results)
    _plot_overview(results, out / "overview.png")
    for result in results:
        _plot_scenario(result, out / f"{result.spec.name}.png")
    lines = [
        "# Scenario suite",
        "",
        (
            f"{summary.scenarios} scenarios on the real control code (fast path). "
            "Each evening runs three times: without control, with a naive "
            "equal-share controller and with DACS-HW; the best plan is a MILP "
            "with perfect foresight over the event (a lower bound on the extra gas)."
        ),
        "",
        "## Summary",
        "",
        (
            f"- Scenarios with enough flexibility: {summary.with_enough_flexibility}; "
            f"of those with 0 ISPs over the cap under DACS-HW: "
            f"{summary.compliant_with_enough}."
        ),
        (
            f"- Scenarios where flexibility was short, with an excess beyond the "
            f"shortfall: {summary.short_scenarios_beyond_shortfall}."
        ),
        "- Median extra gas of DACS-HW against the best plan: "
        + (
            f"{summary.median_gas_ratio:.2f} x"
            if summary.median_gas_ratio is not None
            else "n/a"
        )
        + ".",
        f"- `not_following_limit` alerts: {summary.not_following_alerts}.",
        "- ISPs over the cap, all scenarios: "
        + ", ".join(f"{_LABELS[k]} {v}" for k, v in summary.isps_over.items())
        + ".",
        "- Median share of event minutes over the cap: "
        + ", ".join(
            f"{_LABELS[k]} {100 * v:.1f} %"
            for k, v in summary.median_share_minutes_over.items()
        )
        + ".",
        "",
        "![ISPs over the cap and extra gas per scenario](overview.png)",
        "",
        "## Per scenario",
        "",
        (
            "| scenario | homes | depth | signal | flexibility | controller | ISPs over | "
            "worst ISP excess | minutes over | worst minute | ISPs after over | "
            "extra gas m³ | vs best | lowest indoor °C | homes curtailed | fairness | "
            "not following |"
        ),
        "|" + "---|" * 17,
    ]
    for result in results:
        spec = result.spec
        best_gas = result.best.extra_gas_m3 if result.best is not None else None
        flexibility = (
            "n/a (emergency)"
            if result.best is None
            else "short"
            if result.flexibility_short
            else "enough"
        )
        for name in ("none", "equal_share", "dacs"):
            outcome = result.outcomes[name]
            c = outcome.compliance
            ratio = (
                f"{outcome.extra_gas_m3 / best_gas:.2f}"
                if best_gas and best_gas > 1e-6 and name != "none"
                else ""
            )
            lines.append(
                f"| {spec.name} | {spec.homes} | {round(spec.depth * 100)} % | "
                f"{spec.signal.value} | {flexibility} | {_LABELS[name]} | "
                f"{c.isps_over}/{len(c.isps)} | {c.worst_isp_excess_w / 1000:.2f} kW | "
                f"{100 * c.share_minutes_over:.1f} % | "
                f"{100 * min(c.worst_minute_excess_share, 9.99):.1f} % | "
                f"{outcome.after_isps_over} | {outcome.extra_gas_m3:.2f} | {ratio} | "
                f"{outcome.min_indoor_c:.2f} | {outcome.homes_curtailed} | "
                f"{outcome.fairness:.2f} | {outcome.not_following_alerts} |"
            )
        if result.best is not None:
            least = float(result.best.shortfall_w.max(initial=0.0)) / 1000
            lines.append(
                f"| {spec.name} | | | | | best plan | | {least:.2f} kW short | | | | "
                f"{result.best.extra_gas_m3:.2f} | 1.00 | | | | |"
            )
    lines += ["", *extra_sections]
    lines += [
        "## Plots",
        "",
        *(f"![{r.spec.name}]({r.spec.name}.png)" for r in results),
        "",
        (
            "How the suite runs, what each figure means and how to read the "
            "plots: `docs/scenarios.md`."
        ),
        "",
    ]
    report = out / "report.md"
    report.write_text("\n".join(lines), encoding="utf-8")
    return report


def _plot_scenario(result: ScenarioResult, path: Path) -> None:
    """The street's load under each controller against the cap."""
    hours = result.minutes / 60
    fig, ax = plt.subplots(figsize=(9, 3.6), dpi=90)
    for name in ("none", "equal_share", "dacs"):
        ax.plot(
            hours,
            result.load_kw[name],
            label=_LABELS[name],
            color=_COLOURS[name],
            linewidth=1.6 if name == "dacs" else 1.0,
        )
    ax.step(
        hours,
        result.cap_kw_per_minute,
        where="post",
        color="#d55e00",
        label="cap",
        linewidth=1.4,
    )
    start, end = result.event_minutes
    ax.axvspan(start / 60, end / 60, color="#f0e442", alpha=0.15, label="event")
    ax.set_xlabel("hours from 14:00 local time")
    ax.set_ylabel("transformer load (kW)")
    ours = result.ours
    ax.set_title(
        f"{result.spec.name}: DACS-HW {ours.isps_over} ISPs over, "
        f"{100 * ours.compliance.share_minutes_over:.1f} % minutes over"
    )
    top = max(float(result.load_kw["none"].max()), result.rated_kw) * 1.08
    ax.set_ylim(0, top)
    ax.legend(loc="lower left", fontsize=8, ncol=5)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _plot_overview(results: Sequence[ScenarioResult], path: Path) -> None:
    """ISPs over the cap and extra gas per scenario, per controller and the best plan."""
    names = [r.spec.name for r in results]
    positions = range(len(results))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), dpi=90, sharex=True)
    width = 0.27
    for offset, name in enumerate(("none", "equal_share", "dacs")):
        top.bar(
            [p + (offset - 1) * width for p in positions],
            [r.outcomes[name].isps_over for r in results],
            width,
            label=_LABELS[name],
            color=_COLOURS[name],
        )
    top.set_ylabel("ISPs over the cap")
    top.legend(fontsize=8)
    top.grid(axis="y", alpha=0.3)
    for offset, name in enumerate(("equal_share", "dacs")):
        bottom.bar(
            [p + (offset - 1) * width for p in positions],
            [r.outcomes[name].extra_gas_m3 for r in results],
            width,
            label=_LABELS[name],
            color=_COLOURS[name],
        )
    bottom.bar(
        [p + width for p in positions],
        [r.best.extra_gas_m3 if r.best else 0.0 for r in results],
        width,
        label="best plan (perfect foresight)",
        color="#009e73",
    )
    bottom.set_ylabel("extra gas (m³)")
    bottom.legend(fontsize=8)
    bottom.grid(axis="y", alpha=0.3)
    bottom.set_xticks(list(positions))
    bottom.set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

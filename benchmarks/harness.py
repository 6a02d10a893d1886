"""A small benchmark runner: median of repeats, ratio against an in-run baseline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
import json
from pathlib import Path
import statistics
import time


@dataclass(frozen=True, kw_only=True)
class BenchResult:
    """One benchmark's outcome."""

    name: str
    unit: str
    value: float
    baseline_name: str
    baseline_value: float
    goal: str
    met: bool
    notes: str = ""

    @property
    def ratio(self) -> float:
        """Value divided by the baseline measured in the same run."""
        return self.value / self.baseline_value if self.baseline_value else float("inf")


def median_seconds(
    fn: Callable[[], object], repeats: int = 5, warmup: int = 1
) -> float:
    """Median wall time of fn over repeats, after warmup calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def report(results: list[BenchResult], out: Path) -> None:
    """Print a table and write the results as JSON."""
    print(f"{'benchmark':44} {'value':>12} {'baseline':>12} {'ratio':>8}  goal")
    for r in results:
        flag = "ok" if r.met else "MISSED"
        print(
            f"{r.name:44} {r.value:>10.4g}{r.unit:>2} {r.baseline_value:>10.4g}{r.unit:>2}"
            f" {r.ratio:>8.2f}  {r.goal} [{flag}]"
        )
        if r.notes:
            print(f"    {r.notes}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps([asdict(r) | {"ratio": r.ratio} for r in results], indent=2) + "\n"
    )
    print(f"results written to {out}")

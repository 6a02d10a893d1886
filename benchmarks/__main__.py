"""Run every benchmark module (benchmarks/bench_*.py): ``python -m benchmarks [name ...]``."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
import pkgutil
import sys

from .harness import BenchResult, report


def main() -> int:
    """Run the selected benchmark modules and report the results."""
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("only", nargs="*", help="module names to run (default: all)")
    parser.add_argument("--out", type=Path, default=Path("artifacts/bench.json"))
    args = parser.parse_args()
    here = Path(__file__).parent
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_")
    )
    if args.only:
        names = [n for n in names if any(o in n for o in args.only)]
    results: list[BenchResult] = []
    for name in names:
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"running {name} ...", flush=True)
        results.extend(module.run())
    if not results:
        print("no benchmarks selected", file=sys.stderr)
        return 1
    report(results, args.out)
    return 0 if all(r.met for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

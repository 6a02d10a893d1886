"""Print the baseline's measured error: ``python -m dacs.aggregator.settlement [--homes N]``."""

from __future__ import annotations

import argparse

from .accuracy import AccuracyScenario, format_report, measure_baseline_accuracy


def main() -> None:
    """Run the accuracy measurement and print its table."""
    parser = argparse.ArgumentParser(prog="python -m dacs.aggregator.settlement")
    parser.add_argument("--homes", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2025)
    parser.add_argument(
        "--own-history-days",
        type=float,
        default=None,
        help="give every home only this much history (tests the pooled fallback)",
    )
    args = parser.parse_args()
    scenario = AccuracyScenario(
        homes=args.homes, seed=args.seed, own_history_days=args.own_history_days
    )
    print(format_report(measure_baseline_accuracy(scenario)))  # noqa: T201 - a CLI


if __name__ == "__main__":
    main()

"""Win rate of `search` as a function of its time budget, as a table for the README.

    uv run python bench/search_budget.py --budgets 25 100 400 --n 200

Plays `--n` gen9randombattle battles of `search:MS` against `--opponent` (default
heuristic) on the sim engine for each budget, one budget after another, and prints a
markdown table: budget, win rate with its 95% interval, the decision latency p50/p95
measured in the run, and the mean number of opponent hypotheses searched per decision.
The budget is CPU time on the deciding thread; the recorded latency is wall time, so it
also holds what other battles running at the same time took (`--concurrency 1` measures
one battle at a time).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path
from statistics import fmean

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.strength import measure


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budgets", type=int, nargs="+", default=[25, 100, 400])
    p.add_argument("--n", type=int, default=200, help="battles per budget")
    p.add_argument("--opponent", default="heuristic")
    p.add_argument("--format", default="gen9randombattle")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--output", type=Path, default=Path("runs/search-budget"))
    p.add_argument("--seed", type=int, default=0)
    return p


def hypotheses(record) -> float | None:
    """Mean hypotheses per searched decision, read from the decisions' reasoning."""
    counts = []
    for decision in record.decisions:
        if decision.side == "p1" and decision.reasoning:
            found = re.search(r"\[(\d+) hypotheses\]", decision.reasoning)
            if found:
                counts.append(int(found.group(1)))
    return fmean(counts) if counts else None


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows = []
    for budget in args.budgets:
        record, path = measure(
            f"search:{budget}", args.opponent, n=args.n, battle_format=args.format,
            concurrency=args.concurrency, output=args.output, seed=args.seed,
        )  # fmt: skip
        s = record.summary
        low, high = s.p1_win_rate_ci95 or (0.0, 1.0)
        side = s.sides["p1"]
        mean_h = hypotheses(record)
        rows.append(
            f"| {budget} ms | {s.p1_win_rate or 0:.1%} [{low:.1%}, {high:.1%}] "
            f"({s.p1_wins}-{s.p2_wins}-{s.draws}) | {side.latency_p50_ms or 0:.0f} / "
            f"{side.latency_p95_ms or 0:.0f} ms | "
            f"{'' if mean_h is None else f'{mean_h:.1f}'} |"
        )
        print(f"search:{budget} vs {args.opponent}: done ({path})", flush=True)
    print(f"\nsearch vs {args.opponent}, {args.format}, {args.n} battles per budget\n")
    print("| budget | win rate [95% CI] (W-L-D) | latency p50 / p95 | hypotheses |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())

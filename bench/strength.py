"""How strong is an agent? Win rate with its 95% interval against each built-in baseline.

    uv run python bench/strength.py --agent metamon:checkpoints/cpu_small/model.safetensors
    uv run python bench/strength.py --agent metamon --n 200          # the shipped checkpoint

Plays `--n` gen9randombattle battles against random, max-damage and heuristic through the
arena (the direct simulator engine: nothing to watch, twice the battles per CPU second),
writes each run to `--output`, and prints the win rate with its Wilson interval next to
the issue's targets (vs random >= 90%, vs max-damage >= 60%, vs heuristic >= 50%).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGETS = {"random": 0.90, "max-damage": 0.60, "heuristic": 0.50}


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agent", default="metamon", help="the agent to measure (default: metamon)")
    p.add_argument("--n", type=int, default=200, help="battles against each baseline")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--opponents", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    p.add_argument("--output", type=Path, default=Path("runs/strength"))
    p.add_argument("--seed", type=int, default=0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from arena import server as showdown
    from arena.match import DirectEngine
    from arena.run import RunRequest, finalize, plan_run, play_session

    if not showdown.is_installed():
        showdown.install()
    print(f"{args.agent}: {args.n} battles against each of {', '.join(args.opponents)}")
    for opponent in args.opponents:
        request = RunRequest(
            p1=args.agent, p2=opponent, n=args.n, concurrency=args.concurrency,
            output_dir=args.output, engine="sim", seed=args.seed,
        )  # fmt: skip
        plan = plan_run(request)
        asyncio.run(play_session(plan, DirectEngine()))
        s = finalize(plan.paths, finished=True).summary
        low, high = s.p1_win_rate_ci95 or (0.0, 1.0)
        rate = s.p1_win_rate or 0.0
        met = "meets" if rate >= TARGETS[opponent] else "misses"
        print(
            f"vs {opponent:10s} {rate:6.1%}  95% CI [{low:.1%}, {high:.1%}]  "
            f"({s.p1_wins}-{s.p2_wins}-{s.draws}, {s.errors} errors)  target "
            f">= {TARGETS[opponent]:.0%}: {met}   run: {plan.paths.record}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How strong is an agent? Win rate with its 95% interval against each built-in baseline.

    uv run python bench/strength.py --agent search --n 200
    uv run python bench/strength.py --agent search --format gen9ou --opponents heuristic
    uv run python bench/strength.py --agent metamon --n 200          # the shipped checkpoint
    uv run python bench/strength.py --agent metamon:checkpoints/cpu_small/model.safetensors

Plays `--n` battles against each opponent through the arena (the direct simulator
engine: nothing to watch, twice the battles per CPU second), writes each run to
`--output`, and prints the win rate with its Wilson interval, the agent's decision
latency (p50/p95) and fallback rate, next to the targets of the agent's issue when it
has some (`TARGETS`). In formats with teams the bundled pool is used, each draw played
with the teams swapped (the arena's default).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

OPPONENTS = ("random", "max-damage", "heuristic")
# Targets by agent kind, then format, then opponent: the win rates their issues ask for.
TARGETS: dict[str, dict[str, dict[str, float]]] = {
    "metamon": {"gen9randombattle": {"random": 0.97, "max-damage": 0.80, "heuristic": 0.60}},
    "search": {
        "gen9randombattle": {"random": 0.99, "max-damage": 0.95, "heuristic": 0.85},
        "gen9ou": {"heuristic": 0.75},
    },
}


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--agent", default="metamon", help="the agent to measure (default: metamon)")
    p.add_argument("--n", type=int, default=200, help="battles against each opponent")
    p.add_argument("--format", default="gen9randombattle", help="Showdown format")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--opponents", nargs="+", default=list(OPPONENTS), help="agents to play against")
    p.add_argument("--output", type=Path, default=Path("runs/strength"))
    p.add_argument("--seed", type=int, default=0)
    return p


def measure(
    agent: str,
    opponent: str,
    *,
    n: int,
    battle_format: str = "gen9randombattle",
    concurrency: int = 8,
    output: Path = Path("runs/strength"),
    seed: int = 0,
):
    """Play `n` battles of `agent` (p1) against `opponent` on the sim engine; return the
    finished run record."""
    from arena import server as showdown
    from arena.engines import SimEngine
    from arena.plan import RunRequest, plan_run
    from arena.run import finalize, play_session

    if not showdown.is_installed():
        showdown.install()
    request = RunRequest(
        p1=agent, p2=opponent, n=n, concurrency=concurrency, output_dir=output,
        engine="sim", seed=seed, battle_format=battle_format,
    )  # fmt: skip
    plan = plan_run(request)
    asyncio.run(play_session(plan, SimEngine()))
    record = finalize(plan.paths, finished=True)
    assert record is not None
    return record, plan.paths.record


def describe(record) -> str:
    """ "62.0%  95% CI [55.1%, 68.4%]  (124-76-0, 0 errors)  latency p50 .. p95 .." for p1."""
    s = record.summary
    low, high = s.p1_win_rate_ci95 or (0.0, 1.0)
    text = (
        f"{s.p1_win_rate or 0.0:6.1%}  95% CI [{low:.1%}, {high:.1%}]  "
        f"({s.p1_wins}-{s.p2_wins}-{s.draws}, {s.errors} errors)"
    )
    side = s.sides.get("p1")
    if side is not None and side.latency_p50_ms is not None:
        text += (
            f"  latency p50 {side.latency_p50_ms:.0f} ms p95 {side.latency_p95_ms:.0f} ms, "
            f"fallbacks {side.fallback_rate:.1%}"
        )
    return text


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    targets = TARGETS.get(args.agent.partition(":")[0], {}).get(args.format, {})
    print(f"{args.agent} in {args.format}: {args.n} battles against each of "
          f"{', '.join(args.opponents)}")  # fmt: skip
    for opponent in args.opponents:
        record, path = measure(
            args.agent, opponent, n=args.n, battle_format=args.format,
            concurrency=args.concurrency, output=args.output, seed=args.seed,
        )  # fmt: skip
        s = record.summary
        low, high = s.p1_win_rate_ci95 or (0.0, 1.0)
        rate = s.p1_win_rate or 0.0
        verdict = ""
        target = targets.get(opponent)
        if target is not None:
            met = "misses" if rate < target else "meets"
            met += " (conclusively)" if low >= target or high < target else " (within noise)"
            verdict = f"  target >= {target:.0%}: {met}"
        print(f"vs {opponent:10s} {describe(record)}{verdict}   run: {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

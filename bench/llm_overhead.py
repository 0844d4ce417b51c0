"""The arena's own cost per LLM decision, with an API stand-in that answers at once.

    uv run python bench/llm_overhead.py --rounds 3

Plays every decision point of the recorded battles (tests/fixtures/battles) through a
real `MistralAgent` whose SDK talks to a local stand-in server (tests/mistral_standin.py).
For each decision it measures, side by side:
  total      the agent's decide() plus what the arena does with the decision (legality
             check, action name, effectiveness, the decision record);
  api        the time spent inside the SDK's HTTP call (serialising, loopback, parsing);
  own        total - api: prompt building, answer parsing, fallback logic, recording.
Prints p50 and p95 of each in milliseconds (target: own p50 under 5 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="passes over every decision point")
    return p


def pct(values: list[float], q: float) -> float:
    from battle.summary import percentile

    result = percentile(values, q)
    return float("nan") if result is None else result


async def measure(rounds: int) -> dict[str, list[float]]:
    from fixture_battles import decision_points, fixture_paths
    from mistral_standin import running_standin

    from agents.base import action_name, is_legal
    from agents.mistral import MistralAgent, MistralConfig
    from arena.player import _effectiveness
    from battle.record import DecisionRecord

    times: dict[str, list[float]] = {"total": [], "api": [], "own": []}
    with running_standin() as standin:
        os.environ["MISTRAL_API_KEY"] = "sk-bench"
        os.environ["MISTRAL_SERVER_URL"] = standin.url
        agent = MistralAgent("mistral-small-latest", "mistral-small", seed=0,
                             config=MistralConfig(rps=1e6))  # fmt: skip
        api_time = 0.0
        complete = agent._client.chat.complete_async

        async def timed_complete(**kwargs):
            nonlocal api_time
            start = time.perf_counter()
            try:
                return await complete(**kwargs)
            finally:
                api_time += time.perf_counter() - start

        agent._client.chat.complete_async = timed_complete  # type: ignore[method-assign]
        for _ in range(rounds):
            for path in fixture_paths():
                for battle, _request in decision_points(path):
                    api_time = 0.0
                    start = time.perf_counter()
                    decision = await agent.decide(battle)
                    assert is_legal(decision.order, battle) and not decision.fallback
                    DecisionRecord(
                        battle_tag=battle.battle_tag, turn=battle.turn, side="p1",
                        action=action_name(decision.order), latency_ms=0.0,
                        fallback=decision.fallback, fallback_reason=decision.fallback_reason,
                        reasoning=decision.reasoning, tokens=decision.tokens,
                        effectiveness=_effectiveness(decision.order, battle),
                    )  # fmt: skip
                    total = time.perf_counter() - start
                    times["total"].append(total * 1000)
                    times["api"].append(api_time * 1000)
                    times["own"].append((total - api_time) * 1000)
        await agent.close()
    return times


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    times = asyncio.run(measure(args.rounds))
    n = len(times["own"])
    print(f"{n} LLM decisions over the recorded battles ({args.rounds} rounds)")
    for kind in ("total", "api", "own"):
        values = times[kind]
        print(
            f"{kind:5s}  p50 {pct(values, 50):6.2f} ms   p95 {pct(values, 95):6.2f} ms   "
            f"mean {statistics.fmean(values):6.2f} ms"
        )
    own_p50 = pct(times["own"], 50)
    verdict = "meets" if own_p50 < 5 else "misses"
    print(f"arena's own cost per decision: p50 {own_p50:.2f} ms ({verdict} the 5 ms target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`metamon` decision latency on the CPU, over the recorded battles' decision points.

    uv run python bench/inference.py --rounds 3
    uv run python bench/inference.py --checkpoint training/checkpoints/metamon-small.safetensors

Without `--checkpoint` it builds a model of the `--size` preset (default `small`, the
size of `cpu_small`) with random weights, saves it as a checkpoint in a temporary folder
and plays it through the real `metamon:PATH` agent: latency does not depend on the
weights. Every decision point of every recorded battle (tests/fixtures/battles) is
replayed in order, so each battle's turn history grows as in a real battle; each round
replays them again as new battles. It measures, per decision:
  decide     the agent's whole decide(): Metamon state, the hop to the model's batching
             thread, encoding, the turn encoder and the history transformer, the order;
  model      one pass of the batching thread (encoding the waiting states, encode_turns
             + act over every decision in the pass), per pass.
With `--concurrent N`, N recorded battles are replayed at once (as the arena plays them at
`--concurrency`), so decisions share forward passes; the summary says how many decisions a
pass answered on average. With `--compare`, the same replay runs twice in one process:
each battle's history recomputed at every decision (the agent without its cache), then
decoded from the cache, and the ratio of their p50s is printed. Prints p50 and p95 in
milliseconds (target: decide p50 under 10 ms), and decide p50 / p95 by history length.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

TARGET_MS = 10.0


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="passes over every decision point")
    p.add_argument("--concurrent", type=int, default=1, help="battles replayed at once")
    p.add_argument(
        "--compare", action="store_true", help="time the history recomputed, then cached"
    )
    p.add_argument("--checkpoint", type=Path, help="a checkpoint to time (default: random)")
    p.add_argument("--size", default="small", help="preset of the random model (default small)")
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (METAMON_THREADS; default 1)"
    )
    return p


def pct(values: list[float], q: float) -> float:
    from battle.summary import percentile

    result = percentile(values, q)
    return float("nan") if result is None else result


def random_checkpoint(size: str, folder: Path) -> Path:
    import torch

    from training.checkpoint import save_checkpoint
    from training.model import ModelConfig, PolicyModel
    from training.tokenizer import Vocabulary

    torch.manual_seed(0)
    vocab = Vocabulary.build()
    config = ModelConfig.preset(size, len(vocab))
    path = folder / f"metamon-{size}-random.safetensors"
    save_checkpoint(path, PolicyModel(config), config, {"vocabulary": vocab.to_dict()})
    return path


async def measure(
    checkpoint: Path, rounds: int, concurrent: int = 1, use_cache: bool = True
) -> tuple[object, dict[str, list[float]], list, float]:
    """Per-decision wall times (decide), per-pass times (model), history lengths, and the
    mean number of decisions a forward pass answered."""
    from fixture_battles import decision_points, fixture_paths

    from agents.base import is_legal
    from agents.metamon import MetamonAgent
    from agents.metamon_model import Batcher

    # one agent per battle played at once (as the arena has one per side), one model
    agents = [
        MetamonAgent(seed=i, arg=str(checkpoint), temperature=0.0, use_cache=use_cache)
        for i in range(concurrent)
    ]
    loaded = agents[0]._loaded  # type: ignore[attr-defined]
    if loaded.batcher is None:
        loaded.batcher = Batcher(loaded)
    batcher = loaded.batcher
    answer = batcher._answer
    times: dict[str, list[float]] = {"decide": [], "model": []}

    def timed_answer(jobs):
        start = time.perf_counter()
        try:
            return answer(jobs)
        finally:
            times["model"].append((time.perf_counter() - start) * 1000)

    batcher._answer = timed_answer  # type: ignore[method-assign]
    lengths: list[int] = []
    # one warm-up battle: first calls allocate and pick kernels
    for battle, _request in decision_points(fixture_paths()[0]):
        await agents[0].decide(battle)
    times["model"].clear()
    before = (batcher.batches, batcher.decisions)

    async def replay(agent: MetamonAgent, path: Path) -> None:
        for battle, _request in decision_points(path):
            start = time.perf_counter()
            decision = await agent.decide(battle)
            total = time.perf_counter() - start
            assert is_legal(decision.order, battle), decision
            times["decide"].append(total * 1000)
            history = agent.history(battle.battle_tag)
            lengths.append(len(history) if history is not None else 0)

    paths = [p for _ in range(rounds) for p in fixture_paths()]
    for lo in range(0, len(paths), concurrent):
        group = paths[lo : lo + concurrent]
        await asyncio.gather(*(replay(a, p) for a, p in zip(agents, group, strict=False)))
    per_pass = (batcher.decisions - before[1]) / max(batcher.batches - before[0], 1)
    for agent in agents:
        await agent.close()
    del batcher._answer  # the class's method again, for the next measure()
    return agents[0], times, lengths, per_pass


def report(
    times: dict[str, list[float]], lengths: list[int], per_pass: float, args, label: str
) -> None:
    n = len(times["decide"])
    print(f"[history {label}] {n} decisions over the recorded battles ({args.rounds} rounds, "
          f"{args.concurrent} at a time), history up to {max(lengths)} turns, "
          f"{per_pass:.1f} decisions per forward pass")  # fmt: skip
    for kind in ("decide", "model"):
        values = times[kind]
        print(
            f"{kind:6s}  p50 {pct(values, 50):6.2f} ms   p95 {pct(values, 95):6.2f} ms   "
            f"mean {statistics.fmean(values):6.2f} ms"
        )
    for low, high in ((1, 10), (11, 25), (26, 50), (51, 10_000)):
        values = [t for t, k in zip(times["decide"], lengths, strict=True) if low <= k <= high]
        if values:
            label = f"{low}-{high}" if high < 10_000 else f"{low}+"
            print(f"  history {label:>6s} turns: p50 {pct(values, 50):6.2f} ms   "
                  f"p95 {pct(values, 95):6.2f} ms   ({len(values)} decisions)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads is not None:
        os.environ["METAMON_THREADS"] = str(args.threads)
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or random_checkpoint(args.size, Path(tmp))
        modes = [False, True] if args.compare else [True]
        results = [
            asyncio.run(measure(checkpoint, args.rounds, args.concurrent, use_cache))
            for use_cache in modes
        ]
    agent = results[0][0]
    params = agent.params  # type: ignore[attr-defined]
    print(
        f"metamon {params['size']} ({params['parameters']:,} parameters), "
        f"{'random weights' if args.checkpoint is None else checkpoint}, "
        f"CPU, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}"
    )
    for use_cache, (_agent, times, lengths, per_pass) in zip(modes, results, strict=True):
        report(times, lengths, per_pass, args, "cached" if use_cache else "recomputed")
    times = results[-1][1]
    if args.compare:
        before, after = (pct(r[1]["decide"], 50) for r in results)
        print(f"decide p50: recomputed {before:.2f} ms / cached {after:.2f} ms = "
              f"{before / after:.2f}x")  # fmt: skip
    p50 = pct(times["decide"], 50)
    verdict = "meets" if p50 < TARGET_MS else "misses"
    print(f"decision latency p50 {p50:.2f} ms ({verdict} the {TARGET_MS:.0f} ms target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`metamon` decision latency on the CPU, over the recorded battles' decision points.

    uv run python bench/inference.py --rounds 3
    uv run python bench/inference.py --checkpoint training/checkpoints/metamon-small.safetensors

Without `--checkpoint` it builds a model of the `--size` preset (default `small`, the
size of `cpu_small`) with random weights, saves it as a checkpoint in a temporary folder
and plays it through the real `metamon:PATH` agent: latency does not depend on the
weights. Every decision point of every recorded battle (tests/fixtures/battles) is
replayed in order, so each battle's turn history grows as in a real battle; each round
replays them again as new battles. It measures, per decision:
  decide     the agent's whole decide(): Metamon state, encoding, the thread hop, the
             turn encoder and the history transformer, picking the order;
  model      the part inside the model (encode_turns + forward_turns, in the thread).
Prints p50 and p95 in milliseconds (target: decide p50 under 20 ms for cpu_small), and
decide p50 / p95 by history length.
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

TARGET_MS = 20.0


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3, help="passes over every decision point")
    p.add_argument("--checkpoint", type=Path, help="a checkpoint to time (default: random)")
    p.add_argument("--size", default="small", help="preset of the random model (default small)")
    p.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (METAMON_THREADS; default 1)"
    )
    return p


def pct(values: list[float], q: float) -> float:
    from arena.record import percentile

    result = percentile(values, q)
    return float("nan") if result is None else result


def random_checkpoint(size: str, folder: Path) -> Path:
    import torch

    from training.model import ModelConfig, PolicyModel, save_checkpoint
    from training.tokenizer import Vocabulary

    torch.manual_seed(0)
    vocab = Vocabulary.build()
    config = ModelConfig.preset(size, len(vocab))
    path = folder / f"metamon-{size}-random.safetensors"
    save_checkpoint(path, PolicyModel(config), config, {"vocabulary": vocab.to_dict()})
    return path


async def measure(checkpoint: Path, rounds: int) -> tuple[object, dict[str, list[float]], list]:
    from fixture_battles import decision_points, fixture_paths

    from agents.base import is_legal
    from agents.metamon import MetamonAgent

    agent = MetamonAgent(seed=0, arg=str(checkpoint), temperature=0.0)
    model_time = 0.0
    infer = agent._infer

    def timed_infer(*args):
        nonlocal model_time
        start = time.perf_counter()
        try:
            return infer(*args)
        finally:
            model_time = time.perf_counter() - start

    agent._infer = timed_infer  # type: ignore[method-assign]
    times: dict[str, list[float]] = {"decide": [], "model": []}
    lengths: list[int] = []
    # one warm-up battle: first calls allocate and pick kernels
    for battle, _request in decision_points(fixture_paths()[0]):
        await agent.decide(battle)
    for _ in range(rounds):
        for path in fixture_paths():
            for battle, _request in decision_points(path):
                start = time.perf_counter()
                decision = await agent.decide(battle)
                total = time.perf_counter() - start
                assert is_legal(decision.order, battle), decision
                times["decide"].append(total * 1000)
                times["model"].append(model_time * 1000)
                history = agent.history(battle.battle_tag)
                lengths.append(len(history) if history is not None else 0)
    await agent.close()
    return agent, times, lengths


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads is not None:
        os.environ["METAMON_THREADS"] = str(args.threads)
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint or random_checkpoint(args.size, Path(tmp))
        agent, times, lengths = asyncio.run(measure(checkpoint, args.rounds))
    params = agent.params  # type: ignore[attr-defined]
    n = len(times["decide"])
    print(
        f"metamon {params['size']} ({params['parameters']:,} parameters), "
        f"{'random weights' if args.checkpoint is None else checkpoint}, "
        f"CPU, {torch.get_num_threads()} torch thread(s), torch {torch.__version__}"
    )
    print(f"{n} decisions over the recorded battles ({args.rounds} rounds), "
          f"history up to {max(lengths)} turns")  # fmt: skip
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
    p50 = pct(times["decide"], 50)
    verdict = "meets" if p50 < TARGET_MS else "misses"
    print(f"decision latency p50 {p50:.2f} ms ({verdict} the {TARGET_MS:.0f} ms target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Data loading speed on Metamon-format files: index time and trajectories per second.

    uv run python bench/dataloader.py                      # data in /tmp/metamon-bench
    uv run python bench/dataloader.py --root DIR --n 100000 --seconds 10 --turns 15 60

1. Writes `--n` synthetic trajectories (training.synthetic; battles of `--turns` turns,
   about 44 states and 250 kB of JSON each by default) as `.json.lz4` files, split
   between gen9ou/ and gen1ou/, once: a folder that already holds them is reused.
2. Indexes them twice with a fresh cache folder: the first build (scandir + names) and
   the cached start (stats + np.load). The file system's own caches are warm either way.
3. Streams batches through `training.data.make_loader` (2 workers, batch 32,
   max_seq_len 200) for `--seconds`, after the first batch, in two modes:
     raw      states stay dicts (sent as the file's bytes, decoded when touched);
     encoded  a stand-in `encode` turns each state into 87 token ids + 48 numbers inside
              the workers (the tokenizer's output shape; a later session writes the real
              one), so only tensors cross processes: how training will run.
   Also prints the time to the first batch (worker start included).
4. Times each step of a worker in one process (read + lz4 + JSON parse, window + reward,
   stand-in encode): the parse alone bounds what any number of workers on these cores
   can deliver.
Targets (issue 4): index 100k files in under 2 s; at least 1,500 trajectories/s. The load
average is printed first: other processes on the machine lower the loader figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

INDEX_TARGET_S = 2.0
THROUGHPUT_TARGET = 1500.0


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=Path("/tmp/metamon-bench"))
    p.add_argument("--n", type=int, default=100_000, help="trajectories to generate")
    p.add_argument("--pool", type=int, default=2000, help="distinct battles among them")
    p.add_argument(
        "--turns",
        type=int,
        nargs=2,
        default=(15, 60),
        metavar=("MIN", "MAX"),
        help="battle length range of the generated trajectories (forced switches add states)",
    )
    p.add_argument("--seconds", type=float, default=10.0, help="per throughput mode")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-seq-len", type=int, default=200)
    p.add_argument("--modes", nargs="+", default=["raw", "encoded"], choices=["raw", "encoded"])
    return p


TEXT_TOKENS, NUMBERS = 87, 48


_VOCAB: dict[Any, int] = {}


def _ids(words: list[Any]) -> list[int]:
    get = _VOCAB.get
    ids = [get(w, 0) for w in words]
    if 0 in ids:  # grow the stand-in vocabulary on the fly (a real one is built once)
        ids = [_VOCAB.setdefault(w, len(_VOCAB) + 1) for w in words]
    return ids


def standin_encode(state: dict[str, Any]) -> dict[str, np.ndarray]:
    """87 token ids + 48 numbers from a state: the tokenizer's output shape, a similar walk."""
    words: list[Any] = [state["format"], state["weather"], state["battle_field"]]
    words += [state["player_conditions"], state["opponent_conditions"], state["forced_switch"]]
    numbers = [state["opponents_remaining"] / 6.0]
    for key in ("player_active_pokemon", "opponent_active_pokemon"):
        mon = state[key]
        words += [mon["name"], mon["item"], mon["ability"], mon["types"], mon["status"]]
        words.append(mon["effect"])
        numbers += [mon["hp_pct"], mon["lvl"] / 100.0, mon["base_atk"] / 255.0]
        numbers += [mon["base_spa"] / 255.0, mon["base_spe"] / 255.0, mon["atk_boost"] / 6.0]
        for move in mon["moves"]:
            words += [move["name"], move["move_type"], move["category"]]
            numbers += [move["base_power"] / 200.0, move["accuracy"], move["priority"] / 5.0]
    for mon in state["available_switches"]:
        words += [mon["name"], mon["item"], mon["ability"]]
        numbers.append(mon["hp_pct"])
    words += [state["player_prev_move"]["name"], state["opponent_prev_move"]["name"]]
    tokens = np.zeros(TEXT_TOKENS, dtype=np.int32)
    ids = _ids(words[:TEXT_TOKENS])
    tokens[: len(ids)] = ids
    nums = np.full(NUMBERS, -2.0, dtype=np.float32)
    nums[: min(len(numbers), NUMBERS)] = numbers[:NUMBERS]
    return {"text_tokens": tokens, "numbers": nums}


def ensure_data(root: Path, n: int, pool: int, turns: tuple[int, int]) -> None:
    from training.synthetic import write_dataset

    marker = root / f".complete-{n}-{turns[0]}-{turns[1]}"
    if marker.exists():
        print(f"data: reusing {n} trajectories in {root}")
        return
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"{root} holds other data: pass an empty or new --root")
    start = time.perf_counter()
    write_dataset(
        root, n, formats=("gen9ou", "gen1ou"), kinds=("lz4",), pool=pool, turns=tuple(turns)
    )
    marker.touch()
    time.sleep(2.1)  # the index does not trust folders changed in the last 2 s
    size = sum(e.stat().st_size for d in os.scandir(root) if d.is_dir() for e in os.scandir(d))
    print(
        f"data: wrote {n} trajectories in {time.perf_counter() - start:.0f}s "
        f"({size / n / 1e3:.1f} kB each on disk) to {root}"
    )


def measure_index(root: Path) -> tuple[float, float, Any]:
    from training.data import build_index

    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        first = build_index(root, cache_dir=cache)
        first_s = time.perf_counter() - start
        start = time.perf_counter()
        again = build_index(root, cache_dir=cache)
        cached_s = time.perf_counter() - start
    assert not first.from_cache and again.from_cache and len(first) == len(again)
    return first_s, cached_s, again


def measure_loader(index: Any, args: argparse.Namespace, mode: str) -> dict[str, float]:
    from training.data import make_loader

    loader = make_loader(
        index,
        batch_size=args.batch_size,
        max_seq_len=args.max_seq_len,
        encode=standin_encode if mode == "encoded" else None,
        num_workers=args.workers,
        prefetch_factor=4,
        persistent_workers=True,
        seed=0,
    )
    start = time.perf_counter()
    it = iter(loader)
    next(it)
    first_batch = time.perf_counter() - start
    trajectories = turns = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < args.seconds:
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            continue
        trajectories += len(batch)
        turns += int(batch.lengths.sum())
    del it, loader
    return {"first": first_batch, "traj": trajectories / elapsed, "turns": turns / elapsed}


def measure_stages(index: Any, args: argparse.Namespace) -> dict[str, float]:
    """Milliseconds per trajectory of each step a worker takes, in this one process."""
    import gc

    from training.data import TrajectoryDataset, read_trajectory

    dataset = TrajectoryDataset(index, args.max_seq_len)
    n = min(len(index), 1000)
    entries = [index[int(i)] for i in np.random.default_rng(0).permutation(len(index))[:n]]
    times = dict.fromkeys(("read + lz4 + json", "window + reward", "encode (stand-in)"), 0.0)
    gc.disable()  # as in the workers
    for entry in entries:
        t0 = time.perf_counter()
        trajectory = read_trajectory(entry)
        t1 = time.perf_counter()
        sample = dataset.window(trajectory)
        t2 = time.perf_counter()
        [standin_encode(state) for state in sample.states]
        t3 = time.perf_counter()
        del trajectory, sample
        for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            times[key] += dt
    gc.enable()
    return {k: v / n * 1000 for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.2f} (other work skews the figures)")
    ensure_data(args.root, args.n, args.pool, args.turns)
    first_s, cached_s, index = measure_index(args.root)
    target = f"(target < {INDEX_TARGET_S:.0f} s)"
    print(f"index, first build: {first_s:.2f}s for {len(index)} files {target}")
    print(f"index, cached:      {cached_s * 1000:.0f} ms")
    ok = first_s < INDEX_TARGET_S
    for mode in args.modes:
        r = measure_loader(index, args, mode)
        print(
            f"loader, {mode:<8} {r['traj']:7.0f} trajectories/s ({r['turns']:.0f} turns/s); "
            f"first batch after {r['first']:.2f}s (target >= {THROUGHPUT_TARGET:.0f}/s)"
        )
        ok &= r["traj"] >= THROUGHPUT_TARGET
    stages = measure_stages(index, args)
    print("per trajectory, one process: " + ", ".join(f"{k} {v:.2f} ms" for k, v in stages.items()))
    floor = stages["read + lz4 + json"]
    print(
        f"  reading and parsing alone allow at most {args.workers * 1000 / floor:.0f} "
        f"trajectories/s on {args.workers} fully busy cores"
    )
    print("all targets met" if ok else "some targets missed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

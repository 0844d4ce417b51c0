"""Data loading speed on Metamon-format files: index time and trajectories per second.

    uv run python bench/dataloader.py                      # data in /tmp/metamon-bench
    uv run python bench/dataloader.py --root DIR --n 100000 --seconds 10 --turns 15 60
    uv run python bench/dataloader.py --n 5000 --seconds 5 --root /tmp/shards-bench --modes shards

1. Writes `--n` synthetic trajectories (training.synthetic; battles of `--turns` turns,
   about 44 states and 250 kB of JSON each by default) as `.json.lz4` files, split
   between gen9ou/ and gen1ou/, once: a folder that already holds them is reused.
2. Indexes them twice with a fresh cache folder: the first build (scandir + names) and
   the cached start (stats + np.load). The file system's own caches are warm either way.
3. Streams batches through `training.data.make_loader` (2 workers, batch 32,
   max_seq_len 200) for `--seconds`, after the first batch, in up to three modes:
     raw      states stay dicts (sent as the file's bytes, decoded when touched);
     encoded  `training.features.StateEncoder` turns each state into 87 token ids,
              48 numbers and a 13-action mask inside the workers, so only tensors cross
              processes: how training on raw files runs;
     shards   the files are encoded once into pre-tokenized shards (`training.shards`,
              in `--shards`, default ROOT-shards; built once with every core, then
              reused: the build time and files/s are printed) and the workers slice
              windows out of memory-mapped arrays: the same batches as `encoded`.
   Encoded and shard batches are packed (`training.packing`, as training makes them;
   `--pack off`: padded). Also prints the time to the first batch (worker start included).
4. Times each step of a worker in one process (read + lz4 + JSON parse, window + reward,
   encode, and a window sliced from a shard): the parse alone bounds what any number of
   workers on these cores can deliver from raw files.
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
    p.add_argument(
        "--modes",
        nargs="+",
        default=["raw", "encoded", "shards"],
        choices=["raw", "encoded", "shards"],
    )
    p.add_argument(
        "--pack",
        choices=("on", "off"),
        default="on",
        help="encoded and shard batches packed as training packs them (training.packing), "
        "or padded (default: on)",
    )
    p.add_argument("--shards", type=Path, default=None, help="shard folder (default: ROOT-shards)")
    p.add_argument("--build-workers", type=int, default=None, help="default: every core")
    return p


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


def ensure_shards(root: Path, out: Path, n: int, vocab: Any, workers: int | None) -> None:
    """Encode the files under `root` into shards in `out` once; reuse a complete build."""
    from training.shards import ShardError, build_shards, read_manifest

    try:
        manifest = read_manifest(out)
    except ShardError:  # another version: rebuilt below
        manifest = None
    fits = manifest is not None and manifest["trajectories"] == n
    if fits and manifest["vocab_digest"] == vocab.digest():
        seconds = manifest["build_seconds"]
        print(
            f"shards: reusing {out} ({n} trajectories; built in {seconds:.0f}s, "
            f"{n / seconds:.0f} files/s with {manifest['build_workers']} workers)"
        )
        return
    with tempfile.TemporaryDirectory() as cache:
        stats = build_shards(
            [root], out, vocab=vocab, workers=workers, overwrite=True, cache_dir=cache
        )
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(
        f"shards: built {stats.trajectories} trajectories ({stats.states} states, "
        f"{stats.parts} parts, {size / 1e6:.0f} MB) in {stats.seconds:.1f}s: "
        f"{(stats.trajectories + stats.skipped) / stats.seconds:.0f} files/s with "
        f"{stats.manifest['build_workers']} workers, to {out}"
    )
    time.sleep(2.1)  # the index does not trust folders changed in the last 2 s


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


def measure_loader(
    index: Any, args: argparse.Namespace, mode: str, encoder: Any
) -> dict[str, float]:
    from training.data import make_loader

    loader = make_loader(
        index,
        batch_size=args.batch_size,
        max_seq_len=args.max_seq_len,
        encode=encoder if mode == "encoded" else None,
        num_workers=args.workers,
        prefetch_factor=4,
        persistent_workers=True,
        seed=0,
        pack=args.pack == "on" and mode != "raw",
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


def measure_stages(
    index: Any, args: argparse.Namespace, encoder: Any, shard_index: Any
) -> dict[str, float]:
    """Milliseconds per trajectory of each step a worker takes, in this one process."""
    import gc

    from training.data import TrajectoryDataset, read_entry

    dataset = TrajectoryDataset(index, args.max_seq_len)
    n = min(len(index), 1000)
    rows = np.random.default_rng(0).permutation(len(index))[:n]
    entries = [index[int(i)] for i in rows]
    times = dict.fromkeys(("read + lz4 + json", "window + reward", "encode"), 0.0)
    gc.disable()  # as in the workers
    for entry in entries:
        t0 = time.perf_counter()
        trajectory = read_entry(entry)
        t1 = time.perf_counter()
        sample = dataset.window(trajectory)
        t2 = time.perf_counter()
        [encoder(state) for state in sample.states]
        t3 = time.perf_counter()
        del trajectory, sample
        for key, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            times[key] += dt
    if shard_index is not None:
        shards = TrajectoryDataset(shard_index, args.max_seq_len)
        rows = rows[rows < len(shard_index)]
        t0 = time.perf_counter()
        for row in rows:
            shards[int(row)]
        times["shard window"] = time.perf_counter() - t0
    gc.enable()
    return {k: v / n * 1000 for k, v in times.items()}


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} cores, load average {load:.2f} (other work skews the figures)")
    ensure_data(args.root, args.n, args.pool, args.turns)
    from training.features import StateEncoder
    from training.tokenizer import Vocabulary

    encoder = StateEncoder(Vocabulary.build())
    shard_index = None
    if "shards" in args.modes:
        shards = args.shards or args.root.with_name(args.root.name + "-shards")
        ensure_shards(args.root, shards, args.n, encoder.vocab, args.build_workers)
        shard_s, _, shard_index = measure_index(shards)
        print(f"index of the shards: {shard_s:.2f}s for {len(shard_index)} trajectories")
    first_s, cached_s, index = measure_index(args.root)
    target = f"(target < {INDEX_TARGET_S:.0f} s)"
    print(f"index, first build: {first_s:.2f}s for {len(index)} files {target}")
    print(f"index, cached:      {cached_s * 1000:.0f} ms")
    ok = first_s < INDEX_TARGET_S
    best = 0.0
    for mode in args.modes:
        r = measure_loader(shard_index if mode == "shards" else index, args, mode, encoder)
        print(
            f"loader, {mode:<8} {r['traj']:7.0f} trajectories/s ({r['turns']:.0f} turns/s), "
            f"{r['traj'] / THROUGHPUT_TARGET:.2f}x the {THROUGHPUT_TARGET:.0f}/s target; "
            f"first batch after {r['first']:.2f}s"
        )
        best = max(best, r["traj"])
    stages = measure_stages(index, args, encoder, shard_index)
    print("per trajectory, one process: " + ", ".join(f"{k} {v:.2f} ms" for k, v in stages.items()))
    floor = stages["read + lz4 + json"]
    print(
        f"  reading and parsing alone allow at most {args.workers * 1000 / floor:.0f} "
        f"trajectories/s on {args.workers} fully busy cores"
    )
    print(f"load average now {os.getloadavg()[0]:.2f}")
    ok &= best >= THROUGHPUT_TARGET  # by the fastest mode: shards are the way to train
    print("all targets met" if ok else "some targets missed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

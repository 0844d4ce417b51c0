"""Pre-tokenized shards: every trajectory encoded once, windows sliced from mapped arrays.

    uv run python -m training.shards /tmp/arena-data --out /tmp/arena-shards
    uv run python -m training.shards DIR [DIR ...] --out OUT --formats gen9ou --min-rating 1300 \\
        --players heuristic --per-part 20000 --workers 2 [--overwrite]
    uv run python -m training.train --config training/configs/cpu_small.yaml \\
        --data_path /tmp/arena-shards --out checkpoints/run

Reading a `.json.lz4` trajectory costs ~1.1 ms of CPU for the JSON alone, and encoding its
~44 states another ~1.2 ms (the text view, `training.features.StateEncoder`) to ~35 ms (the
entity view, `training.entities.EntityEncoder`, with its damage numbers): a loader that does both
for every window cannot feed 1,500 trajectories/s on two cores. A shard folder holds the
encoder's output instead, and a DataLoader worker only slices memory-mapped arrays.

Layout of a shard folder (format version `VERSION`):

    OUT/
      manifest.json        {"format": "showdown-arena-shards", "version": 1,
                            "vocab_digest": Vocabulary.digest(), "vocab_size": ...,
                            "observation": "entities", "n_tokens": 152,
                            "n_numbers": 475, "n_actions": 13,
                            "token_dtype": "int16", "number_dtype": "float32",
                            "reward": "shaped_reward", "trajectories": N, "states": S,
                            "transitions": A, "skipped": ..., "parts": [{"name":
                            "part-00000", "trajectories": n, "states": s,
                            "transitions": a}, ...], "sources": [...], "build_seconds": ...}
      part-00000/
        tokens.npy         (s, n_tokens) int16 token ids (int32 if the vocabulary had > 32,767
                           words): 152 for the entity observation, 87 for the text one
        numbers.npy        (s, n_numbers) float32, exactly the encoder's numbers (475 / 48)
        legal.npy          (s, 13) bool legal-action masks
        actions.npy        (a,) int8, -1 for a hidden action
        rewards.npy        (a,) float32, `training.reward.shaped_reward` of states t -> t+1
        state_offsets.npy  (n + 1,) int64: trajectory i's states are rows [o[i], o[i+1])
        action_offsets.npy (n + 1,) int64: its actions and rewards, the same way
        names.txt          n lines: `{folder}/{original file name}`, for the index
      part-00001/ ...

Metamon's count conventions are normalised when writing: a trajectory of T transitions
keeps its T + 1 states and T actions (a last action with no successor state is dropped,
as `TrajectoryDataset.window` drops it), so a window of t actions is the states
`[start, start + t + 1)` and the actions and rewards `[start, start + t)`. Every `.npy`
file opens with `np.load(path, mmap_mode="r")`; the manifest is written last, so a folder
without one is an interrupted build, never read as shards.

`build_shards` indexes the sources and has chunks of trajectories encoded by a pool of
processes (or by itself) with `training.shard_writer`, which also writes the parts; the
manifest is its own. Reading is `training.shard_format`'s, below both this module and the index:
`build_index(OUT)` sees the manifest and lists each part's `names.txt` as index rows
(format, rating, day and result parsed from the names as for files), with `sources` = the
part folders, `offset` = the row in the part and `size = SHARD_ROW` (-2). Filters,
`split_by_battle`, samplers and `make_loader` work unchanged; `TrajectoryDataset` slices a
random window from the mapped arrays (the same `random.randint` call as for a raw file, so
the same seed gives the same window) and returns the states as `{"tokens", "numbers",
"legal"}` tensors of the dtypes and shapes `StateEncoder` + `collate` give for raw files.
An index may mix shard folders with raw folders as long as the dataset is given an `encode`
for the raw rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from training.entities import LAYOUTS
from training.features import N_ACTIONS
from training.index import (
    IndexFilter,
    TrajectoryIndex,
    add_filter_arguments,
    filters_from_args,
)
from training.index_scan import build_index
from training.shard_format import (
    FORMAT,
    MANIFEST,
    SHARD_ROW,
    VERSION,
    ShardError,
    read_manifest,
)
from training.shard_writer import (
    ACTION_DTYPE,
    NUMBER_DTYPE,
    Encoded,
    PartWriter,
    check_out,
    encode_chunk,
    init_worker,
    prepare_out,
    token_dtype,
)
from training.tokenizer import Vocabulary

logger = logging.getLogger(__name__)

DEFAULT_PER_PART = 10_000
CHUNK = 32  # trajectories per task of the build pool


# --------------------------------------------------------------------------------------
# Checking a run's shards
# --------------------------------------------------------------------------------------


def shard_folders(index: TrajectoryIndex) -> list[str]:
    """The shard folders whose parts hold rows of `index`."""
    sources = np.unique(index.source[index.size == SHARD_ROW])
    return sorted({os.path.dirname(index.sources[int(s)]) for s in sources})


def check_vocabulary(
    index: TrajectoryIndex, vocab: Vocabulary, observation: str | None = None
) -> None:
    """Raise ShardError if a shard folder of `index` was encoded with another vocabulary
    (or, given `observation`, by another encoder)."""
    digest = vocab.digest()
    for folder in shard_folders(index):
        manifest = read_manifest(folder)
        if manifest and observation and manifest["observation"] != observation:
            raise ShardError(
                f"the shards in {folder} hold the {manifest['observation']!r} observation, "
                f"the model reads {observation!r}: rebuild them with python -m training.shards "
                f"SRC --out {folder} --observation {observation} --overwrite (or set "
                f"model.observation)"
            )
        theirs = manifest.get("vocab_digest") if manifest else None
        if theirs != digest:
            raise ShardError(
                f"the shards in {folder} were encoded with another vocabulary (digest "
                f"{str(theirs)[:12]}, {manifest.get('vocab_size') if manifest else '?'} words; "
                f"this run's is {digest[:12]}, {len(vocab)} words): rebuild them with "
                f"python -m training.shards SRC --out {folder} --overwrite"
            )


# --------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------


@dataclass
class BuildStats:
    """What a build wrote."""

    out: Path
    trajectories: int = 0
    states: int = 0
    transitions: int = 0
    skipped: int = 0
    parts: int = 0
    seconds: float = 0.0
    unknown_words: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)


def build_shards(
    roots: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    filters: IndexFilter | None = None,
    *,
    vocab: Vocabulary | None = None,
    per_part: int = DEFAULT_PER_PART,
    workers: int | None = None,
    overwrite: bool = False,
    use_cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    on_index: Callable[[int], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
    observation: str = "entities",
) -> BuildStats:
    """Encode every trajectory of `roots` (as `filters` keep them) into shards in `out`,
    with the encoder of `observation` ("entities", the default model's; or "text").

    `workers` processes encode (default: every core; 0 or 1: this process). Unreadable
    trajectories are skipped, counted and logged. `on_index(total)` is called once the
    index is built, `on_progress(done)` after each batch of trajectories.
    """
    t0 = time.perf_counter()
    out = Path(out)
    if per_part < 1:
        raise ValueError("per_part must be at least 1")
    if observation not in LAYOUTS:
        raise ShardError(f"observation {observation!r}: choose one of {', '.join(LAYOUTS)}")
    check_out(out, overwrite)  # before the index: bad input fails fast
    index = build_index(list(roots), filters, cache_dir=cache_dir, use_cache=use_cache)
    if len(index) == 0:
        raise ShardError(f"no trajectories under {', '.join(map(str, roots))} match the filters")
    if (index.size == SHARD_ROW).any():
        raise ShardError("the sources hold shards already: pass folders of trajectory files")
    prepare_out(out, overwrite)
    if on_index is not None:
        on_index(len(index))
    vocab = vocab or Vocabulary.build()
    workers = (os.cpu_count() or 1) if workers is None else workers
    stats = BuildStats(out)
    writer = PartWriter(out, per_part)
    chunks = (
        [index[i] for i in range(lo, min(lo + CHUNK, len(index)))]
        for lo in range(0, len(index), CHUNK)
    )
    done = 0
    pool = None
    if workers > 1:
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        pool = multiprocessing.get_context(method).Pool(
            workers, initializer=init_worker, initargs=(vocab.words, observation)
        )
        results: Iterable[tuple[list[Encoded], int]] = pool.imap(encode_chunk, chunks)
    else:
        init_worker(vocab.words, observation)
        results = map(encode_chunk, chunks)
    try:
        for encoded, unknown in results:
            stats.unknown_words += unknown
            for name, traj in encoded:
                if isinstance(traj, str):
                    stats.skipped += 1
                    logger.warning("skipping unreadable trajectory %s: %s", name, traj)
                    continue
                writer.add(name, traj)
                stats.trajectories += 1
                stats.states += len(traj.tokens)
                stats.transitions += len(traj.actions)
            done += len(encoded)
            if on_progress is not None:
                on_progress(done)
        writer.flush()
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    if stats.trajectories == 0:
        raise ShardError(f"none of the {len(index)} trajectories could be read (see the log)")
    stats.parts = len(writer.parts)
    stats.seconds = time.perf_counter() - t0
    stats.manifest = {
        "format": FORMAT,
        "version": VERSION,
        "vocab_digest": vocab.digest(),
        "vocab_size": len(vocab),
        "observation": observation,
        "n_tokens": LAYOUTS[observation][0],
        "n_numbers": LAYOUTS[observation][1],
        "n_actions": N_ACTIONS,
        "token_dtype": token_dtype(len(vocab)).name,
        "number_dtype": np.dtype(NUMBER_DTYPE).name,
        "action_dtype": np.dtype(ACTION_DTYPE).name,
        "reward": "shaped_reward",
        "trajectories": stats.trajectories,
        "states": stats.states,
        "transitions": stats.transitions,
        "skipped": stats.skipped,
        "unknown_words": stats.unknown_words,
        "parts": writer.parts,
        "sources": [os.path.abspath(os.fspath(r)) for r in roots],
        "filters": _describe_filters(filters),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "build_seconds": round(stats.seconds, 2),
        "build_workers": workers,
    }
    tmp = out / f".{MANIFEST}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(stats.manifest, indent=1), encoding="utf-8")
    os.replace(tmp, out / MANIFEST)  # last: only a finished build has a manifest
    logger.info(
        "wrote %d trajectories (%d states) in %d parts to %s in %.1fs; %d skipped",
        stats.trajectories,
        stats.states,
        stats.parts,
        out,
        stats.seconds,
        stats.skipped,
    )
    return stats


def _describe_filters(filters: IndexFilter | None) -> dict[str, Any] | None:
    if filters is None:
        return None
    return {
        k: (v.isoformat() if isinstance(v, dt.date) else list(v) if isinstance(v, tuple) else v)
        for k, v in filters.__dict__.items()
    }


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m training.shards",
        description="Encode Metamon-format trajectories once into memory-mappable shards.",
    )
    p.add_argument("sources", nargs="+", type=Path, metavar="SRC", help="folders or .tar shards")
    p.add_argument("--out", type=Path, required=True, help="the shard folder to write")
    add_filter_arguments(p)
    p.add_argument(
        "--observation",
        choices=sorted(LAYOUTS),
        default="entities",
        help="the encoder: entities (metamon v2, the default model's) or text (Metamon's)",
    )
    p.add_argument("--per-part", type=int, default=DEFAULT_PER_PART, help="trajectories a part")
    p.add_argument(
        "--workers", type=int, default=None, help="encoding processes (default: every core)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace shards already in --out")
    p.add_argument("--no-cache", action="store_true", help="do not use the index cache")
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    from rich.console import Console
    from rich.logging import RichHandler
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    logging.getLogger("training.data").setLevel(logging.WARNING)  # the bar shows the count
    try:
        if args.per_part < 1:
            raise ShardError(f"--per-part {args.per_part}: must be at least 1")
        for src in args.sources:
            if not src.exists():
                raise ShardError(f"{src}: no such file or folder")
        filters = filters_from_args(args)
        progress = Progress(
            TextColumn("[bold]encode"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        task = progress.add_task("encode", total=None)

        def on_index(total: int) -> None:  # the bar appears once the input is good
            progress.update(task, total=total)
            progress.start()

        try:
            stats = build_shards(
                args.sources,
                args.out,
                filters,
                per_part=args.per_part,
                workers=args.workers,
                overwrite=args.overwrite,
                use_cache=not args.no_cache,
                on_index=on_index,
                on_progress=lambda done: progress.update(task, completed=done),
                observation=args.observation,
            )
        finally:
            if progress.live.is_started:
                progress.stop()
    except (ShardError, FileNotFoundError, ValueError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    rate = (stats.trajectories + stats.skipped) / max(stats.seconds, 1e-9)
    print(
        f"{stats.trajectories} trajectories ({stats.states} states) in {stats.parts} parts "
        f"in {args.out}; {stats.skipped} skipped; {stats.seconds:.1f}s ({rate:.0f} files/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

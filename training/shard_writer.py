"""Writing shards: each trajectory encoded once, then stored in parts of memory-mappable arrays.

`encode_trajectory` turns one trajectory into its states' encoder output (tokens, numbers,
legal masks), its actions and its shaped rewards, with Metamon's count conventions
normalised (T + 1 states, T actions); `init_worker` and `encode_chunk` do that for a few
trajectories at a time in the processes of `training.shards.build_shards`' pool;
`PartWriter` concatenates every `per_part` of them into one part folder of `.npy` arrays
and its `names.txt` (the layout `training.shards`' docstring draws), and `check_out` /
`prepare_out` decide whether a build may write (or overwrite) its output folder.
"""

from __future__ import annotations

import gc
import itertools
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.entities import make_encoder
from training.features import N_ACTIONS
from training.index import IndexEntry
from training.reading import read_entry, states_and_actions
from training.reward import shaped_reward
from training.shard_format import ARRAYS, MANIFEST, NAMES, ShardError
from training.tokenizer import Vocabulary

logger = logging.getLogger("training.shards")  # the logger it had in training.shards

NUMBER_DTYPE = np.float32
ACTION_DTYPE = np.int8


@dataclass
class EncodedTrajectory:
    """One trajectory as stored: T + 1 states, T actions and rewards."""

    tokens: np.ndarray  # (T + 1, n_tokens) token dtype
    numbers: np.ndarray  # (T + 1, n_numbers) float32
    legal: np.ndarray  # (T + 1, 13) bool
    actions: np.ndarray  # (T,) int8
    rewards: np.ndarray  # (T,) float32


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.int16 if vocab_size <= np.iinfo(np.int16).max + 1 else np.int32)


def encode_trajectory(
    trajectory: dict[str, Any], encoder: Any, tokens_as: np.dtype
) -> EncodedTrajectory:
    """Encode every state and compute every transition's shaped reward, once."""
    states, actions, n = states_and_actions(trajectory)
    acts = np.array(actions, dtype=np.int64).reshape(n)
    if n and (acts.min() < -1 or acts.max() >= N_ACTIONS):
        raise ValueError(f"actions outside -1..{N_ACTIONS - 1}")
    turns = [encoder.encode(s) for s in states]
    return EncodedTrajectory(
        tokens=np.stack([t.tokens for t in turns]).astype(tokens_as),
        numbers=np.stack([t.numbers for t in turns]).astype(NUMBER_DTYPE),
        legal=np.stack([t.legal for t in turns]),
        actions=acts.astype(ACTION_DTYPE),
        rewards=np.array(
            [shaped_reward(a, b) for a, b in itertools.pairwise(states)], dtype=np.float32
        ).reshape(n),
    )


def stored_name(entry: IndexEntry) -> str:
    """`{folder}/{file name}`: the name plus the folder the format falls back to."""
    if entry.member is None:
        folder, _, base = entry.path.rpartition(os.sep)
        return f"{os.path.basename(folder)}/{base}"
    head, _, base = entry.member.rpartition("/")
    folder = head.rpartition("/")[2] or os.path.basename(entry.path).removesuffix(".tar")
    return f"{folder}/{base}"


_encoder: Any = None  # the worker's StateEncoder or EntityEncoder
_tokens_as: np.dtype = np.dtype(np.int16)

Encoded = tuple[str, EncodedTrajectory | str]  # (stored name, trajectory or why it failed)


def init_worker(words: list[str], observation: str = "entities") -> None:
    global _encoder, _tokens_as
    vocab = Vocabulary(words)
    _encoder, _tokens_as = make_encoder(observation, vocab), token_dtype(len(vocab))


def encode_chunk(entries: list[IndexEntry]) -> tuple[list[Encoded], int]:
    """Encode a few trajectories (in a pool worker); returns them and new unknown words."""
    assert _encoder is not None
    unknown_before = sum(_encoder.vocab.unknown_counts.values())
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a parsed trajectory is ~20k acyclic objects: see TrajectoryDataset
    out: list[Encoded] = []
    try:
        for entry in entries:
            name = stored_name(entry)
            try:
                out.append((name, encode_trajectory(read_entry(entry), _encoder, _tokens_as)))
            except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
                out.append((name, f"{type(err).__name__}: {err}"))
    finally:
        if gc_was_enabled:
            gc.enable()
    return out, sum(_encoder.vocab.unknown_counts.values()) - unknown_before


class PartWriter:
    """Collects encoded trajectories and writes a part every `per_part` of them."""

    def __init__(self, out: Path, per_part: int) -> None:
        self.out, self.per_part = out, per_part
        self.pending: list[tuple[str, EncodedTrajectory]] = []
        self.parts: list[dict[str, Any]] = []

    def add(self, name: str, traj: EncodedTrajectory) -> None:
        self.pending.append((name, traj))
        if len(self.pending) >= self.per_part:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        name = f"part-{len(self.parts):05d}"
        path = self.out / name
        path.mkdir()
        trajs = [t for _, t in self.pending]
        states = np.fromiter((len(t.tokens) for t in trajs), dtype=np.int64, count=len(trajs))
        state_offsets = np.concatenate([[0], np.cumsum(states)]).astype(np.int64)
        action_offsets = (state_offsets - np.arange(len(trajs) + 1)).astype(np.int64)
        arrays = {key: np.concatenate([getattr(t, key) for t in trajs]) for key in ARRAYS[:5]}
        arrays.update(state_offsets=state_offsets, action_offsets=action_offsets)
        for key, array in arrays.items():
            np.save(path / f"{key}.npy", array)
        (path / NAMES).write_text("".join(f"{n}\n" for n, _ in self.pending), encoding="utf-8")
        self.parts.append(
            {
                "name": name,
                "trajectories": len(trajs),
                "states": int(state_offsets[-1]),
                "transitions": int(action_offsets[-1]),
            }
        )
        logger.debug("wrote %s (%d trajectories)", path, len(trajs))
        self.pending = []


def check_out(out: Path, overwrite: bool) -> list[Path]:
    """What a build in `out` would replace; ShardError if it may not write there.

    `out` must be new, empty, or (with `overwrite`) hold only shards or a build's leftovers.
    """
    if not out.exists():
        return []
    if not out.is_dir():
        raise ShardError(f"--out {out} is a file, not a folder")
    entries = sorted(p for p in out.iterdir() if not p.name.startswith("."))
    ours = [p for p in entries if p.name == MANIFEST or p.name.startswith("part-")]
    if len(ours) != len(entries):
        other = next(p for p in entries if p not in ours)
        raise ShardError(f"--out {out} holds other files ({other.name}): choose another folder")
    if ours and not overwrite:
        what = "shards" if (out / MANIFEST).exists() else "an interrupted build"
        raise ShardError(f"--out {out} already holds {what}: pass --overwrite to replace them")
    return ours


def prepare_out(out: Path, overwrite: bool) -> None:
    """Make `out` ready for a build (see `check_out`), removing old shards."""
    old = check_out(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # first: a half-removed folder is not shards
    for p in old:
        if p.is_dir():
            shutil.rmtree(p)

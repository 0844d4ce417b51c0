"""Trajectories as a torch Dataset of random windows, padded batches and a DataLoader.

`TrajectoryDataset` reads one trajectory per `__getitem__`, inside DataLoader workers, cuts
a random window of at most `max_seq_len` actions, and computes Metamon's shaped reward
(`training.reward`) from consecutive states; rows of pre-tokenized shards are sliced from
memory-mapped arrays instead, already encoded (`training.shard_format`). `collate` pads a
batch; `make_loader` wires it up over an index (`training.index`).

Conventions (Metamon's): a window of T actions carries T + 1 states, the last one being
the state after the last action (what a critic bootstraps from). `actions[t]` was taken in
`states[t]`; `rewards[t]` and `dones[t]` belong to the transition `states[t] -> states[t+1]`;
-1 marks a hidden action (sleep, paralysis, flinch), masked out of the actor loss.
"""

from __future__ import annotations

import copy
import gc
import itertools
import logging
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import lz4.frame
import numpy as np
import orjson  # poke-env's JSON library: parses these files 1.5-3x faster than json
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from training.index import IndexEntry, TrajectoryIndex
from training.reading import read_bytes, states_and_actions
from training.reward import shaped_reward
from training.shard_format import SHARD_ROW, open_part

# the data pipeline's logger, named as before the split (see training.index)
logger = logging.getLogger("training.data")

_shards_logged = False  # the "encode does not apply to shards" line, once per process


class StateWindow(Sequence[dict[str, Any]]):
    """`states[start:stop]` of one trajectory file: a read-only list of state dicts.

    Pickles as the file's own bytes (a few kB, one object) and decodes on first use, so a
    batch of raw states crosses from a DataLoader worker to the trainer in microseconds:
    pickling the ~20k dicts and lists of a trajectory costs more than parsing its file.
    """

    __slots__ = ("_data", "_lz4", "_start", "_states", "_stop")

    def __init__(
        self, data: bytes, lz4: bool, start: int, stop: int, states: list | None = None
    ) -> None:
        self._data, self._lz4, self._start, self._stop = data, lz4, start, stop
        self._states = states

    def _decoded(self) -> list[dict[str, Any]]:
        if self._states is None:
            raw = lz4.frame.decompress(self._data) if self._lz4 else self._data
            self._states = orjson.loads(raw)["states"][self._start : self._stop]
        return self._states

    def __len__(self) -> int:
        return self._stop - self._start

    def __getitem__(self, i):  # type: ignore[override]
        return self._decoded()[i]

    def __iter__(self):  # type: ignore[override]
        return iter(self._decoded())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"StateWindow({len(self)} states)"

    def __reduce__(self) -> tuple:
        return StateWindow, (self._data, self._lz4, self._start, self._stop)


@dataclass
class Sample:
    """One window of one trajectory: T actions, T + 1 states."""

    states: Any  # T + 1 state dicts (a StateWindow), or the stacked outputs of `encode`
    actions: torch.Tensor  # (T,) int64, -1 where hidden
    mask: torch.Tensor  # (T,) bool, the action is known
    rewards: torch.Tensor  # (T,) float32, shaped reward of states[t] -> states[t+1]
    dones: torch.Tensor  # (T,) bool, True on the trajectory's last transition
    index: int  # row in the index
    start: int = 0  # the window's first state in the trajectory


@dataclass
class Batch:
    """A padded batch: B trajectories, T = the longest window in the batch. Or a packed
    one (`training.packing`): B rows of T + 1 places holding several windows each, the
    four packing fields set, and `lengths` / `index` per window."""

    states: Any  # B StateWindows of T_b + 1 dicts, or encodings padded to (B, T + 1, ...)
    actions: torch.Tensor  # (B, T) int64, -1 hidden or padding
    mask: torch.Tensor  # (B, T) bool: a real turn whose action is known (actor loss)
    valid: torch.Tensor  # (B, T) bool: a real turn (critic loss)
    rewards: torch.Tensor  # (B, T) float32, 0 on padding
    dones: torch.Tensor  # (B, T) bool
    lengths: torch.Tensor  # (B,) int64: T_b, real actions per row (states: T_b + 1)
    index: torch.Tensor  # (B,) int64: rows in the index
    # packed batches only (None in a padded one):
    positions: torch.Tensor | None = None  # (B, T + 1) int64: each state's turn in its window
    segments: torch.Tensor | None = None  # (B, T + 1) int64: its window's number, -1 padding
    turn_index: torch.Tensor | None = None  # (N,) int64: where each compact state goes
    placement: torch.Tensor | None = None  # (windows, 2) int64: each window's row and start

    def __len__(self) -> int:
        return len(self.lengths)

    def _map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Batch:
        def apply(x: Any) -> Any:
            if isinstance(x, torch.Tensor):
                return fn(x)
            if isinstance(x, dict):
                return {k: apply(v) for k, v in x.items()}
            return x

        return Batch(**{k: apply(v) for k, v in self.__dict__.items()})

    def pin_memory(self) -> Batch:  # called by DataLoader(pin_memory=True)
        return self._map(lambda t: t.pin_memory())

    def to(self, device: torch.device | str, non_blocking: bool = True) -> Batch:
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))


def _stack(items: list[Any]) -> Any:
    """Stack per-state encodings (tensors, arrays, or dicts of them) along a new dim 0."""
    first = items[0] if items else None
    if isinstance(first, torch.Tensor):
        return torch.stack(items)
    if isinstance(first, np.ndarray):
        return torch.from_numpy(np.stack(items))
    if isinstance(first, dict):
        return {k: _stack([x[k] for x in items]) for k in first}
    return items


def _empty(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised tensor; in a DataLoader worker, allocated in shared memory.

    A worker sends tensors through shared memory: one made there (as torch's own
    default_collate does) is sent without a copy, and without first faulting in a private
    copy of its pages, which costs more than the padding itself on this kind of VM.
    """
    if get_worker_info() is None:
        return torch.empty(shape, dtype=dtype)
    storage = torch.UntypedStorage._new_shared(math.prod(shape) * dtype.itemsize)
    return torch.empty(0, dtype=dtype).set_(storage).view(shape)


def _pad(items: list[Any], length: int) -> Any:
    """Stack encodings (T_b, ...) into (B, length, ...), zeros after each T_b."""
    first = items[0]
    if isinstance(first, torch.Tensor):
        out = _empty((len(items), length, *first.shape[1:]), first.dtype)
        for i, x in enumerate(items):
            out[i, : len(x)] = x
            out[i, len(x) :] = 0
        return out
    if isinstance(first, dict):
        return {k: _pad([x[k] for x in items], length) for k in first}
    return items


class UnreadableData(RuntimeError):
    """No trajectory of an index could be read: the message is one line."""


class TrajectoryDataset(Dataset[Sample]):
    """Trajectories read lazily (in the DataLoader worker), cut to random windows.

    `encode(state) -> tensor | array | dict of them` (optional) runs on every state inside
    the worker, so a tokenizer plugs in where the CPU time is parallel; its outputs are
    stacked per trajectory and padded by `collate`. Without it, states stay raw dicts.
    A trajectory that cannot be read is logged once (per reading process), remembered and
    replaced by the next readable one, however many bad files come in a row; only when no
    trajectory of the index can be read does it raise `UnreadableData` (one line).

    Rows of pre-tokenized shards (`training.shards`) are sliced from memory-mapped arrays,
    already encoded by `StateEncoder` and rewarded by `shaped_reward`: `encode` and
    `reward_fn` do not apply to them (logged once). An index that mixes shards with raw
    files needs an `encode` that makes the same arrays (a `StateEncoder`).
    """

    def __init__(
        self,
        index: TrajectoryIndex,
        max_seq_len: int = 200,
        encode: Callable[[dict[str, Any]], Any] | None = None,
        reward_fn: Callable[[dict[str, Any], dict[str, Any]], float] = shaped_reward,
        window_seed: int | None = None,
    ) -> None:
        if max_seq_len < 1:
            raise ValueError("max_seq_len must be at least 1")
        self.index = index
        self.max_seq_len = max_seq_len
        self.encode = encode
        self.reward_fn = reward_fn
        # None: windows follow the process's `random`; a seed: row i always gets the same
        # window, whichever worker reads it (validation, with workers)
        self.window_seed = window_seed
        self.unreadable: set[int] = set()  # rows this process found it cannot read
        self._check_shards()

    def _check_shards(self) -> None:
        """Log what shards ignore; refuse shards mixed with raw files that nothing encodes."""
        global _shards_logged
        if self.index is None:
            return
        in_shard = self.index.size == SHARD_ROW
        if not in_shard.any():
            return
        if self.encode is None and not in_shard.all():
            raise ValueError(
                "the index mixes pre-tokenized shards with raw trajectory files: pass "
                "encode=StateEncoder(vocab) so the raw files are encoded as the shards were"
            )
        ignored = [
            what
            for what, used in (
                ("encode", self.encode is not None),
                ("reward_fn", self.reward_fn is not shaped_reward),
            )
            if used
        ]
        if ignored and not _shards_logged:
            _shards_logged = True
            logger.info(
                "pre-tokenized shards: their rows are already encoded (StateEncoder) and "
                "rewarded (shaped_reward); %s applies to raw files only",
                " and ".join(ignored),
            )

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> Sample:
        gc_was_enabled = gc.isenabled()
        # Parsing a trajectory makes ~20k dicts and lists, none in a cycle: the cyclic GC
        # would only walk them over and over (about half the parse time). Refcounts free them.
        gc.disable()
        try:
            n = len(self.index)
            for step in range(n):
                row = (i + step) % n
                if row in self.unreadable:
                    continue
                entry = self.index[row]
                try:
                    return self._read(entry, row)
                except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
                    self.unreadable.add(row)
                    logger.warning(
                        "skipping unreadable trajectory %s (%d unreadable so far): %s",
                        entry.member or entry.path,
                        len(self.unreadable),
                        " ".join(repr(err).split())[:200],
                    )
            raise UnreadableData(
                f"none of the {n} trajectories could be read (each is named in a warning "
                "above): check the data folder"
            )
        finally:
            if gc_was_enabled:
                gc.enable()

    def _read_shard(self, entry: IndexEntry, row: int) -> Sample:
        """A random window sliced from a shard part, as `window` + `encode` would make it."""
        part = open_part(entry.path)
        n = part.transitions(entry.offset)
        t = min(n, self.max_seq_len)
        start = self._start(row, n - t)  # the same draw as `window`
        states, acts, rewards = part.window(entry.offset, start, t)
        dones = torch.zeros(t, dtype=torch.bool)
        if t and start + t == n:
            dones[-1] = True
        return Sample(states, acts, acts >= 0, rewards, dones, row, start)

    def _read(self, entry: IndexEntry, row: int) -> Sample:
        if entry.in_shard:
            return self._read_shard(entry, row)
        data = read_bytes(entry)
        compressed = (entry.member or entry.path).endswith(".lz4")
        trajectory = orjson.loads(lz4.frame.decompress(data) if compressed else data)
        sample = self.window(trajectory, row)
        if self.encode is None:  # ship the file's bytes, not thousands of dicts
            start = sample.start
            stop = start + len(sample.states)
            # A worker pickles the bytes anyway: free the dicts now, while they are hot
            # in the CPU cache (holding a batch of them costs ~2x the parse time).
            parsed = sample.states if get_worker_info() is None else None
            sample.states = StateWindow(data, compressed, start, stop, parsed)
        return sample

    def _start(self, row: int, last: int) -> int:
        """A window's first action, drawn from 0..last."""
        if self.window_seed is None:
            return random.randint(0, last)
        return random.Random(self.window_seed * 1_000_003 + row).randint(0, last)

    def window(self, trajectory: dict[str, Any], row: int = -1) -> Sample:
        """A random window of at most `max_seq_len` actions (and one more state)."""
        states, actions, n = states_and_actions(trajectory)
        t = min(n, self.max_seq_len)
        start = self._start(row, n - t)
        states = states[start : start + t + 1]  # (T + 1) states
        acts = torch.tensor(actions[start : start + t], dtype=torch.int64)  # (T,)
        rewards = torch.tensor(
            [self.reward_fn(a, b) for a, b in itertools.pairwise(states)], dtype=torch.float32
        )
        dones = torch.zeros(t, dtype=torch.bool)
        if t and start + t == n:
            dones[-1] = True
        if self.encode is not None:
            states = _stack([self.encode(s) for s in states])
        return Sample(states, acts, acts >= 0, rewards, dones, row, start)


def collate(samples: list[Sample]) -> Batch:
    """Pad a list of samples to the longest window: actions with -1, the rest with 0."""
    b = len(samples)
    lengths = _empty((b,), torch.int64)
    lengths[:] = torch.tensor([len(s.actions) for s in samples], dtype=torch.int64)
    t = int(lengths.max()) if b else 0
    actions = _empty((b, t), torch.int64).fill_(-1)
    mask, valid, dones = (_empty((b, t), torch.bool).fill_(False) for _ in range(3))
    rewards = _empty((b, t), torch.float32).fill_(0.0)
    for i, s in enumerate(samples):
        n = len(s.actions)
        actions[i, :n] = s.actions
        mask[i, :n] = s.mask
        valid[i, :n] = True
        rewards[i, :n] = s.rewards
        dones[i, :n] = s.dones
    states = [s.states for s in samples]
    if b and isinstance(states[0], (torch.Tensor, dict)):  # encoded
        states = _pad(states, t + 1)
    index = _empty((b,), torch.int64)
    index[:] = torch.tensor([s.index for s in samples], dtype=torch.int64)
    return Batch(states, actions, mask, valid, rewards, dones, lengths, index)


def worker_init_fn(worker_id: int) -> None:
    """Move what the worker inherited out of the GC's way (shards open lazily, per worker)."""
    gc.freeze()


def make_loader(
    data: TrajectoryIndex | TrajectoryDataset,
    *,
    batch_size: int = 32,
    max_seq_len: int = 200,
    encode: Callable[[dict[str, Any]], Any] | None = None,
    num_workers: int = 2,
    pin_memory: bool = False,
    prefetch_factor: int | None = 4,
    persistent_workers: bool = True,
    shuffle: bool = True,
    drop_last: bool = False,
    seed: int | None = None,
    sampler: Sampler[int] | None = None,
    multiprocessing_context: str | None = None,
    pack: bool = False,
    window_seed: int | None = None,
) -> DataLoader[Sample]:
    """A DataLoader of `Batch`es over an index (or a ready dataset).

    `pack`: packed batches (`training.packing`, rows of `max_seq_len + 1` places; needs
    `encode` or shards), else padded ones. `window_seed`: each trajectory always gets the
    same window (see `TrajectoryDataset`).
    Worker settings apply only with `num_workers > 0`; `pin_memory` only with CUDA.
    `seed` fixes the shuffle order and, with workers, each worker's window sampling
    (in-process, windows follow the global `random` state). Pass a `DistributedSampler`
    as `sampler` under torchrun.
    """
    if isinstance(data, TrajectoryDataset):
        dataset = copy.copy(data)  # max_seq_len is the dataset's; `encode` may override
        dataset.encode = encode or data.encode
        if window_seed is not None:
            dataset.window_seed = window_seed
        dataset._check_shards()
    else:
        dataset = TrajectoryDataset(data, max_seq_len, encode=encode, window_seed=window_seed)
    collate_fn: Callable[[list[Sample]], Batch] = collate
    if pack:
        from training.packing import PackedCollate  # packing builds on this module

        collate_fn = PackedCollate(dataset.max_seq_len + 1)
    if pin_memory and not torch.cuda.is_available():
        logger.info("pin_memory needs CUDA; loading without it")
        pin_memory = False
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    workers = num_workers > 0
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        collate_fn=collate_fn,
        num_workers=num_workers,
        pin_memory=pin_memory,
        drop_last=drop_last,
        prefetch_factor=prefetch_factor if workers else None,
        persistent_workers=persistent_workers and workers,
        generator=generator,
        worker_init_fn=worker_init_fn if workers else None,
        multiprocessing_context=multiprocessing_context if workers else None,
    )

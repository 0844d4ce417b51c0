"""Packed batches: several windows per row, and only real turns through the turn encoder.

A padded batch (`training.dataset.collate`) makes every window as long as the batch's
longest, and the model pays for every padded turn twice: in the turn encoder (each turn is
its own little transformer) and in the history transformer. On Metamon's replays, windows
of up to 200 turns padded to the longest in a batch of 64 left 37% of the turns padding.

`collate_packed` lays the batch's windows end to end in rows of a fixed length (first-fit
decreasing: the longest window first, each into the first row it fits), so a row holds
one long window or several short ones:

    row 0 | window 3 (120 states)          | window 0 (70 states)    | pad |
    row 1 | window 1 (201 states)                                          |
    row 2 | window 2 (90 states)    | window 4 (101 states)           | pad |

- `segments` (R, L): which window each place belongs to (-1: padding). The history
  transformer attends within a window only (a block-diagonal causal mask), so packing
  changes no window's outputs; `positions` (R, L) restart at 0 for each window.
- The per-transition tensors (`actions`, `mask`, `valid`, `rewards`, `dones`, (R, L - 1))
  follow the padded batch's conventions place by place: place p's action is taken in the
  state at p and leads to p + 1. A window's last state (and padding) carries action -1,
  reward 0 and `valid` False, so the offline learner's shifts (previous action and reward,
  the next state's value) never cross from one window into the next.
- The turns themselves travel compact: `states["tokens"]` (N, n_tokens) and
  `states["numbers"]` (N, n_numbers) hold only the real states, N rounded up to a multiple
  of `TURN_MULTIPLE` with a few pad turns; `turn_index` (N,) says where each goes in the
  flattened (R, L) rows (R * L for the pads, a place the model drops). The turn encoder
  therefore runs on the real turns and at most `TURN_MULTIPLE - 1` more.
  `states["legal"]` is (R, L, A), laid out like the rows.
- Token ids are int32 (half the bytes of int64 to copy to the device).

`lengths` and `index` stay per window (in the batch's window order); `placement` (n, 2)
gives each window's row and first place. The number of rows varies a little from batch to
batch (the row length does not); `padding_stats` measures what is left of the padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from training.dataset import Batch, Sample, _empty

TURN_MULTIPLE = 8  # the compact turns are padded to a multiple of this (aligned matmuls)


def first_fit_decreasing(sizes: list[int], capacity: int) -> list[tuple[int, int]]:
    """(row, offset) of each item, packed longest first into the first row with room.

    Every size must be at most `capacity`. Deterministic: ties keep the items' order.
    """
    if any(size > capacity for size in sizes):
        raise ValueError(f"a window of {max(sizes)} states does not fit rows of {capacity}")
    order = sorted(range(len(sizes)), key=lambda i: -sizes[i])
    used: list[int] = []  # states taken in each row so far
    placement: list[tuple[int, int]] = [(0, 0)] * len(sizes)
    for i in order:
        size = sizes[i]
        for row, taken in enumerate(used):
            if taken + size <= capacity:
                placement[i] = (row, taken)
                used[row] = taken + size
                break
        else:
            placement[i] = (len(used), 0)
            used.append(size)
    return placement


def collate_packed(samples: list[Sample], row_len: int) -> Batch:
    """Pack encoded windows (T_i actions, T_i + 1 states each) into rows of `row_len`
    states (see the module doc). States must be encoded (dicts of tensors)."""
    if samples and not isinstance(samples[0].states, dict):
        raise ValueError("packed batches need encoded states: pass an encoder to the dataset")
    sizes = [len(s.actions) + 1 for s in samples]
    placement = first_fit_decreasing(sizes, row_len)
    R = max((row for row, _ in placement), default=-1) + 1
    L = row_len
    n_real = sum(sizes)
    n_turns = -(-n_real // TURN_MULTIPLE) * TURN_MULTIPLE

    actions = _empty((R, L - 1), torch.int64).fill_(-1)
    mask, valid, dones = (_empty((R, L - 1), torch.bool).fill_(False) for _ in range(3))
    rewards = _empty((R, L - 1), torch.float32).fill_(0.0)
    positions = _empty((R, L), torch.int64).fill_(0)
    segments = _empty((R, L), torch.int64).fill_(-1)
    turn_index = _empty((n_turns,), torch.int64).fill_(R * L)
    states: dict[str, torch.Tensor] = {}
    if samples:
        first = samples[0].states
        for key in ("tokens", "numbers"):
            dtype = torch.int32 if key == "tokens" else first[key].dtype
            states[key] = _empty((n_turns, *first[key].shape[1:]), dtype).fill_(0)
        legal = first["legal"]
        states["legal"] = _empty((R, L, *legal.shape[1:]), legal.dtype).fill_(False)
    at = 0
    for w, (s, (row, start)) in enumerate(zip(samples, placement, strict=True)):
        t = len(s.actions)
        stop = start + t  # the window's last state
        actions[row, start:stop] = s.actions
        mask[row, start:stop] = s.mask
        valid[row, start:stop] = True
        rewards[row, start:stop] = s.rewards
        dones[row, start:stop] = s.dones
        positions[row, start : stop + 1] = torch.arange(t + 1)
        segments[row, start : stop + 1] = w
        turn_index[at : at + t + 1] = torch.arange(row * L + start, row * L + stop + 1)
        for key in ("tokens", "numbers"):
            states[key][at : at + t + 1] = s.states[key]
        states["legal"][row, start : stop + 1] = s.states["legal"]
        at += t + 1
    lengths = _empty((len(samples),), torch.int64)
    lengths[:] = torch.tensor([len(s.actions) for s in samples], dtype=torch.int64)
    index = _empty((len(samples),), torch.int64)
    index[:] = torch.tensor([s.index for s in samples], dtype=torch.int64)
    placed = _empty((len(samples), 2), torch.int64)
    placed[:] = torch.tensor(placement, dtype=torch.int64).view(-1, 2)
    return Batch(
        states,
        actions,
        mask,
        valid,
        rewards,
        dones,
        lengths,
        index,
        positions=positions,
        segments=segments,
        turn_index=turn_index,
        placement=placed,
    )


class PackedCollate:
    """`collate_packed` with its row length, as a picklable DataLoader collate_fn."""

    def __init__(self, row_len: int) -> None:
        self.row_len = row_len

    def __call__(self, samples: list[Sample]) -> Batch:
        return collate_packed(samples, self.row_len)


@dataclass(frozen=True)
class PaddingStats:
    """How much of a batch's work is padding, per part of the model."""

    real_turns: int  # states of the batch's windows
    encoded_turns: int  # turns the turn encoder runs on
    history_places: int  # places the history transformer runs on (rows x row length)

    @property
    def encoder_padding(self) -> float:
        """The share of the turn encoder's turns that are padding."""
        return 1 - self.real_turns / max(self.encoded_turns, 1)

    @property
    def history_padding(self) -> float:
        """The share of the history transformer's places that are padding."""
        return 1 - self.real_turns / max(self.history_places, 1)


def padding_stats(batch: Batch) -> PaddingStats:
    """What of `batch` (packed or padded) is real and what the model runs on."""
    real = int(batch.lengths.sum()) + len(batch.lengths)  # T_i + 1 states each
    places = batch.actions.size(0) * (batch.actions.size(1) + 1)
    encoded = places if batch.turn_index is None else int(batch.turn_index.numel())
    return PaddingStats(real, encoded, places)

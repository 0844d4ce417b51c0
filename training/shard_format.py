"""A shard folder's layout and how to read it: the manifest, the parts' names and arrays.

`training.shards` writes these folders (its docstring draws the layout); the index
(`training.index`) lists a folder's rows from `read_manifest` and `part_names`, and the
dataset (`training.dataset`) slices windows from `open_part`. Both import this module,
which imports neither: the format sits below the code that builds and the code that reads.

An index row of a shard part is `IndexEntry(path=part folder, member=stored name,
offset=row in the part, size=SHARD_ROW)`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from training.entities import LAYOUTS
from training.features import N_ACTIONS

FORMAT = "showdown-arena-shards"
VERSION = 1
MANIFEST = "manifest.json"
NAMES = "names.txt"
SHARD_ROW = -2  # IndexEntry.size of an index row that lives in a shard part
ARRAYS = ("tokens", "numbers", "legal", "actions", "rewards", "state_offsets", "action_offsets")


class ShardError(ValueError):
    """A shard folder that cannot be used as it is (another version, vocabulary, layout)."""


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The manifest of a shard folder; None if `folder` holds no shards manifest.

    Raises ShardError for a manifest of another version or encoder layout.
    """
    path = os.path.join(folder, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise ShardError(f"{path}: unreadable shards manifest ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        return None  # someone else's manifest.json
    if manifest.get("version") != VERSION:
        raise ShardError(
            f"{folder}: shards of version {manifest.get('version')!r}, this code reads "
            f"version {VERSION}: rebuild them with python -m training.shards --overwrite"
        )
    observation = manifest.setdefault("observation", "text")  # older builds: the text view
    layout = (manifest.get("n_tokens"), manifest.get("n_numbers"), manifest.get("n_actions"))
    expected = (*LAYOUTS.get(observation, (None, None)), N_ACTIONS)
    if layout != expected:
        raise ShardError(
            f"{folder}: shards of {layout[0]} tokens, {layout[1]} numbers and {layout[2]} "
            f"actions per state, the {observation!r} encoder makes {expected[0]}, "
            f"{expected[1]} and {expected[2]}: rebuild them with python -m training.shards "
            "--overwrite"
        )
    return manifest


def part_names(folder: str, manifest: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """(part folder, stored names in row order) of each part: what the index lists."""
    for part in manifest["parts"]:
        path = os.path.join(folder, part["name"])
        with open(os.path.join(path, NAMES), encoding="utf-8") as f:
            names = f.read().split("\n")
        if names and names[-1] == "":
            names.pop()
        if len(names) != part["trajectories"]:
            raise ShardError(
                f"{path}: {len(names)} names for {part['trajectories']} trajectories: "
                "rebuild the shards with --overwrite"
            )
        yield path, names


class ShardPart:
    """One part's arrays, memory-mapped (offsets read whole: they are small)."""

    def __init__(self, path: str) -> None:
        self.path = path
        for name in ("tokens", "numbers", "legal", "actions", "rewards"):
            setattr(self, name, np.load(os.path.join(path, f"{name}.npy"), mmap_mode="r"))
        self.state_offsets = np.load(os.path.join(path, "state_offsets.npy"))
        self.action_offsets = np.load(os.path.join(path, "action_offsets.npy"))

    def __len__(self) -> int:
        return len(self.state_offsets) - 1

    def transitions(self, row: int) -> int:
        """T, the number of actions of trajectory `row` (it has T + 1 states)."""
        return int(self.action_offsets[row + 1] - self.action_offsets[row])

    def window(self, row: int, start: int, t: int) -> tuple[dict[str, torch.Tensor], ...]:
        """States [start, start + t + 1) and actions, rewards [start, start + t) of `row`.

        Returns (states, actions, rewards): states as StateEncoder's arrays stacked by
        `training.dataset._stack` (tokens int64, numbers float32, legal bool), actions int64.
        """
        s0 = int(self.state_offsets[row]) + start
        a0 = int(self.action_offsets[row]) + start
        states = {
            "tokens": torch.from_numpy(self.tokens[s0 : s0 + t + 1].astype(np.int64)),
            "numbers": torch.from_numpy(self.numbers[s0 : s0 + t + 1].astype(np.float32)),
            "legal": torch.from_numpy(np.array(self.legal[s0 : s0 + t + 1], dtype=np.bool_)),
        }
        actions = torch.from_numpy(self.actions[a0 : a0 + t].astype(np.int64))
        rewards = torch.from_numpy(np.array(self.rewards[a0 : a0 + t], dtype=np.float32))
        return states, actions, rewards


_parts: dict[str, ShardPart] = {}  # part folder -> its mapped arrays, for this process only
_parts_pid = os.getpid()


def open_part(path: str) -> ShardPart:
    """A part's arrays, mapped once per process (a DataLoader worker maps its own)."""
    global _parts_pid
    if _parts_pid != os.getpid():
        _parts.clear()
        _parts_pid = os.getpid()
    part = _parts.get(path)
    if part is None:
        part = _parts[path] = ShardPart(path)
    return part

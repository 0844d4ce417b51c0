"""One trajectory's bytes or parsed dict, by index entry: a file, or a member of a tar.

A tar shard is opened once per process and read with `os.pread` at the member's offset
(from the index), so DataLoader workers and threads never share a file position.
`read_entry` parses one (`battle.trajectory.decode_trajectory`: lz4 or plain JSON), and
`states_and_actions` holds it to Metamon's counts (T + 1 states, T actions). Rows of
pre-tokenized shards hold encoded states, not bytes: `training.dataset` slices those
(`training.shard_format`).
"""

from __future__ import annotations

import os
from typing import Any

from battle.trajectory import decode_trajectory
from training.index import IndexEntry

_shards: dict[str, int] = {}  # tar path -> file descriptor, for this process only
_shards_pid = os.getpid()


def _shard_fd(path: str) -> int:
    """An fd for a tar shard, opened once per process (a DataLoader worker re-opens)."""
    global _shards_pid
    if _shards_pid != os.getpid():  # forked: the parent's fds are not ours to reuse
        _shards.clear()
        _shards_pid = os.getpid()
    fd = _shards.get(path)
    if fd is None:
        fd = _shards[path] = os.open(path, os.O_RDONLY)
    return fd


def close_shards() -> None:
    """Close the tar shards this process opened."""
    if _shards_pid == os.getpid():
        for fd in _shards.values():
            os.close(fd)
    _shards.clear()


def read_bytes(entry: IndexEntry) -> bytes:
    """The raw (possibly lz4-compressed) bytes of one trajectory."""
    if entry.in_shard:
        raise ValueError(
            f"{entry.member} in {entry.path} is a pre-tokenized shard row: it holds encoded "
            "states, not the file's bytes (read the original files for those)"
        )
    if entry.member is None:
        with open(entry.path, "rb") as f:
            return f.read()
    # pread: no shared file position, so threads and forked workers never interfere
    data = os.pread(_shard_fd(entry.path), entry.size, entry.offset)
    if len(data) != entry.size:
        raise OSError(f"{entry.path}: member {entry.member} is truncated")
    return data


def read_entry(entry: IndexEntry) -> dict[str, Any]:
    """`{"states": [...], "actions": [...]}` from a .json, .json.lz4 or tar member."""
    name = entry.member if entry.member is not None else entry.path
    return decode_trajectory(read_bytes(entry), name)


def states_and_actions(trajectory: dict[str, Any]) -> tuple[list, list, int]:
    """(states, actions, T) of a parsed trajectory: T + 1 states and T actions.

    Metamon's files hold one action per state or one fewer; a last action with no successor
    state is dropped. Raises ValueError for a trajectory with no states or other counts.
    """
    states, actions = trajectory["states"], trajectory["actions"]
    n = len(states) - 1  # transitions
    if n < 0:
        raise ValueError("a trajectory with no states")
    if len(actions) == n + 1:  # one action per state: the last one has no successor
        actions = actions[:n]
    elif len(actions) != n:
        raise ValueError(f"{len(states)} states but {len(actions)} actions")
    return states, actions, n

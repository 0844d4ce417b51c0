"""One trajectory's bytes or parsed dict, by index entry: a file, or a member of a tar.

A tar shard is opened once per process and read with `os.pread` at the member's offset
(from the index), so DataLoader workers and threads never share a file position.
`read_entry` parses one (`battle.trajectory.decode_trajectory`: lz4 or plain JSON), and
`states_and_actions` holds it to Metamon's counts (T + 1 states, T actions) and unlabels
the steps where action 0 was no choice (`forced_zero`). Rows of
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


# moves after which the user must recharge next turn (gen 1-9)
RECHARGE_MOVES = frozenset(
    {
        "hyperbeam", "gigaimpact", "blastburn", "frenzyplant", "hydrocannon", "rockwrecker",
        "roaroftime", "eternabeam", "prismaticlaser", "meteorassault",
    }
)  # fmt: skip
NOT_A_CHOICE = frozenset({"struggle", "recharge"})
_BLANK_MOVES = frozenset({"nomove", "", "<blank>"})


def _move_id(move: Any) -> str:
    name = move.get("name") if isinstance(move, dict) else None
    return "".join(c for c in str(name or "").lower() if c.isalnum())


def forced_zero(state: dict[str, Any], after: dict[str, Any] | None) -> bool:
    """Whether action 0 taken in `state` was Struggle or Recharge, not a choice of move 0.

    Metamon's files write Struggle and Recharge as action 0 (ours write -1): learning them
    as "pick the first move" would teach a choice the player never made. It was no choice
    when the next state's `player_prev_move` is Struggle or Recharge, or in a forced
    switch. Otherwise, unless the next state shows move 0 used, it was none when move slot
    0 could not be picked (a blank slot, or no pp left of a known `max_pp`: Struggle) or
    our previous move must recharge (Hyper Beam...). A state without a `moves` list is
    left alone: a 0 there is taken as written.
    """
    if after is not None and _move_id(after.get("player_prev_move")) in NOT_A_CHOICE:
        return True
    if state.get("forced_switch"):
        return True
    moves = (state.get("player_active_pokemon") or {}).get("moves")
    if not isinstance(moves, list):
        return False
    first = moves[0] if moves and isinstance(moves[0], dict) else {}
    if after is not None and _move_id(after.get("player_prev_move")) == _move_id(first):
        return False  # move 0 was used
    if _move_id(first) in _BLANK_MOVES | NOT_A_CHOICE:
        return True
    pp, max_pp = first.get("current_pp"), first.get("max_pp")
    numbers = isinstance(pp, (int, float)) and isinstance(max_pp, (int, float))
    if numbers and max_pp > 0 and pp <= 0:
        return True
    return _move_id(state.get("player_prev_move")) in RECHARGE_MOVES


def states_and_actions(trajectory: dict[str, Any]) -> tuple[list, list, int]:
    """(states, actions, T) of a parsed trajectory: T + 1 states and T actions.

    Metamon's files hold one action per state or one fewer; a last action with no successor
    state is dropped. An action 0 that was Struggle or Recharge (`forced_zero`) reads as
    -1, hidden, as the arena's own files write them. Raises ValueError for a trajectory
    with no states or other counts.
    """
    states, actions = trajectory["states"], trajectory["actions"]
    n = len(states) - 1  # transitions
    if n < 0:
        raise ValueError("a trajectory with no states")
    if len(actions) == n + 1:  # one action per state: the last one has no successor
        actions = actions[:n]
    elif len(actions) != n:
        raise ValueError(f"{len(states)} states but {len(actions)} actions")
    if 0 in actions:
        actions = [
            -1 if a == 0 and forced_zero(states[t], states[t + 1]) else a
            for t, a in enumerate(actions)
        ]
    return states, actions, n

"""Trajectory files: one per player per battle, in Metamon's parsed-replay layout.

    {dir}/{format}/{battle_id}_{rating}_{player}_vs_{opponent}_{MM-DD-YYYY-HH:MM:SS}_{WIN|LOSS}.json.lz4

holding the lz4-framed JSON `{"states": [state, ...], "actions": [int, ...]}`, the states
those of `battle.metamon` and the actions its indices. The arena writes them
(`arena.trajectories`, `main.py --save-trajectories DIR`); `training` reads them, and
Metamon's public files, with the same loader.

File formats (`main.py --trajectory-format`)
    "lz4" (the default) is the above. "metamon" writes what Metamon's own dataset reader
    (version 1.1.0) takes: plain JSON, `{name}.json` (`write_trajectory(compress=False)`),
    exactly `{"states": [...], "actions": [...]}` (no `played_actions`), the states and
    actions in Metamon's own conventions (`battle.metamon_convention`: its fields only,
    its spellings, names from before any forme change, 9 actions).

Trajectory
    `states[i]` is the state in which `actions[i]` was taken; a last, terminal state (taken
    when the battle ended, with `battle_won` / `battle_lost` set) follows, so there is one
    more state than actions. A choice the server rejected and asked again for (same request
    id) replaces the step instead of adding one.

File names
    `battle_id` is the Showdown battle tag without its "battle-" prefix, and starts with
    the format ("gen9randombattle-1234"); the first player named is the one whose view the
    file holds, and WIN / LOSS is that player's result (a tie is LOSS for both: neither
    won). Player names and the battle id are reduced to Showdown ids / [a-z0-9-], so they
    hold no "_" (the field separator) or "/". Arena battles are unrated: `rating` is the
    string "Unrated", which Metamon's loaders read as 1000. The time is UTC. An existing
    file is never overwritten: the battle id gets a "-2", "-3"... suffix instead. Files
    are written atomically (a temporary file in the same folder, then a rename).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import lz4.frame
import orjson  # poke-env's own JSON library: ten times json's speed, the same bytes
from poke_env.data import to_id_str

from battle.files import atomic_write_bytes

if TYPE_CHECKING:
    from collections.abc import Sequence

UNRATED = "Unrated"
UNRATED_VALUE = 1000  # what Metamon's loaders take "Unrated" to mean
WIN, LOSS = "WIN", "LOSS"
SUFFIX = ".json.lz4"
JSON_SUFFIX = ".json"  # --trajectory-format metamon: plain JSON, as Metamon's reader takes it
LZ4_FORMAT, METAMON_FORMAT = "lz4", "metamon"
FILE_FORMATS = (LZ4_FORMAT, METAMON_FORMAT)  # --trajectory-format; LZ4_FORMAT the default
DATE_FORMAT = "%m-%d-%Y-%H:%M:%S"  # Metamon's own-environment variant of MM-DD-YYYY


# --------------------------------------------------------------------------- file names


def safe_name(name: str | None) -> str:
    """A player name as it goes in a file name: its Showdown id ([a-z0-9]), never empty."""
    return to_id_str(name or "") or "anonymous"


def battle_id_for(battle_format: str, battle_tag: str) -> str:
    """`battle-gen9randombattle-12` -> `gen9randombattle-12` ([a-z0-9-], starts with format)."""
    battle_id = re.sub(r"[^a-z0-9-]+", "-", battle_tag.lower().removeprefix("battle-")).strip("-")
    fmt = to_id_str(battle_format)
    if not battle_id.startswith(fmt):
        battle_id = f"{fmt}-{battle_id}" if battle_id else fmt
    return battle_id


@dataclass(frozen=True)
class TrajectoryFile:
    """What goes in a trajectory's file name (`training.names.parse_name` reads it back);
    `p1` is the player whose view it holds."""

    format: str
    battle_id: str
    rating: int | None  # None: "Unrated"
    p1: str
    p2: str
    when: datetime
    won: bool

    @property
    def stem(self) -> str:
        return trajectory_name(
            self.format, self.battle_id, self.rating, self.p1, self.p2, self.when, self.won
        )

    def path(self, folder: Path | str, suffix: str = SUFFIX) -> Path:
        return Path(folder) / to_id_str(self.format) / f"{self.stem}{suffix}"


def trajectory_name(
    format: str,
    battle_id: str,
    rating: int | None,
    p1: str,
    p2: str,
    when: datetime,
    won: bool,
) -> str:
    """`{battle_id}_{rating}_{p1}_vs_{p2}_{MM-DD-YYYY-HH:MM:SS}_{WIN|LOSS}` (no suffix).

    `p1` is the player whose view the file holds and `won` its result; `battle_id` is
    made to start with the format; names are reduced to ids; `rating` None is "Unrated".
    """
    parts = [
        battle_id_for(format, battle_id),
        UNRATED if rating is None else str(int(rating)),
        safe_name(p1),
        "vs",
        safe_name(p2),
        when.strftime(DATE_FORMAT),
        WIN if won else LOSS,
    ]
    return "_".join(parts)


# --------------------------------------------------------------------------- files


def write_trajectory(
    folder: Path | str,
    name_parts: TrajectoryFile,
    states: Sequence[dict[str, Any]],
    actions: Sequence[int],
    played_actions: Sequence[int] | None = None,
    *,
    compress: bool = True,
) -> Path:
    """Write `{folder}/{format}/{name}.json.lz4` atomically and return its path; with
    `compress=False`, plain JSON in `{name}.json` (Metamon's own reader's files).

    An existing file is kept: the battle id gets a "-2", "-3"... suffix instead.
    `played_actions` (teacher-labelled files only) is written after `actions`.
    """
    if played_actions is not None and len(played_actions) != len(actions):
        raise ValueError(
            f"played_actions has {len(played_actions)} entries for {len(actions)} actions"
        )
    suffix = SUFFIX if compress else JSON_SUFFIX
    path = name_parts.path(folder, suffix)
    n = 1
    while path.exists():
        n += 1
        base = battle_id_for(name_parts.format, name_parts.battle_id)
        renamed = TrajectoryFile(**{**name_parts.__dict__, "battle_id": f"{base}-{n}"})
        path = renamed.path(folder, suffix)
    content: dict[str, Any] = {"states": list(states), "actions": [int(a) for a in actions]}
    if played_actions is not None:
        content["played_actions"] = [int(a) for a in played_actions]
    payload = orjson.dumps(content)
    data = lz4.frame.compress(payload) if compress else payload
    atomic_write_bytes(path, data, sync=False)  # a lost file is one battle's data
    return path


def read_trajectory(path: Path | str) -> dict[str, Any]:
    """Load one `.json.lz4` (or plain `.json`) trajectory file."""
    return decode_trajectory(Path(path).read_bytes(), str(path))


def decode_trajectory(data: bytes, name: str) -> dict[str, Any]:
    """A trajectory from its file's bytes; `name` (a path or a tar member) says whether
    they are lz4-framed (`.lz4`) or plain JSON."""
    if name.endswith(".lz4"):
        data = lz4.frame.decompress(data)
    return orjson.loads(data)

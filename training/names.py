"""Metamon trajectory file names, read without opening a file (and without torch).

    {format}/{battle_id}_{rating}_{p1}_vs_{p2}_{MM-DD-YYYY[-HH:MM:SS]}_{WIN|LOSS}.json[.lz4]

`p1` is the player whose point of view the file holds. `parse_name` reads the names of the
public dataset and of the arena's own files (`battle.metamon` writes them).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import lru_cache

UNRATED = 1000  # the rating Metamon gives an "Unrated" battle
SUFFIXES = (".json.lz4", ".json")


@dataclass(frozen=True)
class TrajectoryName:
    """What a Metamon file name says about its trajectory."""

    format: str  # e.g. "gen9ou"
    battle_id: str  # e.g. "gen9ou-2013324985"
    rating: int  # "Unrated" reads as 1000
    p1: str  # the player whose point of view the file holds
    p2: str
    date: dt.date
    won: bool


def _strip_suffix(name: str) -> str | None:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return None


@lru_cache(maxsize=1 << 16)
def _day(date_part: str) -> int:
    """Proleptic ordinal of `MM-DD-YYYY`; -1 if it is not a date."""
    if len(date_part) != 10 or date_part[2] != "-" or date_part[5] != "-":
        return -1
    try:
        return dt.date(int(date_part[6:]), int(date_part[:2]), int(date_part[3:5])).toordinal()
    except ValueError:
        return -1


@lru_cache(maxsize=4096)
def _format_of(battle_id: str) -> str:
    """`gen9ou-123` -> `gen9ou` (also `battle-gen9ou-123`, `[Gen 9] OU-123`); '' if none."""
    bid = battle_id.lower().replace("[", "").replace("]", "").replace(" ", "")
    bid = bid.removeprefix("battle-")
    head, sep, _ = bid.partition("-")
    return head if sep and head.isalnum() else ""


def _rating(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        try:
            return int(float(text))
        except ValueError:
            return UNRATED  # "Unrated", and anything else Metamon would also read as 1000


def _split_name(name: str) -> tuple[str, str, str, str, str, int, bool] | None:
    """(battle_id, rating, p1, p2, format-from-id, day ordinal, won) or None.

    Dates and results are taken from the right, battle id and rating from the left (none
    of them can hold `_`), and the players are what lies between, split at the last
    `_vs_`: so a username with underscores still parses.
    """
    stem = _strip_suffix(name)
    if stem is None:
        return None
    parts = stem.rsplit("_", 2)
    if len(parts) != 3:
        return None
    prefix, when, result = parts
    result = result.upper()
    if result not in ("WIN", "LOSS"):
        return None
    # MM-DD-YYYY or MM-DD-YYYY-HH:MM:SS
    if len(when) > 10 and when[10] != "-":
        return None
    day = _day(when[:10])
    if day < 0:
        return None
    left = prefix.split("_", 2)
    if len(left) != 3:
        return None
    battle_id, rating, players = left
    p1, sep, p2 = players.rpartition("_vs_")
    if not sep or not battle_id:
        return None
    return battle_id, rating, p1, p2, _format_of(battle_id), day, result == "WIN"


def parse_name(path_or_name: str | os.PathLike[str]) -> TrajectoryName | None:
    """Parse a Metamon trajectory file name; None if it is not one.

    The format comes from the battle id (`gen9ou-123` -> `gen9ou`); a battle id without
    one falls back to the parent folder's name (`gen9ou/...`).

    >>> parse_name("gen9ou/gen9ou-1_Unrated_ash_vs_misty_04-12-2024-13:02:11_WIN.json.lz4")
    TrajectoryName(format='gen9ou', battle_id='gen9ou-1', rating=1000, p1='ash', \
p2='misty', date=datetime.date(2024, 4, 12), won=True)
    """
    text = os.fspath(path_or_name)
    head, _, name = text.replace("\\", "/").rpartition("/")
    parts = _split_name(name)
    if parts is None:
        return None
    battle_id, rating, p1, p2, fmt, day, won = parts
    fmt = fmt or head.rpartition("/")[2].lower()
    return TrajectoryName(
        format=fmt,
        battle_id=battle_id,
        rating=_rating(rating),
        p1=p1,
        p2=p2,
        date=dt.date.fromordinal(day),
        won=won,
    )

"""The name-only index of Metamon-format trajectories: its columns, entries and filters.

Data on disk is Metamon's parsed-replay format (see ../shared/reference/metamon.md): one
file per trajectory, `{format}/{battle_id}_{rating}_{p1}_vs_{p2}_{MM-DD-YYYY}_{WIN|LOSS}.json`
or `.json.lz4`, or many such files as members of `.tar` shards, or rows of pre-tokenized
shard parts (`size` = `SHARD_ROW`). Everything the filters need (format, rating, result,
date, players) is in the name, so a `TrajectoryIndex` holds the names and the columns
parsed from them as a few numpy arrays, and filters (`IndexFilter`, on the command line
`add_filter_arguments`) apply to the columns in milliseconds; it saves and loads itself as
one cache file. `training.index_scan.build_index` builds it from folders without opening a
trajectory; an `IndexEntry` says where one trajectory lives, and `training.reading` reads it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from training.names import TrajectoryName, _split_name, parse_name
from training.shard_format import SHARD_ROW

# the data pipeline's logger keeps the name it had before the split: `python -m
# training.shards` quiets it, and logging set up for "training.data" still applies
logger = logging.getLogger("training.data")

INDEX_VERSION = 1
Result = Literal["win", "loss", "both"]


@dataclass(frozen=True)
class IndexFilter:
    """Which trajectories to keep, judged from file names alone. Bounds are inclusive."""

    formats: tuple[str, ...] | None = None  # e.g. ("gen1ou", "gen9ou"); None: all
    min_rating: int | None = None  # "Unrated" counts as 1000, as in Metamon
    max_rating: int | None = None
    result: Result = "both"  # the point-of-view player's result
    min_date: dt.date | None = None
    max_date: dt.date | None = None
    # the point-of-view player's name starts with one of these (compared as Showdown user
    # ids: lower case, letters and digits), e.g. ("heuristic",) keeps the arena's heuristic
    # agent's side of every battle; None: every player
    players: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.players is not None:
            if isinstance(self.players, str):
                raise TypeError("players is a sequence of names, e.g. ('heuristic',)")
            ids = tuple(user_id(p) for p in self.players)
            if not all(ids):
                raise ValueError(f"players: {self.players!r} holds a name with no letters")
            object.__setattr__(self, "players", ids)
        if self.result not in ("win", "loss", "both"):
            raise ValueError(f"result must be 'win', 'loss' or 'both', not {self.result!r}")
        if self.formats is not None:
            if isinstance(self.formats, str):
                raise TypeError("formats is a sequence of format ids, e.g. ('gen9ou',)")
            object.__setattr__(self, "formats", tuple(f.lower() for f in self.formats))


@dataclass(frozen=True)
class IndexEntry:
    """Where one trajectory lives: a file, or a member of a tar shard."""

    path: str  # the .json / .json.lz4 file, or the .tar holding the member
    member: str | None = None  # the member's name inside the tar
    offset: int = -1  # where the member's bytes start in the tar
    size: int = -1  # how many bytes it has

    @property
    def name(self) -> TrajectoryName | None:
        return parse_name(self.member if self.member is not None else self.path)

    @property
    def in_shard(self) -> bool:
        """A row of a pre-tokenized shard part (`path` the part, `offset` the row)."""
        return self.size == SHARD_ROW


_COLUMNS = ("source", "start", "end", "offset", "size", "format", "rating", "day", "won")


@dataclass
class TrajectoryIndex:
    """Columnar index of trajectories: numpy arrays, names packed in one byte buffer.

    A few numpy arrays rather than millions of Python objects: cheap to cache, to filter,
    to hand to DataLoader workers (no copy-on-write page churn from refcounts).
    """

    sources: list[str]  # folders (for files) and tar shards (for members)
    formats: list[str]  # format ids, indexed by `format`
    names: np.ndarray  # uint8: every file/member name, utf-8, back to back
    source: np.ndarray  # int32 (N,): index into `sources`
    start: np.ndarray  # int64 (N,): name bytes are names[start:end]
    end: np.ndarray  # int64 (N,)
    offset: np.ndarray  # int64 (N,): tar member data offset, -1 for files
    size: np.ndarray  # int64 (N,): tar member size, -1 for files
    format: np.ndarray  # int16 (N,): index into `formats`
    rating: np.ndarray  # int32 (N,)
    day: np.ndarray  # int32 (N,): date as a proleptic ordinal
    won: np.ndarray  # bool (N,)
    from_cache: bool = field(default=False, compare=False)

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int) -> IndexEntry:
        name = self.names[self.start[i] : self.end[i]].tobytes().decode()
        src = self.sources[self.source[i]]
        if self.offset[i] < 0:
            return IndexEntry(os.path.join(src, name))
        return IndexEntry(src, name, int(self.offset[i]), int(self.size[i]))

    def select(self, rows: np.ndarray) -> TrajectoryIndex:
        """A sub-index of `rows` (indices or a boolean mask); names are shared, not copied."""
        cols = {c: getattr(self, c)[rows] for c in _COLUMNS}
        return TrajectoryIndex(self.sources, self.formats, self.names, **cols)

    def filter(self, filters: IndexFilter) -> TrajectoryIndex:
        keep = np.ones(len(self), dtype=bool)
        if filters.formats is not None:
            wanted = [i for i, f in enumerate(self.formats) if f in filters.formats]
            keep &= np.isin(self.format, np.array(wanted, dtype=self.format.dtype))
        if filters.min_rating is not None:
            keep &= self.rating >= filters.min_rating
        if filters.max_rating is not None:
            keep &= self.rating <= filters.max_rating
        if filters.result != "both":
            keep &= self.won == (filters.result == "win")
        if filters.min_date is not None:
            keep &= self.day >= filters.min_date.toordinal()
        if filters.max_date is not None:
            keep &= self.day <= filters.max_date.toordinal()
        if filters.players is not None:
            wanted = filters.players
            rows = np.flatnonzero(keep)
            pov = [user_id(self._parts(i)[2]) for i in rows]
            keep[rows] = [p.startswith(wanted) for p in pov]
        return self.select(np.flatnonzero(keep))

    def _parts(self, i: int) -> tuple[str, str, str, str, str, int, bool]:
        name = self.names[self.start[i] : self.end[i]].tobytes().decode().rpartition("/")[2]
        parts = _split_name(name)
        assert parts is not None  # the scan kept only names that split
        return parts

    def battle_ids(self) -> list[str]:
        """Each row's battle id (both players' files of a battle share it)."""
        return [self._parts(i)[0] for i in range(len(self))]

    def split(self, fraction: float, seed: int = 0) -> tuple[TrajectoryIndex, TrajectoryIndex]:
        """(rest, held out): a random `fraction` of the rows held out, e.g. for validation."""
        order = np.random.default_rng(seed).permutation(len(self))
        cut = round(len(self) * fraction)
        return self.select(np.sort(order[cut:])), self.select(np.sort(order[:cut]))

    def split_by_battle(
        self, fraction: float, seed: int = 0, *, at_least_one: bool = False
    ) -> tuple[TrajectoryIndex, TrajectoryIndex]:
        """(rest, held out), about `fraction` of the battles held out with all their files.

        A battle's side is fixed by a hash of its id and `seed`, not by the order or count
        of files: adding data never moves a battle from one side to the other, and the two
        players' views of one battle never land on different sides. With `at_least_one`,
        a split that would hold out no battle holds out the one whose hash is lowest (a
        small folder still gets a validation battle).
        """
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"the held-out fraction must be in [0, 1), not {fraction}")
        salt = str(seed).encode()
        hashes = np.fromiter(
            (
                int.from_bytes(hashlib.blake2b(b.encode(), digest_size=8, salt=salt).digest())
                for b in self.battle_ids()
            ),
            dtype=np.uint64,
            count=len(self),
        )
        held = hashes < np.uint64(min(int(fraction * 2**64), 2**64 - 1))
        if at_least_one and fraction > 0 and len(self) and not held.any():
            held = hashes == hashes.min()
        return self.select(np.flatnonzero(~held)), self.select(np.flatnonzero(held))

    def summary(self) -> str:
        """One line: count, per-format counts, win share, rating and date range."""
        if not len(self):
            return "0 trajectories"
        counts = np.bincount(self.format, minlength=len(self.formats))
        per_format = ", ".join(f"{f} {c}" for f, c in zip(self.formats, counts, strict=True) if c)
        first, last = (dt.date.fromordinal(int(d)) for d in (self.day.min(), self.day.max()))
        return (
            f"{len(self)} trajectories ({per_format}); {self.won.mean():.0%} wins; "
            f"rating {self.rating.min()}-{self.rating.max()}; {first} to {last}"
        )

    # -- cache file ---------------------------------------------------------------------

    def save(self, path: Path, stamps: list[tuple[str, int, int]]) -> None:
        """Write atomically (temporary file, then rename) with the folder/tar `stamps`."""
        meta = {"version": INDEX_VERSION, "sources": self.sources, "formats": self.formats}
        meta["stamps"] = stamps
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as f:
                np.savez(
                    f,
                    meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
                    names=self.names,
                    **{c: getattr(self, c) for c in _COLUMNS},
                )
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> tuple[TrajectoryIndex, list[tuple[str, int, int]]] | None:
        """The cached index and its stamps, or None if unreadable or of another version."""
        try:
            with np.load(path, allow_pickle=False) as npz:
                meta = json.loads(npz["meta"].tobytes())
                if meta.get("version") != INDEX_VERSION:
                    return None
                cols = {c: npz[c] for c in _COLUMNS}
                index = cls(meta["sources"], meta["formats"], npz["names"], **cols)
        except (OSError, ValueError, KeyError) as err:
            logger.warning("ignoring unreadable index cache %s: %s", path, err)
            return None
        index.from_cache = True
        return index, [tuple(s) for s in meta["stamps"]]


def user_id(name: str) -> str:
    """Showdown's user id of a name: lower case, letters and digits only."""
    return "".join(c for c in name.lower() if c.isalnum())


# --------------------------------------------------------------------------------------
# Command-line filters
# --------------------------------------------------------------------------------------


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    """The `IndexFilter` options of the command lines that index trajectories."""
    parser.add_argument("--formats", nargs="+", default=None)
    parser.add_argument("--min-rating", type=int, default=None)
    parser.add_argument("--max-rating", type=int, default=None)
    parser.add_argument("--result", choices=["win", "loss", "both"], default="both")
    parser.add_argument("--min-date", type=dt.date.fromisoformat, default=None)
    parser.add_argument("--max-date", type=dt.date.fromisoformat, default=None)
    parser.add_argument(
        "--players", nargs="+", default=None, help="point-of-view names start with one of these"
    )


def filters_from_args(args: argparse.Namespace) -> IndexFilter:
    """The `IndexFilter` that `add_filter_arguments`' options describe."""
    return IndexFilter(
        formats=tuple(args.formats) if args.formats else None,
        min_rating=args.min_rating,
        max_rating=args.max_rating,
        result=args.result,
        min_date=args.min_date,
        max_date=args.max_date,
        players=tuple(args.players) if args.players else None,
    )

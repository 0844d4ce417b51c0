"""Metamon-format trajectories: a name-only index, lazy reads, a torch Dataset and loader.

    uv run python -m training.data /path/to/metamon-data --formats gen9ou --min-rating 1300

Data on disk is Metamon's parsed-replay format (see ../shared/reference/metamon.md): one
file per trajectory, `{format}/{battle_id}_{rating}_{p1}_vs_{p2}_{MM-DD-YYYY}_{WIN|LOSS}.json`
or `.json.lz4`, or many such files as members of `.tar` shards. Everything the filters need
(format, rating, result, date) is in the name, so:

- `build_index` walks the folders with `os.scandir` (and lists each tar's member names once)
  and never opens a trajectory; the listing is cached, keyed by the roots and checked
  against the mtimes of every folder and tar it saw, so a second start is a few stats and
  one `np.load`. Filters are applied to the cached columns, in milliseconds.
- `TrajectoryDataset` reads one trajectory per `__getitem__`, inside DataLoader workers,
  cuts a random window of at most `max_seq_len` actions, and computes Metamon's shaped
  reward from consecutive states. `collate` pads a batch; `make_loader` wires it up.
- A folder holding a `manifest.json` of pre-tokenized shards (`training.shards`) is
  indexed from the names stored in its parts (one row per trajectory, `size` =
  `SHARD_ROW`), and its windows are sliced from memory-mapped arrays, already encoded.

Conventions (Metamon's): a window of T actions carries T + 1 states, the last one being
the state after the last action (what a critic bootstraps from). `actions[t]` was taken in
`states[t]`; `rewards[t]` and `dones[t]` belong to the transition `states[t] -> states[t+1]`;
-1 marks a hidden action (sleep, paralysis, flinch), masked out of the actor loss.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import functools
import gc
import hashlib
import itertools
import json
import logging
import math
import os
import random
import tarfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import lz4.frame
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from training.names import (  # noqa: F401 (re-exported: the loader's public names)
    SUFFIXES,
    UNRATED,
    TrajectoryName,
    _rating,
    _split_name,
    parse_name,
)

try:  # orjson ships with poke-env; it parses these files 1.5-3x faster than json
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
except ImportError:  # pragma: no cover
    _loads = json.loads

logger = logging.getLogger(__name__)

INDEX_VERSION = 1
SHARD_MANIFEST = "manifest.json"  # training.shards.MANIFEST
SHARD_ROW = -2  # training.shards.SHARD_ROW: IndexEntry.size of a row in a shard part
Result = Literal["win", "loss", "both"]

# --------------------------------------------------------------------------------------
# The index
# --------------------------------------------------------------------------------------


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
        self, fraction: float, seed: int = 0
    ) -> tuple[TrajectoryIndex, TrajectoryIndex]:
        """(rest, held out), about `fraction` of the battles held out with all their files.

        A battle's side is fixed by a hash of its id and `seed`, not by the order or count
        of files: adding data never moves a battle from one side to the other, and the two
        players' views of one battle never land on different sides.
        """
        if not 0.0 <= fraction < 1.0:
            raise ValueError(f"the held-out fraction must be in [0, 1), not {fraction}")
        salt = str(seed).encode()
        held = np.fromiter(
            (
                int.from_bytes(hashlib.blake2b(b.encode(), digest_size=8, salt=salt).digest())
                < fraction * 2**64
                for b in self.battle_ids()
            ),
            dtype=bool,
            count=len(self),
        )
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


def default_cache_dir() -> Path:
    """`$TRAINING_INDEX_CACHE`, else `$XDG_CACHE_HOME/showdown-arena/index` (~/.cache)."""
    if os.environ.get("TRAINING_INDEX_CACHE"):
        return Path(os.environ["TRAINING_INDEX_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "showdown-arena" / "index"


def _stamp(path: str) -> tuple[str, int, int]:
    st = os.stat(path)
    return path, st.st_mtime_ns, st.st_size


# A folder or tar modified this close to the scan may change again within the same
# timestamp tick (file times are only as fine as the kernel's clock tick), unseen: its
# stamp is stored as -1, so the next start rescans rather than trusting it ("racy git").
RACY_NS = 2_000_000_000


def _list_tar(path: str) -> Iterable[tuple[str, int, int]]:
    """(member name, data offset, size) of each trajectory in an uncompressed tar.

    Reads only the 512-byte headers. `TarFile.members` is emptied as we go, so a shard
    of millions of members does not keep millions of TarInfo objects alive.
    """
    with open(path, "rb", buffering=1 << 20) as raw, tarfile.open(fileobj=raw, mode="r:") as tar:
        while (info := tar.next()) is not None:
            tar.members.clear()
            if info.isreg() and info.name.endswith(SUFFIXES):
                yield info.name, info.offset_data, info.size


class _Scan:
    """Accumulates rows while walking the roots."""

    def __init__(self) -> None:
        self.sources: list[str] = []
        self.formats: dict[str, int] = {}
        self.stamps: list[tuple[str, int, int]] = []
        self.names: list[str] = []
        self.cols: dict[str, list[int]] = {c: [] for c in ("source", "offset", "size")}
        self.cols.update({c: [] for c in ("format", "rating", "day", "won")})
        self.skipped = 0
        self.started_ns = time.time_ns()

    def stamp(self, path: str, st: os.stat_result) -> None:
        racy = st.st_mtime_ns > self.started_ns - RACY_NS
        self.stamps.append((path, -1 if racy else st.st_mtime_ns, st.st_size))

    def add_source(self, path: str) -> int:
        self.sources.append(path)
        return len(self.sources) - 1

    def add(self, source: int, name: str, folder: str, offset: int = -1, size: int = -1) -> None:
        base = name.rpartition("/")[2]
        parts = _split_name(base)
        if parts is None:
            self.skipped += 1
            return
        _, rating, _, _, fmt, day, won = parts
        fmt = fmt or folder.lower()
        cols = self.cols
        self.names.append(name)
        cols["source"].append(source)
        cols["offset"].append(offset)
        cols["size"].append(size)
        cols["format"].append(self.formats.setdefault(fmt, len(self.formats)))
        cols["rating"].append(int(rating) if rating.isdigit() else _rating(rating))
        cols["day"].append(day)
        cols["won"].append(won)

    def index(self) -> TrajectoryIndex:
        encoded = [n.encode() for n in self.names]
        end = np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
        c = self.cols
        return TrajectoryIndex(
            sources=self.sources,
            formats=list(self.formats),
            names=np.frombuffer(b"".join(encoded), dtype=np.uint8),
            source=np.array(c["source"], dtype=np.int32),
            start=end - np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)),
            end=end,
            offset=np.array(c["offset"], dtype=np.int64),
            size=np.array(c["size"], dtype=np.int64),
            format=np.array(c["format"], dtype=np.int16),
            rating=np.array(c["rating"], dtype=np.int32),
            day=np.array(c["day"], dtype=np.int32),
            won=np.array(c["won"], dtype=bool),
        )


def _walk(root: str, scan: _Scan, seen: set[tuple[int, int]]) -> None:
    """Depth-first over `root`: files by name, tars by their member list; no file opened."""
    stack = [root]
    while stack:
        folder = stack.pop()
        st = os.stat(folder)
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop, or a root listed twice
            continue
        seen.add((st.st_dev, st.st_ino))
        # stamp before listing: a file added while we list makes the cache stale, not wrong
        scan.stamp(folder, st)
        files: list[str] = []
        subfolders: list[str] = []
        tars: list[str] = []
        manifest = False
        with os.scandir(folder) as it:
            for entry in it:
                name = entry.name
                if name.startswith("."):
                    continue
                if name == SHARD_MANIFEST:
                    manifest = True
                elif name.endswith(SUFFIXES):
                    files.append(name)
                elif entry.is_dir():
                    subfolders.append(entry.path)
                elif name.endswith(".tar"):
                    tars.append(entry.path)
        if manifest and _add_shards(folder, scan):
            continue  # a shard folder holds nothing else to index
        for tar in sorted(tars):
            _add_tar(tar, scan)
        if files:
            files.sort()
            source = scan.add_source(folder)
            parent = os.path.basename(folder)
            for name in files:
                scan.add(source, name, parent)
        stack.extend(sorted(subfolders, reverse=True))


def _add_tar(path: str, scan: _Scan) -> None:
    scan.stamp(path, os.stat(path))
    source = scan.add_source(path)
    shard = os.path.basename(path).removesuffix(".tar")
    for member, offset, size in _list_tar(path):
        folder = member.rpartition("/")[0].rpartition("/")[2] or shard
        scan.add(source, member, folder, offset, size)


def _add_shards(folder: str, scan: _Scan) -> bool:
    """Index the parts of a pre-tokenized shard folder; False if its manifest is not ours."""
    from training.shards import part_names, read_manifest

    manifest_path = os.path.join(folder, SHARD_MANIFEST)
    st = os.stat(manifest_path)
    manifest = read_manifest(folder)
    if manifest is None:
        return False
    scan.stamp(manifest_path, st)
    for part, names in part_names(folder, manifest):
        source = scan.add_source(part)
        for row, name in enumerate(names):
            scan.add(source, name, name.rpartition("/")[0], row, SHARD_ROW)
    return True


def build_index(
    roots: Path | str | Sequence[Path | str],
    filters: IndexFilter | None = None,
    *,
    cache_dir: Path | str | None = None,
    use_cache: bool = True,
) -> TrajectoryIndex:
    """Index the trajectories under `roots` from their names, then apply `filters`.

    Walks folders (recursively) for `.json` / `.json.lz4` files and `.tar` shards, whose
    member names (and data offsets) are listed once, and for folders of pre-tokenized
    shards (`training.shards`), whose stored names are read. Never opens a trajectory. The full
    listing is cached in `cache_dir` (default: `default_cache_dir()`), keyed by the roots,
    and reused while no folder or tar it saw has changed (mtime and size); filters are
    applied afterwards, so changing them never triggers a rescan.
    """
    t0 = time.perf_counter()
    if isinstance(roots, (str, os.PathLike)):
        roots = [roots]
    paths = [os.path.abspath(os.fspath(r)) for r in roots]
    for path in paths:
        if not os.path.exists(path):
            raise FileNotFoundError(f"no trajectory data at {path}")
    key = hashlib.sha1("\n".join(paths).encode()).hexdigest()[:16]
    cache_path = Path(cache_dir or default_cache_dir()) / f"trajectories-{key}.npz"

    index = None
    if use_cache and cache_path.exists():
        cached = TrajectoryIndex.load(cache_path)
        if cached is not None and _fresh(cached[1]):
            index = cached[0]
    if index is None:
        scan = _Scan()
        seen: set[tuple[int, int]] = set()
        for path in paths:
            if os.path.isdir(path):
                _walk(path, scan, seen)
            elif path.endswith(".tar"):
                _add_tar(path, scan)
            else:
                raise ValueError(f"{path} is neither a folder nor a .tar shard")
        index = scan.index()
        if scan.skipped:
            logger.warning("skipped %d files whose names are not Metamon's", scan.skipped)
        if use_cache:
            try:
                index.save(cache_path, scan.stamps)
            except OSError as err:
                logger.warning("could not write the index cache %s: %s", cache_path, err)
    total, from_cache = len(index), index.from_cache
    if filters is not None:
        index = index.filter(filters)
        index.from_cache = from_cache
    logger.info(
        "indexed %d trajectories, %d kept by the filters, in %.2fs (%s)",
        total,
        len(index),
        time.perf_counter() - t0,
        "cached" if from_cache else "scanned",
    )
    return index


def _fresh(stamps: list[tuple[str, int, int]]) -> bool:
    """True while every folder and tar the cache saw is unchanged."""
    try:
        return all(_stamp(path)[1:] == (mtime, size) for path, mtime, size in stamps)
    except OSError:
        return False


# --------------------------------------------------------------------------------------
# Reading one trajectory
# --------------------------------------------------------------------------------------

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


def read_trajectory(entry: IndexEntry) -> dict[str, Any]:
    """`{"states": [...], "actions": [...]}` from a .json, .json.lz4 or tar member."""
    data = read_bytes(entry)
    name = entry.member if entry.member is not None else entry.path
    if name.endswith(".lz4"):
        data = lz4.frame.decompress(data)
    return _loads(data)


# --------------------------------------------------------------------------------------
# Reward
# --------------------------------------------------------------------------------------

_NO_STATUS = ("nostatus", "", None)


@functools.lru_cache(maxsize=8192)
def base_species(name: str) -> str:
    """The base species id of a Pokémon name ("mimikyubusted" -> "mimikyu"), as Metamon's
    reward matches Pokémon; a name the Pokédex does not know is its own base species."""
    from poke_env.data import GenData, to_id_str

    entry = GenData.from_gen(9).pokedex.get(name)
    if entry is None or not entry.get("baseSpecies"):
        return name
    return to_id_str(entry["baseSpecies"])


def shaped_reward(prev: dict[str, Any], now: dict[str, Any]) -> float:
    """Metamon's default shaped reward for the transition `prev -> now`.

    damage dealt to the opponent's active (hp fraction, 0 if it switched out)
    + own active's hp change (compared with the same pokemon in `prev`, active or bench)
    (Pokémon are matched by base species, as Metamon does: a forme change mid-battle,
    "mimikyu" -> "mimikyubusted", keeps that step's terms)
    + 0.5 x (status given - status taken) (a status appearing where there was none;
      fainting, status "fnt", counts too, as in Metamon's code)
    + (opponent pokemon removed - own pokemon lost) (indicators: `opponents_remaining`
      dropped; `available_switches` shrank)
    + 100 x (+1 won, -1 lost), from `now`'s battle_won / battle_lost.
    """
    mine = now["player_active_pokemon"]
    before = None
    species = base_species(mine["name"])
    for mon in (prev["player_active_pokemon"], *prev["available_switches"]):
        if mon["name"] == mine["name"] or base_species(mon["name"]) == species:
            before = mon
            break
    if before is None:  # e.g. revived by Revival Blessing
        hp_gain = took_status = 0.0
    else:
        hp_gain = mine["hp_pct"] - before["hp_pct"]
        took_status = float(mine["status"] not in _NO_STATUS and before["status"] in _NO_STATUS)

    theirs, theirs_before = now["opponent_active_pokemon"], prev["opponent_active_pokemon"]
    if theirs["name"] == theirs_before["name"] or base_species(theirs["name"]) == base_species(
        theirs_before["name"]
    ):
        damage = theirs_before["hp_pct"] - theirs["hp_pct"]
        gave_status = float(
            theirs["status"] not in _NO_STATUS and theirs_before["status"] in _NO_STATUS
        )
    else:
        damage = gave_status = 0.0

    lost = float(len(prev["available_switches"]) > len(now["available_switches"]))
    removed = float(prev["opponents_remaining"] > now["opponents_remaining"])
    victory = 1.0 if now["battle_won"] else -1.0 if now["battle_lost"] else 0.0
    return damage + hp_gain + 0.5 * (gave_status - took_status) + removed - lost + 100.0 * victory


# --------------------------------------------------------------------------------------
# Dataset, collate, loader
# --------------------------------------------------------------------------------------


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
            self._states = _loads(raw)["states"][self._start : self._stop]
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
    """A padded batch. B trajectories, T = the longest window in the batch."""

    states: Any  # B StateWindows of T_b + 1 dicts, or encodings padded to (B, T + 1, ...)
    actions: torch.Tensor  # (B, T) int64, -1 hidden or padding
    mask: torch.Tensor  # (B, T) bool: a real turn whose action is known (actor loss)
    valid: torch.Tensor  # (B, T) bool: a real turn (critic loss)
    rewards: torch.Tensor  # (B, T) float32, 0 on padding
    dones: torch.Tensor  # (B, T) bool
    lengths: torch.Tensor  # (B,) int64: T_b, real actions per row (states: T_b + 1)
    index: torch.Tensor  # (B,) int64: rows in the index

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


class TrajectoryDataset(Dataset[Sample]):
    """Trajectories read lazily (in the DataLoader worker), cut to random windows.

    `encode(state) -> tensor | array | dict of them` (optional) runs on every state inside
    the worker, so a tokenizer plugs in where the CPU time is parallel; its outputs are
    stacked per trajectory and padded by `collate`. Without it, states stay raw dicts.
    A trajectory that cannot be read is logged and replaced by the next one (up to
    `max_retries` times), so one bad file among millions does not stop a run.

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
        max_retries: int = 10,
    ) -> None:
        if max_seq_len < 1:
            raise ValueError("max_seq_len must be at least 1")
        self.index = index
        self.max_seq_len = max_seq_len
        self.encode = encode
        self.reward_fn = reward_fn
        self.max_retries = max_retries
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
            for attempt in range(self.max_retries + 1):
                row = (i + attempt) % len(self.index)
                entry = self.index[row]
                try:
                    return self._read(entry, row)
                except (OSError, ValueError, KeyError, TypeError, RuntimeError) as err:
                    if attempt == self.max_retries:
                        raise
                    logger.warning("skipping unreadable trajectory %s: %r", entry, err)
            raise AssertionError("unreachable")
        finally:
            if gc_was_enabled:
                gc.enable()

    def _read_shard(self, entry: IndexEntry, row: int) -> Sample:
        """A random window sliced from a shard part, as `window` + `encode` would make it."""
        from training.shards import open_part

        part = open_part(entry.path)
        n = part.transitions(entry.offset)
        t = min(n, self.max_seq_len)
        start = random.randint(0, n - t)  # the same draw as `window`
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
        trajectory = _loads(lz4.frame.decompress(data) if compressed else data)
        sample = self.window(trajectory, row)
        if self.encode is None:  # ship the file's bytes, not thousands of dicts
            start = sample.start
            stop = start + len(sample.states)
            # A worker pickles the bytes anyway: free the dicts now, while they are hot
            # in the CPU cache (holding a batch of them costs ~2x the parse time).
            parsed = sample.states if get_worker_info() is None else None
            sample.states = StateWindow(data, compressed, start, stop, parsed)
        return sample

    def window(self, trajectory: dict[str, Any], row: int = -1) -> Sample:
        """A random window of at most `max_seq_len` actions (and one more state)."""
        states, actions = trajectory["states"], trajectory["actions"]
        n = len(states) - 1  # transitions
        if n < 0:
            raise ValueError("a trajectory with no states")
        if len(actions) == n + 1:  # one action per state: the last one has no successor
            actions = actions[:n]
        elif len(actions) != n:
            raise ValueError(f"{len(states)} states but {len(actions)} actions")
        t = min(n, self.max_seq_len)
        start = random.randint(0, n - t)
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
) -> DataLoader[Sample]:
    """A DataLoader of `Batch`es over an index (or a ready dataset).

    Worker settings apply only with `num_workers > 0`; `pin_memory` only with CUDA.
    `seed` fixes the shuffle order and, with workers, each worker's window sampling
    (in-process, windows follow the global `random` state). Pass a `DistributedSampler`
    as `sampler` under torchrun.
    """
    if isinstance(data, TrajectoryDataset):
        dataset = copy.copy(data)  # max_seq_len is the dataset's; `encode` may override
        dataset.encode = encode or data.encode
        dataset._check_shards()
    else:
        dataset = TrajectoryDataset(data, max_seq_len, encode=encode)
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
        collate_fn=collate,
        num_workers=num_workers,
        pin_memory=pin_memory,
        drop_last=drop_last,
        prefetch_factor=prefetch_factor if workers else None,
        persistent_workers=persistent_workers and workers,
        generator=generator,
        worker_init_fn=worker_init_fn if workers else None,
        multiprocessing_context=multiprocessing_context if workers else None,
    )


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


def main() -> None:
    parser = argparse.ArgumentParser(description="Index Metamon-format trajectories.")
    parser.add_argument("roots", nargs="+", type=Path)
    add_filter_arguments(parser)
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    index = build_index(args.roots, filters_from_args(args), use_cache=not args.no_cache)
    print(index.summary())


if __name__ == "__main__":
    main()

"""Building the trajectory index: a scan of folders, tars and shard folders, and its cache.

`build_index` walks the folders with `os.scandir` (and lists each tar's member names once;
a `.tar.gz` is first decompressed, streaming, into an uncompressed copy in the cache folder,
since a gzip stream cannot be read by offset) and never opens a trajectory: a file's
format, rating, result and date are in its name. A folder holding a `manifest.json` of
pre-tokenized shards (`training.shard_format`) is indexed from the names stored in its
parts (one row per trajectory). The listing is cached
(`TrajectoryIndex.save`), keyed by the roots and checked against the mtimes of every
folder and tar it saw, so a second start is a few stats and one `np.load`; filters are
applied afterwards (`training.index`), so changing them never triggers a rescan.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import tarfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from training.index import IndexFilter, TrajectoryIndex
from training.names import SUFFIXES, _rating, _split_name
from training.shard_format import MANIFEST, SHARD_ROW, part_names, read_manifest

logger = logging.getLogger("training.data")  # the data pipeline's logger, as in training.index


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


GZ_TAR = ".tar.gz"


def unpacked_tar(path: str, cache_dir: Path | str | None = None) -> str:
    """The uncompressed copy of a `.tar.gz` archive, made once (streaming) in the cache.

    A gzip stream cannot seek, so its members cannot be read back by offset: the archive is
    decompressed once, chunk by chunk (never whole in memory, no member extracted), into
    `{cache_dir}/tars/{name}-{key}.tar`, and indexed and read like any `.tar` (`os.pread` at
    each member's offset). The key holds the archive's path, mtime and size, so a changed
    archive gets a new copy; an existing copy is reused at once. Written atomically.
    """
    st = os.stat(path)
    key = hashlib.sha1(f"{path}\n{st.st_mtime_ns}\n{st.st_size}".encode()).hexdigest()[:16]
    base = os.path.basename(path).removesuffix(GZ_TAR)
    folder = Path(cache_dir or default_cache_dir()) / "tars"
    out = folder / f"{base}-{key}.tar"
    if out.exists():
        return str(out)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    t0 = time.perf_counter()
    logger.info("decompressing %s once into %s (read by offset from then on)", path, out)
    try:
        with gzip.open(path, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    logger.info(
        "decompressed %s: %.1f MB in %.1fs",
        path,
        out.stat().st_size / 1e6,
        time.perf_counter() - t0,
    )
    return str(out)


class _Scan:
    """Accumulates rows while walking the roots."""

    def __init__(self, cache_dir: Path | str | None = None) -> None:
        self.cache_dir = cache_dir  # where `.tar.gz` archives get their uncompressed copy
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
                if name == MANIFEST:
                    manifest = True
                elif name.endswith(SUFFIXES):
                    files.append(name)
                elif entry.is_dir():
                    subfolders.append(entry.path)
                elif name.endswith((".tar", GZ_TAR)):
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
    """Index a `.tar` by its members' offsets; a `.tar.gz` through its uncompressed copy
    (`unpacked_tar`), which becomes the rows' source (both are stamped for the cache)."""
    scan.stamp(path, os.stat(path))
    shard = os.path.basename(path).removesuffix(GZ_TAR).removesuffix(".tar")
    if path.endswith(GZ_TAR):
        path = unpacked_tar(path, scan.cache_dir)
        scan.stamp(path, os.stat(path))
    source = scan.add_source(path)
    for member, offset, size in _list_tar(path):
        folder = member.rpartition("/")[0].rpartition("/")[2] or shard
        scan.add(source, member, folder, offset, size)


def _add_shards(folder: str, scan: _Scan) -> bool:
    """Index the parts of a pre-tokenized shard folder; False if its manifest is not ours."""
    manifest_path = os.path.join(folder, MANIFEST)
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
    member names (and data offsets) are listed once, and `.tar.gz` archives (Metamon's
    public set: one per format), decompressed once into an uncompressed copy in the cache
    folder (`unpacked_tar`) and indexed like a `.tar`, and for folders of pre-tokenized
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
        scan = _Scan(cache_dir)
        seen: set[tuple[int, int]] = set()
        for path in paths:
            if os.path.isdir(path):
                _walk(path, scan, seen)
            elif path.endswith((".tar", GZ_TAR)):
                _add_tar(path, scan)
            else:
                raise ValueError(f"{path} is neither a folder nor a .tar / .tar.gz shard")
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

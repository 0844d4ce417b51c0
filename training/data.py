"""Metamon-format trajectories for training: the command line, and the loader's names.

    uv run python -m training.data /path/to/metamon-data --formats gen9ou --min-rating 1300

prints what the index of those folders holds, as the filters keep it. The pipeline itself
lives in modules of one job each, whose public names this module re-exports (so
`from training.data import make_loader` keeps working):

    training.names         Metamon file names, parsed without opening a file
    training.index         the name-only index: columns, entries, filters
    training.index_scan    building it: scan of folders, tars and shards, cache (build_index)
    training.reading       one trajectory's bytes or dict, by index entry
    training.reward        Metamon's shaped reward of one transition
    training.dataset       TrajectoryDataset (random windows), collate, make_loader
    training.shard_format  reading pre-tokenized shard folders (training.shards builds them)
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from training.dataset import (
    Batch,
    Sample,
    StateWindow,
    TrajectoryDataset,
    collate,
    make_loader,
    worker_init_fn,
)
from training.index import (
    INDEX_VERSION,
    IndexEntry,
    IndexFilter,
    Result,
    TrajectoryIndex,
    add_filter_arguments,
    filters_from_args,
    user_id,
)
from training.index_scan import RACY_NS, build_index, default_cache_dir
from training.names import (
    SUFFIXES,
    UNRATED,
    TrajectoryName,
    _rating,
    _split_name,
    parse_name,
)
from training.reading import close_shards, read_bytes, read_entry
from training.reward import base_species, shaped_reward
from training.shard_format import MANIFEST as SHARD_MANIFEST
from training.shard_format import SHARD_ROW

logger = logging.getLogger("training.data")  # where training.index and training.dataset log

__all__ = [
    "INDEX_VERSION",
    "RACY_NS",
    "SHARD_MANIFEST",
    "SHARD_ROW",
    "SUFFIXES",
    "UNRATED",
    "Batch",
    "IndexEntry",
    "IndexFilter",
    "Result",
    "Sample",
    "StateWindow",
    "TrajectoryDataset",
    "TrajectoryIndex",
    "TrajectoryName",
    "_rating",
    "_split_name",
    "add_filter_arguments",
    "base_species",
    "build_index",
    "close_shards",
    "collate",
    "default_cache_dir",
    "filters_from_args",
    "main",
    "make_loader",
    "parse_name",
    "read_bytes",
    "read_entry",
    "shaped_reward",
    "user_id",
    "worker_init_fn",
]


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

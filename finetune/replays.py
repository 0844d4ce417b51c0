"""Replay files, in the replay site's shape (`id, format, players, log, inputlog?,
uploadtime, rating`): where the scraper and `--from-runs` save them (`OUT/<format>/<id>.json`,
with only safe characters in the names, under an output folder that is checked first) and how
the dataset finds and reads them back (`**/*.json`, `**/*.json.gz`), with the two errors for
bad input: `ConfigError` (the scraper's) and `DatasetError` (the dataset builder's).
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

# Replay ids and format ids become file and folder names: only these characters pass.
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
FORMAT_ID = re.compile(r"[a-z0-9]+")


class ConfigError(ValueError):
    """Bad input: the message says what was wrong and how to fix it."""


class DatasetError(ValueError):
    """Bad input to the dataset builder (a one-line message for the CLI)."""


def check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file: pass a folder (it is created if missing)")


def replay_path(out: Path, battle_format: str, replay_id: str) -> Path:
    return out / battle_format / f"{replay_id}.json"


def load_replay(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    data = json.loads(raw)
    if not isinstance(data, dict) or not isinstance(data.get("log"), str):
        raise ValueError("not a replay (no log)")
    return data


def find_replays(folder: Path) -> list[Path]:
    return sorted([*folder.rglob("*.json"), *folder.rglob("*.json.gz")])

"""Building the dataset folder: `build` reads every replay under `Config.replays` (through
`finetune.replay_pool`), keeps the replays rated at least `min_rating`, sends each battle's
pairs to `train.jsonl` or `val.jsonl` by a hash of the seed and its id (`split_of`: a battle
never straddles, and the same input and seed always give the same files) and writes
`stats.json`: what was read, re-run, skipped and dropped, by reason, pairs and battles per
split, per format, and the time it took. Bad settings are a `DatasetError` (`check_config`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from finetune.pairs import Pair, ReplayResult
from finetune.replay_pool import iter_results
from finetune.replays import DatasetError, find_replays


@dataclass
class Config:
    replays: Path
    out: Path
    sides: str = "winner"
    min_rating: int | None = None
    switches: bool = False
    seed: int = 0
    val_fraction: float = 0.05
    workers: int = 1


def split_of(battle_id: str, seed: int, val_fraction: float) -> str:
    """ "val" or "train": a hash of the seed and battle id, so a battle never straddles."""
    digest = hashlib.sha256(f"{seed}:{battle_id}".encode()).digest()
    return "val" if int.from_bytes(digest[:8], "big") / 2**64 < val_fraction else "train"


def check_config(config: Config) -> None:
    if not config.replays.is_dir():
        raise DatasetError(f"replay folder {config.replays} does not exist")
    if not 0 <= config.val_fraction < 1:
        raise DatasetError(f"--val-fraction must be in [0, 1), got {config.val_fraction}")
    if config.sides not in {"winner", "both"}:
        raise DatasetError(f"--sides must be winner or both, got {config.sides!r}")
    if config.workers < 1:
        raise DatasetError(f"--workers must be at least 1, got {config.workers}")


def build(config: Config, on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Write train.jsonl, val.jsonl and stats.json under `config.out`; return the stats."""
    check_config(config)
    paths = find_replays(config.replays)
    if not paths:
        raise DatasetError(f"no replays (*.json, *.json.gz) found under {config.replays}")
    config.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    counts: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    fallbacks: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    per_format: dict[str, Counter[str]] = {}
    files = {
        name: (config.out / f"{name}.jsonl").open("w", encoding="utf-8")
        for name in ("train", "val")
    }
    try:
        results = iter_results(
            paths, sides=config.sides, switches=config.switches, workers=config.workers
        )
        for done, result in enumerate(results, 1):
            counts["replays_read"] += 1
            fmt_counts = per_format.setdefault(result.format, Counter())
            fmt_counts["replays"] += 1
            dropped.update(result.dropped)
            if result.fallback is not None:
                fallbacks[result.fallback] += 1
            pairs = _filter(result, config.min_rating, skipped)
            if pairs is not None:
                counts[f"parsed_{result.method}"] += 1
                split = split_of(result.battle_id, config.seed, config.val_fraction)
                for pair in pairs:
                    files[split].write(json.dumps(asdict(pair), ensure_ascii=False) + "\n")
                counts[f"pairs_{split}"] += len(pairs)
                counts[f"battles_{split}"] += 1
                fmt_counts["pairs"] += len(pairs)
            if on_progress is not None:
                on_progress(done, len(paths))
    finally:
        for f in files.values():
            f.close()
    elapsed = time.perf_counter() - start
    stats = {
        "replays_found": len(paths),
        "replays_read": counts["replays_read"],
        "parsed_rerun": counts["parsed_rerun"],
        "parsed_spectator": counts["parsed_spectator"],
        "skipped": dict(sorted(skipped.items())),
        "rerun_fallbacks": dict(sorted(fallbacks.items())),
        "decisions_dropped": dict(sorted(dropped.items())),
        "pairs": {"train": counts["pairs_train"], "val": counts["pairs_val"]},
        "battles": {"train": counts["battles_train"], "val": counts["battles_val"]},
        "per_format": {k: dict(v) for k, v in sorted(per_format.items())},
        "config": {
            "sides": config.sides,
            "min_rating": config.min_rating,
            "switches": config.switches,
            "seed": config.seed,
            "val_fraction": config.val_fraction,
        },
        "seconds": round(elapsed, 3),
        "replays_per_second": round(len(paths) / elapsed, 2) if elapsed > 0 else None,
    }
    (config.out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return stats


def _filter(
    result: ReplayResult, min_rating: int | None, skipped: Counter[str]
) -> list[Pair] | None:
    if result.skipped is not None:
        skipped[result.skipped] += 1
        return None
    if min_rating is not None:
        rating = result.pairs[0].rating if result.pairs else None
        if rating is None or rating < min_rating:
            skipped["below --min-rating (or unrated)"] += 1
            return None
    return result.pairs

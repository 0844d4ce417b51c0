"""The arena's own battles as replays (`python -m finetune.scraper --from-runs`): `import_runs`
reads run records (`runs/<run>.json`, every one in a folder, or a run's `.jsonl` journal when
it was interrupted before its record was written) and writes each finished battle with a
protocol log to `OUT/<format>/<id>.json` in the replay site's shape, plus `"source": "arena"`,
its run, agents and winner, and its input log when the sim engine kept one, so the dataset
re-runs it exactly. Importing the same run again writes nothing; `ImportStats` counts it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from battle.journal import build_record, read_journal
from battle.record import (
    RunPaths,
    RunRecord,
    RunRecordError,
    atomic_write_text,
    load_record,
)
from finetune.protocol import log_players
from finetune.replays import FORMAT_ID, SAFE_ID, ConfigError, check_out_dir, replay_path

log = logging.getLogger("finetune.scraper")


@dataclass
class ImportStats:
    """Counts of one `--from-runs` import."""

    runs: int = 0  # run records read
    battles: int = 0  # battles in them
    written: int = 0
    skipped: int = 0  # already saved by an earlier import
    errored: int = 0  # the battle ended in an error: no result to learn from
    no_replay: int = 0  # no protocol log recorded, or the file is gone
    with_inputlog: int = 0  # written files that carry an input log
    renamed: int = 0  # a battle tag another run already used: saved as <id>-<run>
    not_runs: list[str] = field(default_factory=list)  # files in a folder that were skipped

    def summary(self, out: Path | None = None) -> str:
        where = f" into {out}" if out is not None else ""
        return (
            f"imported {self.written} battles from {self.runs} runs{where} "
            f"({self.with_inputlog} with an input log), skipped {self.skipped} already saved, "
            f"{self.errored} with an error, {self.no_replay} without a replay"
        )


def _find_records(paths: Iterable[Path], stats: ImportStats) -> list[tuple[Path, RunRecord]]:
    """Run records from files and folders. A folder's non-record `.json` files are skipped;
    a run interrupted before its record was written is read from its journal."""
    found: list[tuple[Path, RunRecord]] = []
    for path in paths:
        if not path.exists():
            raise ConfigError(
                f"--from-runs {path} does not exist: pass runs/ or a runs/<run>.json file"
            )
        if path.is_file():
            found.append((path, _load_any(path)))
            continue
        records = {p.name.removesuffix(".json"): p for p in sorted(path.glob("*.json"))}
        journals = {p.name.removesuffix(".jsonl"): p for p in sorted(path.glob("*.jsonl"))}
        for run_id in sorted(records.keys() | journals.keys()):
            file = records.get(run_id) or journals[run_id]
            try:
                found.append((file, _load_any(file)))
            except RunRecordError as exc:
                stats.not_runs.append(str(file))
                log.warning("skipping %s: %s", file, exc)
    return found


def _load_any(path: Path) -> RunRecord:
    if path.name.endswith(".jsonl"):
        return build_record(read_journal(path), finished_at=None)
    return load_record(path)


def _strip_room_line(text: str) -> str:
    if text.startswith(">"):
        _, _, text = text.partition("\n")
    return text


def _existing_source(path: Path) -> tuple[str | None, str | None]:
    """(source, run) of an already saved replay file; (None, None) when unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return (None, None)
    if not isinstance(data, dict):
        return (None, None)
    return (data.get("source"), data.get("run"))


def import_runs(paths: Iterable[Path], out: Path) -> ImportStats:
    """Write the arena's battles in `paths` (run records, or folders of them) to `out`.

    Each battle with a protocol log becomes `out/<format>/<id>.json` in the replay site's
    shape (`id`, `format`, `players`, `log`, `inputlog` when recorded, `uploadtime`,
    `rating` null) plus `source` "arena", `run` (the run record's file name), `agents` and
    `winner`. A file this import already wrote is skipped; a battle tag that another run
    already used (the bundled server numbers battles from 1 each time it starts) is saved
    as `<id>-<run_id>` instead of overwriting the other run's battle.
    """
    check_out_dir(out)
    stats = ImportStats()
    records = _find_records(list(paths), stats)
    if not records:
        where = ", ".join(str(p) for p in paths)
        raise ConfigError(
            f"no run records in {where}: play battles with main.py first, or pass "
            "runs/<run>.json files"
        )
    for path, record in records:
        stats.runs += 1
        _import_record(path, record, out, stats)
    log.info("%s", stats.summary(out))
    return stats


def _import_record(path: Path, record: RunRecord, out: Path, stats: ImportStats) -> None:
    spec = record.spec
    run_name = path.name.removesuffix(".jsonl") + ".json" if path.suffix == ".jsonl" else path.name
    run_dir = path.parent
    fmt = spec.format if FORMAT_ID.fullmatch(spec.format) else "unknown"
    for battle in record.battles:
        stats.battles += 1
        tag = battle.battle_tag
        if battle.error is not None or battle.winner is None:
            stats.errored += 1
            log.debug("%s: %s has an error (%s)", path.name, tag, battle.error)
            continue
        log_path = run_dir / battle.replay if battle.replay else None
        if log_path is None or not log_path.is_file():
            stats.no_replay += 1
            log.warning("%s: no replay for %s (%s)", path.name, tag, battle.replay or "none kept")
            continue
        replay_id = tag.removeprefix("battle-")
        if not SAFE_ID.fullmatch(replay_id):
            stats.no_replay += 1
            log.warning("%s: battle tag %r is not a usable file name", path.name, tag)
            continue
        target = replay_path(out, fmt, replay_id)
        if target.exists():
            source, run = _existing_source(target)
            if source == "arena" and run == run_name:
                stats.skipped += 1
                continue
            replay_id = f"{replay_id}-{RunPaths.from_record_path(path).run_id}"
            if not SAFE_ID.fullmatch(replay_id):
                replay_id = re.sub(r"[^A-Za-z0-9_-]", "_", replay_id)
            target = replay_path(out, fmt, replay_id)
            if target.exists():
                stats.skipped += 1
                continue
            stats.renamed += 1
        text = _strip_room_line(log_path.read_text(encoding="utf-8"))
        names = log_players(text.splitlines())
        # a tournament names each battle's agents; a match names them once in its spec
        agents = {
            "p1": battle.p1_agent or spec.p1.resolved,
            "p2": battle.p2_agent or spec.p2.resolved,
        }
        replay: dict[str, Any] = {
            "id": replay_id,
            "format": spec.format,
            "players": [names.get(side) or agents[side] for side in ("p1", "p2")],
            "log": text,
        }
        inputlog = _find_inputlog(log_path, run_dir, path, tag)
        if inputlog is not None:
            replay["inputlog"] = inputlog.read_text(encoding="utf-8")
            stats.with_inputlog += 1
        ended = battle.finished_at or spec.finished_at or spec.started_at
        replay.update(
            uploadtime=int(ended),
            rating=None,
            source="arena",
            run=run_name,
            agents=agents,
            winner=battle.winner,
        )
        atomic_write_text(target, json.dumps(replay, ensure_ascii=False) + "\n")
        stats.written += 1


def _find_inputlog(log_path: Path, run_dir: Path, record_path: Path, tag: str) -> Path | None:
    """`<tag>.inputlog` next to the protocol log (runs/<run>/replays/), if the arena wrote one."""
    candidates = [
        log_path.with_name(f"{tag}.inputlog"),
        RunPaths.from_record_path(record_path).replay_dir / f"{tag}.inputlog",
    ]
    if log_path.name.endswith(".log"):
        candidates.insert(0, log_path.with_name(log_path.name.removesuffix(".log") + ".inputlog"))
    return next((p for p in candidates if p.is_file()), None)

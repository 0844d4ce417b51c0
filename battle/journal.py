"""The run's journal, `runs/<run_id>.jsonl`: appended to as battles finish, read back to
rebuild the run record.

Every line is one JSON event: a `spec` line per session (the run spec as that session
started it), a `battle` line per finished battle with its decisions. `Journal` appends
whole, synced lines and repairs a journal a crash left cut short (`repair_journal` sets
the torn tail aside in `<journal>.torn`); `read_journal` reads the events back (a torn
last line is ignored, a battle written twice counts once) and `build_record` turns them
into the `RunRecord` that `battle.record.write_record` writes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from battle.record import (
    BattleRecord,
    DecisionRecord,
    RunRecord,
    RunRecordError,
    RunSpec,
    StorageError,
    read_run_file,
)
from battle.summary import summarize

logger = logging.getLogger(__name__)


def repair_journal(path: Path) -> Path | None:
    """Make a journal end on a whole line before anything is appended to it.

    A crash during an append (power loss, kill -9) can leave the last line cut short. Every
    complete line is kept; the torn tail is added to `<journal>.torn` (set aside, never
    lost) and cut from the journal. Returns the `.torn` file when there was a tail."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    if size == 0:
        return None
    with open(path, "rb+") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return None
        # the last newline: read backwards in blocks (a torn battle line can be long)
        end, keep = size, 0
        while end > 0:
            start = max(0, end - 65536)
            fh.seek(start)
            block = fh.read(end - start)
            newline = block.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        fh.seek(keep)
        tail = fh.read()
        torn = path.with_name(path.name + ".torn")
        with open(torn, "ab") as out:
            out.write(tail + b"\n")
            out.flush()
            os.fsync(out.fileno())
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    logger.warning(
        "%s ended in a line cut short (%d bytes, a crash while writing it): set aside in %s",
        path,
        len(tail),
        torn,
    )
    return torn


class Journal:
    """Append-only JSONL journal: every line is written whole and synced before `append`
    returns. An existing journal is repaired first (`repair_journal`), so appends start on
    a new line. A line that cannot be written whole (disk full) is taken back, so the
    journal still ends on a complete line, and `append` raises StorageError."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.torn = repair_journal(path)
        # Unbuffered: a failed write leaves nothing in a buffer for close() to retry.
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)

    def append(self, event: dict[str, Any]) -> None:
        if self._fd is None:
            raise StorageError(0, f"the journal {self.path} is closed")
        line = memoryview((json.dumps(event, separators=(",", ":")) + "\n").encode("utf-8"))
        size = os.fstat(self._fd).st_size
        try:
            while line:
                line = line[os.write(self._fd, line) :]
            os.fsync(self._fd)
        except OSError as exc:
            # Shrinking needs no space; if even that fails, the next repair_journal sets
            # the torn tail aside.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, size)
            raise StorageError.writing(f"the journal {self.path}", exc) from exc

    def write_spec(self, spec: RunSpec) -> None:
        self.append({"type": "spec", "spec": spec.to_dict()})

    def write_battle(self, battle: BattleRecord, decisions: list[DecisionRecord]) -> None:
        self.append(
            {
                "type": "battle",
                "battle": battle.to_dict(),
                "decisions": [d.to_dict() for d in decisions],
            }
        )

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class JournalContents:
    specs: list[RunSpec]  # one per session, oldest first
    battles: list[BattleRecord]
    decisions: list[DecisionRecord]

    @property
    def spec(self) -> RunSpec:
        return self.specs[-1]


def read_journal(path: Path) -> JournalContents:
    """Read a journal; a torn last line (a crash mid-write) is ignored."""
    specs: list[RunSpec] = []
    battles: list[BattleRecord] = []
    decisions: list[DecisionRecord] = []
    text = read_run_file(
        path,
        missing=f"no journal at {path}: is this the right run?",
        folder=f"{path} is a folder, not a run's journal",
        not_text=f"{path} is not a text file, so not an arena journal",
    )
    lines = text.splitlines()
    seen: set[str] = set()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break  # torn final write
            raise RunRecordError(f"{path}:{i + 1} is not valid JSON") from None
        try:
            if event.get("type") == "spec":
                specs.append(RunSpec.from_dict(event["spec"]))
            elif event.get("type") == "battle":
                battle = BattleRecord(**event["battle"])
                if battle.battle_tag in seen:  # a line written twice counts once
                    logger.warning(
                        "%s:%d repeats battle %s: counted once", path, i + 1, battle.battle_tag
                    )
                    continue
                seen.add(battle.battle_tag)
                battles.append(battle)
                decisions.extend(DecisionRecord(**d) for d in event["decisions"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise RunRecordError(f"{path}:{i + 1} is not an arena journal event ({exc})") from None
    if not specs:
        raise RunRecordError(f"{path} has no run spec: it is not an arena journal")
    return JournalContents(specs=specs, battles=battles, decisions=decisions)


def battle_phase_wall_s(contents: JournalContents) -> float:
    """Wall time of the battle phase, added up over the sessions of a (resumed) run: in
    each session from its first battle's start to its last battle's end, so installing
    and starting the server, loading agents and writing the report do not count."""
    total = 0.0
    for session in range(len(contents.specs)):
        played = [b for b in contents.battles if b.session == session]
        if played:
            start = min(b.finished_at - b.duration_s for b in played)
            total += max(b.finished_at for b in played) - start
    return total


def build_record(contents: JournalContents, finished_at: float | None) -> RunRecord:
    spec = replace(contents.spec, started_at=contents.specs[0].started_at, finished_at=finished_at)
    summary = summarize(contents.battles, contents.decisions, battle_phase_wall_s(contents))
    return RunRecord(
        spec=spec, battles=contents.battles, decisions=contents.decisions, summary=summary
    )

"""What a run's players report as battles are played: their decisions, each battle's
result the moment it ends (journaled at once), and a progress snapshot for the caller.

The files a finished battle leaves (its journal line, synced; its replay; trajectories
and input logs) are written by one writer thread (`FileWriter`), in the order the battles
ended, so poke-env's event loop, which plays every battle, never waits on the disk."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from battle.journal import Journal
from battle.record import (
    BattleRecord,
    DecisionRecord,
    RunPaths,
    Side,
    StorageError,
)

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle

log = logging.getLogger(__name__)


Write = Callable[[], None]  # one file write, run on the writer thread


class FileWriter:
    """One thread that runs a run's file writes in the order they were submitted. A write
    that raises StorageError (disk full) is kept as `error`, for the run to stop with; the
    writes after it are skipped (they would fail the same way, and the journal must end on
    its last whole battle)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="arena-writer")
        self.error: StorageError | None = None
        self._closed = False

    def submit(self, write: Write) -> None:
        if self._closed:  # a straggler after the run (a late input log): write it now
            self._run(write)
        else:
            self._pool.submit(self._run, write)

    def _run(self, write: Write) -> None:
        if self.error is not None:
            return
        try:
            write()
        except StorageError as exc:
            self.error = exc
        except Exception:  # a bug, not the disk: say so, keep writing the others
            log.exception("a file write failed")

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=True)  # runs every write submitted before


@dataclass
class MatchProgress:
    """A snapshot for the caller's progress display (read on the caller's thread)."""

    done: int
    total: int
    wins: dict[str, int]
    draws: int
    errors: int
    live: list[str]  # battle tags being played
    # Tournaments: per pair (a, b) in the order of the agent list, [a wins, b wins, draws,
    # errors]; empty for a match.
    pairs: dict[tuple[str, str], list[int]] = field(default_factory=dict)


@dataclass
class _LiveBattle:
    started: float
    decisions: list[DecisionRecord] = field(default_factory=list)


class Recorder:
    """Collects decisions per battle and journals each battle the moment it ends.

    All methods run on poke-env's loop thread; the caller's thread only reads counters.
    """

    def __init__(self, journal: Journal, paths: RunPaths, session: int):
        self.journal = journal
        self.paths = paths
        self.session = session
        self.writer = FileWriter()
        self.live: dict[str, _LiveBattle] = {}
        # tag -> the battle's error (None: a result): all a finished battle leaves here, so a
        # run's memory stays flat however many battles it plays (the records are journaled)
        self.finished: dict[str, str | None] = {}
        self.wins: dict[str, int] = defaultdict(int)
        self.draws = 0
        self.errors = 0
        self.pairs: dict[tuple[str, str], list[int]] = {}
        # Team formats: the team (as records name it) each side plays, per battle tag.
        self.teams: dict[str, dict[Side, str]] = defaultdict(dict)

    def note_team(self, battle_tag: str, side: Side, name: str | None) -> None:
        if name is not None and battle_tag not in self.finished:
            self.teams[battle_tag].setdefault(side, name)

    def seen(self, battle_tag: str) -> _LiveBattle:
        """The live entry of a battle, created when the battle is first seen."""
        if battle_tag in self.finished:
            return _LiveBattle(started=time.monotonic())  # a late message: not tracked
        if battle_tag not in self.live:
            self.live[battle_tag] = _LiveBattle(started=time.monotonic())
        return self.live[battle_tag]

    def add_decision(self, record: DecisionRecord) -> None:
        self.seen(record.battle_tag).decisions.append(record)

    def finish(
        self,
        battle: AbstractBattle,
        error: str | None = None,
        names: dict[Side, str] | None = None,
    ) -> None:
        """Journal a battle from p1's view: its result, decisions and protocol log;
        `names` (tournaments) are the agents on each side, recorded with the battle."""
        tag = battle.battle_tag
        if tag in self.finished or self.storage_error is not None:
            return
        live = self.live.pop(tag, None) or _LiveBattle(started=time.monotonic())
        teams = self.teams.pop(tag, {})
        winner = None
        if error is None:
            winner = "p1" if battle.won else "p2" if battle.lost else "draw"
        replay = self.paths.replay_path(tag)
        replay_text = battle._build_replay_log() + "\n"  # now: the battle is emptied soon
        record = BattleRecord(
            battle_tag=tag,
            winner=winner,
            turns=battle.turn,
            duration_s=round(time.monotonic() - live.started, 3),
            replay=str(replay.relative_to(self.paths.output_dir)),
            error=error,
            finished_at=time.time(),
            session=self.session,
            p1_agent=None if names is None else names["p1"],
            p2_agent=None if names is None else names["p2"],
            p1_team=teams.get("p1"),
            p2_team=teams.get("p2"),
        )
        decisions = sorted(live.decisions, key=lambda d: (d.turn, d.side))
        self.keep(record, decisions, replay_text)
        log.debug("battle %s finished: winner %s in %d turns", tag, winner, battle.turn)

    def keep(self, record: BattleRecord, decisions: list[DecisionRecord], replay: str) -> None:
        """Journal a finished battle: played here (`finish`) or elsewhere (a Ray worker's,
        `arena.engines.ray`). Once per battle tag: a second one is ignored."""
        tag = record.battle_tag
        if tag in self.finished or self.storage_error is not None:
            return
        self.live.pop(tag, None)
        path = self.paths.replay_path(tag)
        self.writer.submit(lambda: self._write(path, replay, record, decisions))
        self.finished[tag] = record.error
        winner = record.winner
        if winner == "draw":
            self.draws += 1
        elif winner is None:
            self.errors += 1
        else:
            self.wins[winner] += 1
        if record.p1_agent is not None and record.p2_agent is not None:
            self._count_pair({"p1": record.p1_agent, "p2": record.p2_agent}, winner)

    def _write(
        self, replay: Path, text: str, record: BattleRecord, decisions: list[DecisionRecord]
    ) -> None:
        """On the writer thread: the replay, then the journal line (synced) that names it."""
        try:
            replay.parent.mkdir(parents=True, exist_ok=True)
            replay.write_text(text, encoding="utf-8")
        except OSError as exc:
            replay.unlink(missing_ok=True)
            raise StorageError.writing(f"the replay {replay}", exc) from exc
        self.journal.write_battle(record, decisions)  # a failure leaves the journal whole

    @property
    def storage_error(self) -> StorageError | None:
        """A battle that could not be kept (disk full): the run stops with this error."""
        return self.writer.error

    def close(self) -> None:
        """Every file of every finished battle written (or the run's storage_error set)."""
        self.writer.close()

    def _count_pair(self, names: dict[Side, str], winner: str | None) -> None:
        key = next((k for k in self.pairs if set(k) == {names["p1"], names["p2"]}), None)
        if key is None:
            key = (names["p1"], names["p2"])
            self.pairs[key] = [0, 0, 0, 0]
        if winner is None:
            self.pairs[key][3] += 1
        elif winner == "draw":
            self.pairs[key][2] += 1
        else:
            self.pairs[key][0 if names[winner] == key[0] else 1] += 1  # type: ignore[index]

    def progress(self, total: int) -> MatchProgress:
        return MatchProgress(
            done=len(self.finished),
            total=total,
            wins=dict(self.wins),
            draws=self.draws,
            errors=self.errors,
            live=list(self.live),
            pairs={k: list(v) for k, v in self.pairs.items()},
        )

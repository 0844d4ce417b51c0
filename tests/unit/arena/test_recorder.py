"""arena.recorder: a finished battle is counted at once, its files are written by the
run's writer thread (never on poke-env's loop), in order, and a write that fails stops
the run with the journal ending on its last whole battle."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace

import pytest

from arena.recorder import Recorder
from battle.journal import Journal
from battle.record import RunPaths, StorageError


def journaled(paths: RunPaths) -> list[dict]:
    """The battle lines of the journal, each parsed whole."""
    lines = paths.journal.read_text().splitlines()
    return [e["battle"] for e in map(json.loads, lines) if e["type"] == "battle"]


def finished_battle(n: int) -> SimpleNamespace:
    return SimpleNamespace(
        battle_tag=f"battle-gen9randombattle-{n}",
        won=n % 2 == 0,
        lost=n % 2 == 1,
        turn=10 + n,
        _build_replay_log=lambda: f"|init|battle\n|win|p{1 + n % 2}",
    )


@pytest.fixture
def recorder(tmp_path):
    paths = RunPaths(tmp_path, "r1")
    journal = Journal(paths.journal)
    recorder = Recorder(journal, paths, session=0)
    yield recorder
    recorder.close()
    journal.close()


def test_files_are_written_off_the_calling_thread_in_order(recorder, monkeypatch):
    threads: list[str] = []
    append = Journal.append

    def spy(self, event):
        threads.append(threading.current_thread().name)
        append(self, event)

    monkeypatch.setattr(Journal, "append", spy)
    for n in range(5):
        recorder.finish(finished_battle(n))
    assert recorder.progress(5).done == 5  # counted at once
    recorder.close()
    assert threads and all(name.startswith("arena-writer") for name in threads)
    battles = journaled(recorder.paths)
    tags = [f"battle-gen9randombattle-{n}" for n in range(5)]
    assert [b["battle_tag"] for b in battles] == tags
    assert [b["winner"] for b in battles] == ["p1", "p2", "p1", "p2", "p1"]
    assert all(recorder.paths.replay_path(tag).is_file() for tag in tags)


def test_a_failed_write_is_the_runs_error_and_the_journal_stays_whole(recorder, monkeypatch):
    append = Journal.append
    calls = []

    def full_after_two(self, event):
        calls.append(1)
        if len(calls) > 2:
            raise StorageError(28, f"could not write the journal {self.path}: No space left")
        append(self, event)

    monkeypatch.setattr(Journal, "append", full_after_two)
    for n in range(5):
        recorder.finish(finished_battle(n))
    recorder.close()
    assert recorder.storage_error is not None and "No space left" in str(recorder.storage_error)
    assert len(calls) == 3  # the writes after the failed one are not tried
    assert len(journaled(recorder.paths)) == 2
    recorder.finish(finished_battle(9))  # after the error: nothing more is taken
    assert "battle-gen9randombattle-9" not in recorder.finished

"""Run ids cannot collide (issue 14, case 2): two runs started in the same second with the
same agents and output folder each get their own id and journal."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from arena.plan import RunRequest, claim_run_id, plan_run, release_run_id
from arena.run import finalize
from battle.record import RunPaths


@pytest.fixture
def frozen_clock(monkeypatch):
    """Every strftime answers the same second (or a clock set back to it)."""
    monkeypatch.setattr(time, "strftime", lambda fmt, *a: "20261205-120000")


def test_runs_started_in_the_same_second_get_their_own_ids_and_journals(
    tmp_path: Path, frozen_clock
):
    plans = [
        plan_run(RunRequest(p1="random", p2="heuristic", n=6, output_dir=tmp_path, seed=s))
        for s in range(2)
    ]
    ids = [p.paths.run_id for p in plans]
    assert ids[0] != ids[1]
    for plan in plans:
        assert plan.paths.run_id.startswith("20261205-120000-random-vs-heuristic-")
        assert plan.paths.journal.exists()  # claimed: the journal was created exclusively
    tournaments = [
        plan_run(RunRequest(agents=["random", "heuristic"], n=2, output_dir=tmp_path))
        for _ in range(2)
    ]
    assert tournaments[0].paths.run_id != tournaments[1].paths.run_id


def test_claiming_is_exclusive_even_when_the_random_suffix_repeats(
    tmp_path: Path, frozen_clock, monkeypatch
):
    import random

    suffixes = iter([0xABCD, 0xABCD, 0xABCD, 0x1234])
    monkeypatch.setattr(random.SystemRandom, "randrange", lambda self, n: next(suffixes))
    first = claim_run_id("a-vs-b", tmp_path)
    RunPaths(tmp_path, "20261205-120000-a-vs-b-abcd").record.write_text("{}")  # a record too
    second = claim_run_id("a-vs-b", tmp_path)
    assert (first, second) == ("20261205-120000-a-vs-b-abcd", "20261205-120000-a-vs-b-1234")


def test_a_plan_that_fails_gives_its_id_back(tmp_path: Path, monkeypatch):
    run_id = claim_run_id("a-vs-b", tmp_path)
    paths = RunPaths(tmp_path, run_id)
    assert finalize(paths, finished=False) is None  # claimed, nothing played: no record
    release_run_id(tmp_path, run_id)
    assert not paths.journal.exists()
    import arena.plan

    def no_teams(*args):
        assert list(tmp_path.glob("*.jsonl"))  # the id is claimed when the teams are made
        raise ValueError("no teams")

    monkeypatch.setattr(arena.plan, "side_teams", no_teams)
    for request in (
        RunRequest(p1="random", p2="random", output_dir=tmp_path),
        RunRequest(agents=["random", "heuristic"], output_dir=tmp_path),
    ):
        with pytest.raises(ValueError, match="no teams"):
            plan_run(request)
        assert list(tmp_path.glob("*.jsonl")) == []

"""Real battles between the built-in agents on the bundled server."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from arena.engines import ServerEngine
from arena.plan import RunRequest, plan_run
from arena.run import finalize, play_session
from battle.record import load_record

BUILTINS = ("random", "max-damage", "heuristic")


async def play(server, tmp_path: Path, p1: str, p2: str, n: int, **kwargs):
    request = RunRequest(p1=p1, p2=p2, n=n, output_dir=tmp_path, seed=7, **kwargs)
    plan = plan_run(request)
    await play_session(plan, ServerEngine(server))
    record = finalize(plan.paths, finished=True)
    assert record is not None
    return plan, record


@pytest.mark.parametrize(("p1", "p2"), list(itertools.combinations_with_replacement(BUILTINS, 2)))
async def test_every_builtin_pair_plays_legal_complete_battles(showdown_server, tmp_path, p1, p2):
    plan, record = await play(showdown_server, tmp_path, p1, p2, n=2, concurrency=2)

    assert len(record.battles) == 2
    assert len({b.battle_tag for b in record.battles}) == 2
    for battle in record.battles:
        assert battle.error is None
        assert battle.winner in {"p1", "p2", "draw"}
        assert battle.turns >= 1
        replay = tmp_path / battle.replay
        log = replay.read_text()
        assert log.startswith(f">{battle.battle_tag}\n")
        assert "|win|" in log or "|tie" in log
        sides = {d.side for d in record.decisions if d.battle_tag == battle.battle_tag}
        assert sides == {"p1", "p2"}
    # Built-in agents never need a fallback: every action was legal and in time.
    assert record.decisions and not any(d.fallback for d in record.decisions)
    assert all(d.latency_ms >= 0 for d in record.decisions)
    moves = [d for d in record.decisions if d.action.startswith("move ")]
    assert moves and all(d.effectiveness is not None for d in moves)
    # The final file is the same record the journal rebuilds, and it loads back.
    assert load_record(plan.paths.record).to_dict() == record.to_dict()
    assert record.spec.p1.given == p1 and record.spec.p2.given == p2
    assert record.summary.p1_wins + record.summary.p2_wins + record.summary.draws == 2


async def test_heuristic_beats_random(showdown_server, tmp_path):
    _, record = await play(showdown_server, tmp_path, "heuristic", "random", n=16, concurrency=8)
    s = record.summary
    assert s.battles == 16 and s.errors == 0
    # Heuristic wins ~95% against random; the 95% interval must clear a coin flip.
    assert s.p1_win_rate is not None and s.p1_win_rate > 0.5
    assert s.p1_win_rate_ci95[0] > 0.5, s
    assert s.battles_per_s and s.battles_per_s > 0


async def test_unique_usernames_and_journal_per_battle(showdown_server, tmp_path):
    plan, record = await play(showdown_server, tmp_path, "random", "random", n=3, concurrency=3)
    lines = [json.loads(line) for line in plan.paths.journal.read_text().splitlines()]
    assert [e["type"] for e in lines] == ["spec", "battle", "battle", "battle"]
    assert record.spec.server == showdown_server.url
    assert record.spec.versions["showdown"] == "0.11.11"

"""The `search` agent plays real battles, on the bundled server and on the simulator
engine, in a random-battle format and in formats with teams, without a fallback."""

from __future__ import annotations

import pytest

from arena.engines import ServerEngine, SimEngine
from arena.plan import RunRequest, plan_run
from arena.run import finalize, play_session


def _check(record, n: int) -> None:
    assert record is not None and len(record.battles) == n
    for battle in record.battles:
        assert battle.error is None and battle.winner in {"p1", "p2", "draw"}
    mine = [d for d in record.decisions if d.side == "p1"]
    assert mine and {d.battle_tag for d in mine} == {b.battle_tag for b in record.battles}
    assert not [d for d in mine if d.fallback], [d.fallback_reason for d in mine if d.fallback]
    searched = [d for d in mine if d.candidates]
    assert searched, "no decision was searched"
    for decision in searched:
        assert decision.reasoning and decision.reasoning.split(" +")[0].split(" -")[0]
        assert decision.candidates[0][0] == decision.action
        assert abs(sum(p for _, p in decision.candidates) - 1.0) < 1e-3


async def test_search_plays_on_the_bundled_server(showdown_server, tmp_path):
    request = RunRequest(p1="search:20", p2="heuristic", n=1, output_dir=tmp_path, seed=5,
                         concurrency=1)  # fmt: skip
    plan = plan_run(request)
    await play_session(plan, ServerEngine(showdown_server))
    _check(finalize(plan.paths, finished=True), 1)


@pytest.mark.parametrize("battle_format", ["gen9randombattle", "gen9ou", "gen1randombattle"])
async def test_search_plays_on_the_sim_engine(tmp_path, battle_format):
    request = RunRequest(p1="search:20", p2="max-damage", n=1, output_dir=tmp_path, seed=5,
                         concurrency=1, engine="sim", battle_format=battle_format)  # fmt: skip
    plan = plan_run(request)
    await play_session(plan, SimEngine(processes=1))
    record = finalize(plan.paths, finished=True)
    _check(record, 1)
    assert record.spec.p1.resolved == "search:20"

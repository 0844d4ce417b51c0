"""The direct simulator engine (`--engine sim`): same players, records and guarantees."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from arena.engines import SimEngine
from arena.plan import RunRequest, plan_run
from arena.run import finalize, play_session
from arena.server import ServerError
from battle.record import load_record

REPO = Path(__file__).resolve().parents[2]


async def test_sim_engine_plays_complete_legal_battles(tmp_path):
    request = RunRequest(p1="heuristic", p2="max-damage", n=6, concurrency=3,
                         output_dir=tmp_path, engine="sim", seed=3)  # fmt: skip
    plan = plan_run(request)
    await play_session(plan, SimEngine(processes=2))
    record = finalize(plan.paths, finished=True)

    assert record.spec.engine == "sim" and record.spec.server == "simulator (2 processes)"
    assert len(record.battles) == 6 and len({b.battle_tag for b in record.battles}) == 6
    for battle in record.battles:
        assert battle.error is None and battle.winner in {"p1", "p2", "draw"}
        log = (tmp_path / battle.replay).read_text()
        assert f"|player|p1|{'heuristic'}" in log and ("|win|" in log or "|tie" in log)
        sides = {d.side for d in record.decisions if d.battle_tag == battle.battle_tag}
        assert sides == {"p1", "p2"}
    assert not any(d.fallback for d in record.decisions)
    assert record.summary.battles_per_s > 0


async def test_dead_simulator_is_a_clear_error_and_keeps_finished_battles(tmp_path):
    request = RunRequest(p1="random", p2="random", n=400, concurrency=2, output_dir=tmp_path,
                         engine="sim")  # fmt: skip
    plan = plan_run(request)
    engine = SimEngine(processes=1)
    session = asyncio.ensure_future(play_session(plan, engine))
    while not plan.paths.journal.exists() or '"battle"' not in plan.paths.journal.read_text():
        assert not session.done(), session
        await asyncio.sleep(0.05)
    os.killpg(engine.pool._procs[0].pid, signal.SIGKILL)
    with pytest.raises(ServerError, match="simulator process exited"):
        await asyncio.wait_for(session, timeout=30)
    record = finalize(plan.paths, finished=False)
    assert 1 <= len(record.battles) < 400
    assert all(b.winner is not None for b in record.battles)


def test_cli_sim_engine_end_to_end(tmp_path):
    result = subprocess.run(
        [sys.executable, "main.py", "--p1", "heuristic", "--p2", "random", "--n", "3",
         "--engine", "sim", "--output", str(tmp_path / "runs"),
         "--reports", str(tmp_path / "reports"), "--log-level", "WARNING"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = load_record(next((tmp_path / "runs").glob("*.json")))
    assert len(record.battles) == 3 and record.spec.engine == "sim"
    assert (tmp_path / "reports" / f"{record.spec.run_id}.html").exists()
    assert "Traceback" not in result.stderr

"""The sim engine keeps each battle's input log, and the input log re-runs the battle."""

from __future__ import annotations

import json

from arena.engines import SimEngine
from arena.engines.sim import inputlog_path
from arena.plan import RunRequest, plan_run
from arena.run import finalize, play_session
from battle.record import load_record
from finetune.pairs import _rerun_check
from finetune.rerun import Rerunner


async def test_sim_engine_saves_input_logs_that_rerun_the_battles(tmp_path):
    request = RunRequest(p1="heuristic", p2="random", n=3, concurrency=3,
                         output_dir=tmp_path, engine="sim", seed=5)  # fmt: skip
    plan = plan_run(request)
    await play_session(plan, SimEngine(processes=1))
    record = finalize(plan.paths, finished=True)
    assert load_record(plan.paths.record).battles == record.battles
    assert len(record.battles) == 3
    with Rerunner() as rerunner:
        for battle in record.battles:
            path = inputlog_path(plan.paths, battle.battle_tag)
            assert path.name == f"{battle.battle_tag}.inputlog"
            assert path.parent == (tmp_path / battle.replay).parent
            text = path.read_text()
            start, p1, p2 = text.splitlines()[:3]
            assert json.loads(start.removeprefix(">start "))["seed"]
            assert p1.startswith(">player p1 ") and p2.startswith(">player p2 ")
            out = rerunner.rerun(battle.battle_tag, text)
            names = {name: side for side, name in out["names"].items()}
            assert names.get(out["winner"], "draw") == battle.winner
            log = (tmp_path / battle.replay).read_text().splitlines()
            assert _rerun_check(out, log) is None

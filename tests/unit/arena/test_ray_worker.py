"""The Ray engine's parts that need no cluster: the worker playing a battle in this process
and the driver journaling its result exactly once, the cluster-wide rate limit's
bookkeeping, the Mistral agents' limiter hook, and `--engine ray` without Ray installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agents import mistral
from arena.plan import RunRequest, plan_run
from arena.ray_worker import BattleTask, BattleWorker, ClusterRateLimiter, worker_seed
from arena.recorder import Recorder
from battle.journal import Journal, read_journal

REPO = Path(__file__).resolve().parents[3]


def test_cluster_rate_limiter_spaces_slots_and_honours_budgets(monkeypatch) -> None:
    now = [100.0]
    monkeypatch.setattr("arena.ray_worker.time.monotonic", lambda: now[0])
    limiter = ClusterRateLimiter()
    assert limiter.reserve("m", 0.5, budget_s=10) == 0.0
    assert limiter.reserve("m", 0.5, budget_s=10) == 0.5  # the next slot, half a second on
    assert limiter.reserve("m", 0.5, budget_s=10) == 1.0
    assert limiter.reserve("m", 0.5, budget_s=0.9) == -1.0  # too far: no slot taken
    assert limiter.reserve("other", 0.5, budget_s=0) == 0.0  # keys are separate limits
    now[0] += 5
    limiter.push_back("m", 3.0)  # Retry-After: 3 s for everyone
    assert limiter.reserve("m", 0.5, budget_s=10) == pytest.approx(3.0)


def test_mistral_agents_take_their_limiter_from_the_factory() -> None:
    made: list[tuple[str, float]] = []

    def factory(key: str, rps: float) -> object:
        made.append((key, rps))
        return object()

    try:
        mistral.use_limiter_factory(factory)
        first = mistral.shared_limiter("mistral-large-latest", "http://x", 2.0)
        assert first is mistral.shared_limiter("mistral-large-latest", "http://x", 2.0)
        assert made == [("mistral-large-latest@http://x", 2.0)]
    finally:
        mistral.use_limiter_factory(None)
    assert isinstance(mistral.shared_limiter("m", "", 2.0), mistral.RateLimiter)


def test_worker_seeds_are_apart_and_none_stays_none() -> None:
    assert worker_seed(None, 3) is None
    assert len({worker_seed(7, w) for w in range(4)}) == 4


@pytest.mark.slow  # starts a simulator process
async def test_a_workers_battle_is_journaled_once_by_the_driver(tmp_path) -> None:
    folder = tmp_path / "trajectories"
    plan = plan_run(RunRequest(p1="random", p2="max-damage", n=2, output_dir=tmp_path,
                               engine="ray", seed=1, save_trajectories=folder))  # fmt: skip
    worker = BattleWorker(
        plan.spec.to_dict(), 0, (str(tmp_path), plan.paths.run_id), worker=0, processes=1
    )
    try:
        result = await worker.play(BattleTask(0, "battle-gen9randombattle-t0", ("p1", "p2")))
    finally:
        await worker.close()
    assert result.index == 0 and result.record.error is None
    assert result.record.winner in {"p1", "p2", "draw"}
    assert {d.side for d in result.decisions} == {"p1", "p2"}
    assert "|win|" in result.replay_text or "|tie" in result.replay_text
    assert result.inputlog.startswith(">start")
    assert worker.stats()["played"] == 1
    assert not worker.recorder.finished  # the worker keeps nothing of a returned battle
    # each side's trajectory comes back with the battle; the worker wrote no file
    assert len(result.trajectories) == 2 and not list(folder.rglob("*.lz4"))
    for name, states, actions, _ in result.trajectories:
        assert len(states) == len(actions) + 1 and name.battle_id.endswith("t0")

    journal = Journal(plan.paths.journal)
    recorder = Recorder(journal, plan.paths, 0)
    journal.write_spec(plan.spec)
    recorder.keep(result.record, result.decisions, result.replay_text)
    recorder.keep(result.record, result.decisions, result.replay_text)  # a duplicate: ignored
    recorder.close()
    journal.close()
    contents = read_journal(plan.paths.journal)
    assert [b.battle_tag for b in contents.battles] == ["battle-gen9randombattle-t0"]
    assert plan.paths.replay_path("battle-gen9randombattle-t0").read_text() == result.replay_text
    assert recorder.progress(2).done == 1


def test_engine_ray_without_ray_is_a_one_line_error(tmp_path) -> None:
    code = (
        "import sys, runpy; sys.modules['ray'] = None; "
        f"sys.argv = ['main.py', '--engine', 'ray', '--n', '1', '--output', {str(tmp_path)!r}]; "
        "runpy.run_path('main.py', run_name='__main__')"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                            text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "uv sync --extra ray" in lines[0], result.stderr
    assert not list(tmp_path.glob("*.json*"))  # no run left behind


def test_a_ray_address_nobody_answers_is_a_one_line_error(tmp_path) -> None:
    pytest.importorskip("ray")  # main.py imports it in its own process
    result = subprocess.run(
        [sys.executable, "main.py", "--engine", "ray", "--ray-address", "127.0.0.1:1",
         "--n", "1", "--output", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Ray cluster answers at 127.0.0.1:1" in lines[0]
    assert not list(tmp_path.glob("*.json*"))

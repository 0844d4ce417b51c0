"""The Ray engine (`--engine ray`) on a local Ray cluster of two worker actors: the records
the sim engine writes, nothing lost or counted twice when a worker dies, and `--resume`
after the driver is killed."""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from arena.engines import SimEngine
from arena.plan import RunRequest, plan_run
from arena.run import finalize, play_session
from battle.record import RunRecord, load_record

os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # as arena.engines.ray does
ray = pytest.importorskip("ray", reason="the Ray engine's tests need ray (the dev group has it)")

from arena.engines.ray import RayEngine  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """One local cluster (2 CPUs) for the module; this process is its first driver."""
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=100 * 1024**2,
        runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}},
    )
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


def _battle_lines(journal: Path) -> list[str]:
    if not journal.exists():
        return []
    return [line for line in journal.read_text().splitlines() if '"battle"' in line]


async def _play(request: RunRequest, **ray_options) -> tuple[RunRecord, object]:
    plan = plan_run(request)
    if request.engine == "sim":
        engine = SimEngine(processes=2)
    else:
        engine = RayEngine(plan.spec, plan.session, plan.paths, **ray_options)
    await play_session(plan, engine)
    return finalize(plan.paths, finished=True), engine


async def test_round_robin_on_two_workers_writes_the_sim_engines_records(tmp_path, ray_cluster):
    def request(engine: str) -> RunRequest:
        return RunRequest(agents=["random", "max-damage", "heuristic"], n=2, concurrency=2,
                          output_dir=tmp_path / engine, engine=engine, seed=5)  # fmt: skip

    sim, _ = await _play(request("sim"))
    ray_request = request("ray")
    ray_request.save_trajectories = tmp_path / "trajectories"
    record, engine = await _play(ray_request, workers=2, cpus_per_worker=1)
    # each side's trajectory of every battle, sent back by the workers, written here
    assert len(list((tmp_path / "trajectories").rglob("*.json.lz4"))) == 12

    assert record.spec.engine == "ray" and record.spec.server.startswith("Ray (2 workers")
    assert len(record.battles) == len(sim.battles) == 6
    assert len({b.battle_tag for b in record.battles}) == 6
    pairs = collections.Counter(frozenset((b.p1_agent, b.p2_agent)) for b in record.battles)
    assert pairs == collections.Counter(frozenset((b.p1_agent, b.p2_agent)) for b in sim.battles)
    for ours, theirs in zip(record.battles, sim.battles, strict=True):
        assert ours.to_dict().keys() == theirs.to_dict().keys()
        assert ours.error is None and ours.winner in {"p1", "p2", "draw"}
        assert ours.session == 0
        replay = (record_dir := tmp_path / "ray") / ours.replay
        assert "|win|" in replay.read_text() or "|tie" in replay.read_text()
        assert replay.with_suffix(".inputlog").exists()  # the sim engine's input logs too
        sides = {d.side for d in record.decisions if d.battle_tag == ours.battle_tag}
        assert sides == {"p1", "p2"}
    assert record_dir.exists()
    assert {frozenset(d.to_dict()) for d in record.decisions} == {
        frozenset(d.to_dict()) for d in sim.decisions
    }
    assert record.leaderboard is not None and sim.leaderboard is not None
    assert record.leaderboard.keys() == sim.leaderboard.keys()
    ignore = {"run_id", "engine", "server", "started_at", "finished_at", "output_dir"}
    assert {k: v for k, v in record.spec.to_dict().items() if k not in ignore}.keys() == {
        k for k in sim.spec.to_dict() if k not in ignore
    }
    # both workers played, and the summary has per-node figures
    assert sorted(w["played"] > 0 for w in engine.stats.workers) == [True, True]
    notes = engine.notes()
    assert notes[0].startswith("node ") and "battles/s" in notes[0]
    assert "per battle" in notes[-1]


async def test_team_plans_and_a_model_agent_on_workers(tmp_path, ray_cluster):
    """A team format (each battle's teams handed out with it) and metamon (its checkpoint
    loaded once per worker): the teams the sim engine plays, no fallback."""

    def request(engine: str) -> RunRequest:
        return RunRequest(p1="metamon", p2="random", n=4, concurrency=2, battle_format="gen9ou",
                          output_dir=tmp_path / engine, engine=engine, seed=3)  # fmt: skip

    sim, _ = await _play(request("sim"))
    record, _ = await _play(request("ray"), workers=2, cpus_per_worker=1)
    assert len(record.battles) == 4 and all(b.error is None for b in record.battles)
    teams = collections.Counter((b.p1_team, b.p2_team) for b in record.battles)
    assert teams == collections.Counter((b.p1_team, b.p2_team) for b in sim.battles)
    assert all(b.p1_team and b.p2_team for b in record.battles)
    assert not any(d.fallback for d in record.decisions if d.side == "p1")
    assert record.spec.p1.resolved == sim.spec.p1.resolved


@pytest.mark.parametrize("restart", [False, True], ids=["for-good", "restarted-by-ray"])
async def test_a_killed_worker_loses_nothing_and_counts_nothing_twice(
    tmp_path, ray_cluster, restart
):
    request = RunRequest(p1="random", p2="max-damage", n=10, concurrency=2,
                         output_dir=tmp_path, engine="ray",
                         save_trajectories=tmp_path / "trajectories")  # fmt: skip
    plan = plan_run(request)
    engine = RayEngine(plan.spec, plan.session, plan.paths, workers=2, cpus_per_worker=1,
                       max_restarts=int(restart))  # fmt: skip
    session = asyncio.ensure_future(play_session(plan, engine))
    while not _battle_lines(plan.paths.journal):
        assert not session.done(), session
        await asyncio.sleep(0.05)
    ray.kill(engine._workers[0].actor, no_restart=not restart)  # its process ends mid-battle
    await asyncio.wait_for(session, timeout=180)

    record = finalize(plan.paths, finished=True)
    tags = [b.battle_tag for b in record.battles]
    assert len(tags) == 10 and len(set(tags)) == 10
    assert len(_battle_lines(plan.paths.journal)) == 10
    assert all(b.error is None for b in record.battles)
    assert engine.stats.requeued >= 1  # its battles in flight were played again elsewhere
    # trajectories too: the driver writes them, two per recorded battle, none for a lost one
    files = list((tmp_path / "trajectories").rglob("*.json.lz4"))
    assert len(files) == 20
    assert {f.name.split("_")[0] for f in files} == {t.removeprefix("battle-") for t in tags}
    assert "handed out again" in engine.notes()[-1]


def test_resume_after_the_driver_is_killed(tmp_path, ray_cluster):
    out = tmp_path / "runs"
    command = [
        sys.executable, "main.py", "--p1", "random", "--p2", "random", "--engine", "ray",
        "--ray-address", ray_cluster, "--ray-workers", "2", "--ray-cpus", "1",
        "--concurrency", "1", "--output", str(out), "--reports", str(tmp_path / "reports"),
        "--log-level", "WARNING",
    ]  # fmt: skip
    driver = subprocess.Popen([*command, "--n", "12"], cwd=REPO, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 120
    journal = None
    while time.monotonic() < deadline and driver.poll() is None:
        journal = next(out.glob("*.jsonl"), None) if out.exists() else None
        if journal is not None and len(_battle_lines(journal)) >= 2:
            break
        time.sleep(0.1)
    assert driver.poll() is None, driver.stderr.read().decode() if driver.stderr else ""
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait(timeout=30)
    assert journal is not None
    played = len(_battle_lines(journal))
    assert 2 <= played < 12

    run_id = journal.stem
    result = subprocess.run([*command, "--resume", run_id], cwd=REPO, capture_output=True,
                            text=True, timeout=240)  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    record = load_record(out / f"{run_id}.json")
    tags = [b.battle_tag for b in record.battles]
    assert len(tags) == 12 and len(set(tags)) == 12
    assert {b.session for b in record.battles} == {0, 1}
    assert "node " in result.stdout and "per battle" in result.stdout


RPS = 20


async def test_mistral_agents_share_one_rate_limit_across_workers(tmp_path, ray_cluster,
                                                                  monkeypatch):  # fmt: skip
    """Two workers, each with its own Mistral agent: at MISTRAL_RPS=20 the stand-in API gets
    20 requests a second in all, not 20 from each worker (a battle alone asks faster)."""
    from mistral_standin import running_standin

    with running_standin() as standin:
        monkeypatch.setenv("MISTRAL_API_KEY", "sk-ray-test")
        monkeypatch.setenv("MISTRAL_SERVER_URL", standin.url)
        monkeypatch.setenv("MISTRAL_RPS", str(RPS))
        request = RunRequest(p1="mistral-large", p2="random", n=2, concurrency=1,
                             output_dir=tmp_path, engine="ray")  # fmt: skip
        record, engine = await _play(request, workers=2, cpus_per_worker=1)
        times = sorted(r.at for r in standin.received)
    assert len(record.battles) == 2 and all(b.error is None for b in record.battles)
    assert sorted(w["played"] for w in engine.stats.workers) == [1, 1]  # both asked the API
    assert len(times) >= 40
    rate = (len(times) - 1) / (times[-1] - times[0])
    busiest = max(sum(1 for t in times if start <= t < start + 1) for start in times)
    assert rate <= 1.1 * RPS and busiest <= RPS + 3, (rate, busiest)

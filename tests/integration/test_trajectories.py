"""`--save-trajectories`: real battles on both engines leave Metamon files for each side."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from poke_env.data import to_id_str

from agents import BaseAgent, Decision, registry
from arena.match import DirectEngine, Match, ServerEngine
from arena.record import RunRecord
from arena.run import RunRequest, finalize, plan_run, play_session
from training.metamon_format import (
    EXTENSION_STATE_FIELDS,
    STATE_FIELDS,
    battle_id_for,
    read_trajectory,
)

REPO = Path(__file__).resolve().parents[2]
NAME = re.compile(
    r"(?P<id>[a-z0-9-]+)_Unrated_(?P<p1>[a-z0-9]+)_vs_(?P<p2>[a-z0-9]+)_"
    r"\d\d-\d\d-\d{4}-\d\d:\d\d:\d\d_(?P<result>WIN|LOSS)\.json\.lz4"
)


def check_trajectories(folder: Path, record: RunRecord, usernames: dict[str, str]) -> None:
    """Two files per battle, one per side, from that side's view, loading back whole."""
    files = sorted((folder / record.spec.format).iterdir())
    assert all(not f.name.startswith(".") for f in files), "a temporary file was left"
    by_battle: dict[str, dict[str, Path]] = defaultdict(dict)
    for path in files:
        match = NAME.fullmatch(path.name)
        assert match, path.name
        by_battle[match["id"]][match["p1"]] = path
    assert len(files) == 2 * len(record.battles)
    users = {side: to_id_str(name) for side, name in usernames.items()}
    for battle in record.battles:
        assert battle.error is None
        sides = by_battle[battle_id_for(record.spec.format, battle.battle_tag)]
        assert set(sides) == set(users.values()), (battle.battle_tag, sides)
        for side, user in users.items():
            path = sides[user]
            match = NAME.fullmatch(path.name)
            assert match and match["p2"] == users["p2" if side == "p1" else "p1"]
            won = battle.winner == side
            assert match["result"] == ("WIN" if won else "LOSS")  # a tie: LOSS for both
            data = read_trajectory(path)
            states, actions = data["states"], data["actions"]
            assert set(data) == {"states", "actions"}
            assert len(states) == len(actions) + 1 and actions
            assert all(a == -1 or 0 <= a <= 12 for a in actions), actions
            assert all(tuple(s) == STATE_FIELDS + EXTENSION_STATE_FIELDS for s in states)
            assert not any(s["battle_won"] or s["battle_lost"] for s in states[:-1])
            assert states[-1]["battle_won"] == won
            assert states[-1]["battle_lost"] == (battle.winner not in (side, "draw"))
            decisions = [
                d for d in record.decisions if d.battle_tag == battle.battle_tag and d.side == side
            ]
            assert len(actions) == len(decisions)


async def _session(request: RunRequest, engine) -> tuple[RunRecord, dict[str, str]]:
    plan = plan_run(request)
    names: dict[str, str] = {}

    def on_start(match: Match) -> None:
        names.update(match.usernames)

    await play_session(plan, engine, on_start=on_start)
    record = finalize(plan.paths, finished=True)
    assert record is not None
    return record, names


async def test_server_engine_writes_both_sides(showdown_server, tmp_path):
    folder = tmp_path / "trajectories"
    request = RunRequest(p1="heuristic", p2="random", n=3, concurrency=3, seed=5,
                         output_dir=tmp_path / "runs", save_trajectories=folder)  # fmt: skip
    record, names = await _session(request, ServerEngine(showdown_server))
    assert record.spec.save_trajectories == str(folder)
    check_trajectories(folder, record, names)

    # A resume keeps writing to the same folder.
    resumed = plan_run(RunRequest(resume=str(tmp_path / "runs" / f"{record.spec.run_id}.json"),
                                  output_dir=tmp_path / "runs"))  # fmt: skip
    assert resumed.spec.save_trajectories == str(folder)


async def test_sim_engine_writes_both_sides(tmp_path):
    folder = tmp_path / "trajectories"
    request = RunRequest(p1="max-damage", p2="random", n=3, concurrency=3, seed=6,
                         output_dir=tmp_path / "runs", engine="sim",
                         save_trajectories=folder)  # fmt: skip
    record, names = await _session(request, DirectEngine(processes=1))
    check_trajectories(folder, record, names)


async def test_nothing_is_written_when_the_option_is_off(tmp_path):
    request = RunRequest(p1="random", p2="random", n=1, output_dir=tmp_path / "runs",
                         engine="sim")  # fmt: skip
    record, _ = await _session(request, DirectEngine(processes=1))
    assert record.spec.save_trajectories is None
    assert not list(tmp_path.rglob("*.lz4"))


class _SlowAgent(BaseAgent):
    name = "test-traj-slow"

    async def decide(self, battle):
        await asyncio.sleep(0.3)
        return Decision(order=self.random_order(battle))


@pytest.fixture
def slow_agent() -> Iterator[str]:
    registry._load_builtins()
    registry.register(_SlowAgent.name)(_SlowAgent)
    yield _SlowAgent.name
    registry._REGISTRY.pop(_SlowAgent.name, None)


@pytest.mark.parametrize("engine", ["server", "sim"])
async def test_battles_recorded_as_errors_leave_no_trajectory(
    showdown_server, tmp_path, slow_agent, engine
):
    folder = tmp_path / "trajectories"
    request = RunRequest(p1=slow_agent, p2="random", n=2, concurrency=2, battle_timeout_s=1.0,
                         output_dir=tmp_path / "runs", engine=engine,
                         save_trajectories=folder)  # fmt: skip
    play_on = ServerEngine(showdown_server) if engine == "server" else DirectEngine(processes=1)
    record, _ = await _session(request, play_on)
    assert [b.error for b in record.battles] == ["timed out after 1s"] * 2
    await asyncio.sleep(0.5)  # the forfeits' results reach both players
    assert not list(folder.rglob("*.lz4"))


def test_a_file_is_not_a_trajectory_folder(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(ValueError, match="is a file"):
        plan_run(RunRequest(output_dir=tmp_path, save_trajectories=blocked))


def test_cli_save_trajectories(tmp_path):
    folder = tmp_path / "trajectories"
    result = subprocess.run(
        [sys.executable, "main.py", "--p1", "heuristic", "--p2", "random", "--n", "2",
         "--engine", "sim", "--output", str(tmp_path / "runs"),
         "--reports", str(tmp_path / "reports"), "--log-level", "WARNING",
         "--save-trajectories", str(folder)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"Trajectories: {folder}" in result.stdout.replace("\n", "")
    files = list((folder / "gen9randombattle").glob("*.json.lz4"))
    assert len(files) == 4
    results = sorted(NAME.fullmatch(f.name)["result"] for f in files)
    assert results in (
        ["LOSS", "LOSS", "WIN", "WIN"],
        ["LOSS"] * 4,
        ["LOSS", "LOSS", "LOSS", "WIN"],
    )
    for path in files:
        data = read_trajectory(path)
        assert len(data["states"]) == len(data["actions"]) + 1

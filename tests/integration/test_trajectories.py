"""`--save-trajectories`: real battles on both engines leave Metamon files for each side."""

from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from poke_env.data import to_id_str
from poke_env.player.battle_order import DefaultBattleOrder

from agents import BaseAgent, Decision, registry
from agents.registry import UnknownAgentError
from arena.engines import ServerEngine, SimEngine
from arena.match import Tournament
from arena.plan import RunRequest, plan_run
from arena.run import finalize, play_session
from battle.metamon import EXTENSION_STATE_FIELDS, STATE_FIELDS
from battle.record import AgentSpec, RunRecord
from battle.trajectory import battle_id_for, read_trajectory

REPO = Path(__file__).resolve().parents[2]
NAME = re.compile(
    r"(?P<id>[a-z0-9-]+)_Unrated_(?P<p1>[a-z0-9]+)_vs_(?P<p2>[a-z0-9]+)_"
    r"\d\d-\d\d-\d{4}-\d\d:\d\d:\d\d_(?P<result>WIN|LOSS)\.json\.lz4"
)


def check_trajectories(
    folder: Path, record: RunRecord, users: dict[str, str], labelled: bool = False
) -> None:
    """Two files per battle, one per side, from that side's view, loading back whole;
    `users` names each player's side (user id: side); `labelled` (--teacher): with
    `played_actions`, as long as `actions`."""
    files = sorted((folder / record.spec.format).iterdir())
    assert all(not f.name.startswith(".") for f in files), "a temporary file was left"
    by_battle: dict[str, dict[str, Path]] = defaultdict(dict)
    for path in files:
        match = NAME.fullmatch(path.name)
        assert match, path.name
        by_battle[match["id"]][match["p1"]] = path
    assert len(files) == 2 * len(record.battles)
    for battle in record.battles:
        assert battle.error is None
        players = by_battle[battle_id_for(record.spec.format, battle.battle_tag)]
        assert sorted(users[user] for user in players) == ["p1", "p2"], (battle.battle_tag, players)
        for user, path in players.items():
            side = users[user]
            match = NAME.fullmatch(path.name)
            assert match and users[match["p2"]] != side and match["p2"] in players
            won = battle.winner == side
            assert match["result"] == ("WIN" if won else "LOSS")  # a tie: LOSS for both
            data = read_trajectory(path)
            states, actions = data["states"], data["actions"]
            if labelled:
                assert list(data) == ["states", "actions", "played_actions"]
                played = data["played_actions"]
                assert len(played) == len(actions)
                assert all(a == -1 or 0 <= a <= 12 for a in played), played
            else:
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
    """The session's record, and the side of each user (by id) that played in it."""
    plan = plan_run(request)
    started: list[Tournament] = []
    await play_session(plan, engine, on_start=started.append)
    record = finalize(plan.paths, finished=True)
    assert record is not None
    lanes = [lane.players for lane in started[0].lanes]
    return record, {to_id_str(p.username): side for lane in lanes for side, p in lane.items()}


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
    record, names = await _session(request, SimEngine(processes=1))
    check_trajectories(folder, record, names)


async def test_nothing_is_written_when_the_option_is_off(tmp_path):
    request = RunRequest(p1="random", p2="random", n=1, output_dir=tmp_path / "runs",
                         engine="sim")  # fmt: skip
    record, _ = await _session(request, SimEngine(processes=1))
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
    play_on = ServerEngine(showdown_server) if engine == "server" else SimEngine(processes=1)
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


# --------------------------------------------------------------------------- --teacher


def allowed_by_state(state: dict) -> set[int]:
    """The action indices a state leaves open: a superset of the legal ones (the state does
    not say whether the active is trapped, disabled or choice-locked)."""
    allowed = {4 + i for i in range(min(len(state["available_switches"]), 5))}
    if not state["forced_switch"]:
        moves = [i for i, m in enumerate(state["player_active_pokemon"]["moves"][:4])
                 if m["name"] != "nomove"]  # fmt: skip
        allowed.update(moves)
        if state["can_tera"]:
            allowed.update(9 + i for i in moves)
    return allowed


def labelled(folder: Path) -> dict[str, list[dict]]:
    """Each player's (file name's first player's) labelled trajectories."""
    files: dict[str, list[dict]] = defaultdict(list)
    for path in sorted(folder.rglob("*.json.lz4")):
        files[NAME.fullmatch(path.name)["p1"]].append(read_trajectory(path))
    return files


def check_played(data: dict, decisions: list) -> None:
    """`played_actions` are the orders the player sent, as the run record has them."""
    assert len(decisions) == len(data["played_actions"])
    for state, index, decision in zip(data["states"], data["played_actions"], decisions,
                                      strict=False):  # fmt: skip
        if index == -1:
            continue
        kind, name, *tera = decision.action.split()
        if 4 <= index <= 8:
            assert (kind, name) == ("switch", state["available_switches"][index - 4]["name"])
        else:
            move = state["player_active_pokemon"]["moves"][index % 9]["name"]
            assert kind == "move" and name.startswith(move), (decision.action, index)
            assert (tera == ["tera"]) == (index >= 9), (decision.action, index)


async def test_teacher_labels_both_sides_on_the_sim_engine(tmp_path):
    folder = tmp_path / "trajectories"
    request = RunRequest(p1="random", p2="random", n=2, concurrency=2, seed=7,
                         output_dir=tmp_path / "runs", engine="sim", save_trajectories=folder,
                         teacher="max-damage")  # fmt: skip
    record, names = await _session(request, SimEngine(processes=1))
    assert record.spec.teacher == AgentSpec(given="max-damage", resolved="max-damage")
    # The record stays the players': one decision per step (check_trajectories), theirs.
    check_trajectories(folder, record, names, labelled=True)
    differ = 0
    for trajectories in labelled(folder).values():
        for data in trajectories:
            steps = zip(data["states"], data["actions"], data["played_actions"], strict=False)
            for state, teacher, played in steps:
                assert teacher == -1 or teacher in allowed_by_state(state), (teacher, state)
                assert played == -1 or played in allowed_by_state(state), (played, state)
                differ += teacher != played
    assert differ > 0  # max-damage does not play like random
    for battle in record.battles:
        tag = battle_id_for(record.spec.format, battle.battle_tag)
        for path in folder.rglob(f"{tag}_Unrated_*.json.lz4"):
            side = names[NAME.fullmatch(path.name)["p1"]]  # type: ignore[index]
            decisions = [d for d in record.decisions
                         if d.battle_tag == battle.battle_tag and d.side == side]  # fmt: skip
            check_played(read_trajectory(path), decisions)


async def test_a_teacher_like_the_player_agrees_with_it_on_the_server_engine(
    showdown_server, tmp_path
):
    # The heuristic is deterministic (max-damage is not: it switches at random).
    folder = tmp_path / "trajectories"
    request = RunRequest(p1="heuristic", p2="random", n=1, seed=8, output_dir=tmp_path / "runs",
                         save_trajectories=folder, teacher="heuristic")  # fmt: skip
    record, names = await _session(request, ServerEngine(showdown_server))
    check_trajectories(folder, record, names, labelled=True)
    files = labelled(folder)
    user = {side: user for user, side in names.items()}  # one battle: one lane, one user a side
    (own,) = files[user["p1"]]
    both = [(a, p) for a, p in zip(own["actions"], own["played_actions"], strict=True)
            if a >= 0 and p >= 0]  # fmt: skip
    assert both and all(a == p for a, p in both), both
    (other,) = files[user["p2"]]
    assert other["actions"] != other["played_actions"]  # the heuristic is not random


class _FaultyTeacher(BaseAgent):
    """Raises, answers nothing, an illegal order, a fallback, then a legal order, in turn."""

    name = "test-traj-faulty-teacher"

    def __init__(self, seed=None):
        super().__init__(seed)
        self.calls = 0

    async def decide(self, battle):
        self.calls += 1
        match self.calls % 5:
            case 1:
                raise RuntimeError("the teacher broke")
            case 2:
                return None
            case 3:
                return Decision(order=DefaultBattleOrder())  # illegal while orders exist
            case 4:
                return Decision(order=self.random_order(battle), fallback=True,
                                fallback_reason="test")  # fmt: skip
        return Decision(order=self.random_order(battle))


@pytest.fixture
def faulty_teacher() -> Iterator[str]:
    registry._load_builtins()
    registry.register(_FaultyTeacher.name)(_FaultyTeacher)
    yield _FaultyTeacher.name
    registry._REGISTRY.pop(_FaultyTeacher.name, None)


async def test_a_failing_teacher_labels_minus_one_and_never_breaks_the_battle(
    tmp_path, faulty_teacher, caplog
):
    folder = tmp_path / "trajectories"
    request = RunRequest(p1="max-damage", p2="random", n=1, seed=9, output_dir=tmp_path / "runs",
                         engine="sim", save_trajectories=folder,
                         teacher=faulty_teacher)  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="arena.match"):
        record, names = await _session(request, SimEngine(processes=1))
    assert [b.error for b in record.battles] == [None]
    assert not any(d.fallback for d in record.decisions)  # the players' record is untouched
    check_trajectories(folder, record, names, labelled=True)
    for data in (d for files in labelled(folder).values() for d in files):
        assert -1 in data["actions"] and any(a >= 0 for a in data["actions"])
        assert sum(a >= 0 for a in data["played_actions"]) > sum(a >= 0 for a in data["actions"])
    for what in ("failed (RuntimeError: the teacher broke)", "illegal action None",
                 "illegal action /choose default", "fell back (test)"):  # fmt: skip
        assert f"teacher {faulty_teacher} (p1) in " in caplog.text
        assert what in caplog.text, what


async def test_teacher_in_a_round_robin_and_its_resume(tmp_path):
    folder = tmp_path / "trajectories"
    runs = tmp_path / "runs"
    request = RunRequest(agents=["random", "max-damage"], n=1, seed=10, output_dir=runs,
                         engine="sim", save_trajectories=folder, teacher="max-damage")  # fmt: skip
    plan = plan_run(request)
    await play_session(plan, SimEngine(processes=1))
    first = finalize(plan.paths, finished=True)
    assert first is not None and first.spec.teacher is not None
    assert first.spec.teacher.given == "max-damage"

    resumed = plan_run(RunRequest(resume=str(plan.paths.record), n=2, output_dir=runs,
                                  engine="sim"))  # fmt: skip
    assert resumed.spec.teacher == first.spec.teacher
    await play_session(resumed, SimEngine(processes=1))
    record = finalize(resumed.paths, finished=True)
    assert record is not None and len(record.battles) == 2
    assert record.spec.teacher is not None and record.spec.teacher.given == "max-damage"
    files = [d for datas in labelled(folder).values() for d in datas]
    assert len(files) == 4
    for data in files:
        assert len(data["played_actions"]) == len(data["actions"]) == len(data["states"]) - 1
    assert len(record.decisions) == sum(len(d["actions"]) for d in files)

    with pytest.raises(UnknownAgentError, match="unknown agent 'nope'"):
        plan_run(RunRequest(resume=str(plan.paths.record), output_dir=runs, teacher="nope"))


def test_teacher_needs_saved_trajectories(tmp_path):
    with pytest.raises(ValueError, match="add --save-trajectories DIR"):
        plan_run(RunRequest(output_dir=tmp_path, teacher="heuristic"))
    with pytest.raises(UnknownAgentError, match="did you mean 'search'"):
        plan_run(RunRequest(output_dir=tmp_path, save_trajectories=tmp_path / "t",
                            teacher="serch"))  # fmt: skip
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--teacher", "search"],
         "error: --teacher labels the saved trajectories: add --save-trajectories DIR"),
        (["--teacher", "serch", "--save-trajectories", "TRAJ"],
         "error: unknown agent 'serch': did you mean 'search'?"),
    ],
)  # fmt: skip
def test_cli_teacher_errors(tmp_path, flags, message):
    flags = [str(tmp_path / "t") if f == "TRAJ" else f for f in flags]
    result = subprocess.run(
        [sys.executable, "main.py", "--output", str(tmp_path / "runs"), *flags],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert result.stderr.startswith(message), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "runs").exists() and not (tmp_path / "t").exists()

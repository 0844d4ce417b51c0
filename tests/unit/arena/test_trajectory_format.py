"""`--trajectory-format`: the option's checks, its place in the run spec, and the recorder."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fixture_battles import decision_points, fixture_paths
from metamon_rules import metamon_file_violations

from arena.plan import RunRequest, plan_run
from arena.trajectories import TrajectoryRecorder, check_trajectory_format
from battle.metamon_actions import action_index
from battle.record import AgentSpec, RunSpec
from battle.trajectory import TrajectoryFile, read_trajectory, write_trajectory

FIXTURES = fixture_paths()
WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def spec(**changes) -> RunSpec:
    base = RunSpec(run_id="r1", p1=AgentSpec("random", "random"), p2=AgentSpec("random", "random"),
                   format="gen9randombattle", n=2, seed=1, concurrency=1, move_delay=0.0,
                   battle_timeout_s=600.0, server="", versions={}, started_at=1.0)  # fmt: skip
    return replace(base, **changes)


def test_the_format_is_checked_and_stored_only_when_not_the_default() -> None:
    assert check_trajectory_format(None, None) is None
    assert check_trajectory_format(None, "t") is None
    assert check_trajectory_format("lz4", "t") is None  # the default: records unchanged
    assert check_trajectory_format("metamon", "t") == "metamon"
    with pytest.raises(ValueError, match="add --save-trajectories DIR"):
        check_trajectory_format("metamon", None)
    with pytest.raises(ValueError, match="one of lz4, metamon"):
        check_trajectory_format("json", "t")


def test_a_resume_keeps_the_recorded_format() -> None:
    lz4_run = spec(save_trajectories="t")
    metamon_run = spec(save_trajectories="t", trajectory_format="metamon")
    assert check_trajectory_format(None, "t", lz4_run) is None
    assert check_trajectory_format("lz4", "t", lz4_run) is None
    assert check_trajectory_format(None, "t", metamon_run) == "metamon"
    assert check_trajectory_format("metamon", "t", metamon_run) == "metamon"
    with pytest.raises(ValueError, match=r"keeps the run's trajectory format \(lz4\)"):
        check_trajectory_format("metamon", "t", lz4_run)
    with pytest.raises(ValueError, match=r"keeps the run's trajectory format \(metamon\)"):
        check_trajectory_format("lz4", "t", metamon_run)
    # a run that saved none takes the format with the folder a resume adds
    assert check_trajectory_format("metamon", "new", spec()) == "metamon"
    with pytest.raises(ValueError, match="add --save-trajectories DIR"):
        check_trajectory_format("metamon", None, spec())


def test_the_spec_carries_the_format_only_when_set() -> None:
    data = spec(save_trajectories="t").to_dict()
    assert "trajectory_format" not in data
    assert RunSpec.from_dict(data).trajectory_format is None  # a record from before the option
    metamon = spec(save_trajectories="t", trajectory_format="metamon")
    data = json.loads(json.dumps(metamon.to_dict()))
    assert data["trajectory_format"] == "metamon"
    assert RunSpec.from_dict(data) == metamon


def test_a_format_without_saved_trajectories_stops_the_plan(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="add --save-trajectories DIR"):
        plan_run(RunRequest(output_dir=tmp_path, trajectory_format="metamon"))
    assert not list(tmp_path.iterdir())  # no run id claimed


def test_plain_json_files_are_written_without_overwriting(tmp_path: Path) -> None:
    name = TrajectoryFile("gen9randombattle", "battle-gen9randombattle-7", None, "a", "b",
                          WHEN, True)  # fmt: skip
    path = write_trajectory(tmp_path, name, [{"n": 0}, {"n": 1}], [4], compress=False)
    assert path == tmp_path / "gen9randombattle" / f"{name.stem}.json"
    assert json.loads(path.read_bytes()) == {"states": [{"n": 0}, {"n": 1}], "actions": [4]}
    again = write_trajectory(tmp_path, name, [{"n": 0}], [], compress=False)
    assert again.name.startswith("gen9randombattle-7-2_") and again.suffix == ".json"


def test_a_labelled_metamon_recorder_keeps_the_teachers_actions_only(tmp_path: Path) -> None:
    rng = random.Random(4)
    recorder = TrajectoryRecorder(tmp_path, labelled=True, file_format="metamon")
    labels = []
    battle = None
    for step, (battle, _request) in enumerate(decision_points(FIXTURES[1])):
        order, teacher = rng.choice(battle.valid_orders), rng.choice(battle.valid_orders)
        teacher_order = None if step % 5 == 2 else teacher
        index = -1 if teacher_order is None else action_index(teacher_order, battle)
        labels.append(index - 9 if index >= 9 else index)
        recorder.record(battle, order, teacher_order)
    assert battle is not None
    path = recorder.finish(battle)
    assert path is not None and metamon_file_violations(path) == []
    data = read_trajectory(path)
    assert list(data) == ["states", "actions"]  # no played_actions in this format
    assert data["actions"] == labels and -1 in labels


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown trajectory format 'json'"):
        TrajectoryRecorder(tmp_path, file_format="json")

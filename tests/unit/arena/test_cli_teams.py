"""main.py with --team1/--team2: bad teams are one line, a non-zero exit, before any battle."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fixture_teams import KORAIDON

REPO = Path(__file__).resolve().parents[3]

pytestmark = pytest.mark.usefixtures("bundled_showdown")  # the validator runs node


def run_main(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "main.py", "--output", str(tmp_path / "runs"),
         "--reports", str(tmp_path / "reports"), *args],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_an_illegal_team_file_is_refused_before_any_battle(tmp_path: Path) -> None:
    bad = tmp_path / "koraidon.txt"
    bad.write_text(KORAIDON, encoding="utf-8")
    result = run_main(
        tmp_path, "--format", "gen9ou", "--engine", "sim", "--team1", str(bad), "--n", "1"
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "koraidon.txt is not legal in gen9ou" in lines[0]
    assert "Koraidon is tagged Uber, which is banned." in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.parametrize("option", ["--team1", "--team2", "--teams"])
def test_a_team_in_a_random_battle_format_is_refused(tmp_path: Path, option: str) -> None:
    team = REPO / "teams" / "gen9ou"
    result = run_main(tmp_path, "--format", "gen9randombattle", option, str(team))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"gen9randombattle generates its own teams: leave out {option}" in lines[0]


def test_a_missing_team_file_is_one_line(tmp_path: Path) -> None:
    result = run_main(tmp_path, "--format", "gen9ou", "--team2", str(tmp_path / "nope.txt"))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not exist" in lines[0], result.stderr


def test_a_round_robin_with_a_side_team_is_one_line(tmp_path: Path) -> None:
    team = REPO / "teams" / "gen9ou"
    result = run_main(
        tmp_path, "--format", "gen9ou", "--agents", "random,heuristic", "--team1", str(team)
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "give every agent's teams with --teams" in lines[0], result.stderr

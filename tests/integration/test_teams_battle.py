"""gen9ou matches with the bundled pool: both engines, each battle records both teams."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from arena.record import load_record

REPO = Path(__file__).resolve().parents[2]
POOL = {f"gen9ou/{p.stem}" for p in (REPO / "teams" / "gen9ou").glob("*.txt")}


def play(tmp_path: Path, *args: str) -> Path:
    result = subprocess.run(
        [sys.executable, "main.py", "--format", "gen9ou", "--p1", "heuristic",
         "--p2", "max-damage", "--n", "2", "--seed", "7", "--log-level", "WARNING",
         "--output", str(tmp_path / "runs"), "--reports", str(tmp_path / "reports"), *args],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (record,) = (tmp_path / "runs").glob("*.json")
    return record


def check(record_path: Path) -> list[tuple[str | None, str | None]]:
    record = load_record(record_path)
    assert len(record.battles) == 2
    assert all(b.error is None and b.winner is not None for b in record.battles)
    teams = [(b.p1_team, b.p2_team) for b in record.battles]
    assert all(t in POOL for pair in teams for t in pair), teams
    return teams


def test_gen9ou_on_the_simulator_records_both_teams(tmp_path: Path) -> None:
    teams = check(play(tmp_path, "--engine", "sim"))
    again = check(play(tmp_path / "again", "--engine", "sim"))
    assert sorted(teams) == sorted(again)  # the seed draws the same teams


def test_a_team_file_is_played_and_recorded(tmp_path: Path) -> None:
    team = sorted((REPO / "teams" / "gen9ou").glob("*.txt"))[0]
    record = load_record(play(tmp_path, "--engine", "sim", "--team1", str(team)))
    assert {b.p1_team for b in record.battles} == {f"gen9ou/{team.stem}"}
    replay = (tmp_path / "runs" / record.battles[0].replay).read_text()  # type: ignore[operator]
    first = team.read_text().splitlines()[0].split(" @ ")[0].strip()
    assert f"|poke|p1|{first}" in replay or f"|switch|p1a: {first}" in replay


def test_gen9ou_on_the_server_records_both_teams(showdown_server, tmp_path: Path) -> None:
    check(play(tmp_path, "--server", showdown_server.url))

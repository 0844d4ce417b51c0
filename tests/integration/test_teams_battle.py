"""gen9ou matches with the bundled pool: both engines, each battle records both teams."""

from __future__ import annotations

from pathlib import Path

from main_cli import played, run_main

from arena.teams import bundled_pool, team_name, team_plan
from battle.record import load_record

REPO = Path(__file__).resolve().parents[2]
POOL = {f"gen9ou/{p.stem}" for p in (REPO / "teams" / "gen9ou").glob("*.txt")}


def play(tmp_path: Path, *args: str) -> Path:
    return played(
        tmp_path, "--format", "gen9ou", "--p1", "heuristic", "--p2", "max-damage", "--n", "2",
        "--seed", "7", *args,
    )  # fmt: skip


def check(record_path: Path) -> list[tuple[str | None, str | None]]:
    record = load_record(record_path)
    assert len(record.battles) == 2
    assert all(b.error is None and b.winner is not None for b in record.battles)
    teams = [(b.p1_team, b.p2_team) for b in record.battles]
    assert all(t in POOL for pair in teams for t in pair), teams
    return teams


def planned(seed: int, n: int) -> list[tuple[str, str]]:
    """The battles' teams the run's seed draws: pairs with the two teams swapped."""
    pool = bundled_pool("gen9ou")
    plan = team_plan([("p1", "p2")] * n, {"p1": pool, "p2": pool}, seed, 0)
    return sorted((team_name(b["p1"]), team_name(b["p2"])) for b in plan)


def test_gen9ou_on_the_simulator_records_both_teams(tmp_path: Path) -> None:
    teams = check(play(tmp_path, "--engine", "sim"))
    assert sorted(teams) == planned(7, 2)  # the seed draws the same teams, swapped


def test_a_team_file_is_played_and_recorded(tmp_path: Path) -> None:
    team = sorted((REPO / "teams" / "gen9ou").glob("*.txt"))[0]
    record = load_record(play(tmp_path, "--engine", "sim", "--team1", str(team)))
    assert {b.p1_team for b in record.battles} == {f"gen9ou/{team.stem}"}
    replay = (tmp_path / "runs" / record.battles[0].replay).read_text()  # type: ignore[operator]
    first = team.read_text().splitlines()[0].split(" @ ")[0].strip()
    assert f"|poke|p1|{first}" in replay or f"|switch|p1a: {first}" in replay


def test_gen9ou_on_the_server_records_both_teams(showdown_server, tmp_path: Path) -> None:
    teams = check(play(tmp_path, "--server", showdown_server.url))
    assert sorted(teams) == planned(7, 2)  # each lane's players are given their battle's teams


def round_robin(tmp_path: Path, fmt: str, agents: str, *args: str) -> list:
    path = played(tmp_path, "--format", fmt, "--agents", agents, "--n", "2", "--seed", "4", *args)
    record = load_record(path)
    assert record.leaderboard is not None
    pool = {f"{fmt}/{p.stem}" for p in (REPO / "teams" / fmt).glob("*.txt")}
    for b in record.battles:
        assert b.error is None and b.winner is not None
        assert b.p1_team in pool and b.p2_team in pool, (b.p1_team, b.p2_team)
    return record.battles


def paired(battles: list) -> None:
    """Both battles of a pair had the same teams on the same sides, the agents swapped."""
    by_pair: dict[frozenset, list] = {}
    for b in battles:
        by_pair.setdefault(frozenset((b.p1_agent, b.p2_agent)), []).append(b)
    for pair in by_pair.values():
        first, second = pair
        assert (first.p1_agent, first.p2_agent) == (second.p2_agent, second.p1_agent)
        assert (first.p1_team, first.p2_team) == (second.p1_team, second.p2_team)


def test_a_round_robin_in_gen9ou_on_the_simulator(tmp_path: Path) -> None:
    battles = round_robin(tmp_path, "gen9ou", "random,max-damage,heuristic", "--engine", "sim")
    assert len(battles) == 6
    paired(battles)


def test_a_round_robin_in_gen2ou_on_the_server(showdown_server, tmp_path: Path) -> None:
    battles = round_robin(tmp_path, "gen2ou", "random,heuristic", "--server", showdown_server.url)
    assert len(battles) == 2
    paired(battles)


def test_a_resume_from_another_folder_keeps_the_runs_teams(tmp_path: Path) -> None:
    team = sorted((REPO / "teams" / "gen4ou").glob("*.txt"))[0]
    path = played(
        tmp_path, "--format", "gen4ou", "--p1", "heuristic", "--p2", "random", "--n", "1",
        "--team1", str(team.relative_to(REPO)), "--engine", "sim",
    )  # fmt: skip
    assert load_record(path).spec.team1 == str(team)  # absolute: a resume works from anywhere
    again = run_main(tmp_path, "--resume", str(path), "--n", "2", "--engine", "sim", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    record = load_record(path)
    assert len(record.battles) == 2
    assert {b.p1_team for b in record.battles} == {f"gen4ou/{team.stem}"}


def test_a_format_without_bundled_teams_plays_generated_ones(tmp_path: Path) -> None:
    path = played(
        tmp_path, "--format", "gen7ou", "--p1", "heuristic", "--p2", "random", "--n", "2",
        "--seed", "1", "--teams", "generated", "--engine", "sim",
    )  # fmt: skip
    record = load_record(path)
    folder = path.with_suffix("") / "teams"
    assert record.spec.team1 == record.spec.team2 == str(folder.resolve())
    files = {str(p) for p in folder.glob("gen7ou-generated-*.txt")}
    assert len(files) == 10
    for b in record.battles:
        assert b.error is None and b.winner is not None
        assert {b.p1_team, b.p2_team} <= files

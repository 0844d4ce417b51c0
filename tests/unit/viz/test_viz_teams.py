"""Win rate by team: the statistics, the chart and the report's Teams section."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import plotly.offline
import pytest

from arena.run import finalize
from battle.journal import Journal
from battle.record import (
    AgentSpec,
    BattleRecord,
    RunPaths,
    RunRecord,
    RunSpec,
    load_record,
)
from battle.summary import wilson_interval
from viz import render_report
from viz.team_charts import MAX_TEAM_LABEL, team_labels, team_win_rate_chart
from viz.teams import TeamScore, has_teams, team_agents, team_stats

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "viz"
FIXTURE = FIXTURES / "vizfixture.json"
EVIL = "<script>alert(1)</script>"
EVIL_TEAM = f"teams/{EVIL}.txt"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
A, B = "gen9ou/garchomp-scizor-offense", "gen9ou/ting-lu-alomomola-balance"


def spec(agents: list[str] | None = None) -> RunSpec:
    """A match of heuristic (p1) against random (p2), or a round robin of `agents`."""
    p1, p2 = AgentSpec("heuristic", "heuristic"), AgentSpec("random", "random")
    if agents is not None:
        p1 = p2 = AgentSpec(",".join(agents), ",".join(agents))
    return RunSpec(
        run_id="t", p1=p1, p2=p2, format="gen9ou", n=4, seed=1, concurrency=1,
        move_delay=0.0, battle_timeout_s=600.0, server="sim", versions={"arena": "0"},
        started_at=100.0, agents=None if agents is None else [AgentSpec(a, a) for a in agents],
    )  # fmt: skip


def battle(
    i: int,
    winner: str | None,
    p1_team: str | None,
    p2_team: str | None,
    agents: tuple[str, str] | None = None,
) -> BattleRecord:
    p1_agent, p2_agent = agents or (None, None)
    return BattleRecord(
        f"battle-gen9ou-{i}", winner, 12, 1.0, None, None if winner else "crashed", 101.0,
        p1_agent=p1_agent, p2_agent=p2_agent, p1_team=p1_team, p2_team=p2_team,
    )  # fmt: skip


MATCH = [
    battle(0, "p1", A, B),  # heuristic wins with A, random loses with B
    battle(1, "p2", A, B),  # heuristic loses with A, random wins with B
    battle(2, "draw", B, A),  # heuristic draws with B, random with A
    battle(3, None, A, A),  # an error: left out
    battle(4, "p1", A, A),  # a mirror: A wins (heuristic) and loses (random)
]


def wld(score: TeamScore) -> tuple[int, int, int]:
    return (score.wins, score.losses, score.draws)


# --- statistics ----------------------------------------------------------------------------


def test_match_stats_per_agent_and_total():
    rows = team_stats(MATCH, spec())
    assert [r.team for r in rows] == [A, B]  # A: 5 sides played, B: 3
    a, b = rows
    assert wld(a.by_agent["heuristic"]) == (2, 1, 0)
    assert wld(a.by_agent["random"]) == (0, 1, 1)
    assert wld(a.total) == (2, 2, 1) and a.total.battles == 5
    assert a.total.win_rate == pytest.approx(0.5)
    assert a.total.ci95 == pytest.approx(wilson_interval(2.5, 5))
    assert a.by_agent["random"].win_rate == pytest.approx(0.25)  # a draw counts half
    assert a.by_agent["random"].ci95 == pytest.approx(wilson_interval(0.5, 2))
    assert wld(b.by_agent["random"]) == (1, 1, 0)
    assert wld(b.by_agent["heuristic"]) == (0, 0, 1)
    assert wld(b.total) == (1, 1, 1)
    assert team_agents(rows, spec()) == ["heuristic", "random"]  # p1 first


def test_errors_and_random_battles_are_left_out():
    assert team_stats([battle(0, None, A, B)], spec()) == []
    assert has_teams([battle(0, None, A, B)])  # the section shows, with a note
    random_battles = [battle(i, "p1", None, None) for i in range(3)]
    assert not has_teams(random_battles)
    assert team_stats(random_battles, spec()) == []
    assert TeamScore().win_rate is None and TeamScore().ci95 is None


def test_ties_sorted_by_name():
    battles = [
        battle(0, "p1", "z-team", "m-team"),
        battle(1, "p2", "b-team", A),
        battle(2, "p2", "z-team", "b-team"),
    ]
    assert [r.team for r in team_stats(battles, spec())] == ["b-team", "z-team", A, "m-team"]


def test_tournament_agents_come_from_each_battle():
    agents = ["random", "heuristic", "max-damage"]
    battles = [
        battle(0, "p1", A, B, ("heuristic", "random")),
        battle(1, "p2", B, A, ("heuristic", "random")),  # random wins with A
        battle(2, "draw", A, A, ("max-damage", "heuristic")),
        battle(3, None, B, B, ("max-damage", "random")),  # an error: left out
    ]
    rows = team_stats(battles, spec(agents))
    assert [r.team for r in rows] == [A, B]
    a, b = rows
    assert {agent: wld(s) for agent, s in a.by_agent.items()} == {
        "heuristic": (1, 0, 1),
        "random": (1, 0, 0),
        "max-damage": (0, 0, 1),
    }
    assert {agent: wld(s) for agent, s in b.by_agent.items()} == {
        "random": (0, 1, 0),
        "heuristic": (0, 1, 0),
    }
    assert wld(a.total) == (2, 0, 2) and wld(b.total) == (0, 2, 0)
    assert team_agents(rows, spec(agents)) == agents  # the tournament's order
    assert team_agents(rows[1:], spec(agents)) == ["random", "heuristic"]  # only who played


# --- chart ---------------------------------------------------------------------------------


def test_chart_one_trace_per_agent_with_intervals():
    battles = [*MATCH, battle(5, "p2", "teams/only-random.txt", "teams/only-random.txt")]
    rows = team_stats(battles, spec())
    fig = team_win_rate_chart(rows, ["heuristic", "random"])
    heuristic, random = fig.data
    assert [t.name for t in fig.data] == ["heuristic", "random"]
    assert heuristic.orientation == "h"
    assert list(heuristic.y) == [A, B, "teams/only-random.txt"]
    assert list(heuristic.x) == pytest.approx([2 / 3, 0.5, 0.0])
    assert list(random.x) == pytest.approx([0.25, 0.5, 1.0])
    low, high = wilson_interval(2, 3)
    assert heuristic.error_x.array[0] == pytest.approx(high - 2 / 3)
    assert heuristic.error_x.arrayminus[0] == pytest.approx(2 / 3 - low)
    assert heuristic.customdata[0][1] == "2-1-0"
    fig.to_json()


def test_chart_leaves_a_gap_where_an_agent_never_played_a_team():
    rows = team_stats([battle(0, "p1", A, B)], spec())
    heuristic, random = team_win_rate_chart(rows, ["heuristic", "random"]).data
    assert list(heuristic.x) == [1.0, None] and list(random.x) == [None, 0.0]
    assert heuristic.error_x.array[1] == 0


def test_chart_escapes_and_shortens_team_names():
    long = "/home/someone/" + "x" * 60 + "/my-team.txt"
    rows = team_stats([battle(0, "p1", EVIL_TEAM, long)], spec())
    fig = team_win_rate_chart(rows, ["heuristic", "random"])
    labels = list(fig.data[0].y)
    assert EVIL not in str(fig.to_json()) and any(ESCAPED in label for label in labels)
    short = [label for label in labels if label.endswith("my-team.txt")]
    assert short and short[0].startswith("…") and len(short[0]) == MAX_TEAM_LABEL
    # two names alike once shortened stay whole, so the axis does not merge them
    twins = ["a" + "x" * 60, "b" + "x" * 60]
    assert team_labels(twins) == twins


def test_chart_without_data_has_a_note():
    fig = team_win_rate_chart([], ["heuristic"])
    assert not fig.data and fig.layout.annotations
    fig.to_json()


# --- report --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def record() -> RunRecord:
    return load_record(FIXTURE)


def with_teams(record: RunRecord) -> RunRecord:
    """The fixture (a random-battle match) as if its battles had teams."""
    teams = [(EVIL_TEAM, A), (A, EVIL_TEAM), (A, A), (B, A), (EVIL_TEAM, B)]
    battles = [
        dataclasses.replace(b, p1_team=p1, p2_team=p2)
        for b, (p1, p2) in zip(record.battles, teams, strict=True)
    ]
    return dataclasses.replace(record, battles=battles)


def table_row(page: str, team: str) -> list[str]:
    """The cells of the Teams table's row of `team`, as text."""
    start = page.index(f"<tr><th><code>{team}</code></th>")
    row = page[start : page.index("</tr>", start)]
    return [cell.strip() for cell in re.sub(r"<[^>]+>", "\n", row).split("\n") if cell.strip()]


def test_match_report_has_a_teams_section(record: RunRecord):
    page = render_report(with_teams(record), FIXTURES)
    assert page.count('<section id="teams">') == 1 and 'id="chart-teams"' in page
    assert "llm:mini (p1)" in page and "random (p2)" in page and "all agents" in page
    assert EVIL not in page and ESCAPED in page  # team names are escaped everywhere
    assert f"p1 team <code>teams/{ESCAPED}.txt</code>" in page  # in the battle viewer
    # A: battles 52 (random, lost), 53 (llm:mini, won), 54 (both sides, p1 won); 55 failed
    assert table_row(page, A) == [A, "2-0-0", "100.0% [34.2%–100.0%]", "0-2-0",
                                  "0.0% [0.0%–65.8%]", "4", "50.0% [15.0%–85.0%]"]  # fmt: skip
    assert table_row(page, B) == [B, "–", "–", "1-0-0", "100.0% [20.7%–100.0%]", "1",
                                  "100.0% [20.7%–100.0%]"]  # fmt: skip
    bundle = plotly.offline.get_plotlyjs()
    assert page.count(bundle[:200]) == 1
    # The run's team options: none given, so both sides drew from the bundled pool.
    assert page.count(f"<code>teams/{record.spec.format}/ (bundled)</code>") == 2
    given = dataclasses.replace(record.spec, team1=f"/x/{EVIL_TEAM}")
    page = render_report(dataclasses.replace(with_teams(record), spec=given), FIXTURES)
    assert f"<td><code>/x/teams/{ESCAPED}.txt</code></td>" in page and EVIL not in page


def test_random_battle_report_has_no_teams(record: RunRecord):
    page = render_report(record, FIXTURES)
    assert "(bundled)" not in page
    assert 'id="teams"' not in page and "chart-teams" not in page
    assert "teams-played" not in page and "all agents" not in page  # nor its CSS


def make_tournament(tmp_path: Path) -> Path:
    agents = ["random", "heuristic", EVIL]
    battles = [
        battle(0, "p1", A, B, ("heuristic", "random")),
        battle(1, "p2", B, EVIL_TEAM, ("random", EVIL)),
        battle(2, "draw", EVIL_TEAM, A, (EVIL, "heuristic")),
        battle(3, None, A, A, ("heuristic", "random")),
    ]
    paths = RunPaths(tmp_path, "t")
    journal = Journal(paths.journal)
    journal.write_spec(spec(agents))
    for b in battles:
        journal.write_battle(b, [])
    journal.close()
    finalize(paths, finished=True)
    return paths.record


def test_tournament_report_has_a_teams_section(tmp_path: Path):
    record = load_record(make_tournament(tmp_path))
    assert record.leaderboard is not None
    page = render_report(record, tmp_path)
    assert 'id="leaderboard"' in page  # the tournament's page
    assert page.count('<section id="teams">') == 1 and 'id="chart-teams"' in page
    assert EVIL not in page and ESCAPED in page
    rows = team_stats(record.battles, record.spec)
    assert [r.team for r in rows] == [A, B, EVIL_TEAM]  # two sides each: by name
    assert wld(rows[0].by_agent["heuristic"]) == (1, 0, 1)
    assert wld(rows[2].by_agent[EVIL]) == (1, 0, 1)
    assert f'<th colspan="2">{ESCAPED}</th>' in page  # an agent's column

"""The leaderboard report of a tournament record (synthetic: no battles played)."""

from __future__ import annotations

from pathlib import Path

import plotly.offline

from arena.ratings import Leaderboard
from arena.run import finalize
from battle.journal import Journal
from battle.record import AgentSpec, BattleRecord, RunPaths, RunSpec, load_record
from viz import render_report, write_report
from viz.tournament_charts import pair_heatmap_chart, rating_chart

EVIL = "<script>alert(1)</script>"
AGENTS = ["random", "heuristic", EVIL]


def battle(i: int, p1: str, p2: str, winner: str) -> BattleRecord:
    return BattleRecord(f"battle-gen9randombattle-{i}", winner, 12, 1.0, None, None, 101.0,
                        p1_agent=p1, p2_agent=p2)  # fmt: skip


def make_record(tmp_path: Path) -> Path:
    everyone = AgentSpec(",".join(AGENTS), ",".join(AGENTS))
    spec = RunSpec(
        run_id="t1", p1=everyone, p2=everyone, format="gen9randombattle", n=10, seed=1,
        concurrency=4, move_delay=0.0, battle_timeout_s=600.0, server="sim",
        versions={"arena": "0"}, started_at=100.0, agents=[AgentSpec(a, a) for a in AGENTS],
    )  # fmt: skip
    battles, i = [], 0
    for a, b, a_wins in (("heuristic", "random", 9), ("random", EVIL, 4), ("heuristic", EVIL, 6)):
        for k in range(10):
            p1, p2 = (a, b) if k % 2 == 0 else (b, a)
            winner = "p1" if (p1 == a) == (k < a_wins) else "p2"
            battles.append(battle(i, p1, p2, winner))
            i += 1
    paths = RunPaths(tmp_path, "t1")
    journal = Journal(paths.journal)
    journal.write_spec(spec)
    for b in battles:
        journal.write_battle(b, [])
    journal.close()
    finalize(paths, finished=True)
    return paths.record


def test_leaderboard_page(tmp_path: Path):
    record_path = make_record(tmp_path)
    record = load_record(record_path)
    page = render_report(record, tmp_path)
    board = Leaderboard.from_dict(record.leaderboard)
    assert board.ratings[0].agent == "heuristic"

    # the ranking table: rank, agent, rating with its interval, record
    top = board.ratings[0]
    assert 'id="leaderboard"' in page and "<th>heuristic</th>" in page
    assert f"{top.rating:.0f}" in page and f"{top.ci95[0]:.0f} – {top.ci95[1]:.0f}" in page
    assert f"{top.wins}-{top.losses}-{top.draws}" in page
    # both charts, plotly embedded once
    assert 'id="chart-ratings"' in page and 'id="chart-head-to-head"' in page
    bundle = plotly.offline.get_plotlyjs()
    assert page.count(bundle[:200]) == 1 and "<script src=" not in page
    # every pair links into its battles in the viewer
    for n in range(30):
        assert f'href="#battle-{n}"' in page and f'id="battle-{n}"' in page
    assert "heuristic vs random" in page
    # agent names are escaped everywhere
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # the match report's sections that make no sense for a tournament are absent
    assert 'id="verdict"' not in page

    out = write_report(record_path, tmp_path / "r.html")
    assert 'id="chart-head-to-head"' in out.read_text()


def test_charts_carry_intervals_and_counts(tmp_path: Path):
    record = load_record(make_record(tmp_path))
    board = Leaderboard.from_dict(record.leaderboard)
    ratings = rating_chart(board).data[0]
    assert list(ratings.y) == [r.rating for r in board.ratings]
    assert list(ratings.error_y.array) == [r.ci95[1] - r.rating for r in board.ratings]
    heat = pair_heatmap_chart(board).data[0]
    names = [r.agent for r in board.ratings]
    h, r = names.index("heuristic"), names.index("random")
    assert heat.text[h][r] == "90% (9/10)" and heat.text[r][h] == "10% (1/10)"
    assert heat.z[h][r] == 0.9 and heat.text[h][h] == ""
    assert EVIL not in str(heat.x) and EVIL not in str(rating_chart(board).data[0].x)

"""The expected score against the pool (GXE-style) next to each Bradley–Terry rating."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from rich.console import Console

from arena.cli import print_leaderboard
from arena.ratings import Game, Leaderboard, expected_scores, rate
from battle.record import AgentSpec, BattleRecord, RunRecord, RunSpec
from battle.summary import summarize


def games_of(a: str, b: str, wins_a: int, wins_b: int, draws: int = 0) -> list[Game]:
    return [Game(a, b, 1.0)] * wins_a + [Game(a, b, 0.0)] * wins_b + [Game(a, b, 0.5)] * draws


def p_beats(r_i: float, r_j: float) -> float:
    """Win probability on the Elo scale: 400 points apart is 10:1."""
    return 1.0 / (1.0 + 10.0 ** ((r_j - r_i) / 400.0))


def test_expected_scores_by_hand():
    # θ = 0, ln 2, ln 4: σ(θ_i − θ_j) = γ_i / (γ_i + γ_j) with γ = 1, 2, 4
    theta = np.log([[1.0, 2.0, 4.0]])
    got = expected_scores(theta)[0]
    assert got[0] == pytest.approx((1 / 3 + 1 / 5) / 2)  # 4/15
    assert got[1] == pytest.approx((2 / 3 + 2 / 6) / 2)  # 1/2
    assert got[2] == pytest.approx((4 / 5 + 4 / 6) / 2)  # 11/15
    assert got.sum() == pytest.approx(1.5)  # a pool's expected scores average 1/2
    with pytest.raises(ValueError, match="two agents"):
        expected_scores(np.zeros((1, 1)))


def test_two_agents_gxe_is_the_pairwise_probability():
    board = rate(games_of("x", "y", 14, 6), resamples=500, seed=1)
    x, y = board.ratings  # best first
    assert x.agent == "x"
    assert x.gxe == pytest.approx(p_beats(x.rating, y.rating), abs=1e-9)
    assert y.gxe == pytest.approx(1.0 - x.gxe, abs=1e-9)
    # the prior pulls it a little towards 1/2 from the observed 14/20
    assert 0.5 < x.gxe < 0.7


def test_a_symmetric_pool_is_even():
    cycle = games_of("a", "b", 7, 3) + games_of("b", "c", 7, 3) + games_of("c", "a", 7, 3)
    even = games_of("a", "b", 5, 5) + games_of("b", "c", 5, 5) + games_of("a", "c", 2, 2, 6)
    for games in (cycle, even):
        board = rate(games, resamples=300, seed=2)
        for r in board.ratings:
            assert r.gxe == pytest.approx(0.5, abs=1e-9)
            assert r.gxe_ci95 is not None and r.gxe_ci95[0] < 0.5 < r.gxe_ci95[1]


def test_gxe_matches_the_ratings_and_its_interval_contains_it():
    games = (
        games_of("top", "mid", 15, 5)
        + games_of("mid", "low", 12, 8, 2)
        + games_of("top", "low", 18, 2)
    )
    board = rate(games, ["top", "mid", "low", "unseen"], resamples=1000, seed=3)
    by = {r.agent: r for r in board.ratings}
    for r in board.ratings:
        others = [o for o in board.ratings if o.agent != r.agent]
        hand = sum(p_beats(r.rating, o.rating) for o in others) / len(others)
        assert r.gxe == pytest.approx(hand, abs=1e-9)
        low, high = r.gxe_ci95
        assert 0.0 <= low <= r.gxe <= high <= 1.0
    assert sum(r.gxe for r in board.ratings) == pytest.approx(len(board.ratings) / 2)
    assert by["top"].gxe > by["mid"].gxe > by["low"].gxe
    # an agent without games is drawn from the prior: a wide interval, not a false certainty
    unseen = by["unseen"].gxe_ci95
    assert unseen[1] - unseen[0] > by["mid"].gxe_ci95[1] - by["mid"].gxe_ci95[0]


def test_more_battles_narrow_the_gxe_interval():
    few = rate(games_of("x", "y", 6, 4) + games_of("y", "z", 6, 4), resamples=800, seed=4)
    many = rate(games_of("x", "y", 60, 40) + games_of("y", "z", 60, 40), resamples=800, seed=4)

    def width(board: Leaderboard) -> float:
        low, high = next(r for r in board.ratings if r.agent == "x").gxe_ci95
        return high - low

    assert width(many) < width(few) / 2


def test_one_agent_has_no_gxe_and_the_dict_leaves_it_out():
    board = rate([], ["solo"], resamples=10)
    assert board.ratings[0].gxe is None and board.ratings[0].gxe_ci95 is None
    data = board.to_dict()
    assert "gxe" not in data["ratings"][0] and "gxe_ci95" not in data["ratings"][0]
    assert Leaderboard.from_dict(data) == board


def test_a_record_without_the_field_still_loads():
    board = rate(games_of("x", "y", 7, 3) + games_of("y", "z", 6, 4), resamples=200, seed=5)
    data = json.loads(json.dumps(board.to_dict()))
    assert isinstance(data["ratings"][0]["gxe_ci95"], list)
    assert Leaderboard.from_dict(data) == board
    for r in data["ratings"]:  # as written before the field existed
        del r["gxe"], r["gxe_ci95"]
    old = Leaderboard.from_dict(data)
    assert all(r.gxe is None and r.gxe_ci95 is None for r in old.ratings)
    assert [r.rating for r in old.ratings] == [r.rating for r in board.ratings]
    assert old.to_dict() == data  # and it is written back unchanged


def _tournament(leaderboard: dict) -> RunRecord:
    agents = ["random", "heuristic", "max-damage"]
    everyone = AgentSpec(",".join(agents), ",".join(agents))
    spec = RunSpec(
        run_id="t", p1=everyone, p2=everyone, format="gen9randombattle", n=10, seed=1,
        concurrency=1, move_delay=0.0, battle_timeout_s=600.0, server="sim", versions={},
        started_at=0.0, agents=[AgentSpec(a, a) for a in agents],
    )  # fmt: skip
    battles = [BattleRecord("b0", "p1", 3, 1.0, None, p1_agent="heuristic", p2_agent="random")]
    return RunRecord(spec, battles, [], summarize(battles, [], 0.0), leaderboard=leaderboard)


def test_console_shows_gxe_and_old_records_print_without_it():
    games = games_of("heuristic", "random", 9, 1) + games_of("max-damage", "random", 6, 4)
    data = rate(games, resamples=200, seed=6).to_dict()
    out = io.StringIO()
    print_leaderboard(_tournament(data), Console(file=out, width=160, color_system=None))
    text = out.getvalue()
    top = data["ratings"][0]
    low, high = top["gxe_ci95"]
    assert "GXE [95% CI]" in text
    assert f"{top['gxe']:.0%} [{low:.0%}, {high:.0%}]" in text
    for r in data["ratings"]:
        del r["gxe"], r["gxe_ci95"]
    out = io.StringIO()
    print_leaderboard(_tournament(data), Console(file=out, width=160, color_system=None))
    assert "GXE" not in out.getvalue() and "heuristic" in out.getvalue()


def test_gxe_is_finite_for_an_unbeaten_agent():
    board = rate(games_of("x", "y", 30, 0), resamples=300, seed=7)
    x = board.ratings[0]
    assert x.agent == "x" and math.isfinite(x.gxe) and 0.9 < x.gxe < 1.0
    assert x.gxe_ci95[1] < 1.0

"""Bradley–Terry ratings: recovery of known strengths, regularisation, bootstrap, records."""

from __future__ import annotations

import itertools
import json
import math
import time

import numpy as np
import pytest

from arena.ratings import (
    ANCHOR_RATING,
    ELO_SCALE,
    Game,
    Leaderboard,
    battles_needed,
    fit_bradley_terry,
    rate,
)
from battle.summary import wilson_interval

TRUE_ELO = {"a1000": 1000.0, "b1100": 1100.0, "c1200": 1200.0, "d1350": 1350.0, "e1500": 1500.0}


def synthetic_games(seed: int, per_pair: int = 100, draw_rate: float = 0.0) -> list[Game]:
    """Games drawn from the Bradley–Terry win probability of TRUE_ELO, sides alternating."""
    rng = np.random.default_rng(seed)
    names = list(TRUE_ELO)
    games = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            p_a = 1.0 / (1.0 + 10.0 ** ((TRUE_ELO[b] - TRUE_ELO[a]) / 400.0))
            for k in range(per_pair):
                u = rng.random()
                score = 0.5 if u < draw_rate else (1.0 if rng.random() < p_a else 0.0)
                games.append(Game(a, b, score) if k % 2 else Game(b, a, 1.0 - score))
    return games


def games_of(a: str, b: str, wins_a: int, wins_b: int, draws: int = 0) -> list[Game]:
    return [Game(a, b, 1.0)] * wins_a + [Game(a, b, 0.0)] * wins_b + [Game(a, b, 0.5)] * draws


def penalised_mm(wins: np.ndarray, m: float, iterations: int = 20000) -> np.ndarray:
    """Reference fit: Hunter's MM iteration with a virtual opponent of strength 1 (θ = 0)."""
    k = len(wins)
    games = wins + wins.T
    score = wins.sum(axis=1) + m / 2
    gamma = np.ones(k)
    for _ in range(iterations):
        denom = (games / (gamma[:, None] + gamma[None, :])).sum(axis=1) + m / (gamma + 1.0)
        gamma = score / denom
    return np.log(gamma)


# --- the fit -----------------------------------------------------------------------------


def test_fit_matches_a_reference_mm_iteration():
    games = synthetic_games(seed=3, per_pair=20, draw_rate=0.1)
    names = list(TRUE_ELO)
    ratings = fit_bradley_terry(games, names, prior_games=2.0)
    index = {n: i for i, n in enumerate(names)}
    wins = np.zeros((5, 5))
    for g in games:
        wins[index[g.a], index[g.b]] += g.score_a
        wins[index[g.b], index[g.a]] += 1.0 - g.score_a
    theta = penalised_mm(wins, m=2.0)
    expected = ANCHOR_RATING + ELO_SCALE * (theta - theta[0])
    for name, value in zip(names, expected, strict=True):
        assert ratings[name] == pytest.approx(value, abs=1e-6)


def test_two_agents_have_the_closed_form_gap_without_much_prior():
    # 30-10 with a tiny prior: the MLE gap is 400·log10(30/10).
    ratings = fit_bradley_terry(games_of("x", "y", 30, 10), ["x", "y"], prior_games=1e-6)
    assert ratings["x"] == 1000.0
    assert ratings["x"] - ratings["y"] == pytest.approx(400 * math.log10(3), abs=1e-2)


def test_recovers_the_true_order_and_covers_the_truth_in_most_seeds():
    # 20 data sets of 1000 games (100 per pair); 300 resamples each to stay fast: enough for
    # 2.5/97.5 percentiles to within a few Elo points.
    names = list(TRUE_ELO)
    truth_order = sorted(names, key=lambda n: -TRUE_ELO[n])
    covered = cases = ordered = 0
    for seed in range(20):
        board = rate(synthetic_games(seed), names, resamples=300, seed=seed)
        assert board.anchor == "a1000"
        ordered += [r.agent for r in board.ratings] == truth_order
        for r in board.ratings:
            if r.agent == board.anchor:
                continue
            cases += 1
            covered += r.ci95[0] <= TRUE_ELO[r.agent] <= r.ci95[1]
    assert cases == 80
    assert covered / cases >= 0.8
    assert ordered >= 18  # 100-point gaps are ~3 standard errors: order errors are rare
    first = rate(synthetic_games(0), names, resamples=300)
    assert [r.agent for r in first.ratings] == truth_order


def test_draws_count_as_half_a_win():
    with_draws = games_of("x", "y", 3, 1, draws=4)  # x scores 5 of 8
    without = games_of("x", "y", 5, 3)
    assert fit_bradley_terry(with_draws, ["x", "y"]) == pytest.approx(
        fit_bradley_terry(without, ["x", "y"])
    )
    only_draws = fit_bradley_terry(games_of("x", "y", 0, 0, draws=10), ["x", "y"])
    assert only_draws["y"] == pytest.approx(1000.0, abs=1e-9)
    board = rate(with_draws, resamples=200)
    x = next(r for r in board.ratings if r.agent == "x")
    assert (x.wins, x.losses, x.draws, x.battles) == (3, 1, 4, 8)


def test_perfect_winner_and_loser_stay_finite_and_ordered():
    games = (
        games_of("top", "mid", 20, 0)
        + games_of("mid", "bottom", 12, 8)
        + games_of("top", "bottom", 20, 0)
        + games_of("bottom", "floor", 20, 0)
        + games_of("mid", "floor", 20, 0)
    )
    board = rate(games, ["floor", "bottom", "mid", "top"], resamples=300)
    assert [r.agent for r in board.ratings] == ["top", "mid", "bottom", "floor"]
    for r in board.ratings:
        assert math.isfinite(r.rating) and all(math.isfinite(v) for v in r.ci95)
        assert r.ci95[0] <= r.rating <= r.ci95[1]
    # More evidence of the same sweep: a bigger but still finite gap.
    small = fit_bradley_terry(games_of("x", "y", 10, 0), ["x", "y"])
    large = fit_bradley_terry(games_of("x", "y", 1000, 0), ["x", "y"])
    assert 0 < small["x"] - small["y"] < large["x"] - large["y"] < 3000


def test_disconnected_groups_and_an_agent_without_games():
    games = games_of("a", "b", 7, 3) + games_of("c", "d", 2, 8)
    board = rate(games, ["a", "b", "c", "d", "idle"], resamples=500)
    by = {r.agent: r for r in board.ratings}
    assert all(math.isfinite(r.rating) for r in board.ratings)
    assert by["a"].rating > by["b"].rating and by["d"].rating > by["c"].rating
    idle = by["idle"]
    assert (idle.wins, idle.losses, idle.draws, idle.battles) == (0, 0, 0, 0)
    # No data: the prior's interval (sd 2/sqrt(m) in θ, about ±680 Elo for m = 1).
    assert idle.ci95[1] - idle.ci95[0] > 1000
    assert idle.ci95[1] - idle.ci95[0] > 2 * (by["b"].ci95[1] - by["b"].ci95[0])
    assert {(p.a, p.b) for p in board.pairs} == {("a", "b"), ("c", "d")}
    # No games at all still gives a leaderboard.
    empty = rate([], ["random", "x"], resamples=100)
    assert [r.rating for r in empty.ratings] == [1000.0, 1000.0]
    assert empty.comparisons[0].conclusive is False


def test_anchor_is_exactly_1000_with_a_degenerate_interval():
    games = synthetic_games(1, per_pair=20)
    names = list(TRUE_ELO)
    # Default anchor: the first agent, or "random" when it plays.
    assert rate(games, names, resamples=100).anchor == "a1000"
    renamed = [Game("random" if g.a == "c1200" else g.a, g.b, g.score_a) for g in games]
    renamed = [Game(g.a, "random" if g.b == "c1200" else g.b, g.score_a) for g in renamed]
    assert rate(renamed, resamples=100).anchor == "random"
    for anchor in ("a1000", "d1350"):
        board = rate(games, names, anchor=anchor, resamples=200)
        mine = next(r for r in board.ratings if r.agent == anchor)
        assert board.anchor == anchor
        assert mine.rating == 1000.0 and mine.ci95 == (1000.0, 1000.0)
        assert fit_bradley_terry(games, names, anchor=anchor)[anchor] == 1000.0
    # Moving the anchor shifts every rating by the same amount.
    a = fit_bradley_terry(games, names, anchor="a1000")
    d = fit_bradley_terry(games, names, anchor="d1350")
    shift = a["d1350"] - 1000.0
    for name in names:
        assert a[name] - d[name] == pytest.approx(shift, abs=1e-6)


def test_deterministic_for_a_seed():
    games = synthetic_games(2, per_pair=10, draw_rate=0.1)
    first = rate(games, resamples=300, seed=7).to_dict()
    assert rate(games, resamples=300, seed=7).to_dict() == first
    other = rate(games, resamples=300, seed=8).to_dict()
    assert other["ratings"][0]["rating"] == first["ratings"][0]["rating"]  # the fit has no noise
    assert other["ratings"][0]["ci95"] != first["ratings"][0]["ci95"]


def test_to_dict_round_trips_through_json():
    games = synthetic_games(4, per_pair=6, draw_rate=0.2) + games_of("f", "a1000", 1, 1)
    board = rate(games, [*TRUE_ELO, "f", "idle"], resamples=200, seed=3)
    data = json.loads(json.dumps(board.to_dict()))
    assert set(data) == {"ratings", "pairs", "comparisons", "anchor", "resamples", "seed"}
    assert isinstance(data["ratings"][0]["ci95"], list)
    assert set(data["ratings"][0]) == {
        "agent",
        "rating",
        "ci95",
        "wins",
        "losses",
        "draws",
        "battles",
        "gxe",
        "gxe_ci95",
    }
    again = Leaderboard.from_dict(data)
    assert again == board
    assert isinstance(again.ratings[0].ci95, tuple)


def test_pairs_count_head_to_head_with_wilson_intervals():
    games = [*games_of("b", "a", 3, 5, draws=2), Game("a", "b", 1.0), *games_of("a", "c", 1, 0)]
    board = rate(games, ["a", "b", "c"], resamples=100)
    assert [(p.a, p.b) for p in board.pairs] == [("a", "b"), ("a", "c")]  # agents' order
    ab = board.pairs[0]
    assert (ab.wins_a, ab.wins_b, ab.draws, ab.battles) == (6, 3, 2, 11)
    assert ab.score_a == pytest.approx(7 / 11)
    assert ab.ci95 == wilson_interval(7, 11)
    assert ab.ci95[0] < ab.score_a < ab.ci95[1]
    by = {r.agent: r for r in board.ratings}
    assert (by["a"].wins, by["a"].losses, by["a"].draws, by["a"].battles) == (7, 3, 2, 12)
    assert (by["b"].wins, by["b"].losses, by["b"].draws, by["b"].battles) == (3, 6, 2, 11)


def test_comparisons_cover_adjacent_pairs_in_rank_order():
    board = rate(synthetic_games(5, per_pair=30), resamples=300)
    ranked = [r.agent for r in board.ratings]
    assert [r.rating for r in board.ratings] == sorted(
        (r.rating for r in board.ratings), reverse=True
    )
    assert [(c.higher, c.lower) for c in board.comparisons] == list(itertools.pairwise(ranked))
    for c in board.comparisons:
        assert 0.0 <= c.p_higher_better <= 1.0
        assert (c.battles_needed is None) == c.conclusive
        if c.conclusive:
            assert c.p_higher_better > 0.95


def test_battles_needed_is_none_when_conclusive_and_follows_the_formula_otherwise():
    z2 = 1.959964**2
    close = rate(games_of("x", "y", 6, 4), resamples=1000)
    (cmp,) = close.comparisons
    assert (cmp.higher, cmp.lower, cmp.conclusive) == ("x", "y", False)
    assert 0.5 < cmp.p_higher_better < 1.0
    # The Wilson interval around p = 0.6 excludes 1/2 once n > z²/(4·0.1²) = 96.04: 97 in all.
    assert cmp.battles_needed == math.floor(z2 / (4 * 0.1**2)) + 1 - 10 == 87
    # ...and at that n it really does.
    assert wilson_interval(0.6 * 97, 97)[0] > 0.5 > wilson_interval(0.6 * 96, 96)[0]

    clear = rate(games_of("x", "y", 90, 10), resamples=1000)
    assert clear.comparisons[0].conclusive is True
    assert clear.comparisons[0].battles_needed is None
    assert clear.comparisons[0].p_higher_better == 1.0

    even = rate(games_of("x", "y", 5, 5), resamples=1000)
    assert even.comparisons[0].conclusive is False
    assert even.comparisons[0].battles_needed is None  # p = 1/2 exactly: documented

    assert battles_needed(1.0, 2) == 2  # Wilson: n > z²/1 = 3.84, so 4 in all
    assert battles_needed(0.6, 500) == 1  # at least one
    assert battles_needed(0.4, 0) == battles_needed(0.6, 0) == 97
    assert battles_needed(0.5, 0) is None


def test_a_clear_head_to_head_with_overlapping_ratings_scales_the_rating_interval():
    # x-y 4-0: Wilson's interval already excludes 1/2 (n = 4 > 3.84); with the other
    # pairs' battles resampled too, the ratings' interval does not.
    games = games_of("x", "y", 4, 0) + games_of("x", "z", 3, 1) + games_of("y", "z", 3, 1)
    board = rate(games, ["x", "y", "z"], resamples=1000)
    cmp = board.comparisons[0]
    assert (cmp.higher, cmp.lower, cmp.conclusive) == ("x", "y", False)
    assert wilson_interval(4, 4)[0] > 0.5
    # The estimate comes from the rating interval's reach, and it is borne out: that many
    # more x-y battles at the same rate make the order conclusive.
    assert cmp.battles_needed is not None
    more = games + games_of("x", "y", cmp.battles_needed, 0)
    assert rate(more, ["x", "y", "z"], resamples=1000).comparisons[0].conclusive is True


def test_battles_needed_uses_the_ratings_when_the_pair_never_met():
    games = games_of("x", "z", 6, 4) + games_of("y", "z", 6, 4)
    board = rate(games, ["x", "y", "z"], resamples=300)
    top, second = board.ratings[0], board.ratings[1]
    cmp = board.comparisons[0]
    assert {top.agent, second.agent} == {"x", "y"} and not cmp.conclusive
    # Equal records: equal ratings, implied p = 1/2, so no number of battles separates them.
    assert top.rating == pytest.approx(second.rating)
    assert 0.3 < cmp.p_higher_better < 0.7
    assert cmp.battles_needed is None
    # Different records against a common opponent: the p their ratings imply, none played.
    games = games_of("x", "z", 7, 3) + games_of("y", "z", 6, 4)
    board = rate(games, ["x", "y", "z"], resamples=300)
    by = {r.agent: r.rating for r in board.ratings}
    cmp = board.comparisons[0]
    assert (cmp.higher, cmp.lower, cmp.conclusive) == ("x", "y", False)
    p = 1.0 / (1.0 + 10.0 ** ((by["y"] - by["x"]) / 400.0))
    assert 0.5 < p < 0.6
    assert cmp.battles_needed == math.floor(1.959964**2 / (4 * (p - 0.5) ** 2)) + 1


def test_bad_input_says_what_is_wrong():
    with pytest.raises(ValueError, match="score_a"):
        Game("x", "y", 0.7)
    with pytest.raises(ValueError, match="not in agents"):
        rate(games_of("x", "y", 1, 1), ["x"])
    with pytest.raises(ValueError, match="anchor"):
        rate(games_of("x", "y", 1, 1), anchor="z")
    with pytest.raises(ValueError, match="prior_games"):
        rate(games_of("x", "y", 1, 1), prior_games=0)
    with pytest.raises(ValueError, match="no agents"):
        rate([])
    # Mirror games carry no information and are left out.
    mirror = [*games_of("x", "y", 3, 1), Game("x", "x", 1.0)]
    board = rate(mirror, resamples=100)
    assert (
        board.to_dict()["ratings"]
        == rate(games_of("x", "y", 3, 1), resamples=100).to_dict()["ratings"]
    )


def test_a_thousand_resamples_of_600_games_are_fast():
    names = list(TRUE_ELO)
    games = synthetic_games(6, per_pair=60, draw_rate=0.05)
    assert len(games) == 600
    start = time.perf_counter()
    board = rate(games, names, resamples=1000)
    elapsed = time.perf_counter() - start
    assert board.resamples == 1000
    assert elapsed < 2.0

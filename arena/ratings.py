"""Ratings with bootstrap intervals: which agent is strongest, and how sure.

`rate` fits the Bradley–Terry model of `arena.bradley_terry` (regularised maximum
likelihood, Elo scale with the anchor at 1000, bootstrap resamples; its docstring has the
model) and turns the fit into a `Leaderboard`: every agent's rating with its 95% interval
(the 2.5 and 97.5 percentiles of the resamples) and record, the head to head of every pair
that met, and whether each pair adjacent in the ranking is in a conclusive order.
`games_of` turns a run's battles into the games rated.

Expected score (GXE-style, as Metamon and the PokéAgent Challenge publish it). Next to its
rating, each agent gets its expected score against the rest of the pool: the mean over every
other agent j of σ(θ_i − θ_j), its predicted chance of beating an opponent drawn uniformly
from the pool, so 0.5 is the middle of the pool. It is a property of the pool (adding a weak
agent raises everyone else's), unlike a rating difference. Its 95% interval is the 2.5 and
97.5 percentiles of the same figure computed in every bootstrap resample's fit.

The model's names (`Game`, `fit_bradley_terry`, `expected_scores`, `ELO_SCALE`,
`ANCHOR_RATING`, `DEFAULT_ANCHOR`) are importable from here too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from arena.bradley_terry import (
    ANCHOR_RATING,
    DEFAULT_ANCHOR,
    ELO_SCALE,
    Bootstrap,
    Game,
    bootstrap,
    expected_scores,
    fit_bradley_terry,
)
from battle.summary import wilson_interval

if TYPE_CHECKING:
    from battle.record import BattleRecord, RunSpec

Z95 = 1.959964


def games_of(battles: Sequence[BattleRecord], spec: RunSpec) -> list[Game]:
    """The rated games of a run's battles, under the agents' names as given: every battle
    with a result (errors left out; a draw is half a win to each side). The one conversion
    for a tournament's own battles, its `--include`d runs and the leaderboard across runs
    (`viz.leaderboard`): a tournament's battle names its agents, a match's spec does."""
    games = []
    for b in battles:
        if b.winner is None:
            continue
        score = {"p1": 1.0, "p2": 0.0, "draw": 0.5}[b.winner]
        games.append(Game(b.agent("p1", spec), b.agent("p2", spec), score))
    return games


@dataclass(frozen=True)
class Rating:
    """One agent's rating (Elo scale, anchor = 1000) with its 95% bootstrap interval.

    `gxe` is the agent's expected score against the rest of the pool (see the module's
    docstring), with `gxe_ci95` its 95% bootstrap interval; both None for a pool of one
    agent and in leaderboards recorded before the field existed.
    """

    agent: str
    rating: float
    ci95: tuple[float, float]
    wins: int
    losses: int
    draws: int
    battles: int
    gxe: float | None = None
    gxe_ci95: tuple[float, float] | None = None


@dataclass(frozen=True)
class PairResult:
    """Head to head of two agents that met, `a` before `b` in the agents' order."""

    a: str
    b: str
    wins_a: int
    wins_b: int
    draws: int
    battles: int
    score_a: float  # (wins_a + draws/2) / battles
    ci95: tuple[float, float]  # Wilson interval of score_a


@dataclass(frozen=True)
class Comparison:
    """Two agents next to each other in the ranking: is the order real?

    `p_higher_better` is the share of bootstrap resamples in which `higher` rates above
    `lower` (an exact tie counts as half). `conclusive`: the 95% bootstrap interval of
    rating(higher) − rating(lower) excludes 0. `battles_needed` is None when conclusive;
    otherwise the number of further head-to-head battles after which, at the observed
    head-to-head score p (or, if they never met, the p the ratings imply), a 95% Wilson
    interval around p would exclude 1/2: the smallest n with n > z²/(4(p − 1/2)²), minus the
    battles already played, at least 1. When p is exactly 1/2 no number of battles separates
    them at that rate and `battles_needed` is None too: None with `conclusive` False means
    "not separable at the observed rate" (for a p implied by ratings, equal means within
    1e-6 Elo). When the head-to-head alone would already exclude 1/2 but the ratings'
    interval does not (few battles, where the bootstrap is wider than Wilson's interval),
    the interval of the rating difference is scaled instead: the distance from the point
    estimate to its lower end shrinks as 1/sqrt(battles), so the interval excludes 0 after
    about played·(distance/gap)² battles.
    """

    higher: str
    lower: str
    p_higher_better: float
    conclusive: bool
    battles_needed: int | None


@dataclass(frozen=True)
class Leaderboard:
    """Ratings best first, head-to-head results, and adjacent-pair comparisons."""

    ratings: list[Rating]
    pairs: list[PairResult]
    comparisons: list[Comparison]
    anchor: str
    resamples: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; tuples become lists."""

        def plain(obj: Any) -> dict[str, Any]:
            data = asdict(obj)
            for key in ("ci95", "gxe_ci95"):
                if key in data and data[key] is not None:
                    data[key] = list(data[key])
            for key in ("gxe", "gxe_ci95"):  # unset: left out, as in older records
                if key in data and data[key] is None:
                    del data[key]
            return data

        return {
            "ratings": [plain(r) for r in self.ratings],
            "pairs": [plain(p) for p in self.pairs],
            "comparisons": [plain(c) for c in self.comparisons],
            "anchor": self.anchor,
            "resamples": self.resamples,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Leaderboard:
        def interval(value: Sequence[float]) -> tuple[float, float]:
            low, high = value
            return (float(low), float(high))

        def rating(r: dict[str, Any]) -> Rating:
            gxe_ci95 = r.get("gxe_ci95")  # absent from records older than the field
            return Rating(
                **{
                    **r,
                    "ci95": interval(r["ci95"]),
                    "gxe_ci95": None if gxe_ci95 is None else interval(gxe_ci95),
                }
            )

        return cls(
            ratings=[rating(r) for r in d["ratings"]],
            pairs=[PairResult(**{**p, "ci95": interval(p["ci95"])}) for p in d["pairs"]],
            comparisons=[Comparison(**c) for c in d["comparisons"]],
            anchor=d["anchor"],
            resamples=int(d["resamples"]),
            seed=int(d["seed"]),
        )


# --- how many more battles ---------------------------------------------------------------


def _wilson_total(p: float, z: float = Z95) -> int | None:
    """The smallest n at which a Wilson interval around score p excludes 1/2: the
    interval excludes it when |p − 1/2| > z·sqrt(1/(4n)), i.e. n > z²/(4(p − 1/2)²).
    None when p is exactly 1/2 (no number of battles separates the two at that rate)."""
    if p == 0.5:
        return None
    return math.floor(z * z / (4.0 * (p - 0.5) ** 2)) + 1


def battles_needed(p: float, played: int, z: float = Z95) -> int | None:
    """Further battles after which a Wilson interval around score p would exclude 1/2:
    `_wilson_total(p)` minus `played`, at least 1; None when p is exactly 1/2."""
    total = _wilson_total(p, z)
    return None if total is None else max(1, total - played)


def _scaled_more(played: int, reach: float, gap: float) -> int | None:
    """Further battles for an interval reaching `reach` below `gap` (shrinking as
    1/sqrt(battles)) to exclude 0; None when the gap is 0 or nothing was played."""
    if played <= 0 or gap <= 0 or reach <= 0:
        return None
    return max(1, math.ceil(played * (reach / gap) ** 2) - played)


# --- the leaderboard ---------------------------------------------------------------------


def _pairs(games: Sequence[Game], names: list[str]) -> list[PairResult]:
    index = {name: i for i, name in enumerate(names)}
    tally: dict[tuple[int, int], list[int]] = {}  # (i, j), i < j: [wins_i, wins_j, draws]
    for g in games:
        i, j = index[g.a], index[g.b]
        if i == j:
            continue
        score_i = g.score_a if i < j else 1.0 - g.score_a
        row = tally.setdefault((min(i, j), max(i, j)), [0, 0, 0])
        row[0 if score_i == 1.0 else 1 if score_i == 0.0 else 2] += 1
    out = []
    for (i, j), (wins_a, wins_b, draws) in sorted(tally.items()):
        n = wins_a + wins_b + draws
        score = wins_a + 0.5 * draws
        low, high = wilson_interval(score, n)
        out.append(PairResult(names[i], names[j], wins_a, wins_b, draws, n, score / n, (low, high)))
    return out


def _records(games: Sequence[Game], index: dict[str, int]) -> np.ndarray:
    """(K, 3): each agent's wins, losses and draws; mirror games left out."""
    record = np.zeros((len(index), 3), dtype=np.int64)
    for g in games:
        if g.a == g.b:
            continue
        i, j = index[g.a], index[g.b]
        if g.score_a == 0.5:
            record[i, 2] += 1
            record[j, 2] += 1
        else:
            winner, loser = (i, j) if g.score_a == 1.0 else (j, i)
            record[winner, 0] += 1
            record[loser, 1] += 1
    return record


def _comparisons(fit: Bootstrap, order: list[int], pairs: list[PairResult]) -> list[Comparison]:
    """Each pair adjacent in the ranking `order` (indices into `fit.names`, best first)."""
    names, point, boot = fit.names, fit.point, fit.boot
    by_pair = {frozenset((p.a, p.b)): p for p in pairs}
    comparisons = []
    for hi, lo in pairwise(order):
        diff = boot[:, hi] - boot[:, lo]
        p_better = float(np.mean(diff > 0) + 0.5 * np.mean(diff == 0))
        d_low, d_high = np.percentile(diff, [2.5, 97.5])
        conclusive = bool(d_low > 0 or d_high < 0)
        needed = None
        if not conclusive:
            met = by_pair.get(frozenset((names[hi], names[lo])))
            if met is None:
                gap = float(point[hi] - point[lo])
                # Ratings equal to rounding error imply exactly 1/2 (else n would be absurd).
                p_hi = 0.5 if gap < 1e-6 else 1.0 / (1.0 + 10.0 ** (-gap / 400.0))
                needed = battles_needed(p_hi, 0)
            else:
                p_hi = met.score_a if met.a == names[hi] else 1.0 - met.score_a
                needed = battles_needed(p_hi, met.battles)
                total = _wilson_total(p_hi)
                if total is not None and total <= met.battles:  # the head-to-head is clear
                    gap = float(point[hi] - point[lo])
                    needed = _scaled_more(met.battles, gap - d_low, gap) or needed
        comparisons.append(Comparison(names[hi], names[lo], p_better, conclusive, needed))
    return comparisons


def rate(
    games: Sequence[Game],
    agents: Sequence[str] | None = None,
    *,
    anchor: str | None = None,
    resamples: int = 1000,
    seed: int = 0,
    prior_games: float = 1.0,
) -> Leaderboard:
    """Fit Bradley–Terry on `games`, bootstrap it, and rank the agents.

    `agents` fixes the agents and their order (default: in order of first appearance in
    `games`); agents without games are rated at the prior with a wide interval. Mirror games
    (a == b) are ignored. Deterministic for a given seed.
    """
    fit = bootstrap(
        games, agents, anchor=anchor, resamples=resamples, seed=seed, prior_games=prior_games
    )
    names, point = fit.names, fit.point
    k = len(names)
    low, high = np.percentile(fit.boot, [2.5, 97.5], axis=0)
    gxe: list[float | None] = [None] * k
    gxe_ci: list[tuple[float, float] | None] = [None] * k
    if k > 1:
        gxe_point = expected_scores(fit.theta)[0]  # (K,)
        gxe_low, gxe_high = np.percentile(expected_scores(fit.theta_boot), [2.5, 97.5], axis=0)
        gxe = [float(x) for x in gxe_point]
        gxe_ci = [(float(lo), float(hi)) for lo, hi in zip(gxe_low, gxe_high, strict=True)]
    record = _records(games, {name: i for i, name in enumerate(names)})

    order = sorted(range(k), key=lambda i: -point[i])  # stable: ties keep the agents' order
    ratings = [
        Rating(
            agent=names[i],
            rating=float(point[i]),
            ci95=(float(low[i]), float(high[i])),
            wins=int(record[i, 0]),
            losses=int(record[i, 1]),
            draws=int(record[i, 2]),
            battles=int(record[i].sum()),
            gxe=gxe[i],
            gxe_ci95=gxe_ci[i],
        )
        for i in order
    ]
    pairs = _pairs(games, names)
    return Leaderboard(
        ratings=ratings,
        pairs=pairs,
        comparisons=_comparisons(fit, order, pairs),
        anchor=fit.anchor,
        resamples=resamples,
        seed=seed,
    )


__all__ = [
    "ANCHOR_RATING",
    "DEFAULT_ANCHOR",
    "ELO_SCALE",
    "Z95",
    "Comparison",
    "Game",
    "Leaderboard",
    "PairResult",
    "Rating",
    "battles_needed",
    "expected_scores",
    "fit_bradley_terry",
    "games_of",
    "rate",
]

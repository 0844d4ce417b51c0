"""The Bradley–Terry model: a regularised maximum-likelihood fit and its bootstrap.

Model. Agent i has a log-strength θ_i and beats agent j with probability

    P(i beats j) = σ(θ_i − θ_j) = 1 / (1 + exp(θ_j − θ_i)).

A game's score for `a` is 1 (a won), 0 (b won) or 1/2 (a draw counts as half a win to each
side). With W[i, j] the total score of i against j, the log-likelihood is

    ℓ(θ) = Σ_{i≠j} W[i, j] · log σ(θ_i − θ_j).

Regularisation. Every agent also plays `prior_games` (m) virtual games against a virtual
opponent of fixed strength θ = 0, winning half of them:

    ℓ_m(θ) = ℓ(θ) + Σ_i (m/2) · [log σ(θ_i) + log σ(−θ_i)].

The penalty is strictly concave, so the maximum exists and is unique even when an agent
wins (or loses) every game or the agents fall into groups that never met: ratings stay
finite and keep their order. It pulls ratings towards the middle of the field by about what
m extra games would; with tens of games per pair the pull is a few Elo points. An agent with
no games at all sits at θ = 0. Near θ = 0 the penalty is a Gaussian prior with variance 4/m.

Fit. Newton's method on ℓ_m with a backtracking (Armijo) line search, vectorised over a
batch of win matrices (the point estimate and every bootstrap resample at once); the
Hessian is positive definite thanks to the prior, so each step is one small linear solve.

Scale. Ratings are on the Elo scale, 400·log10 odds: rating_i = 1000 + (400 / ln 10)·(θ_i −
θ_anchor). The anchor (default `random` when it plays, else the first agent) is exactly 1000
in the point estimate and in every bootstrap resample, so intervals are relative to the
anchor and the anchor's own interval is [1000, 1000].

Bootstrap. Games are resampled with replacement `resamples` times (numpy's default_rng(seed))
and the model is refitted on each resample (`bootstrap`). Resampling G games is drawn as a
multinomial over the distinct (a, b, score) cells of the game list, which has the same
distribution and needs no per-game work. An agent with no games in the data gets, in each
resample, a draw from its prior (θ ~ N(0, 4/m)) so its interval is wide (about ±680 Elo for
m = 1) instead of a false certainty.

`arena.ratings` turns a bootstrap into a leaderboard: ranks, intervals, the expected score
against the pool (`expected_scores`, GXE-style), head-to-head results and comparisons.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

ELO_SCALE = 400.0 / math.log(10.0)  # Elo points per unit of natural-log odds
ANCHOR_RATING = 1000.0
DEFAULT_ANCHOR = "random"

_MAX_NEWTON_STEPS = 100
_TOLERANCE = 1e-10  # largest step in θ (natural-log odds) that counts as converged
_LINE_STEPS = 2.0 ** -np.arange(12)  # step sizes tried by the line search, largest first
_ARMIJO = 1e-4


@dataclass(frozen=True)
class Game:
    """One finished battle between two agents; `score_a` is 1 (a won), 0 (b won) or 0.5."""

    a: str
    b: str
    score_a: float

    def __post_init__(self) -> None:
        if self.score_a not in (0.0, 0.5, 1.0):
            raise ValueError(
                f"Game({self.a!r}, {self.b!r}) has score_a={self.score_a!r}: "
                "use 1.0 (a won), 0.0 (b won) or 0.5 (draw)"
            )


@dataclass(frozen=True, eq=False)
class Bootstrap:
    """A fit and its bootstrap resamples: `names[i]` is agent i of every array."""

    names: list[str]
    anchor: str  # rated exactly ANCHOR_RATING in `point` and in every row of `boot`
    theta: np.ndarray  # (1, K): the point estimate, natural-log odds
    theta_boot: np.ndarray  # (R, K): one row per resample
    point: np.ndarray  # (K,): `theta` on the Elo scale
    boot: np.ndarray  # (R, K): `theta_boot` on the Elo scale


# --- fitting -----------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # no overflow for large |x|


def _objective(theta: np.ndarray, wins: np.ndarray, m: float) -> np.ndarray:
    """ℓ_m for θ of shape (B, T, K) against win matrices (B, K, K): shape (B, T)."""
    diff = theta[..., :, None] - theta[..., None, :]  # (B, T, K, K)
    loglik = -(wins[:, None] * np.logaddexp(0.0, -diff)).sum(axis=(-2, -1))
    prior = -0.5 * m * (np.logaddexp(0.0, -theta) + np.logaddexp(0.0, theta)).sum(axis=-1)
    return loglik + prior


def _fit_batch(wins: np.ndarray, m: float, theta0: np.ndarray | None = None) -> np.ndarray:
    """Maximise ℓ_m for each win matrix in `wins` (B, K, K); returns θ (B, K).

    Newton: g_i = Σ_j (W_ij − N_ij P_ij) + m(1/2 − σ(θ_i)) with N = W + Wᵀ, P_ij = σ(θ_i − θ_j);
    −Hessian = diag(Σ_j V_ij + m σ(θ_i)(1 − σ(θ_i))) − V with V = N P (1 − P).
    """
    batch, k, _ = wins.shape
    games = wins + wins.transpose(0, 2, 1)
    theta = np.zeros((batch, k)) if theta0 is None else np.array(theta0, dtype=float)
    eye = np.eye(k, dtype=bool)
    for _ in range(_MAX_NEWTON_STEPS):
        p = _sigmoid(theta[:, :, None] - theta[:, None, :])  # (B, K, K)
        s = _sigmoid(theta)  # (B, K): against the virtual opponent at 0
        grad = (wins - games * p).sum(axis=2) + m * (0.5 - s)
        v = games * p * (1.0 - p)
        hess = -v
        hess[:, eye] = v.sum(axis=2) + m * s * (1.0 - s)
        step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]  # (B, K)
        # Backtracking: the largest step size with sufficient increase (Armijo).
        current = _objective(theta[:, None, :], wins, m)  # (B, 1)
        trial = theta[:, None, :] + _LINE_STEPS[None, :, None] * step[:, None, :]
        gain = _objective(trial, wins, m) - current  # (B, T)
        slope = (grad * step).sum(axis=1, keepdims=True)  # > 0: an ascent direction
        ok = gain >= _ARMIJO * _LINE_STEPS[None, :] * slope
        size = np.where(ok.any(axis=1), _LINE_STEPS[ok.argmax(axis=1)], 0.0)
        move = size[:, None] * step
        theta = theta + move
        if np.abs(move).max(initial=0.0) < _TOLERANCE:
            break
    else:
        log.warning("Bradley–Terry fit stopped after %d Newton steps", _MAX_NEWTON_STEPS)
    return theta


# --- inputs ------------------------------------------------------------------------------


def _agent_list(games: Sequence[Game], agents: Sequence[str] | None) -> list[str]:
    if agents is None:
        seen: dict[str, None] = {}
        for g in games:
            seen.setdefault(g.a)
            seen.setdefault(g.b)
        names = list(seen)
    else:
        names = list(agents)
        if len(set(names)) != len(names):
            raise ValueError(f"agents {names} name the same agent twice")
        known = set(names)
        unknown = sorted({n for g in games for n in (g.a, g.b)} - known)
        if unknown:
            raise ValueError(f"games name agents {unknown} that are not in agents {names}")
    if not names:
        raise ValueError("no agents to rate: pass agents or at least one game")
    return names


def _pick_anchor(names: list[str], anchor: str | None) -> str:
    if anchor is None:
        return DEFAULT_ANCHOR if DEFAULT_ANCHOR in names else names[0]
    if anchor not in names:
        raise ValueError(f"anchor {anchor!r} is not one of the agents {names}")
    return anchor


def _cells(
    games: Sequence[Game], index: dict[str, int]
) -> tuple[list[tuple[int, int, float]], np.ndarray]:
    """The distinct (a, b, score_a) of the games, and how many games fall in each.

    Mirror games (an agent against itself) say nothing about relative strength and are left out.
    """
    counts: dict[tuple[int, int, float], int] = {}
    for g in games:
        if g.a == g.b:
            continue
        key = (index[g.a], index[g.b], float(g.score_a))
        counts[key] = counts.get(key, 0) + 1
    keys = sorted(counts)
    return keys, np.array([counts[key] for key in keys], dtype=np.int64)


def _cell_matrix(cells: list[tuple[int, int, float]], k: int) -> np.ndarray:
    """(C, K·K): one game of cell c adds its score to W[a, b] and the rest to W[b, a]."""
    out = np.zeros((len(cells), k * k))
    for c, (a, b, score) in enumerate(cells):
        out[c, a * k + b] += score
        out[c, b * k + a] += 1.0 - score
    return out


def _check_prior(prior_games: float) -> float:
    if not prior_games > 0 or not math.isfinite(prior_games):
        raise ValueError(
            f"prior_games={prior_games!r}: it must be a positive number (1.0 is the default); "
            "without it an unbeaten agent's rating is infinite"
        )
    return float(prior_games)


# --- outputs -----------------------------------------------------------------------------


def expected_scores(theta: np.ndarray) -> np.ndarray:
    """Each agent's expected score against the rest of the pool: for θ of shape (B, K),
    the mean over j ≠ i of σ(θ_i − θ_j), shape (B, K). Needs K ≥ 2."""
    batch, k = theta.shape
    if k < 2:
        raise ValueError("an expected score against the pool needs at least two agents")
    out = np.empty((batch, k))
    chunk = max(1, 1_000_000 // (k * k))  # bounds the (chunk, K, K) array
    for start in range(0, batch, chunk):
        part = theta[start : start + chunk]
        p = _sigmoid(part[:, :, None] - part[:, None, :])  # (S, K, K), 1/2 on the diagonal
        out[start : start + chunk] = (p.sum(axis=2) - 0.5) / (k - 1)
    return out


def _to_elo(theta: np.ndarray, anchor: int) -> np.ndarray:
    return ANCHOR_RATING + ELO_SCALE * (theta - theta[..., anchor : anchor + 1])


def fit_bradley_terry(
    games: Sequence[Game],
    agents: Sequence[str],
    *,
    anchor: str | None = None,
    prior_games: float = 1.0,
) -> dict[str, float]:
    """Regularised maximum-likelihood Bradley–Terry ratings, Elo scale, anchor exactly 1000."""
    names = _agent_list(games, agents)
    anchor_name = _pick_anchor(names, anchor)
    m = _check_prior(prior_games)
    index = {name: i for i, name in enumerate(names)}
    cells, counts = _cells(games, index)
    k = len(names)
    wins = (counts.astype(float) @ _cell_matrix(cells, k)).reshape(1, k, k)
    elo = _to_elo(_fit_batch(wins, m), index[anchor_name])[0]
    return {name: float(elo[i]) for i, name in enumerate(names)}


def bootstrap(
    games: Sequence[Game],
    agents: Sequence[str] | None = None,
    *,
    anchor: str | None = None,
    resamples: int = 1000,
    seed: int = 0,
    prior_games: float = 1.0,
) -> Bootstrap:
    """Fit Bradley–Terry on `games`, then on `resamples` bootstrap resamples of them.

    `agents` fixes the agents and their order (default: in order of first appearance in
    `games`); an agent without games gets prior draws in the resamples. Mirror games
    (a == b) are ignored. Deterministic for a given seed.
    """
    names = _agent_list(games, agents)
    anchor_name = _pick_anchor(names, anchor)
    m = _check_prior(prior_games)
    if resamples < 1:
        raise ValueError(f"resamples={resamples}: at least 1 (1000 or more for 95% intervals)")
    k = len(names)
    index = {name: i for i, name in enumerate(names)}
    a_idx = index[anchor_name]
    cells, counts = _cells(games, index)
    cell_matrix = _cell_matrix(cells, k)
    total = int(counts.sum())

    theta_hat = _fit_batch((counts.astype(float) @ cell_matrix).reshape(1, k, k), m)

    rng = np.random.default_rng(seed)
    theta_boot = np.zeros((resamples, k))
    if total:
        chunk = max(1, 400_000 // (k * k))  # bounds the (chunk, T, K, K) line-search array
        for start in range(0, resamples, chunk):
            size = min(chunk, resamples - start)
            draws = rng.multinomial(total, counts / total, size=size)  # (S, C)
            wins = (draws.astype(float) @ cell_matrix).reshape(size, k, k)
            theta0 = np.broadcast_to(theta_hat, (size, k))
            theta_boot[start : start + size] = _fit_batch(wins, m, theta0)
    played = np.zeros(k, dtype=bool)
    for a, b, _ in cells:
        played[a] = played[b] = True
    if not played.all():  # no data: draw from the prior instead of a false certainty
        theta_boot[:, ~played] = rng.normal(
            0.0, 2.0 / math.sqrt(m), (resamples, int((~played).sum()))
        )
    return Bootstrap(
        names=names,
        anchor=anchor_name,
        theta=theta_hat,
        theta_boot=theta_boot,
        point=_to_elo(theta_hat, a_idx)[0],
        boot=_to_elo(theta_boot, a_idx),
    )

"""The summary statistics of a run record: wins, draws and the win rate with its 95%
Wilson interval, the mean battle length, each side's latency percentiles and fallback
rate. `summarize` computes a record's `Summary` from its battles and decisions;
`wilson_interval` and `percentile` are shared with the ratings and the reports.
"""

from __future__ import annotations

import math

from battle.record import SIDES, BattleRecord, DecisionRecord, SideSummary, Summary


def wilson_interval(successes: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """95% Wilson score interval for a binomial proportion (draws may count as 0.5)."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (q in [0, 100]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summarize(
    battles: list[BattleRecord], decisions: list[DecisionRecord], wall_s: float
) -> Summary:
    played = [b for b in battles if b.winner is not None]
    wins = {side: sum(b.winner == side for b in played) for side in SIDES}
    draws = sum(b.winner == "draw" for b in played)
    n = len(played)
    # A draw counts as half a win, so p1 and p2 rates add up to one.
    p1_score = wins["p1"] + 0.5 * draws
    sides = {}
    for side in SIDES:
        mine = [d for d in decisions if d.side == side]
        own = [d for d in mine if d.source is None]  # not an outside user's, read from logs
        latencies = [d.latency_ms for d in own if d.latency_ms is not None]
        sides[side] = SideSummary(
            decisions=len(mine),
            latency_p50_ms=percentile(latencies, 50),
            latency_p95_ms=percentile(latencies, 95),
            fallback_rate=(sum(d.fallback for d in own) / len(own)) if own else None,
        )
    return Summary(
        battles=n,
        errors=len(battles) - n,
        p1_wins=wins["p1"],
        p2_wins=wins["p2"],
        draws=draws,
        p1_win_rate=p1_score / n if n else None,
        p1_win_rate_ci95=list(wilson_interval(p1_score, n)) if n else None,
        mean_turns=sum(b.turns for b in played) / n if n else None,
        wall_s=wall_s,
        battles_per_s=(len(battles) / wall_s) if wall_s > 0 and battles else None,
        sides=sides,
    )

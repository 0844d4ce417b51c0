"""Showdown's integer arithmetic: stat boost stages and 4096-based modifiers.

Showdown never multiplies damage by a float: a modifier is an integer in 4096ths, chained
with `chainModify` (rounded half up) and applied with `modify` (pokeRound: 0.5 rounds
down). Boost stages multiply a stat by the table [2/8 .. 8/2] (gens 3+) or by the gens 1-2
table with its percentages for negative stages. `stat_multiplier` is the float version the
rest of the project uses for estimates.
"""

from __future__ import annotations

_OLD_NEG = (100, 66, 50, 40, 33, 28, 25)  # gens 1-2 negative boost numerators (/100)


def stat_multiplier(boost: int) -> float:
    """(2+b)/2 for b >= 0 else 2/(2-b), b clamped to [-6, 6]."""
    if boost > 6:
        boost = 6
    elif boost < -6:
        boost = -6
    return (2 + boost) / 2 if boost >= 0 else 2 / (2 - boost)


def boosted(stat: int, boost: int) -> int:
    """Showdown's boost table [1, 1.5, 2, ..., 4], floored (gens 3+)."""
    if boost == 0:
        return stat
    if boost > 0:
        return stat * (2 + (boost if boost < 6 else 6)) // 2
    return stat * 2 // (2 - (boost if boost > -6 else -6))


def boosted_old(stat: int, boost: int) -> int:
    """The gens 1-2 boost table (negative stages as whole percentages), floored."""
    if boost >= 0:
        return stat * (2 + min(boost, 6)) // 2
    return stat * _OLD_NEG[min(-boost, 6)] // 100


def chain(a: int, b: int) -> int:
    """Showdown's chainModify of two 4096-based modifiers."""
    return (a * b + 2048) >> 12


def modify(value: int, m: int) -> int:
    """Showdown's modify(value, m/4096): pokeRound (0.5 rounds down)."""
    return (value * m + 2047) >> 12

"""The opponent model of the search: each turn is a zero-sum matrix game (our actions by
the opponent's replies), whose approximate equilibrium `regret_matching` finds; the
opponent is expected to play a blend (`Tuning`, `opponent_belief`) of its equilibrium
strategy, its most damaging move and its best reply to ours, and `action_values` values
each of our actions against that blend.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

import numpy as np

from agents.registry import UnknownAgentError

REGRET_ITERATIONS = 150


def regret_matching(matrix: list[list[float]], iterations: int) -> tuple[list[float], list[float]]:
    """Approximate equilibrium strategies (row player maximises, column minimises) of a
    zero-sum matrix game, by regret matching: the average strategies of both players."""
    m = np.asarray(matrix, dtype=np.float64)
    rows, cols = m.shape
    regret_r, regret_c = np.zeros(rows), np.zeros(cols)
    sum_r, sum_c = np.zeros(rows), np.zeros(cols)
    uniform_r, uniform_c = np.full(rows, 1.0 / rows), np.full(cols, 1.0 / cols)
    for _ in range(iterations):
        pos = np.maximum(regret_r, 0.0)
        total = pos.sum()
        x = pos / total if total > 0 else uniform_r
        pos = np.maximum(regret_c, 0.0)
        total = pos.sum()
        y = pos / total if total > 0 else uniform_c
        row_values = m @ y
        col_values = x @ m
        value = x @ row_values
        regret_r += row_values - value
        regret_c += value - col_values
        sum_r += x
        sum_c += y
    return list(sum_r / sum_r.sum()), list(sum_c / sum_c.sum())


@dataclass(frozen=True)
class Tuning:
    """The search's knobs (defaults measured in `bench/strength.py` runs; `SEARCH_TUNE`
    overrides them for experiments, e.g. `SEARCH_TUNE="nash=0.3,lookahead=0.6"`).

    The opponent is modelled as a blend: `nash` of its equilibrium strategy of the
    turn's matrix game, `damage` of its most damaging move against our active (what
    most bots and many players do), and the rest of its best reply to our equilibrium
    strategy. `lookahead` weighs the greedy exchange in the position value;
    `switch_cost` is taken off the value of a voluntary switch (a one-turn search sees
    the next matchup, not that the opponent can answer it in turn).

    Measured against `heuristic` in gen9randombattle (`bench/strength.py`, sim engine):
    nash 0.5 + best reply 0.5: 80.7% of 150; nash 0.3 + damage 0.5: 88.0% of 150;
    nash 0.2 + damage 0.8: 89.3% of 150; the same with lookahead 0.7: 86.0% of 150;
    nash 0.3 + damage 0.5 with switch_cost 0: 86.5% of 200, with 0.03: 90.0% of 200
    (which also ended switching loops against `random`)."""

    nash: float = 0.3
    damage: float = 0.5
    lookahead: float = 0.5
    switch_cost: float = 0.03

    @classmethod
    def from_env(cls) -> Tuning:
        text = os.environ.get("SEARCH_TUNE", "").strip()
        if not text:
            return cls()
        known = {f.name for f in fields(cls)}
        values = {}
        for part in text.split(","):
            key, _, value = part.partition("=")
            key = key.strip()
            try:
                number = float(value)
            except ValueError:
                number = None
            if key not in known or number is None or not 0.0 <= number <= 1.0:
                raise UnknownAgentError(
                    f"SEARCH_TUNE={text!r}: expected comma-separated key=value with keys "
                    f"{', '.join(sorted(known))} and values from 0 to 1, "
                    f"e.g. SEARCH_TUNE=nash=0.3,damage=0.5"
                )
            values[key] = number
        return cls(**values)


DEFAULT_TUNING = Tuning()  # the measured defaults, shared as argument defaults


def opponent_belief(
    matrix: list[list[float]], tuning: Tuning = DEFAULT_TUNING, damage_reply: int | None = None
) -> list[float]:
    """The opponent model's probability of each column (see `Tuning`); `damage_reply` is
    the column of the opponent's most damaging move, if any."""
    cols = len(matrix[0])
    if cols == 1:
        return [1.0]
    x, y = regret_matching(matrix, REGRET_ITERATIONS)
    col_values = [sum(matrix[i][j] * x[i] for i in range(len(matrix))) for j in range(cols)]
    best_reply = min(range(cols), key=col_values.__getitem__)
    belief = [tuning.nash * yj for yj in y]
    damage = tuning.damage if damage_reply is not None else 0.0
    if damage_reply is not None:
        belief[damage_reply] += damage
    belief[best_reply] += max(0.0, 1.0 - tuning.nash - damage)
    total = sum(belief)
    return [b / total for b in belief]


def action_values(
    matrix: list[list[float]], tuning: Tuning = DEFAULT_TUNING, damage_reply: int | None = None
) -> list[float]:
    """The value of each row action against the opponent model (`opponent_belief`)."""
    belief = opponent_belief(matrix, tuning, damage_reply)
    return [sum(v * b for v, b in zip(row, belief, strict=True)) for row in matrix]

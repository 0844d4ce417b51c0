"""The search of one decision: `Searcher.search` values each legal action of a battle
state by its one-turn matrix game (every action of ours against every reply of the
opponent's, played forward by `battle.turn.TurnModel` with its chance branches), averaged
over as many sampled worlds (`agents.search_worlds`) as the CPU-time budget allows, against
the opponent model of `agents.search_game`; a large budget refines the best actions with a
second ply. `SearchResult` holds the values, and the reasoning and candidates a decision
records.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agents.search_game import DEFAULT_TUNING, Tuning, action_values, opponent_belief
from agents.search_worlds import build_root, build_world, live_details
from battle.model import Battle, Side
from battle.sets import SetPool
from battle.state import BattleState
from battle.turn import PASS, Action, TurnModel

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle

MAX_HYPOTHESES = 16
# Budgets from this many ms on also refine the best actions with a second ply, with the
# budget left after the hypotheses (`_refine`): so many actions, replies and hypotheses.
SECOND_PLY_MIN_MS = 300
SECOND_PLY_ACTIONS = 3
SECOND_PLY_REPLIES = 2
SECOND_PLY_WORLDS = 2
SECOND_PLY_DISCOUNT = 0.95
SECOND_PLY_HYPOTHESES = 0.4  # share of such a budget spent on hypotheses
# Softmax temperature turning values into the record's candidate probabilities.
CANDIDATE_TEMPERATURE = 0.05


@dataclass
class SearchResult:
    """The value of each legal action (by label) and how it was reached."""

    labels: list[str]
    values: list[float]
    hypotheses: int
    worst_replies: list[str]  # per action, the opponent's reply it fears most ("" if none)
    plies: int = 1  # 2 when the best actions were refined by a second ply

    def ranked(self) -> list[tuple[float, str, str]]:
        """(value, label, worst reply), best first (ties: the legal order)."""
        rows = zip(self.values, self.labels, self.worst_replies or [""] * len(self.labels),
                   strict=True)  # fmt: skip
        return sorted(rows, key=lambda row: -row[0])

    @property
    def best(self) -> str:
        return self.ranked()[0][1]

    def reasoning(self, top: int = 3) -> str:
        """The top actions with their values: "move earthquake +0.412 (worst reply
        switch skarmory); ... [4 hypotheses]"."""
        parts = [
            f"{label} {value:+.3f}" + (f" (worst reply {reply})" if reply else "")
            for value, label, reply in self.ranked()[:top]
        ]
        depth = ", 2 plies" if self.plies == 2 else ""
        return "; ".join(parts) + f" [{self.hypotheses} hypotheses{depth}]"

    def candidates(self, temperature: float = CANDIDATE_TEMPERATURE) -> list[tuple[str, float]]:
        """Every action with a softmax of its value (best first, summing to 1): how clearly
        the search prefers it, for the report's candidates column."""
        ranked = self.ranked()
        peak = ranked[0][0]
        weights = [math.exp((value - peak) / temperature) for value, _, _ in ranked]
        total = sum(weights)
        return [(label, round(w / total, 6)) for w, (_, label, _) in zip(weights, ranked,
                                                                         strict=True)]  # fmt: skip


class Searcher:
    """The search of one decision (not shared between threads)."""

    def __init__(
        self, pool: SetPool, budget_s: float, rng: random.Random, tuning: Tuning | None = None
    ):
        self.pool = pool
        self.budget_s = budget_s
        self.rng = rng
        self.tuning = tuning or Tuning()

    def search(self, state: BattleState, battle: AbstractBattle | None = None) -> SearchResult:
        """Values of `state`'s legal actions, over as many hypotheses as the budget allows
        (`battle`, the live battle `state` was read from, adds what the state lacks)."""
        start = time.thread_time()
        deadline = start + self.budget_s
        second_ply = None
        if self.budget_s * 1000 >= SECOND_PLY_MIN_MS:  # hypotheses first, then a 2nd ply
            second_ply, deadline = deadline, start + SECOND_PLY_HYPOTHESES * self.budget_s
        root = build_root(state)
        if not root.actions:
            raise ValueError(f"no legal action the model can play: {root.unmapped}")

        def worlds() -> Iterator[Battle]:
            for _ in range(MAX_HYPOTHESES):
                world = build_world(root, self.pool, self.rng)
                live_details(battle, world)
                yield world

        return solve(
            TurnModel(state.gen, lookahead=self.tuning.lookahead),
            worlds(),
            root.actions,
            root.labels,
            force_switch=state.force_switch,
            deadline=deadline,
            tuning=self.tuning,
            second_ply=second_ply,
        )


def solve(
    model: TurnModel,
    worlds: Iterable[Battle],
    actions: list[Action],
    labels: list[str],
    *,
    force_switch: bool = False,
    deadline: float | None = None,
    tuning: Tuning = DEFAULT_TUNING,
    second_ply: float | None = None,
) -> SearchResult:
    """Value side 0's `actions` in each of `worlds` (hypotheses, consumed lazily: the
    first always, the next ones while `deadline`, a `time.thread_time()` value, is not
    reached) by its one-turn matrix game, and average the values over the worlds.

    With `second_ply` (a `time.thread_time()` deadline later than `deadline`), the time
    from the end of the worlds' search to it goes to a second ply for the best actions
    (`_refine`); the second ply is dropped if it cannot finish by then."""
    deadline = math.inf if deadline is None else deadline
    total = [0.0] * len(actions)
    replies: list[str] = []
    hypotheses = 0
    # The model's damage cache keys on id() of each hypothesis' stats: keep every world
    # alive until the search ends so that no id is reused by another hypothesis.
    searched: list[Battle] = []
    beliefs: list[tuple[Battle, list[Action], list[float]]] = []
    for world in worlds:
        searched.append(world)
        damage_reply = None
        if force_switch:
            matrix = _switch_values(model, world, actions, deadline, hypotheses, tuning)
            reply_actions: list[Action] = [PASS]
        else:
            reply_actions = opponent_actions(model, world)
            matrix = _matrix(model, world, actions, reply_actions, deadline, hypotheses)
            damage_reply = _damage_reply(model, world, reply_actions)
        if matrix is None:
            break
        hypotheses += 1
        belief = opponent_belief(matrix, tuning, damage_reply)
        beliefs.append((world, reply_actions, belief))
        for i, row in enumerate(matrix):
            total[i] += sum(v * p for v, p in zip(row, belief, strict=True))
            if not force_switch and actions[i].kind == "switch":
                total[i] -= tuning.switch_cost
        if not replies:
            replies = _worst_replies(world, reply_actions, matrix)
        if time.thread_time() >= deadline:
            break
    if not hypotheses:
        raise ValueError("no hypothesis to search")
    values = [v / hypotheses for v in total]
    result = SearchResult(labels, values, hypotheses, replies)
    if second_ply is not None and not force_switch and time.thread_time() < second_ply:
        refined = _refine(model, actions, values, beliefs, tuning, second_ply)
        if refined is not None:
            for i, value in refined.items():
                values[i] = value
            result.plies = 2
    return result


def _refine(
    model: TurnModel,
    actions: list[Action],
    values: list[float],
    beliefs: list[tuple[Battle, list[Action], list[float]]],
    tuning: Tuning,
    deadline: float,
) -> dict[int, float] | None:
    """A second ply for the `SECOND_PLY_ACTIONS` best actions: each outcome of the turn
    (against the opponent's `SECOND_PLY_REPLIES` likeliest replies, in the first
    `SECOND_PLY_WORLDS` hypotheses) is valued by the game value of the next turn instead
    of the static evaluation. Returns the refined values of those actions (scaled to
    stay comparable: the best of them keeps the top value, the rest move by the same
    second-ply differences), or None when the deadline passes first."""
    top = sorted(range(len(actions)), key=lambda i: -values[i])[:SECOND_PLY_ACTIONS]
    if len(top) < 2:
        return None
    deep: dict[int, float] = {}
    for i in top:
        total = 0.0
        weight = 0.0
        for world, replies, belief in beliefs[:SECOND_PLY_WORLDS]:
            likely = sorted(range(len(replies)), key=lambda j: -belief[j])[:SECOND_PLY_REPLIES]
            for j in likely:
                for p, outcome in model.resolve(world, (actions[i], replies[j])):
                    if time.thread_time() >= deadline:
                        return None
                    total += belief[j] * p * _turn_value(model, outcome, tuning)
                weight += belief[j]
        deep[i] = total / weight if weight else values[i]
    best = max(top, key=lambda i: deep[i])
    shift = values[top[0]] - deep[best]
    refined = {i: deep[i] + shift for i in top}
    for i in top:
        if actions[i].kind == "switch":
            refined[i] -= tuning.switch_cost
    return refined


def _turn_value(model: TurnModel, battle: Battle, tuning: Tuning) -> float:
    """The game value of the next turn from `battle` (our moves and switches against the
    opponent's, no tera), or its static value when the game is over."""
    if not any(m.hp > 0 for m in battle.sides[0].mons) or not (
        any(m.hp > 0 for m in battle.sides[1].mons) or battle.sides[1].unseen
    ):
        return model.evaluate(battle)
    own = [a for a in model.legal_actions(battle, 0) if not a.tera]
    replies = opponent_actions(model, battle)
    matrix = _matrix(model, battle, own, replies, math.inf, 0)
    assert matrix is not None
    value = max(action_values(matrix, tuning, _damage_reply(model, battle, replies)))
    return SECOND_PLY_DISCOUNT * value  # a gain now is worth more than the same gain later


def _damage_reply(model: TurnModel, world: Battle, replies: list[Action]) -> int | None:
    """The column of the opponent's most damaging move against our active, if any."""
    _, move = model.best_damage(world, 1)
    if move is None:
        return None
    moves = world.sides[1].mon.moves
    for j, reply in enumerate(replies):
        if reply.kind == "move" and moves[reply.index] is move:
            return j
    return None


def opponent_actions(model: TurnModel, world: Battle) -> list[Action]:
    """The opponent's options in the model: its moves (never with tera) and switches."""
    if world.sides[1].mon.species == "unknown":
        return [PASS]
    return [a for a in model.legal_actions(world, 1) if not a.tera]


def _matrix(
    model: TurnModel,
    world: Battle,
    actions: list[Action],
    replies: list[Action],
    deadline: float,
    done: int,
) -> list[list[float]] | None:
    """Expected values of every (action, reply) turn; None when the deadline passes
    during an extra hypothesis (`done` > 0), which is then dropped."""
    matrix = []
    for action in actions:
        if done and time.thread_time() >= deadline:
            return None
        row = []
        for reply in replies:
            value = 0.0
            for p, outcome in model.resolve(world, (action, reply)):
                value += p * model.evaluate(outcome)
            row.append(value)
        matrix.append(row)
    return matrix


def _switch_values(
    model: TurnModel,
    world: Battle,
    actions: list[Action],
    deadline: float,
    done: int,
    tuning: Tuning,
) -> list[list[float]] | None:
    """Forced switch: each switch-in valued by the next turn's game value from there."""
    matrix = []
    for action in actions:
        position = world.fork()
        model.switch_in(position, 0, action.index)
        if position.sides[0].mon.hp <= 0:
            matrix.append([model.evaluate(position)])
            continue
        # the next turn from there: our moves only (no tera, no second switch), to keep
        # a forced switch's cost near one ordinary decision's
        own = [a for a in model.legal_actions(position, 0) if a.kind == "move" and not a.tera]
        own = own or model.legal_actions(position, 0)
        replies = opponent_actions(model, position)
        sub = _matrix(model, position, own, replies, deadline, done)
        if sub is None:
            return None
        damage_reply = _damage_reply(model, position, replies)
        matrix.append([max(action_values(sub, tuning, damage_reply))])
    return matrix


def _worst_replies(world: Battle, replies: list[Action], matrix: list[list[float]]) -> list[str]:
    if len(replies) < 2:
        return ["" for _ in matrix]
    names = []
    for row in matrix:
        j = min(range(len(row)), key=row.__getitem__)
        names.append(_describe(world.sides[1], replies[j]))
    return names


def _describe(side: Side, action: Action) -> str:
    if action.kind == "move":
        moves = side.mon.moves
        return moves[action.index].id if action.index < len(moves) else "?"
    if action.kind == "switch":
        return f"switch {side.mons[action.index].species}"
    return "pass"

"""`search`: a one-turn expectiminimax over both sides' simultaneous choices, on real
damage numbers, averaged over sampled hypotheses of the opponent's hidden sets.

    uv run python main.py --p1 search --p2 heuristic --n 100 --engine sim
    uv run python main.py --p1 search:50 --p2 search:400 --n 100 --engine sim   # budgets

Each decision:

1. reads the battle as this player knows it (`battle.state.BattleState`: its own team
   exactly, the opponent's revealed Pokémon with what they have shown);
2. samples hypotheses of everything hidden about the opponent's revealed Pokémon (moves,
   item, ability, exact stats, level, tera type) from `battle.sets.SetPool`: Showdown's
   own random-battle team generator for random-battle formats, the bundled team pool plus
   that generation's random-battle sets for formats with teams; each hypothesis is
   consistent with every move, item, ability and tera type seen; unrevealed opposing
   Pokémon count as healthy but cannot be switched to;
3. for each hypothesis, fills the matrix of one-turn outcomes: every legal action of ours
   (moves, with and without tera, switches) against every action of the opponent's (its
   hypothesised moves and its switches to revealed Pokémon), each played forward by
   `battle.turn.TurnModel` with its chance branches (hit or miss, KO or not over the
   damage rolls and crits, full paralysis) and valued by `TurnModel.evaluate` (material,
   status, hazards, boosts, screens, blended with a greedy exchange between the two
   actives that stands in for the next turns);
4. averages the matrices over the hypotheses sampled within the time budget (anytime:
   at least one, more while the budget lasts), solves the matrix game for the opponent's
   equilibrium strategy (regret matching), and plays the action with the best value
   against a blend of that strategy and the opponent's greedy best reply;
5. with a budget of `SECOND_PLY_MIN_MS` or more, spends the second part of it on a second
   ply for the three best actions: each outcome of the turn against the opponent's two
   likeliest replies is valued by the next turn's game value instead of the static
   evaluation (two hypotheses; dropped if it cannot finish in the budget);
6. records the top actions with their values as the decision's reasoning, and a softmax
   of the values as its `candidates`.

A forced switch (own active fainted) values each switch-in by the game value of the
next turn from that position. Budget: `search:MS` sets the CPU milliseconds per decision
(default `DEFAULT_BUDGET_MS`); the budget is measured on the deciding thread's CPU clock,
so concurrent battles do not starve one another's search. On an internal error the
heuristic's choice is played and recorded as the fallback `search_error`.

Simplifications (beyond those of `battle.turn` and `battle.damage`): one turn of exact
search plus the greedy exchange (a second ply only for large budgets and the best three
actions); the opponent never
terastallizes in the model (its tera type, once seen, is used); the opponent's choice
lock is not modelled; Slow Start halves Attack and Speed for good; a switch-in chosen
after our own U-turn or a faint in the model is the model's best matchup, not searched;
at team preview the team goes as written.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from agents.base import BaseAgent, Decision, legal_orders
from agents.baselines import HeuristicAgent
from agents.registry import UnknownAgentError, register
from battle.model import Battle, Field, Mon, Side, move_data, species_data, to_id
from battle.sets import SetPool
from battle.state import BattleState, PokemonState, SideState, order_for
from battle.turn import PASS, Action, TurnModel

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle

logger = logging.getLogger(__name__)

DEFAULT_BUDGET_MS = 150
MAX_HYPOTHESES = 16
# Budgets from this many ms on also refine the best actions with a second ply, with the
# budget left after the hypotheses (`_refine`): so many actions, replies and hypotheses.
SECOND_PLY_MIN_MS = 300
SECOND_PLY_ACTIONS = 3
SECOND_PLY_REPLIES = 2
SECOND_PLY_WORLDS = 2
SECOND_PLY_DISCOUNT = 0.95
SECOND_PLY_HYPOTHESES = 0.4  # share of such a budget spent on hypotheses
REGRET_ITERATIONS = 150
# Softmax temperature turning values into the record's candidate probabilities.
CANDIDATE_TEMPERATURE = 0.05
_WEATHER = {"snow": "snowscape"}
_SCREEN_TURNS = 5


def _check_arg(arg: str | None) -> None:
    Tuning.from_env()  # a malformed SEARCH_TUNE is an error before any battle
    if arg is None:
        return
    try:
        value = int(arg)
    except ValueError:
        value = 0
    if value <= 0:
        raise UnknownAgentError(
            f"search takes a time budget in milliseconds per decision, e.g. search:100; got {arg!r}"
        )


# --------------------------------------------------------------------------- building


def _own_mon(gen: int, state: PokemonState) -> Mon:
    data = species_data(gen, state.species)
    stats = {k: int(v) for k, v in (state.stats or {}).items() if v is not None}
    max_hp = int(state.max_hp or 0) or 1
    stats["hp"] = max_hp
    for stat in ("atk", "def", "spa", "spd", "spe"):
        stats.setdefault(stat, 100)
    moves = []
    for move in state.moves:
        try:
            moves.append(move_data(gen, move.id))
        except KeyError:
            logger.debug("unknown move %s of %s", move.id, state.species)
    stats = _slow_start(state.ability, stats)
    return Mon(
        species=state.species,
        level=state.level,
        types=tuple(t.lower() for t in data.get("types", ())) or tuple(state.types),
        stats=stats,
        hp=0 if state.fainted else int(state.current_hp or 0),
        ability=state.ability or "",
        item=state.item or "",
        status=state.status if state.status and state.status != "fnt" else "",
        boosts={k: v for k, v in state.boosts.items() if v},
        moves=tuple(moves),
        tera_type=state.tera_type or "",
        terastallized=state.terastallized,
        weight=float(data.get("weightkg", 0.0)),
        volatiles=_volatiles(state),
    )


def _slow_start(ability: str | None, stats: dict[str, int]) -> dict[str, int]:
    """Slow Start halves Attack and Speed for five turns after each switch-in, most of
    a Regigigas' time in battle: the model halves them for good."""
    if ability != "slowstart":
        return stats
    return {**stats, "atk": stats["atk"] // 2, "spe": stats["spe"] // 2}


def _volatiles(state: PokemonState) -> set[str]:
    return {e for e in state.effects if e in ("substitute", "leechseed")}


def _hypothesis_mon(gen: int, state: PokemonState, pool: SetPool, rng: random.Random) -> Mon:
    seen_moves = [m.id for m in state.moves]
    hypothesis = pool.sample(
        state.species,
        rng,
        1,
        level=state.level or None,
        moves=seen_moves,
        item=state.item,
        ability=state.ability or None,
        tera_type=state.tera_type if state.tera_type else None,
    )[0]
    data = species_data(gen, state.species)
    stats = hypothesis.stats
    move_ids = list(dict.fromkeys(seen_moves))
    for move in hypothesis.moves:
        if len(move_ids) >= 4:
            break
        if move not in move_ids:
            move_ids.append(move)
    moves = []
    for move in move_ids:
        try:
            moves.append(move_data(gen, move))
        except KeyError:
            logger.debug("unknown move %s of %s", move, state.species)
    stats = _slow_start(state.ability or hypothesis.ability, stats)
    item = hypothesis.item if state.item is None else state.item
    hp = 0 if state.fainted else max(1, round(state.hp_fraction * stats["hp"]))
    return Mon(
        species=state.species,
        level=state.level or hypothesis.level,
        types=tuple(t.lower() for t in data.get("types", ())) or tuple(state.types),
        stats=stats,
        hp=hp if state.hp_fraction > 0 else 0,
        ability=state.ability or hypothesis.ability,
        item=item,
        status=state.status if state.status and state.status != "fnt" else "",
        boosts={k: v for k, v in state.boosts.items() if v},
        moves=tuple(moves),
        tera_type=(state.tera_type or hypothesis.tera_type) if gen == 9 else "",
        terastallized=state.terastallized,
        weight=float(data.get("weightkg", 0.0)),
        volatiles=_volatiles(state),
    )


def _side_conditions(side: Side, state: SideState) -> None:
    for condition in state.conditions:
        name = condition.name
        left = max(_SCREEN_TURNS - (condition.turns or 0), 1)
        if name == "stealthrock":
            side.stealth_rock = True
        elif name == "spikes":
            side.spikes = condition.layers
        elif name == "toxicspikes":
            side.toxic_spikes = condition.layers
        elif name == "stickyweb":
            side.sticky_web = True
        elif name == "reflect":
            side.reflect = left
        elif name == "lightscreen":
            side.light_screen = left
        elif name == "auroraveil":
            side.aurora_veil = left
        elif name == "tailwind":
            side.tailwind = max(4 - (condition.turns or 0), 1)


def _field(state: BattleState) -> Field:
    field = Field()
    if state.weather:
        field.weather = _WEATHER.get(state.weather, state.weather)
    if state.terrain:
        field.terrain = state.terrain
    if "trickroom" in state.fields:
        field.trick_room = max(_SCREEN_TURNS - state.fields["trickroom"], 1)
    if "gravity" in state.fields:
        field.gravity = max(_SCREEN_TURNS - state.fields["gravity"], 1)
    return field


@dataclass
class Root:
    """What one decision searches: our side (exact), the legal actions as model actions."""

    state: BattleState
    own: Side
    labels: list[str]  # legal action labels that the model can play
    actions: list[Action]
    unmapped: list[str]  # legal labels the model cannot play (struggle, recharge...)


def _live_details(battle: AbstractBattle | None, world: Battle) -> None:
    """What `BattleState` does not carry, read from the live battle: Protect streaks
    and whether each active came in this turn (Fake Out, First Impression)."""
    if battle is None:
        return
    for side, mon in zip(world.sides, (battle.active_pokemon, battle.opponent_active_pokemon),
                         strict=True):  # fmt: skip
        if mon is None or not side.mons:
            continue
        side.mon.protect_count = int(getattr(mon, "protect_counter", 0) or 0)
        side.mon.first_turn = bool(getattr(mon, "first_turn", False))


def build_root(state: BattleState) -> Root:
    gen = state.gen
    player = state.player
    mons = [_own_mon(gen, m) for m in player.pokemon]
    own = Side(mons=mons, active=0 if player.active is not None else -1)
    if player.active is None:  # before the first switch-in: nothing active
        own.active = 0
    own.can_tera = state.can_tera and gen == 9
    _side_conditions(own, player)
    labels, actions, unmapped = [], [], []
    active = mons[0] if player.active is not None else None
    for option in state.actions:
        action = None
        if option.kind == "move" and active is not None:
            index = next((i for i, m in enumerate(active.moves) if m.id == option.id), None)
            if index is not None:
                action = Action("move", index, tera=option.tera)
        elif option.kind == "switch":
            index = next(
                (i for i, m in enumerate(player.pokemon) if m.species == option.species and i),
                None,
            )
            if index is not None:
                action = Action("switch", index)
        if action is None:
            unmapped.append(option.label)
        else:
            labels.append(option.label)
            actions.append(action)
    return Root(state, own, labels, actions, unmapped)


def build_world(root: Root, pool: SetPool, rng: random.Random) -> Battle:
    """One hypothesis: our side as it is, the opponent's revealed Pokémon with sampled sets."""
    state = root.state
    gen = state.gen
    opponent = state.opponent
    states = list(opponent.pokemon) + _previewed_unrevealed(state)
    mons = [_hypothesis_mon(gen, m, pool, rng) for m in states]
    foe = Side(mons=mons or [_placeholder(gen)], active=0)
    team_size = opponent.team_size or max(6, len(states))
    foe.unseen = max(team_size - len(states), 0)
    foe.can_tera = gen == 9 and not state.opponent_used_tera
    _side_conditions(foe, opponent)
    own = root.own.copy()
    return Battle(gen, (own, foe), _field(state), state.turn)


def _base(gen: int, species: str) -> str:
    try:
        return to_id(species_data(gen, species).get("baseSpecies", species))
    except KeyError:
        return to_id(species)


def _previewed_unrevealed(state: BattleState) -> list[PokemonState]:
    """The opponent's Pokémon shown at team preview that have not come in yet, as
    healthy Pokémon with nothing revealed (matched to the revealed ones by base species,
    since a forme may show differently at preview)."""
    opponent = state.opponent
    if not opponent.preview:
        return []
    gen = state.gen
    revealed = [_base(gen, m.species) for m in opponent.pokemon]
    unrevealed = []
    for species in opponent.preview:
        base = _base(gen, species)
        if base in revealed:
            revealed.remove(base)
            continue
        try:
            data = species_data(gen, species)
        except KeyError:
            continue
        hidden = PokemonState(
            species=to_id(species), level=0,
            types=tuple(t.lower() for t in data.get("types", ())), tera_type=None,
            terastallized=False, hp_fraction=1.0, current_hp=None, max_hp=None,
            status=None, boosts={}, ability=None, possible_abilities=(), item=None,
            moves=(), base_stats=dict(data.get("baseStats", {})), stats=None,
            fainted=False, active=False, revealed=False,
        )  # fmt: skip
        unrevealed.append(hidden)
    return unrevealed


def _placeholder(gen: int) -> Mon:
    """An opponent we know nothing about (no active yet): a middling, moveless Pokémon."""
    stats = {"hp": 300, "atk": 200, "def": 200, "spa": 200, "spd": 200, "spe": 200}
    return Mon("unknown", 80, ("???",), stats, 300)


# --------------------------------------------------------------------------- search


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


def opponent_belief(
    matrix: list[list[float]], tuning: Tuning = Tuning(), damage_reply: int | None = None
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
    matrix: list[list[float]], tuning: Tuning = Tuning(), damage_reply: int | None = None
) -> list[float]:
    """The value of each row action against the opponent model (`opponent_belief`)."""
    belief = opponent_belief(matrix, tuning, damage_reply)
    return [sum(v * b for v, b in zip(row, belief, strict=True)) for row in matrix]


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
                _live_details(battle, world)
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
    tuning: Tuning = Tuning(),
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


# --------------------------------------------------------------------------- the agent


@register(
    "search",
    help="one-turn expectiminimax on real damage over sampled opponent sets "
    f"(search:MS: CPU ms per decision, default {DEFAULT_BUDGET_MS})",
    check=_check_arg,
)
class SearchAgent(BaseAgent):
    name = "search"

    def __init__(self, seed: int | None = None, arg: str | None = None):
        super().__init__(seed)
        _check_arg(arg)
        self.budget_ms = int(arg) if arg else DEFAULT_BUDGET_MS
        if arg:
            self.resolved = f"search:{self.budget_ms}"
        self._pools: dict[str, SetPool] = {}
        self._pool_lock = threading.Lock()
        self._fallback: HeuristicAgent | None = None
        self.tuning = Tuning.from_env()
        self.params: dict[str, object] = {"budget_ms": self.budget_ms}
        if self.tuning != Tuning():
            self.params["tuning"] = str(self.tuning)

    def _pool(self, battle_format: str | None) -> SetPool:
        """The opponent-set data of the format, loaded (or built, once per machine) on
        first use; thread-safe, so concurrent first decisions build it once."""
        key = battle_format or "gen9randombattle"
        with self._pool_lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = SetPool.for_format(key)
            return pool

    def decide_sync(self, battle: AbstractBattle) -> Decision:
        """The search's decision for `battle` (blocking: runs the whole search)."""
        orders = legal_orders(battle)
        if len(orders) <= 1:
            return Decision(order=orders[0] if orders else self.random_order(battle))
        state = BattleState.from_battle(battle)
        pool = self._pool(state.format)
        rng = random.Random(self.rng.random())
        searcher = Searcher(pool, self.budget_ms / 1000, rng, self.tuning)
        result = searcher.search(state, battle)
        return Decision(
            order=order_for(battle, result.best),
            reasoning=result.reasoning(),
            candidates=result.candidates(),
        )

    async def decide(self, battle: AbstractBattle) -> Decision:
        try:
            return await asyncio.to_thread(self.decide_sync, battle)
        except Exception as error:  # any search failure: the heuristic plays
            logger.warning(
                "search failed in %s turn %s (%s: %s); the heuristic plays",
                getattr(battle, "battle_tag", "?"),
                getattr(battle, "turn", "?"),
                type(error).__name__,
                error,
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
            if self._fallback is None:
                self._fallback = HeuristicAgent()
            decision = await self._fallback.decide(battle)
            decision.fallback = True
            decision.fallback_reason = "search_error"
            return decision


__all__ = ["DEFAULT_BUDGET_MS", "SearchAgent", "SearchResult", "build_root", "build_world", "solve"]

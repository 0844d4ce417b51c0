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
5. with a budget of `SECOND_PLY_MIN_MS` (`agents.search_solver`) or more, spends the
   second part of it on a second ply for the three best actions: each outcome of the turn
   against the opponent's two likeliest replies is valued by the next turn's game value
   instead of the static evaluation (two hypotheses; dropped if it cannot finish in the
   budget);
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

This module is the agent; the search itself is in three: `agents.search_worlds` (the
battle state as the turn model's battles, the opponent's sets sampled),
`agents.search_game` (the matrix game and the opponent model) and `agents.search_solver`
(the search of one decision, its second ply and its result).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from typing import TYPE_CHECKING

from agents.base import BaseAgent, Decision, legal_orders
from agents.baselines import HeuristicAgent
from agents.registry import UnknownAgentError, register
from agents.search_game import Tuning
from agents.search_solver import Searcher
from battle.sets import SetPool
from battle.state import BattleState, order_for

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle

logger = logging.getLogger(__name__)

DEFAULT_BUDGET_MS = 150


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


@register(
    "search",
    help="one-turn expectiminimax on real damage over sampled opponent sets "
    f"(search:MS: CPU ms per decision, default {DEFAULT_BUDGET_MS})",
    check=_check_arg,
    example="search:300",
)
class SearchAgent(BaseAgent):
    """One-turn expectiminimax over sampled opponent sets, within a CPU budget per decision."""

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


__all__ = ["DEFAULT_BUDGET_MS", "SearchAgent"]

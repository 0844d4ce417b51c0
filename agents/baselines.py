"""Built-in baseline agents: random, max-damage, heuristic.

They register themselves exactly as any new agent would (see `agents.registry`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from poke_env.battle.battle import Battle
from poke_env.player.baselines import SimpleHeuristicsPlayer
from poke_env.player.battle_order import SingleBattleOrder

from agents.base import BaseAgent, Decision
from agents.registry import register
from agents.state import stab_types, tera_type_of

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle
    from poke_env.battle.move import Move
    from poke_env.battle.pokemon import Pokemon


@register("random", help="uniform over the legal actions")
class RandomAgent(BaseAgent):
    name = "random"

    async def decide(self, battle: AbstractBattle) -> Decision:
        return Decision(order=self.random_order(battle))


def expected_damage_score(move: Move, attacker: Pokemon | None, defender: Pokemon | None) -> float:
    """Base power x type effectiveness against the defender x STAB (1.5 on a STAB type)."""
    score = float(move.base_power)
    if defender is not None:
        score *= defender.damage_multiplier(move)
    if attacker is not None and move.type in stab_types(attacker):
        score *= 1.5
    return score


@register("max-damage", help="highest base power x type effectiveness x STAB")
class MaxDamageAgent(BaseAgent):
    name = "max-damage"

    async def decide(self, battle: AbstractBattle) -> Decision:
        moves = battle.available_moves
        if moves and not battle.force_switch:
            attacker, defender = battle.active_pokemon, battle.opponent_active_pokemon
            best = max(moves, key=lambda m: expected_damage_score(m, attacker, defender))
            if expected_damage_score(best, attacker, defender) > 0:
                return Decision(order=SingleBattleOrder(best))
        return Decision(order=self.random_order(battle))


@register("heuristic", help="poke-env's SimpleHeuristicsPlayer: matchups, hazards, setup, tera")
class HeuristicAgent(BaseAgent):
    """Plays like poke-env's SimpleHeuristicsPlayer by calling its own decision function."""

    name = "heuristic"

    async def decide(self, battle: AbstractBattle) -> Decision:
        if not isinstance(battle, Battle):
            raise TypeError("the heuristic agent plays singles battles only")
        active = battle.active_pokemon
        if active is not None and active.tera_type is None:
            # poke-env 0.16.1 ignores the request's teraType, which would keep the
            # heuristic from ever terastallizing: give it the type the request names.
            active._terastallized_type = tera_type_of(active, own=True)
        order, _score = SimpleHeuristicsPlayer.choose_singles_move(battle)
        return Decision(order=order)

"""Built-in baseline agents: random, max-damage, heuristic.

They register themselves exactly as any new agent would (see `agents.registry`). At team
preview they bring their team as written; `heuristic:matchup-lead` leads with its best
type matchup against the opponent's previewed team (`HeuristicAgent.team_order`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from statistics import fmean
from typing import TYPE_CHECKING

from poke_env.battle.battle import Battle
from poke_env.player.baselines import SimpleHeuristicsPlayer
from poke_env.player.battle_order import SingleBattleOrder

from agents.base import BaseAgent, Decision
from agents.registry import UnknownAgentError, register
from battle.observe import stab_types, tera_type_of

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle
    from poke_env.battle.move import Move
    from poke_env.battle.pokemon import Pokemon
    from poke_env.battle.pokemon_type import PokemonType

logger = logging.getLogger(__name__)


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


def _types(mon: Pokemon) -> list[PokemonType]:
    return [t for t in mon.types if t is not None]


def _best_multiplier(attacking: Sequence[PokemonType], defender: Pokemon) -> float:
    """The best type-chart multiplier of any of `attacking` on `defender` (1 with none)."""
    return max((float(defender.damage_multiplier(t)) for t in attacking), default=1.0)


def matchup_score(mon: Pokemon, opponents: Sequence[Pokemon]) -> float:
    """How well `mon` matches up with `opponents`, by types only: the mean over them of
    (its best STAB multiplier on the opponent) - (the opponent's best STAB multiplier on
    it). 0 with no opponents. Abilities, items, moves and tera are not counted."""
    ours = _types(mon)
    return fmean(
        [_best_multiplier(ours, foe) - _best_multiplier(_types(foe), mon) for foe in opponents]
        or [0.0]
    )


MATCHUP_LEAD = "matchup-lead"


def _check_heuristic_arg(arg: str | None) -> None:
    if arg not in (None, MATCHUP_LEAD):
        raise UnknownAgentError(
            f"heuristic takes no argument or {MATCHUP_LEAD!r} (lead with the best type "
            f"matchup at team preview), got {arg!r}"
        )


@register(
    "heuristic",
    help="poke-env's SimpleHeuristicsPlayer: matchups, hazards, setup, tera "
    f"(heuristic:{MATCHUP_LEAD}: also picks its lead at team preview)",
    check=_check_heuristic_arg,
)
class HeuristicAgent(BaseAgent):
    """Plays like poke-env's SimpleHeuristicsPlayer by calling its own decision function.

    At team preview it brings its team as written. `heuristic:matchup-lead` leads instead
    with the team member whose types match up best against the opponent's previewed team
    (`matchup_score`; ties go to the earlier one), the rest as written. That is not the
    default because it loses: 459 of 1,000 gen9ou battles (45.9%, 95% interval 43-49%)
    against the same heuristic bringing the bundled teams as written, whose leads were
    chosen to set hazards or scout (`main.py --format gen9ou --p1 heuristic:matchup-lead
    --p2 heuristic --n 1000 --engine sim --seed 2`).
    """

    name = "heuristic"

    def __init__(self, seed: int | None = None, arg: str | None = None):
        super().__init__(seed)
        _check_heuristic_arg(arg)
        self.matchup_lead = arg == MATCHUP_LEAD
        if self.matchup_lead:
            self.resolved = f"heuristic:{MATCHUP_LEAD}"

    def team_order(self, battle: AbstractBattle) -> list[int] | None:
        """As written (None); with `matchup-lead`, [position of the best matchup] (it leads,
        the rest go as written), or None without a previewed opponent team."""
        if not self.matchup_lead:
            return None
        opponents = list(battle.teampreview_opponent_team)
        team = list(battle.team.values()) or list(battle.teampreview_team)
        if not opponents or not team:
            return None
        scores = [matchup_score(mon, opponents) for mon in team]
        lead = max(range(len(team)), key=lambda i: (scores[i], -i))  # ties: written order
        logger.debug(
            "heuristic leads with %s (matchup %.2f) in %s",
            team[lead].species,
            scores[lead],
            battle.battle_tag,
        )
        return [lead + 1]

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

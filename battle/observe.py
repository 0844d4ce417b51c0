"""Reading a poke-env battle into `battle.state`'s dataclasses: what one player observes.

`battle_state(battle)` is `BattleState.from_battle`: it reads a poke-env singles `Battle`
from its player's side, after the last request. The pieces it is built of are public
because Metamon's state is built of the same ones (`pokemon_state`, `move_state`,
`side_conditions_state`), and so are the readings the agents and the arena share: a
Pokémon's tera type (`tera_type_of`), its STAB types (`stab_types`) and a move's type
multiplier with the cases that break the chart (`move_effectiveness`).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from poke_env.battle.battle import Battle
from poke_env.battle.move import Move
from poke_env.battle.move_category import MoveCategory
from poke_env.battle.pokemon import Pokemon
from poke_env.battle.pokemon_type import PokemonType
from poke_env.battle.side_condition import STACKABLE_CONDITIONS
from poke_env.data import GenData
from poke_env.player.battle_order import BattleOrder, SingleBattleOrder

from battle.state import (
    BOOST_STATS,
    PLACEHOLDER_MOVES,
    ActionOption,
    BattleState,
    MoveState,
    PokemonState,
    SideConditionState,
    SideState,
    action_name,
    enum_id,
    type_id,
)

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle

logger = logging.getLogger(__name__)


def battle_state(battle: AbstractBattle) -> BattleState:
    """The state of `battle` as its player sees it, after the last request."""
    if not isinstance(battle, Battle):
        raise TypeError(f"BattleState covers singles battles only, got {type(battle).__name__}")
    turn = battle.turn
    weather = next(iter(battle.weather.items()), None)
    terrain = next((f for f in battle.fields if f.is_terrain), None)
    team_sizes = getattr(battle, "_team_size", {}) or {}  # announced by |teamsize|
    previews = team_preview_species(battle)
    sides = []
    for own in (True, False):
        role = battle.player_role if own else battle.opponent_role
        team = battle.team if own else battle.opponent_team
        active = battle.active_pokemon if own else battle.opponent_active_pokemon
        conditions = battle.side_conditions if own else battle.opponent_side_conditions
        bench = [
            pokemon_state(mon, own=own)
            for mon in team.values()
            if mon is not active and (own or mon.revealed)
        ]
        sides.append(
            SideState(
                role=role,
                active=None if active is None else pokemon_state(active, own=own),
                bench=tuple(bench),
                conditions=side_conditions_state(conditions, turn),
                team_size=team_sizes.get(role) if role else None,
                preview=previews[0 if own else 1],
            )
        )
    return BattleState(
        battle_tag=battle.battle_tag,
        format=battle.format,
        gen=battle.gen,
        turn=turn,
        player_role=battle.player_role,
        player=sides[0],
        opponent=sides[1],
        weather=None if weather is None else enum_id(weather[0]),
        weather_turns=None if weather is None else max(turn - weather[1], 0),
        terrain=None if terrain is None else enum_id(terrain),
        fields={enum_id(f): max(turn - start, 0) for f, start in battle.fields.items()},
        can_tera=bool(battle.can_tera),
        used_tera=bool(battle.used_tera),
        opponent_used_tera=bool(battle.opponent_used_tera),
        force_switch=bool(battle.force_switch),
        trapped=bool(battle.trapped),
        maybe_trapped=bool(battle.maybe_trapped),
        wait=bool(battle.wait),
        actions=tuple(_action_option(order, battle) for order in battle.valid_orders),
    )


# --------------------------------------------------------------------------- pieces


def _type_from_id(value: str) -> PokemonType:
    return PokemonType.from_name(value)


@lru_cache(maxsize=4096)
def _species_of(details: str, gen: int) -> str:
    """ "Garchomp, L100, F" -> "garchomp", as poke-env reads a `|poke|` line."""
    return Pokemon(details=details, gen=gen).species


def team_preview_species(battle: AbstractBattle) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(own, opponent) species ids shown at team preview; both empty without one.

    The opponent's come from the `|poke|` lines (`battle.teampreview_opponent_team`).
    poke-env keeps no list of our own `|poke|` lines, so ours are read from the battle's
    log (the lines before `|start|`), else from `battle.teampreview_team` (filled by
    poke-env for a constant teambuilder), else from the team the server's first request
    listed, in its order (as written).
    """
    opponent = tuple(mon.species for mon in battle.teampreview_opponent_team)
    if not opponent:
        return (), ()
    own: list[str] = []
    for event in getattr(battle, "_replay_data", ()):
        if len(event) < 2:
            continue
        if event[1] in ("start", "turn"):
            break
        if event[1] == "poke" and len(event) > 3 and event[2] == battle.player_role:
            own.append(_species_of(event[3], battle.gen))
    if not own:
        own = [mon.species for mon in battle.teampreview_team or battle.team.values()]
    return tuple(own), opponent


def _status(mon: Pokemon) -> str | None:
    return None if mon.status is None else enum_id(mon.status)


def _item(mon: Pokemon) -> str | None:
    item = mon.item
    if item == GenData.UNKNOWN_ITEM:
        return None
    return item or ""


def tera_type_of(mon: Pokemon, own: bool) -> PokemonType | None:
    """The tera type of a pokemon: poke-env's, or (own side) the request's."""
    if mon.tera_type is not None:
        return mon.tera_type
    if own:
        # poke-env does not read the request's teraType: take it from there.
        request = getattr(mon, "_last_request", None) or {}
        name = request.get("teraType")
        if name:
            try:
                return _type_from_id(name)
            except KeyError:
                logger.warning("unknown tera type %r for %s", name, mon.species)
    return None


def _hp_fraction(mon: Pokemon) -> float:
    if mon.fainted or not mon.max_hp:
        return 0.0
    return min(max(mon.current_hp / mon.max_hp, 0.0), 1.0)


def _accuracy(move: Move) -> float | None:
    accuracy = move.entry.get("accuracy", True)
    if accuracy is True or move.id in PLACEHOLDER_MOVES:  # poke-env's stub entry says 1
        return None
    return float(accuracy) / 100


def move_state(move: Move) -> MoveState:
    entry = move.entry
    return MoveState(
        id=move.id,
        name=str(entry.get("name", move.id)),
        type=type_id(move.type),
        category=enum_id(move.category),
        base_power=int(move.base_power),
        accuracy=_accuracy(move),
        priority=int(entry.get("priority", 0)),
        pp=int(move.current_pp),
        max_pp=int(move.max_pp),
    )


def pokemon_state(mon: Pokemon, *, own: bool) -> PokemonState:
    tera = tera_type_of(mon, own)
    return PokemonState(
        species=mon.species,
        level=mon.level,
        types=tuple(type_id(t) for t in mon.types),
        tera_type=None if tera is None else type_id(tera),
        terastallized=mon.is_terastallized,
        hp_fraction=_hp_fraction(mon),
        current_hp=mon.current_hp if own else None,
        max_hp=mon.max_hp if own else None,
        status=_status(mon),
        boosts={stat: int(mon.boosts.get(stat, 0)) for stat in BOOST_STATS},
        ability=mon.ability,
        possible_abilities=tuple(getattr(mon, "possible_abilities", None) or ()),
        item=_item(mon),
        moves=tuple(move_state(m) for m in mon.moves.values()),
        base_stats={k: int(v) for k, v in mon.base_stats.items()},
        stats=dict(mon.stats) if own else None,
        fainted=mon.fainted,
        active=bool(mon.active),
        revealed=True if not own else mon.revealed,
        effects=tuple(sorted(enum_id(e) for e in mon.effects)),
    )


def side_conditions_state(conditions: dict[Any, int], turn: int) -> tuple[SideConditionState, ...]:
    states = []
    for condition, value in conditions.items():
        if condition in STACKABLE_CONDITIONS:
            states.append(SideConditionState(enum_id(condition), layers=value))
        else:
            states.append(SideConditionState(enum_id(condition), turns=max(turn - value, 0)))
    return tuple(sorted(states, key=lambda c: c.name))


def _request_pp(battle: Battle, move: Move) -> tuple[int, int] | None:
    """(pp, maxpp) of `move` in the last request's active moves, if listed there."""
    active = (battle.last_request.get("active") or [{}])[0]
    wanted = Move.retrieve_id(move.id)
    for entry in active.get("moves", []):
        if Move.retrieve_id(entry.get("id", "")) == wanted and "pp" in entry:
            return int(entry["pp"]), int(entry.get("maxpp", entry["pp"]))
    return None


def _multiplier(defender: Pokemon, attacking: PokemonType) -> float:
    return float(defender.damage_multiplier(attacking))


# Abilities that make their holder immune to a type, once the ability is known.
_IMMUNITY_ABILITIES = {
    "levitate": PokemonType.GROUND,
    "eartheater": PokemonType.GROUND,
    "flashfire": PokemonType.FIRE,
    "wellbakedbody": PokemonType.FIRE,
    "waterabsorb": PokemonType.WATER,
    "stormdrain": PokemonType.WATER,
    "dryskin": PokemonType.WATER,
    "voltabsorb": PokemonType.ELECTRIC,
    "lightningrod": PokemonType.ELECTRIC,
    "motordrive": PokemonType.ELECTRIC,
    "sapsipper": PokemonType.GRASS,
}


def move_effectiveness(move: Move, move_type: PokemonType, defender: Pokemon) -> float:
    """The type multiplier of `move` on `defender`: the type chart, plus the moves that
    break it (Freeze-Dry on Water, Thousand Arrows on Flying) and known immunity abilities
    (Levitate, Flash Fire, Water Absorb...). Items and other abilities are not counted."""
    if (
        defender.ability in _IMMUNITY_ABILITIES
        and _IMMUNITY_ABILITIES[defender.ability] is move_type
        and move.category is not MoveCategory.STATUS
    ):
        return 0.0
    multiplier = _multiplier(defender, move_type)
    types = [t for t in defender.types if t is not None]
    if move.id == "freezedry" and PokemonType.WATER in types:
        multiplier *= 4  # super effective on Water instead of resisted
    elif move.id == "thousandarrows" and PokemonType.FLYING in types:
        others = [t for t in types if t is not PokemonType.FLYING]
        multiplier = 1.0
        for other in others:
            multiplier *= float(
                move_type.damage_multiplier(other, None, type_chart=_type_chart(defender))
            )
    return multiplier


def _type_chart(mon: Pokemon) -> dict:
    return GenData.from_gen(mon.gen).type_chart


def _action_option(order: BattleOrder, battle: Battle) -> ActionOption:
    label = action_name(order)
    target = order.order if isinstance(order, SingleBattleOrder) else None
    opponent = battle.opponent_active_pokemon
    if isinstance(target, Move):
        return _move_option(label, target, bool(order.terastallize), battle, opponent)
    if isinstance(target, Pokemon):
        return ActionOption(
            label=label,
            kind="switch",
            id=target.species,
            species=target.species,
            hp_fraction=_hp_fraction(target),
            types=tuple(type_id(t) for t in target.types),
            status=_status(target),
            incoming_effectiveness=None
            if opponent is None
            else max(_multiplier(target, t) for t in opponent.types),
            outgoing_effectiveness=None
            if opponent is None
            else max(_multiplier(opponent, t) for t in target.types),
        )
    return ActionOption(label=label, kind="default", id="")


def stab_types(mon: Pokemon, tera: bool = False) -> set[PokemonType]:
    """Types that get STAB: the species' own, plus the tera type once (or as) it terastallizes."""
    types = {t for t in mon.base_types if t is not None}
    tera_type = tera_type_of(mon, own=True)
    if (
        tera_type is not None
        and tera_type is not PokemonType.STELLAR
        and (tera or mon.is_terastallized)
    ):
        types.add(tera_type)
    return types


def _move_option(
    label: str, move: Move, tera: bool, battle: Battle, opponent: Pokemon | None
) -> ActionOption:
    attacker = battle.active_pokemon
    move_type = move.type
    stab: set[PokemonType] = set()
    if attacker is not None:
        stab = stab_types(attacker, tera)
        tera_type = tera_type_of(attacker, own=True)
        if (
            tera_type is not None
            and (tera or attacker.is_terastallized)
            and move.id == "terablast"
            and tera_type is not PokemonType.STELLAR
        ):
            move_type = tera_type
    state = move_state(move)
    pp = _request_pp(battle, move) or (state.pp, state.max_pp)
    damaging = move.category is not MoveCategory.STATUS
    return ActionOption(
        label=label,
        kind="move",
        id=move.id,
        tera=tera,
        name=state.name,
        type=type_id(move_type),
        category=state.category,
        base_power=state.base_power,
        accuracy=state.accuracy,
        pp=pp[0],
        max_pp=pp[1],
        priority=state.priority,
        effectiveness=None if opponent is None else move_effectiveness(move, move_type, opponent),
        stab=damaging and move_type in stab,
    )

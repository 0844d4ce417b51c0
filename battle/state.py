"""The one typed battle state: what a player knows when it must choose.

`BattleState.from_battle(battle)` reads a poke-env singles `Battle` from one player's
side and returns plain frozen dataclasses of strings, numbers, tuples and dicts. The same
object serves every consumer, so a model is trained on exactly what it sees when it plays:

- live play (agents build it from the battle they are handed),
- replay parsing (protocol lines are fed through poke-env's own `Battle`, then this),
- LLM prompts (rendered from it), fine-tuning data and transformer features (encoded
  from it), and trajectories (stored as `to_dict()` JSON, read back with `from_dict`).

Conventions:

- Every enum is a lower-case Showdown-style id: types `"electric"`, status `"par"`,
  category `"special"`, weather `"raindance"`, fields `"electricterrain"`, side
  conditions `"stealthrock"`, effects `"substitute"`. The untyped type is `"???"`.
- Only what this player can know is included: the opponent's bench holds only revealed
  Pokémon, their moves, item and ability only once seen (`None` when unknown).
- `actions` mirrors `battle.valid_orders` in the same order; each option's `label`
  equals `action_name(order)` (below) ("move thunderbolt", "move thunderbolt tera",
  "switch pikachu"), so run records, prompts and states agree. `order_for(battle, label)`
  maps a label back to the poke-env order.
- `from_dict(state.to_dict()) == state`, and `to_dict()` is plain JSON (lists, not tuples).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, fields, is_dataclass
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

if TYPE_CHECKING:
    from enum import Enum

    from poke_env.battle.abstract_battle import AbstractBattle

logger = logging.getLogger(__name__)

STATE_VERSION = 2
"""Bumped whenever a field is added, removed or changes meaning.

2: `SideState.preview` (the species shown at team preview). Version 1 states still load
(`preview` empty, as it was for the random battles they were recorded in)."""

READABLE_VERSIONS = frozenset({1, STATE_VERSION})

BOOST_STATS = ("accuracy", "atk", "def", "evasion", "spa", "spd", "spe")

# Choices Showdown offers as a move that are no move of the Pokémon's: "recharge" (after
# Hyper Beam) and gen 1's "fight" (asleep, frozen or partially trapped: the Fight button
# is the only move choice). poke-env gives both a stub entry (normal type, 1 PP).
PLACEHOLDER_MOVES = frozenset({"recharge", "fight"})


# --------------------------------------------------------------------------- ids


def action_name(order: BattleOrder) -> str:
    """A short, stable name for an order, as recorded in runs: "move thunderbolt tera"."""
    if isinstance(order, SingleBattleOrder):
        if isinstance(order.order, Move):
            name = f"move {order.order.id}"
            if order.terastallize:
                name += " tera"
            elif order.dynamax:
                name += " dynamax"
            elif order.mega:
                name += " mega"
            elif order.z_move:
                name += " zmove"
            return name
        if isinstance(order.order, Pokemon):
            return f"switch {order.order.species}"
    message = order.message.removeprefix("/choose ").strip()
    return message or "default"


def enum_id(value: Enum) -> str:
    """`SideCondition.STEALTH_ROCK` -> "stealthrock" (Showdown's id spelling)."""
    return value.name.lower().replace("_", "")


def type_id(value: PokemonType) -> str:
    """`PokemonType.ELECTRIC` -> "electric"; the typeless `???` stays "???"."""
    if value is PokemonType.THREE_QUESTION_MARKS:
        return "???"
    return value.name.lower()


def _type_from_id(value: str) -> PokemonType:
    return PokemonType.from_name(value)


# --------------------------------------------------------------------------- dataclasses


def _plain(value: Any) -> Any:
    """Dataclasses to dicts and tuples to lists, recursively: JSON-native output."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _opt_tuple(value: Iterable[Any] | None) -> tuple[Any, ...] | None:
    return None if value is None else tuple(value)


@dataclass(frozen=True)
class MoveState:
    """A move a Pokémon has (own) or was seen using (opponent)."""

    id: str
    name: str
    type: str
    category: str  # "physical" | "special" | "status"
    base_power: int
    accuracy: float | None  # 0..1; None for moves that never miss
    priority: int
    pp: int  # own: from the server; opponent: poke-env's estimate from seen uses
    max_pp: int

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MoveState:
        return cls(**data)


@dataclass(frozen=True)
class PokemonState:
    """One Pokémon as this player knows it."""

    species: str  # species id, e.g. "pikachu", "urshifurapidstrike"
    level: int
    types: tuple[str, ...]  # current types: the tera type alone once terastallized
    tera_type: str | None  # own: always known; opponent: once revealed
    terastallized: bool
    hp_fraction: float  # 0..1
    current_hp: int | None  # own only (opponent HP is a percentage: see hp_fraction)
    max_hp: int | None  # own only
    status: str | None  # "brn" | "frz" | "par" | "psn" | "slp" | "tox" | "fnt" | None
    boosts: dict[str, int]  # accuracy, atk, def, evasion, spa, spd, spe: -6..6
    ability: str | None  # current ability if known (gens 1-2: the one Showdown names, inert)
    possible_abilities: tuple[str, ...]
    item: str | None  # None: unknown; "": holds nothing (or consumed / knocked off)
    moves: tuple[MoveState, ...]  # own: full moveset; opponent: moves seen so far
    base_stats: dict[str, int]
    stats: dict[str, int | None] | None  # own only: actual stats from the server
    fainted: bool
    active: bool
    revealed: bool  # has appeared in battle (always True for the opponent's mons)
    effects: tuple[str, ...] = ()  # volatile effects, e.g. ("confusion", "substitute")

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PokemonState:
        data = dict(data)
        data["types"] = tuple(data["types"])
        data["possible_abilities"] = tuple(data["possible_abilities"])
        data["moves"] = tuple(MoveState.from_dict(m) for m in data["moves"])
        data["effects"] = tuple(data.get("effects", ()))
        return cls(**data)


@dataclass(frozen=True)
class SideConditionState:
    """A side condition: hazards count layers, screens and the like count turns."""

    name: str  # "spikes", "toxicspikes", "stealthrock", "stickyweb", "reflect", ...
    layers: int = 1  # spikes 1-3, toxic spikes 1-2, otherwise 1
    turns: int | None = None  # turns since set up; None for layered hazards

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SideConditionState:
        return cls(**data)


@dataclass(frozen=True)
class SideState:
    """One side of the field from this player's point of view."""

    role: str | None  # "p1" | "p2"
    active: PokemonState | None
    bench: tuple[PokemonState, ...]  # own: the rest of the team; opponent: revealed only
    conditions: tuple[SideConditionState, ...]  # sorted by name
    team_size: int | None = None  # announced team size (6 in random battles)
    # Species ids shown at team preview, in the order shown (the team as written); empty
    # in formats without team preview (random battles, gens 1-4).
    preview: tuple[str, ...] = ()

    def condition(self, name: str) -> SideConditionState | None:
        return next((c for c in self.conditions if c.name == name), None)

    @property
    def pokemon(self) -> tuple[PokemonState, ...]:
        return ((self.active,) if self.active is not None else ()) + self.bench

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SideState:
        data = dict(data)
        active = data["active"]
        data["active"] = None if active is None else PokemonState.from_dict(active)
        data["bench"] = tuple(PokemonState.from_dict(p) for p in data["bench"])
        data["conditions"] = tuple(SideConditionState.from_dict(c) for c in data["conditions"])
        data["preview"] = tuple(data.get("preview", ()))
        return cls(**data)


@dataclass(frozen=True)
class ActionOption:
    """One legal choice, with what a player needs to weigh it.

    Move fields are None for switches and switch fields None for moves.
    """

    label: str  # == agents.base.action_name(order)
    kind: str  # "move" | "switch" | "default"
    id: str  # move id ("thunderbolt") or species id ("pikachu"); "" for default
    tera: bool = False
    # moves
    name: str | None = None
    type: str | None = None  # the type it will have (Tera Blast takes the tera type)
    category: str | None = None
    base_power: int | None = None
    accuracy: float | None = None  # 0..1; None for never-miss moves (and non-moves)
    pp: int | None = None
    max_pp: int | None = None
    priority: int | None = None
    effectiveness: float | None = None  # type-chart multiplier vs the opponent active
    stab: bool | None = None
    # switches
    species: str | None = None
    hp_fraction: float | None = None
    types: tuple[str, ...] | None = None
    status: str | None = None
    incoming_effectiveness: float | None = None  # worst multiplier of the foe's types on it
    outgoing_effectiveness: float | None = None  # best multiplier of its types on the foe

    def to_dict(self) -> dict[str, Any]:
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionOption:
        data = dict(data)
        data["types"] = _opt_tuple(data.get("types"))
        return cls(**data)


@dataclass(frozen=True)
class BattleState:
    """Everything one player knows at one decision point of a singles battle."""

    battle_tag: str
    format: str | None
    gen: int
    turn: int
    player_role: str | None
    player: SideState
    opponent: SideState
    weather: str | None  # "raindance", "sunnyday", "sandstorm", "snowscape", ...
    weather_turns: int | None  # turns since it started
    terrain: str | None  # "electricterrain", "grassyterrain", ... (also in `fields`)
    fields: dict[str, int]  # field id -> turns since it started (terrains, trickroom...)
    can_tera: bool
    used_tera: bool
    opponent_used_tera: bool
    force_switch: bool
    trapped: bool
    maybe_trapped: bool
    wait: bool
    actions: tuple[ActionOption, ...]
    version: int = STATE_VERSION

    # ------------------------------------------------------------------ building

    @classmethod
    def from_battle(cls, battle: AbstractBattle) -> BattleState:
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
        return cls(
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

    # ------------------------------------------------------------------ queries

    @property
    def labels(self) -> list[str]:
        """The legal action labels, in `battle.valid_orders` order."""
        return [a.label for a in self.actions]

    def action(self, label: str) -> ActionOption:
        """The option called `label`; KeyError if it is not legal here."""
        for option in self.actions:
            if option.label == label:
                return option
        raise KeyError(f"illegal action {label!r}; legal actions: {', '.join(self.labels)}")

    @staticmethod
    def order_for(battle: AbstractBattle, label: str) -> BattleOrder:
        """The poke-env order from `battle.valid_orders` whose label is `label`."""
        return order_for(battle, label)

    # ------------------------------------------------------------------ serialising

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (lists, dicts, str, int, float, bool, None)."""
        return _plain(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BattleState:
        data = dict(data)
        version = data.get("version", STATE_VERSION)
        if version not in READABLE_VERSIONS:
            raise ValueError(
                f"battle state version {version} cannot be read by this code "
                f"(version {STATE_VERSION}): re-record it or convert it"
            )
        data["version"] = STATE_VERSION  # older versions lack only fields with defaults
        data["player"] = SideState.from_dict(data["player"])
        data["opponent"] = SideState.from_dict(data["opponent"])
        data["fields"] = dict(data["fields"])
        data["actions"] = tuple(ActionOption.from_dict(a) for a in data["actions"])
        return cls(**data)


def order_for(battle: AbstractBattle, label: str) -> BattleOrder:
    """Map an action label ("move thunderbolt tera", "switch pikachu") to its legal order.

    Raises KeyError, listing the legal labels, when `label` is not legal in `battle`.
    """
    orders = list(battle.valid_orders)
    for order in orders:
        if action_name(order) == label:
            return order
    legal = ", ".join(action_name(o) for o in orders)
    raise KeyError(f"illegal action {label!r}; legal actions: {legal}")


# --------------------------------------------------------------------------- helpers


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

"""The one typed battle state: what a player knows when it must choose.

`BattleState.from_battle(battle)` reads a poke-env singles `Battle` from one player's
side (built by `battle.observe`) and returns plain frozen dataclasses of strings,
numbers, tuples and dicts, defined here. The same object serves every consumer, so a
model is trained on exactly what it sees when it plays:

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

from collections.abc import Iterable
from dataclasses import dataclass, fields, is_dataclass
from typing import TYPE_CHECKING, Any

from poke_env.battle.move import Move
from poke_env.battle.pokemon import Pokemon
from poke_env.battle.pokemon_type import PokemonType
from poke_env.player.battle_order import BattleOrder, SingleBattleOrder

if TYPE_CHECKING:
    from enum import Enum

    from poke_env.battle.abstract_battle import AbstractBattle

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


class _PlainState:
    """What every state dataclass shares: `to_dict()`, its plain JSON form."""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (lists, dicts, str, int, float, bool, None)."""
        return _plain(self)


@dataclass(frozen=True)
class MoveState(_PlainState):
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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MoveState:
        return cls(**data)


@dataclass(frozen=True)
class PokemonState(_PlainState):
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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PokemonState:
        data = dict(data)
        data["types"] = tuple(data["types"])
        data["possible_abilities"] = tuple(data["possible_abilities"])
        data["moves"] = tuple(MoveState.from_dict(m) for m in data["moves"])
        data["effects"] = tuple(data.get("effects", ()))
        return cls(**data)


@dataclass(frozen=True)
class SideConditionState(_PlainState):
    """A side condition: hazards count layers, screens and the like count turns."""

    name: str  # "spikes", "toxicspikes", "stealthrock", "stickyweb", "reflect", ...
    layers: int = 1  # spikes 1-3, toxic spikes 1-2, otherwise 1
    turns: int | None = None  # turns since set up; None for layered hazards

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SideConditionState:
        return cls(**data)


@dataclass(frozen=True)
class SideState(_PlainState):
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
class ActionOption(_PlainState):
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

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionOption:
        data = dict(data)
        data["types"] = _opt_tuple(data.get("types"))
        return cls(**data)


@dataclass(frozen=True)
class BattleState(_PlainState):
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
        from battle.observe import battle_state  # it builds on this module

        return battle_state(battle)

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

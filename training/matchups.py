"""A Metamon state's Pokémon as `battle.model` Pokémon, and what they do to each other.

`EntityEncoder` (`training.entities`) reads a state's dicts through these helpers: `to_mon`
estimates a Pokémon's stats from its base stats and level (84 EVs and 31 IVs, neutral
nature: random-battle sets, for both sides) and `Matchups` asks `battle.damage` (the
search agent's calculator) for type multipliers, speed order, expected damage and KO
chances between two Pokémon with the state's weather, terrain and screens, each pair once
per state. Damage ignores crits and the opponent's unrevealed ability and item; a Pokémon
counts as terastallized when it shows its tera type alone and tera is used up.
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from typing import Any

from battle.damage import (
    damage_rolls,
    effective_speed,
    ko_probability,
    type_effectiveness,
)
from battle.model import Battle, Field, Mon, MoveData, Side, compute_stats, move_data, to_id
from battle.sets import format_gen
from training.features import as_fraction, as_number, tera_possible

logger = logging.getLogger("training.entities")  # the logger it had in training.entities

BOOSTS = ("atk", "spa", "def", "spd", "spe", "accuracy", "evasion")
STATS = ("hp", "atk", "def", "spa", "spd", "spe")
EVS = dict.fromkeys(STATS, 84)
CLIP = 2.0
NONE_WORDS = frozenset({"", "nostatus", "noeffect", "notype", "nomove", "nopokemon", "???"})
_TERRAINS = frozenset({"electricterrain", "grassyterrain", "mistyterrain", "psychicterrain"})
_WEATHERS = {
    "raindance": "raindance",
    "sunnyday": "sunnyday",
    "sandstorm": "sandstorm",
    "hail": "hail",
    "snow": "snowscape",
    "snowscape": "snowscape",
    "desolateland": "desolateland",
    "primordialsea": "primordialsea",
    "deltastream": "deltastream",
}


def as_id(text: Any) -> str:
    """A field read as a Showdown id ("" for null)."""
    return to_id(str(text)) if text else ""


def log_mult(x: float) -> float:
    """A multiplier on a log scale: x 1 -> 0, x 2 -> 0.5, x 4 -> 1, immune -> -1.5."""
    return math.log2(max(x, 0.125)) / 2


def state_gen(state: dict[str, Any]) -> int:
    """The generation of a state's format (9 when it names none)."""
    return format_gen(str(state.get("format") or ""))


def words_of(text: Any) -> list[str]:
    """A field's words (none for a null)."""
    return text.split() if isinstance(text, str) else []


def _types(text: Any) -> tuple[str, ...]:
    return tuple(w for w in (as_id(t) for t in words_of(text)) if w and w not in NONE_WORDS)


@lru_cache(maxsize=65536)
def known_move(gen: int, move_id: str) -> MoveData | None:
    """The move's data in generation `gen` (cached); None for a move it does not know."""
    try:
        return move_data(gen, move_id)
    except KeyError:
        return None


def _status(mon: dict[str, Any]) -> str:
    status = as_id(mon.get("status"))
    return "" if status in ("", "nostatus", "fnt") else status


def is_alive(mon: dict[str, Any]) -> bool:
    """A state's pokemon dict is a Pokémon (not an empty slot) with HP left."""
    return (
        as_fraction(mon.get("hp_pct")) > 0
        and mon.get("status") != "fnt"
        and mon.get("name") not in ("nopokemon", None, "")
    )


def to_mon(gen: int, mon: dict[str, Any], *, can_tera: bool) -> Mon:
    """A `battle.model.Mon` from a state's pokemon dict (estimated stats)."""
    level = int(as_number(mon.get("lvl"))) or 100
    base = {s: int(as_number(mon.get(f"base_{s}"))) for s in STATS}
    stats = compute_stats(base, level, EVS, None)
    types = _types(mon.get("types")) or ("normal",)
    tera = as_id(mon.get("tera_type"))
    tera = "" if tera in NONE_WORDS else tera
    # a Pokémon already terastallized shows its tera type alone (and its tera is used up)
    terastallized = bool(tera) and types == (tera,) and not can_tera
    moves = []
    for move in mon.get("moves") or ():
        data = known_move(gen, as_id(move.get("name")))
        if data is not None:
            moves.append(data)
    item = as_id(mon.get("item"))
    ability = as_id(mon.get("ability"))
    return Mon(
        species=as_id(mon.get("name")),
        level=level,
        types=types,
        stats=stats,
        hp=round(as_fraction(mon.get("hp_pct")) * stats["hp"]),
        ability="" if ability in ("unknownability", "noability") else ability,
        item="" if item in ("unknownitem", "noitem") else item,
        status=_status(mon),
        boosts={b: int(as_number(mon.get(f"{b}_boost"))) for b in BOOSTS if mon.get(f"{b}_boost")},
        moves=tuple(moves),
        tera_type=tera,
        terastallized=terastallized,
    )


def _side(state: dict[str, Any], key: str, mon: Mon) -> Side:
    words = words_of(state.get(key))
    side = Side(mons=[mon])
    side.stealth_rock = "stealthrock" in words
    side.spikes = words.count("spikes")
    side.reflect = 5 * ("reflect" in words)
    side.light_screen = 5 * ("lightscreen" in words)
    side.aurora_veil = 5 * ("auroraveil" in words)
    side.tailwind = 4 * ("tailwind" in words)
    return side


class Matchups:
    """Damage and speed between Pokémon of one state, with the state's field and screens."""

    def __init__(self, state: dict[str, Any], gen: int) -> None:
        self.gen = gen
        self.state = state
        # (id, id) -> (the two Pokémon, kept alive so that their ids stay theirs, values)
        self._pairs: dict[tuple[int, int], tuple[Mon, Mon, tuple[float, ...] | None]] = {}
        fields = words_of(state.get("battle_field"))
        self.field = Field(
            weather=_WEATHERS.get(as_id(state.get("weather")), ""),
            terrain=next((f for f in fields if f in _TERRAINS), ""),
            trick_room=5 * ("trickroom" in fields),
            gravity=5 * ("gravity" in fields),
        )

    def battle(self, ours: Mon, theirs: Mon) -> Battle:
        sides = (
            _side(self.state, "player_conditions", ours),
            _side(self.state, "opponent_conditions", theirs),
        )
        return Battle(self.gen, sides, self.field)

    def hit(self, battle: Battle, attacker: int, move: MoveData) -> tuple[float, float]:
        """(expected damage as a fraction of the target's max HP, KO chance)."""
        if move.category == "status":
            return 0.0, 0.0
        try:
            rolls = damage_rolls(battle, attacker, move)
        except Exception:  # a corner of the calculator: no number rather than no state
            logger.debug("damage of %s failed", move.id, exc_info=True)
            return 0.0, 0.0
        target = battle.sides[1 - attacker].mon
        accuracy = 1.0 if move.always_hits else move.accuracy
        mean = sum(rolls) / len(rolls) if rolls else 0.0
        return (
            min(mean / max(target.max_hp, 1), CLIP) * accuracy,
            ko_probability(rolls, target.hp) * accuracy if target.hp > 0 else 0.0,
        )

    def best(self, battle: Battle, attacker: int) -> tuple[float, float]:
        """The best (expected damage, KO chance) of the attacker's known moves."""
        damage = ko = 0.0
        for move in battle.sides[attacker].mon.moves:
            d, k = self.hit(battle, attacker, move)
            damage, ko = max(damage, d), max(ko, k)
        return damage, ko

    def speed_order(self, battle: Battle) -> float:
        """1 when our side's active is faster, 0.5 on a tie, 0 when slower."""
        ours, theirs = effective_speed(battle, 0), effective_speed(battle, 1)
        return 1.0 if ours > theirs else 0.5 if ours == theirs else 0.0

    def pair(self, ours: Mon, theirs: Mon) -> tuple[float, ...] | None:
        """(offence, defence, faster, damage, KO, taken, taken KO) of `ours` facing `theirs`,
        seen from our side: computed once per pair (the two actives' entities share it).
        None when either is no Pokémon (an empty slot)."""
        key = (id(ours), id(theirs))
        if key not in self._pairs:
            self._pairs[key] = (ours, theirs, self._pair(ours, theirs))
        return self._pairs[key][2]

    def _pair(self, ours: Mon, theirs: Mon) -> tuple[float, ...] | None:
        if not (_real(ours) and _real(theirs)):
            return None
        battle = self.battle(ours, theirs)
        return (
            log_mult(_best_type_mult(self.gen, ours.current_types(), theirs.current_types())),
            log_mult(_best_type_mult(self.gen, theirs.current_types(), ours.current_types())),
            self.speed_order(battle),
            *self.best(battle, 0),
            *self.best(battle, 1),
        )


def can_terastallize(state: dict[str, Any]) -> bool:
    """The state's `can_tera` (the arena's extension); in files without it, the text
    view's guess (a gen 9 format, the active not already Stellar)."""
    can_tera = state.get("can_tera")
    if can_tera is None:
        return tera_possible(state, state.get("player_active_pokemon") or {})
    return bool(can_tera)


def _real(mon: Mon) -> bool:
    return mon.species not in ("", "nopokemon")


def _best_type_mult(gen: int, attacking: tuple[str, ...], defending: tuple[str, ...]) -> float:
    if not attacking or not defending:
        return 1.0
    return max(type_effectiveness(gen, t, defending) for t in attacking)

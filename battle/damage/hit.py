"""`Hit`: one use of a move in gens 3-9, as every step of the damage calculation reads it.

It gathers what the steps share: both active Pokémon and their sides, their abilities
(the defender's blanked when Mold Breaker ignores it) and items, the weather (blanked
under Air Lock / Cloud Nine), terrain and gravity, whether the hit is critical and
whether the attacker moves first. The move's resolved type and category (`mtype`,
`physical`) are filled in by `moves.resolve_type` once the abilities have changed them.
"""

from __future__ import annotations

from dataclasses import dataclass

from battle.damage.mons import suppressed_weather
from battle.damage.tables import BREAKABLE, MOLD_BREAKERS
from battle.model import Battle, Mon, MoveData, Side


@dataclass(slots=True)
class Hit:
    """The situation of one damaging move (see the module doc)."""

    battle: Battle
    gen: int
    attacker: int  # index of the attacking side in battle.sides
    move: MoveData
    mid: str  # move.id
    flags: frozenset[str]  # move.flags
    a_side: Side
    d_side: Side
    src: Mon  # the attacker's active Pokémon
    tgt: Mon  # the defender's active Pokémon
    a_ab: str
    d_ab: str  # "" when the attacker's Mold Breaker ignores it
    a_item: str
    d_item: str
    weather: str  # "" under Air Lock / Cloud Nine
    terrain: str
    gravity: bool
    crit: bool  # cleared by Battle Armor / Shell Armor
    first: bool  # the attacker moves first this turn
    mtype: str = ""  # the move's type once ModifyType has run
    physical: bool = False  # the move's category once ModifyMove has run


def new_hit(battle: Battle, attacker: int, move: MoveData, crit: bool, first: bool) -> Hit:
    """The `Hit` of `move` used by `battle.sides[attacker]`'s active on the other active."""
    a_side = battle.sides[attacker]
    d_side = battle.sides[1 - attacker]
    src = a_side.mons[a_side.active]
    tgt = d_side.mons[d_side.active]
    a_ab = src.ability
    d_ab = tgt.ability
    if d_ab and a_ab in MOLD_BREAKERS and d_ab in BREAKABLE:
        d_ab = ""
    fld = battle.field
    # positional, in field order: this runs once per damage calculation
    return Hit(
        battle,
        battle.gen,
        attacker,
        move,
        move.id,
        move.flags,
        a_side,
        d_side,
        src,
        tgt,
        a_ab,
        d_ab,
        src.item,
        tgt.item,
        suppressed_weather(battle),
        fld.terrain,
        fld.gravity > 0,
        crit,
        first,
    )

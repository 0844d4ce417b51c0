"""Damage in gens 1-2: Showdown's `data/mods/gen{1,2}/scripts.js` getDamage.

The category comes from the type, there are no abilities, and gen 2's only items are the
type boosters (x1.1), Light Ball, Thick Club and Metal Powder. Stats of 256 or more are
scaled down by 4, gen 1 crits double the level and ignore boosts and screens, gen 2
crits ignore boosts only when the attack boost is at most the defense boost. The roll
is 217..255 out of 255: 39 rolls.
"""

from __future__ import annotations

from battle.damage.arith import boosted_old
from battle.damage.mons import suppressed_weather
from battle.damage.moves import fixed_damage
from battle.damage.power import special_power
from battle.damage.tables import (
    CHARTS,
    PHYSICAL_OLD,
    ROLLS_OLD,
    SPECIAL_BP,
    TYPE_ITEMS_OLD,
    ZEROS39,
    chart,
)
from battle.model import Battle, Mon, MoveData


def rolls_gen12(battle: Battle, attacker: int, move: MoveData, crit: bool) -> tuple[int, ...]:
    """Every damage roll of `move` in gens 1-2 (see `damage_rolls`)."""
    gen = battle.gen
    a_side = battle.sides[attacker]
    d_side = battle.sides[1 - attacker]
    src = a_side.mon
    tgt = d_side.mon
    mid = move.id
    mtype = move.type
    physical = mtype in PHYSICAL_OLD
    row = (CHARTS.get(gen) or chart(gen)).get(mtype)
    eff = 1.0
    if row is not None:
        for t in tgt.types:
            eff *= row.get(t, 1.0)
    if eff == 0.0:
        return ZEROS39
    bp = move.base_power
    if bp == 0 or move.fixed_damage is not None or move.ohko:
        fixed = fixed_damage(gen, src, tgt, move, "")
        if fixed is not None:
            return fixed
        if mid in SPECIAL_BP:
            bp = special_power(battle, attacker, src, tgt, move, True)
        if bp == 0:
            return ZEROS39
    elif mid in SPECIAL_BP:
        bp = special_power(battle, attacker, src, tgt, move, True)
    screen = d_side.reflect > 0 if physical else d_side.light_screen > 0
    if gen == 1:
        attack, defense, level = _stats_gen1(src, tgt, physical, crit, screen)
    else:
        attack, defense = _stats_gen2(src, tgt, physical, crit, screen)
        level = src.level
    if attack >= 256 or defense >= 256:
        attack = max(1, (attack // 4) % 256)
        defense = (defense // 4) % 256 or 1
    if mid in ("explosion", "selfdestruct") and physical:
        defense = max(1, defense // 2)

    damage = (level * 2 // 5 + 2) * bp * attack // defense
    if gen == 1:
        damage = _modify_gen1(damage, src, tgt, mtype, row)
        if damage == 0:
            return ZEROS39
    else:
        damage = _modify_gen2(battle, damage, src, move, crit, eff)
    if damage <= 1:
        out = (max(damage, 1 if gen == 2 else damage),) * 39
    else:
        floor = 1 if gen == 2 else 0
        out = tuple(max(floor, damage * r // 255) for r in ROLLS_OLD)
    return _multi_hit_gen12(move, out)


def _stats_gen1(
    src: Mon, tgt: Mon, physical: bool, crit: bool, screen: bool
) -> tuple[int, int, int]:
    """(attack, defense, level) in gen 1: crits use the raw stats and double the level."""
    a_name = "atk" if physical else "spa"
    d_name = "def" if physical else "spd"
    level = src.level
    if crit:
        attack = src.stats[a_name]
        defense = tgt.stats[d_name]
        level *= 2
    else:
        attack = max(1, min(999, boosted_old(src.stats[a_name], src.boosts.get(a_name, 0))))
        if physical and src.status == "brn":
            attack = max(1, attack // 2)
        defense = max(1, min(999, boosted_old(tgt.stats[d_name], tgt.boosts.get(d_name, 0))))
        if screen:
            defense *= 2
    return attack, defense, level % 256


def _stats_gen2(src: Mon, tgt: Mon, physical: bool, crit: bool, screen: bool) -> tuple[int, int]:
    """(attack, defense) in gen 2, with Thick Club, Light Ball and Metal Powder."""
    a_name = "atk" if physical else "spa"
    d_name = "def" if physical else "spd"
    a_boost = src.boosts.get(a_name, 0)
    d_boost = tgt.boosts.get(d_name, 0)
    unboosted = crit and a_boost <= d_boost
    if unboosted:
        attack = src.stats[a_name]
        defense = tgt.stats[d_name]
    else:
        attack = boosted_old(src.stats[a_name], a_boost)
        if physical and src.status == "brn":
            attack //= 2
        defense = boosted_old(tgt.stats[d_name], d_boost)
    attack = max(1, min(999, attack))
    defense = max(1, min(999, defense))
    if not unboosted and screen:
        defense *= 2
    a_item = src.item
    sp = src.species
    if (a_item == "thickclub" and physical and sp.startswith(("cubone", "marowak"))) or (
        a_item == "lightball" and not physical and sp.startswith("pikachu")
    ):
        attack *= 2
    if tgt.item == "metalpowder" and tgt.species == "ditto":
        defense = defense * 3 // 2
    return attack, defense


def _modify_gen1(damage: int, src: Mon, tgt: Mon, mtype: str, row: dict[str, float] | None) -> int:
    """Gen 1: /50, cap 997, +2, STAB, then x2 or x0.5 per defending type."""
    damage = min(damage // 50, 997) + 2
    if mtype in src.types:
        damage += damage // 2
    if row is not None:
        for t in tgt.types:
            f = row.get(t, 1.0)
            if f > 1.0:
                damage = damage * 20 // 10
            elif f < 1.0:
                damage = damage * 5 // 10
    return damage


def _modify_gen2(
    battle: Battle, damage: int, src: Mon, move: MoveData, crit: bool, eff: float
) -> int:
    """Gen 2: /50, crit x2, type booster x1.1, clamp to 1..997, +2, weather, STAB, type."""
    mtype = move.type
    damage //= 50
    if crit:
        damage *= 2
    a_item = src.item
    if a_item and TYPE_ITEMS_OLD.get(a_item) == mtype:
        damage = int(damage * 1.1)
    damage = max(1, min(damage, 997)) + 2
    weather = suppressed_weather(battle)
    if (mtype == "water" and weather == "raindance") or (mtype == "fire" and weather == "sunnyday"):
        damage = int(damage * 1.5)
    elif ((mtype == "fire" or move.id == "solarbeam") and weather == "raindance") or (
        mtype == "water" and weather == "sunnyday"
    ):
        damage //= 2
    if mtype in src.types:
        damage += damage // 2
    if eff > 1.0:
        damage *= int(eff)
    elif eff < 1.0:
        damage //= round(1.0 / eff)
    return damage


def _multi_hit_gen12(move: MoveData, out: tuple[int, ...]) -> tuple[int, ...]:
    """`out` times the expected hits (2-5 hits count 3; Triple Kick six 10-power hits)."""
    hits = 1
    mh = move.multihit
    if mh is not None:
        lo, hi = mh
        hits = lo if lo == hi else 3 if (lo, hi) == (2, 5) else (lo + hi + 1) // 2
        if move.id == "triplekick":
            hits = 1
            out = tuple(d * 6 for d in out)  # 10 + 20 + 30 power: six times the 10-power hit
    if hits != 1:
        out = tuple(d * hits for d in out)
    return out

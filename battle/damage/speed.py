"""Turn-order speed as Showdown computes it (`getActionSpeed` without Trick Room).

Gens 1-2: the boosted stat, quartered by paralysis, capped at 999. Gens 3+: the boosted
stat times one chained modifier (Choice Scarf, Iron Ball and the power items, Tailwind,
the weather / terrain speed abilities, Quick Feet, Protosynthesis / Quark Drive, and
paralysis in gens 3-4), then paralysis (x1/4, x1/2 from gen 7), capped at 10000.
"""

from __future__ import annotations

from battle.damage.arith import boosted, boosted_old, chain, modify
from battle.damage.mons import paradox_stat, suppressed_weather
from battle.damage.tables import POWER_ITEMS, RAIN, SNOW, SUN
from battle.model import Battle, Mon


def effective_speed(battle: Battle, side: int) -> int:
    """The speed of `battle.sides[side].mon` used for turn order (no Trick Room)."""
    gen = battle.gen
    s = battle.sides[side]
    mon = s.mon
    boost = mon.boosts.get("spe", 0)
    status = mon.status
    if gen <= 2:
        speed = boosted_old(mon.stats["spe"], boost)
        if status == "par":
            speed //= 4
        return max(1, min(speed, 999))
    speed = boosted(mon.stats["spe"], boost)
    ability = mon.ability
    item = mon.item
    m = 4096
    if item == "choicescarf":
        m = chain(m, 6144)
    elif item == "ironball" or item in POWER_ITEMS:
        m = chain(m, 2048)
    if s.tailwind > 0:
        m = chain(m, 8192)
    if ability:
        m = _ability_speed(battle, mon, ability, m)
    par = status == "par" and ability != "quickfeet"
    if par and gen <= 4:
        m = chain(m, 1024)
        par = False
    if m != 4096:
        speed = modify(speed, m)
    if par:
        speed = speed * 50 // 100 if gen >= 7 else speed * 25 // 100
    return min(speed, 10000)


def _ability_speed(battle: Battle, mon: Mon, ability: str, m: int) -> int:
    """`m` chained with the speed modifier of `mon`'s ability, if it applies now."""
    weather = suppressed_weather(battle)
    terrain = battle.field.terrain
    if ability == "quickfeet":
        if mon.status:
            m = chain(m, 6144)
    elif ability == "swiftswim":
        if weather in RAIN and mon.item != "utilityumbrella":
            m = chain(m, 8192)
    elif ability == "chlorophyll":
        if weather in SUN and mon.item != "utilityumbrella":
            m = chain(m, 8192)
    elif ability == "sandrush":
        if weather == "sandstorm":
            m = chain(m, 8192)
    elif ability == "slushrush":
        if weather == "hail" or weather in SNOW:
            m = chain(m, 8192)
    elif ability == "surgesurfer":
        if terrain == "electricterrain":
            m = chain(m, 8192)
    elif (
        ability in ("protosynthesis", "quarkdrive")
        and paradox_stat(mon, ability, weather, terrain) == "spe"
    ):
        m = chain(m, 6144)
    return m

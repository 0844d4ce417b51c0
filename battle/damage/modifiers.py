"""The modifiers applied around the random roll (gens 3-9), gathered in `RollMods`.

Weather (the defender's Utility Umbrella cancels sun and rain), STAB (tera, Stellar,
Adaptability, Protean / Libero assumed active), type effectiveness as an integer
multiply or floor-divide, burn, the screens, Life Orb, and the final ModifyDamage chain
(Sniper, Tinted Lens, Neuroforce, Life Orb, Expert Belt, Multiscale, Filter, Fluffy,
Ice Scales, Punk Rock, resist berries, gen 5+ screens). `rolls` applies them in each
generation's order.
"""

from __future__ import annotations

from typing import NamedTuple

from battle.damage.arith import chain
from battle.damage.hit import Hit
from battle.damage.tables import PROTEAN, RAIN, RESIST_BERRIES, SUN


class RollMods(NamedTuple):
    """What the roll functions multiply the base damage by (modifiers in 4096ths)."""

    wm: int  # weather
    crit: bool
    stab: int
    emul: int  # type effectiveness: multiply by emul, or floor-divide by ediv
    ediv: int
    burn: bool
    fm: int  # the final ModifyDamage chain (with gen 5+ screens)
    screen: bool  # Reflect / Light Screen / Aurora Veil apply
    physical: bool
    life_orb: bool


def roll_modifiers(h: Hit, eff: float) -> RollMods:
    """The `RollMods` of the hit `h` with type effectiveness `eff`."""
    physical = h.physical
    gen = h.gen
    emul = 1
    ediv = 1
    if eff > 1.0:
        emul = int(eff)
    elif eff < 1.0:
        ediv = round(1.0 / eff)
    burn = (
        physical and h.src.status == "brn" and h.a_ab != "guts" and (gen < 6 or h.mid != "facade")
    )
    fm = _final_modifier(h, eff)
    screen = False
    if not h.crit and h.a_ab != "infiltrator":
        d_side = h.d_side
        if physical:
            screen = d_side.reflect > 0 or d_side.aurora_veil > 0
        else:
            screen = d_side.light_screen > 0 or d_side.aurora_veil > 0
    if screen and gen >= 5:
        fm = chain(fm, 2048)
    # positional, in field order: this runs once per damage calculation
    return RollMods(
        _weather_modifier(h),
        h.crit,
        _stab(h),
        emul,
        ediv,
        burn,
        fm,
        screen,
        physical,
        h.a_item == "lifeorb",
    )


def _weather_modifier(h: Hit) -> int:
    """WeatherModifyDamage (the defender's umbrella cancels sun / rain)."""
    weather = h.weather
    mtype = h.mtype
    wm = 4096
    if weather and mtype in ("fire", "water"):
        if h.mid == "hydrosteam" and weather == "sunnyday" and h.a_item != "utilityumbrella":
            wm = 6144
        elif h.d_item != "utilityumbrella":
            if weather in SUN:
                wm = 6144 if mtype == "fire" else (2048 if weather == "sunnyday" else 4096)
            elif weather in RAIN:
                wm = 6144 if mtype == "water" else (2048 if weather == "raindance" else 4096)
    return wm


def _stab(h: Hit) -> int:
    """The same-type attack bonus in 4096ths (tera, Stellar and Adaptability included)."""
    mtype = h.mtype
    src = h.src
    stab = 4096
    if mtype != "???":
        orig = src.types
        is_stab = mtype in orig or mtype in src.current_types() or h.a_ab in PROTEAN
        if src.terastallized and src.tera_type == "stellar":
            stab = 8192 if is_stab else 4915
        else:
            if is_stab:
                stab = 6144
                if src.terastallized and mtype == src.tera_type and mtype in orig:
                    stab = 8192
            if h.a_ab == "adaptability" and mtype in src.current_types():
                stab = 9216 if stab == 8192 else 8192
    return stab


def _final_modifier(h: Hit, eff: float) -> int:
    """The final ModifyDamage chain, screens aside."""
    a_ab = h.a_ab
    d_ab = h.d_ab
    mtype = h.mtype
    fm = 4096
    if a_ab:
        if a_ab == "sniper":
            if h.crit:
                fm = chain(fm, 6144)
        elif a_ab == "tintedlens":
            if eff < 1.0:
                fm = chain(fm, 8192)
        elif a_ab == "neuroforce" and eff > 1.0:
            fm = chain(fm, 5120)
    if h.a_item == "lifeorb":
        if h.gen >= 5:
            fm = chain(fm, 5324)
    elif h.a_item == "expertbelt" and eff > 1.0:
        fm = chain(fm, 4915)
    if d_ab:
        tgt = h.tgt
        if d_ab in ("multiscale", "shadowshield"):
            if tgt.hp >= tgt.max_hp:
                fm = chain(fm, 2048)
        elif d_ab in ("filter", "solidrock", "prismarmor"):
            if eff > 1.0:
                fm = chain(fm, 3072)
        elif d_ab == "fluffy":
            fl = (8192 if mtype == "fire" else 4096) // (2 if "contact" in h.flags else 1)
            if fl != 4096:
                fm = chain(fm, fl)
        elif d_ab == "icescales":
            if not h.physical:
                fm = chain(fm, 2048)
        elif d_ab == "punkrock" and "sound" in h.flags:
            fm = chain(fm, 2048)
    d_item = h.d_item
    if d_item and d_item.endswith("berry"):
        if d_item == "chilanberry":
            if mtype == "normal":
                fm = chain(fm, 2048)
        elif eff > 1.0 and RESIST_BERRIES.get(d_item) == mtype:
            fm = chain(fm, 2048)
            if d_ab == "ripen":
                fm = chain(fm, 2048)
    return fm

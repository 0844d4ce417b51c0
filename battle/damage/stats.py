"""The attack and defense stats of a hit (gens 3-9): boosts, then Showdown's stat chains.

The attacking stat is Attack, Special Attack, the target's Attack (Foul Play) or Defense
(Body Press), boosted (Unaware and crits drop boosts as Showdown does), times the chained
ModifyAtk / ModifySpA modifiers of the defender's ability, the attacker's ability, its
item and the Ruin abilities. The defending stat is Defense or Special Defense (Psyshock
and kin hit Defense) with the sandstorm / snow boosts and the ModifyDef / ModifySpD
chain.
"""

from __future__ import annotations

from battle.damage.arith import boosted, chain, modify
from battle.damage.hit import Hit
from battle.damage.mons import nfe, paradox_stat
from battle.damage.tables import (
    IGNORE_DEF_BOOSTS,
    PINCH,
    SNOW,
    SUN,
    TYPE_BOOST_ABILITY,
    TYPE_ITEMS_OLD,
)

# --------------------------------------------------------------------------------------
# Attack
# --------------------------------------------------------------------------------------


def attack_stat(h: Hit) -> int:
    """The attacking stat of the hit, boosted and modified."""
    src = h.src
    tgt = h.tgt
    mid = h.mid
    physical = h.physical
    a_ab = h.a_ab
    d_ab = h.d_ab
    boosts = src.boosts
    if mid == "foulplay":
        a_stat = tgt.stats["atk"]
        a_boost = tgt.boosts.get("atk", 0)
    elif mid == "bodypress":
        a_stat = src.stats["def"]
        a_boost = boosts.get("def", 0)
    elif physical:
        a_stat = src.stats["atk"]
        a_boost = boosts.get("atk", 0)
    else:
        a_stat = src.stats["spa"]
        a_boost = boosts.get("spa", 0)
    if d_ab == "unaware" or (h.crit and a_boost < 0):
        a_boost = 0
    attack = boosted(a_stat, a_boost)
    am = 4096
    if d_ab:
        am = _defender_attack_modifier(h, am)
    if a_ab:
        if a_ab == "hustle" and physical:
            attack = modify(attack, 6144)
        am = _ability_attack_modifier(h, am)
    if h.a_item:
        am = _item_attack_modifier(h, am)
    if (d_ab == "tabletsofruin" and physical and a_ab != "tabletsofruin") or (
        d_ab == "vesselofruin" and not physical and a_ab != "vesselofruin"
    ):
        am = chain(am, 3072)
    if am != 4096:
        attack = modify(attack, am)
    return attack


def _defender_attack_modifier(h: Hit, am: int) -> int:
    """`am` chained with the defender's ability that weakens the attack (Thick Fat...)."""
    d_ab = h.d_ab
    mtype = h.mtype
    if d_ab == "thickfat":
        if mtype in ("fire", "ice") and h.gen >= 5:
            am = chain(am, 2048)
    elif d_ab == "heatproof":
        if mtype == "fire":
            am = chain(am, 2048)
    elif d_ab == "purifyingsalt":
        if mtype == "ghost":
            am = chain(am, 2048)
    elif d_ab == "waterbubble" and mtype == "fire":
        am = chain(am, 2048)
    return am


def _ability_attack_modifier(h: Hit, am: int) -> int:
    """`am` chained with the attacker's own attack ability (Hustle is applied apart)."""
    a_ab = h.a_ab
    mtype = h.mtype
    physical = h.physical
    src = h.src
    pinch = PINCH.get(a_ab)
    if pinch is not None:
        if pinch == mtype and src.hp * 3 <= src.max_hp and h.gen >= 5:
            am = chain(am, 6144)
    elif a_ab in TYPE_BOOST_ABILITY:
        if TYPE_BOOST_ABILITY[a_ab] == mtype:
            am = chain(am, 6144)
    elif a_ab == "transistor":
        if mtype == "electric":
            am = chain(am, 5325 if h.gen >= 9 else 6144)
    elif a_ab in ("hugepower", "purepower"):
        if physical:
            am = chain(am, 8192)
    elif a_ab == "guts":
        if physical and src.status:
            am = chain(am, 6144)
    elif a_ab == "defeatist":
        if src.hp * 2 <= src.max_hp:
            am = chain(am, 2048)
    elif a_ab == "flashfire":
        if mtype == "fire" and "flashfire" in src.volatiles:
            am = chain(am, 6144)
    elif a_ab == "waterbubble":
        if mtype == "water":
            am = chain(am, 8192)
    elif a_ab == "orichalcumpulse":
        if physical and h.weather in SUN and h.a_item != "utilityumbrella":
            am = chain(am, 5461)
    elif a_ab == "hadronengine":
        if not physical and h.terrain == "electricterrain":
            am = chain(am, 5461)
    elif a_ab == "solarpower":
        if not physical and h.weather in SUN and h.a_item != "utilityumbrella":
            am = chain(am, 6144)
    elif a_ab in ("protosynthesis", "quarkdrive"):
        if paradox_stat(src, a_ab, h.weather, h.terrain) == ("atk" if physical else "spa"):
            am = chain(am, 5325)
    elif a_ab == "gorillatactics" and physical:
        am = chain(am, 6144)
    return am


def _item_attack_modifier(h: Hit, am: int) -> int:
    """`am` chained with the attacker's attack item (Choice Band / Specs, Light Ball...)."""
    a_item = h.a_item
    physical = h.physical
    species = h.src.species
    if a_item == "choiceband":
        if physical:
            am = chain(am, 6144)
    elif a_item == "choicespecs":
        if not physical:
            am = chain(am, 6144)
    elif a_item == "lightball":
        if species.startswith("pikachu") and (not physical or h.gen >= 4):
            am = chain(am, 8192)
    elif a_item == "thickclub":
        if physical and species.startswith(("cubone", "marowak")):
            am = chain(am, 8192)
    elif a_item == "deepseatooth":
        if not physical and species == "clamperl":
            am = chain(am, 8192)
    elif h.gen == 3:
        it = TYPE_ITEMS_OLD.get(a_item)
        if it is not None and it == h.mtype:
            am = chain(am, 4505)
        elif a_item == "seaincense" and h.mtype == "water":
            am = chain(am, 4300)
    return am


# --------------------------------------------------------------------------------------
# Defense
# --------------------------------------------------------------------------------------


def defense_stat(h: Hit) -> int:
    """The defending stat of the hit, boosted and modified (at least 1)."""
    tgt = h.tgt
    mid = h.mid
    gen = h.gen
    weather = h.weather
    def_is_def = h.physical or mid in ("psyshock", "psystrike", "secretsword")
    d_stat = tgt.stats["def" if def_is_def else "spd"]
    d_boost = tgt.boosts.get("def" if def_is_def else "spd", 0)
    if h.a_ab == "unaware" or (h.crit and d_boost > 0) or mid in IGNORE_DEF_BOOSTS:
        d_boost = 0
    defense = boosted(d_stat, d_boost)
    d_types = tgt.current_types()
    if def_is_def:
        if gen >= 9 and weather in SNOW and "ice" in d_types:
            defense = modify(defense, 6144)
    elif gen >= 4 and weather == "sandstorm" and "rock" in d_types:
        defense = modify(defense, 6144)
    dm = _defense_modifier(h, def_is_def)
    if dm != 4096:
        defense = modify(defense, dm)
    if gen <= 4 and def_is_def and mid in ("explosion", "selfdestruct"):
        defense = max(1, defense // 2)
    if defense < 1:
        defense = 1
    return defense


def _defense_modifier(h: Hit, def_is_def: bool) -> int:
    """The chained ModifyDef / ModifySpD modifier: abilities, items, Ruin abilities."""
    tgt = h.tgt
    d_ab = h.d_ab
    d_item = h.d_item
    dm = 4096
    if d_ab:
        if def_is_def:
            if d_ab == "furcoat":
                dm = chain(dm, 8192)
            elif d_ab == "marvelscale":
                if tgt.status:
                    dm = chain(dm, 6144)
            elif d_ab == "grasspelt" and h.terrain == "grassyterrain":
                dm = chain(dm, 6144)
        if d_ab in ("protosynthesis", "quarkdrive") and paradox_stat(
            tgt, d_ab, h.weather, h.terrain
        ) == ("def" if def_is_def else "spd"):
            dm = chain(dm, 5325)
    if d_item:
        if d_item == "eviolite":
            if nfe(h.gen, tgt.species):
                dm = chain(dm, 6144)
        elif d_item == "assaultvest":
            if not def_is_def:
                dm = chain(dm, 6144)
        elif d_item == "metalpowder":
            if def_is_def and tgt.species == "ditto":
                dm = chain(dm, 8192)
        elif d_item == "deepseascale" and not def_is_def and tgt.species == "clamperl":
            dm = chain(dm, 8192)
    if def_is_def:
        if h.a_ab == "swordofruin" and d_ab != "swordofruin":
            dm = chain(dm, 3072)
    elif h.a_ab == "beadsofruin" and d_ab != "beadsofruin":
        dm = chain(dm, 3072)
    return dm

"""Base power: the situational moves' own power, then Showdown's BasePower chain.

`special_power` gives the power of the moves in `SPECIAL_BP` whose power depends on the
situation (HP, weight, speed, boosts, status, moving first), before any modifier.
`power_modifier` is the 4096-based chain of Showdown's BasePower event in handler order:
Technician first (it sees the unmodified power), the attacker's abilities, Punching
Glove, the auras, the gens 3-4 Thick Fat / pinch abilities, Dry Skin, items, terrains,
and last the moves' own onBasePower handlers.
"""

from __future__ import annotations

from battle.damage.arith import chain
from battle.damage.hit import Hit
from battle.damage.mons import grounded, item_removable, weight
from battle.damage.speed import effective_speed
from battle.damage.tables import PINCH, RAIN, TYPE_ITEMS, WEAK_SOLAR
from battle.model import Battle, Mon, MoveData

# --------------------------------------------------------------------------------------
# Situational base power
# --------------------------------------------------------------------------------------


def special_power(
    battle: Battle, attacker: int, src: Mon, tgt: Mon, move: MoveData, first: bool
) -> int:
    """Base power of the situational moves in SPECIAL_BP (before the BasePower chain)."""
    mid = move.id
    bp = move.base_power
    if mid == "acrobatics":
        return bp * 2 if not src.item else bp
    if mid in ("hex", "infernalparade"):
        return bp * 2 if tgt.status or tgt.ability == "comatose" else bp
    if mid in ("eruption", "waterspout", "dragonenergy"):
        return max(1, bp * src.hp // src.max_hp) if src.max_hp else 1
    if mid in ("flail", "reversal"):
        return _flail_power(battle.gen, src)
    if mid in ("lowkick", "grassknot"):
        if battle.gen <= 2:
            return bp or 50
        return _weight_power(weight(battle.gen, tgt))
    if mid in ("heavyslam", "heatcrash"):
        return _weight_ratio_power(weight(battle.gen, src), weight(battle.gen, tgt))
    if mid == "gyroball":
        ss = effective_speed(battle, attacker)
        ts = effective_speed(battle, 1 - attacker)
        return min(150, 25 * ts // max(1, ss) + 1)
    if mid == "electroball":
        ss = effective_speed(battle, attacker)
        ts = effective_speed(battle, 1 - attacker)
        ratio = ss // ts if ts > 0 else 0
        return (40, 60, 80, 120, 150)[min(ratio, 4)]
    if mid in ("storedpower", "powertrip"):
        return bp + 20 * sum(b for b in src.boosts.values() if b > 0)
    if mid == "punishment":
        return min(200, 60 + 20 * sum(b for b in tgt.boosts.values() if b > 0))
    if mid in ("boltbeak", "fishiousrend"):
        return bp * 2 if first else bp
    if mid in ("avalanche", "revenge", "payback"):
        return bp if first else bp * 2
    if mid == "lastrespects":
        return 50 + 50 * sum(1 for m in battle.sides[attacker].mons if m.hp <= 0)
    if mid == "ragefist":
        return 50
    if mid in ("crushgrip", "wringout") and battle.gen <= 4:
        return tgt.hp * 120 // tgt.max_hp + 1 if tgt.max_hp else 1
    if mid in ("hardpress", "crushgrip", "wringout"):
        top = 100 if mid == "hardpress" else 120
        frac = tgt.hp * 4096 // tgt.max_hp if tgt.max_hp else 0
        return (top * (100 * frac) + 2047) // 4096 // 100 or 1
    if mid in ("return", "frustration"):
        return 102
    if mid == "magnitude":
        return 71
    if mid == "present":
        return 52
    if mid == "wakeupslap":
        return bp * 2 if tgt.status == "slp" else bp
    if mid == "smellingsalts":
        return bp * 2 if tgt.status == "par" else bp
    if mid == "hiddenpower":
        return bp or (70 if battle.gen <= 5 else 60)
    return bp  # weatherball / terrainpulse / terablast / risingvoltage: handled by caller


def _flail_power(gen: int, src: Mon) -> int:
    """Flail / Reversal: more power the less HP the user has left (gen 4 has its own steps)."""
    if gen == 4:
        ratio = max(src.hp * 64 // src.max_hp, 1) if src.max_hp else 1
        for limit, power in ((2, 200), (6, 150), (13, 100), (22, 80), (43, 40)):
            if ratio < limit:
                return power
        return 20
    ratio = max(src.hp * 48 // src.max_hp, 1) if src.max_hp else 1
    if ratio < 2:
        return 200
    if ratio < 5:
        return 150
    if ratio < 10:
        return 100
    if ratio < 17:
        return 80
    return 40 if ratio < 33 else 20


def _weight_power(w: float) -> int:
    """Low Kick / Grass Knot: power by the target's weight `w` (kg)."""
    if w >= 200:
        return 120
    if w >= 100:
        return 100
    if w >= 50:
        return 80
    if w >= 25:
        return 60
    return 40 if w >= 10 else 20


def _weight_ratio_power(sw: float, tw: float) -> int:
    """Heavy Slam / Heat Crash: power by the user's weight `sw` over the target's `tw`."""
    if sw >= tw * 5:
        return 120
    if sw >= tw * 4:
        return 100
    if sw >= tw * 3:
        return 80
    return 60 if sw >= tw * 2 else 40


# --------------------------------------------------------------------------------------
# The BasePower chain
# --------------------------------------------------------------------------------------


def power_modifier(h: Hit, bp: int, per_hit: tuple[int, ...], ate: bool, eff: float) -> int:
    """The chained BasePower modifier (4096ths) of the hit described by `h`."""
    a_ab = h.a_ab
    d_ab = h.d_ab
    mtype = h.mtype
    # Technician (priority 30) comes first and sees the unmodified base power.
    m = 6144 if a_ab == "technician" and max(per_hit or (bp,)) <= 60 else 4096
    if a_ab:
        m = _ability_power(h, m, ate)
    if h.a_item == "punchingglove" and "punch" in h.flags:
        m = chain(m, 4506)
    if (a_ab in ("darkaura", "fairyaura") or d_ab in ("darkaura", "fairyaura")) and mtype in (
        "dark",
        "fairy",
    ):
        aura = "darkaura" if mtype == "dark" else "fairyaura"
        if a_ab == aura or d_ab == aura:
            broken = a_ab == "aurabreak" or d_ab == "aurabreak"
            m = chain(m, 3072 if broken else 5448)
    if h.gen <= 4:  # gens 3-4: Thick Fat and the pinch abilities modify the base power
        if d_ab == "thickfat" and mtype in ("fire", "ice"):
            m = chain(m, 2048)
        if PINCH.get(a_ab) == mtype and h.src.hp * 3 <= h.src.max_hp:
            m = chain(m, 6144)
    if d_ab == "dryskin" and mtype == "fire":
        m = chain(m, 5120)
    if h.a_item:
        m = _item_power(h, m)
    if h.terrain and h.gen >= 6:
        m = _terrain_power(h, m)
    return _move_power(h, m, eff)


def _ability_power(h: Hit, m: int, ate: bool) -> int:
    """`m` chained with the attacker's BasePower ability (an -ate ability when `ate`)."""
    a_ab = h.a_ab
    flags = h.flags
    move = h.move
    if ate:
        m = chain(m, 5325 if h.gen == 6 else 4915)
    elif a_ab == "ironfist":
        if "punch" in flags:
            m = chain(m, 4915)
    elif a_ab == "reckless":
        if move.recoil > 0 or (h.mid in ("jumpkick", "highjumpkick", "axekick", "supercellslam")):
            m = chain(m, 4915)
    elif a_ab == "analytic":
        if not h.first:
            m = chain(m, 5325)
    elif a_ab == "sandforce":
        if h.weather == "sandstorm" and h.mtype in ("rock", "ground", "steel"):
            m = chain(m, 5325)
    elif a_ab == "sheerforce":
        if move.secondary_chance > 0:
            m = chain(m, 5325)
    elif a_ab == "toughclaws":
        if "contact" in flags:
            m = chain(m, 5325)
    elif a_ab == "supremeoverlord":
        fallen = min(5, sum(1 for x in h.a_side.mons if x.hp <= 0))
        if fallen:
            m = chain(m, (4096, 4506, 4915, 5325, 5734, 6144)[fallen])
    elif a_ab == "megalauncher":
        if "pulse" in flags:
            m = chain(m, 6144)
    elif a_ab == "strongjaw":
        if "bite" in flags:
            m = chain(m, 6144)
    elif a_ab == "sharpness":
        if "slicing" in flags:
            m = chain(m, 6144)
    elif a_ab == "flareboost":
        if h.src.status == "brn" and not h.physical:
            m = chain(m, 6144)
    elif a_ab == "toxicboost":
        if h.src.status in ("psn", "tox") and h.physical:
            m = chain(m, 6144)
    elif a_ab == "punkrock" and "sound" in flags:
        m = chain(m, 5325)
    return m


def _item_power(h: Hit, m: int) -> int:
    """`m` chained with the attacker's BasePower item (type boosters, orbs, masks...)."""
    a_item = h.a_item
    if a_item == "muscleband":
        if h.physical:
            m = chain(m, 4505)
    elif a_item == "wiseglasses":
        if not h.physical:
            m = chain(m, 4505)
    elif h.gen >= 4:
        it = TYPE_ITEMS.get(a_item)
        if it is not None:
            if it == h.mtype:
                m = chain(m, 4915)
        elif a_item.endswith(("orb", "globe", "crystal", "core", "mask", "dew")):
            m = _item_species_boost(m, h.src.species, a_item, h.mtype, h.gen)
    return m


def _item_species_boost(m: int, species: str, item: str, mtype: str, gen: int) -> int:
    """Legendary orbs / Soul Dew (gen 7+) / Ogerpon masks (onBasePower x4915)."""
    if item in ("adamantorb", "adamantcrystal"):
        ok = species.startswith("dialga") and mtype in ("steel", "dragon")
    elif item in ("lustrousorb", "lustrousglobe"):
        ok = species.startswith("palkia") and mtype in ("water", "dragon")
    elif item in ("griseousorb", "griseouscore"):
        ok = species.startswith("giratina") and mtype in ("ghost", "dragon")
    elif item == "souldew":
        ok = (
            gen >= 7
            and species.startswith(("latios", "latias"))
            and mtype
            in (
                "psychic",
                "dragon",
            )
        )
    elif item.endswith("mask"):
        ok = species.startswith("ogerpon") and item[:-4] in species
    else:
        ok = False
    return chain(m, 4915) if ok else m


def _terrain_power(h: Hit, m: int) -> int:
    """`m` chained with the terrain's BasePower modifier (gens 6+)."""
    terrain = h.terrain
    mtype = h.mtype
    boost = 5325 if h.gen >= 8 else 6144
    if terrain == "electricterrain":
        if mtype == "electric" and grounded(h.src, h.a_ab, h.gravity):
            m = chain(m, boost)
    elif terrain == "psychicterrain":
        if mtype == "psychic" and grounded(h.src, h.a_ab, h.gravity):
            m = chain(m, boost)
    elif terrain == "grassyterrain":
        if h.mid in ("earthquake", "bulldoze", "magnitude") and grounded(h.tgt, h.d_ab, h.gravity):
            m = chain(m, 2048)
        elif mtype == "grass" and grounded(h.src, h.a_ab, h.gravity):
            m = chain(m, boost)
    elif terrain == "mistyterrain" and mtype == "dragon" and grounded(h.tgt, h.d_ab, h.gravity):
        m = chain(m, 2048)
    return m


def _move_power(h: Hit, m: int, eff: float) -> int:
    """`m` chained with the move's own onBasePower handler (priority 0)."""
    mid = h.mid
    src = h.src
    tgt = h.tgt
    if mid == "knockoff":
        if h.gen >= 6 and item_removable(tgt):
            m = chain(m, 6144)
    elif mid == "facade":
        if src.status and src.status != "slp":
            m = chain(m, 8192)
    elif mid in ("venoshock", "barbbarrage"):
        if tgt.status in ("psn", "tox"):
            m = chain(m, 8192)
    elif mid == "brine":
        if tgt.hp * 2 <= tgt.max_hp:
            m = chain(m, 8192)
    elif mid in ("collisioncourse", "electrodrift"):
        if eff > 1.0:
            m = chain(m, 5461)
    elif mid in ("solarbeam", "solarblade"):
        weather = h.weather
        if weather in WEAK_SOLAR and not (h.a_item == "utilityumbrella" and weather in RAIN):
            m = chain(m, 2048)
    elif mid == "gravapple":
        if h.gravity:
            m = chain(m, 6144)
    elif mid == "expandingforce":
        if h.terrain == "psychicterrain" and grounded(src, h.a_ab, h.gravity):
            m = chain(m, 6144)
    elif mid == "psyblade":
        if h.terrain == "electricterrain":
            m = chain(m, 6144)
    elif (
        mid == "mistyexplosion" and h.terrain == "mistyterrain" and grounded(src, h.a_ab, h.gravity)
    ):
        m = chain(m, 6144)
    return m

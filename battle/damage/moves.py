"""What a move is and whether it connects: type, category, immunities, fixed damage, hits.

`resolve_type` runs Showdown's ModifyType / ModifyMove steps (Weather Ball, Terrain
Pulse, Tera Blast, signature moves, the -ate abilities, Normalize, Liquid Voice, the
gens 1-3 type-based categories, Photon Geyser). `effectiveness` is the type multiplier,
or 0.0 when the move does nothing (immunities, absorbing abilities, moves that fail).
`fixed_damage` covers the moves whose damage ignores stats, and `hit_count` the hits of
multi-hit moves.
"""

from __future__ import annotations

from battle.damage.arith import boosted
from battle.damage.hit import Hit
from battle.damage.mons import grounded
from battle.damage.power import special_power
from battle.damage.tables import (
    ABSORB,
    ATE,
    CHARTS,
    FAILS,
    HALF_HP,
    NO_ATE,
    NO_DAMAGE,
    PHOTON,
    PHYSICAL_OLD,
    RAIN,
    SPECIAL_BP,
    SUN,
    TERRAIN_TYPE,
    WEATHER_BALL,
    chart,
    type_effectiveness,
)
from battle.model import Mon, MoveData, species_data

# --------------------------------------------------------------------------------------
# Type and category
# --------------------------------------------------------------------------------------


def resolve_type(h: Hit) -> tuple[int, bool]:
    """Set `h.mtype` and `h.physical`; return the base power and whether an -ate ability
    changed the type (its BasePower boost applies)."""
    mtype, bp = _move_type_and_power(h)
    ate = False
    a_ab = h.a_ab
    mid = h.mid
    if a_ab:
        if a_ab in ATE:
            if mtype == "normal" and mid not in NO_ATE:
                mtype = ATE[a_ab]
                ate = True
        elif a_ab == "normalize":
            if mid not in NO_ATE and not (mid == "terablast" and h.src.terastallized):
                mtype = "normal"
                ate = h.gen >= 7
        elif a_ab == "liquidvoice" and "sound" in h.flags:
            mtype = "water"
    category = h.move.category
    if h.gen <= 3:
        category = "physical" if mtype in PHYSICAL_OLD else "special"
    elif mid in PHOTON and (mid == "photongeyser" or h.src.terastallized):
        src = h.src
        boosts = src.boosts
        if boosted(src.stats["atk"], boosts.get("atk", 0)) > boosted(
            src.stats["spa"], boosts.get("spa", 0)
        ):
            category = "physical"
    h.mtype = mtype
    h.physical = category == "physical"
    return bp, ate


def _move_type_and_power(h: Hit) -> tuple[str, int]:
    """The type and base power the move itself decides (before abilities)."""
    move = h.move
    mid = h.mid
    src = h.src
    mtype = move.type
    bp = move.base_power
    if mid in SPECIAL_BP:
        if mid == "weatherball":
            weather = h.weather
            w = weather if h.a_item != "utilityumbrella" or weather not in SUN | RAIN else ""
            wt = WEATHER_BALL.get(w)
            if wt:
                mtype = wt
                bp *= 2
        elif mid == "terrainpulse":
            if h.terrain and grounded(src, h.a_ab, h.gravity):
                mtype = TERRAIN_TYPE.get(h.terrain, mtype)
                bp *= 2
        elif mid == "terablast":
            if src.terastallized and src.tera_type:
                mtype = src.tera_type
                if mtype == "stellar":
                    bp = 100
        else:
            bp = special_power(h.battle, h.attacker, src, h.tgt, move, h.first)
    elif mid == "struggle":
        mtype = "???"
    elif mid == "revelationdance":
        mtype = src.current_types()[0]
    elif mid == "ivycudgel":
        sp = src.species
        if sp.startswith("ogerponwellspring"):
            mtype = "water"
        elif sp.startswith("ogerponhearthflame"):
            mtype = "fire"
        elif sp.startswith("ogerponcornerstone"):
            mtype = "rock"
    elif mid == "ragingbull":
        sp = src.species
        if sp == "taurospaldeacombat":
            mtype = "fighting"
        elif sp == "taurospaldeablaze":
            mtype = "fire"
        elif sp == "taurospaldeaaqua":
            mtype = "water"
    return mtype, bp


# --------------------------------------------------------------------------------------
# Immunities and failures
# --------------------------------------------------------------------------------------


def effectiveness(h: Hit) -> float:
    """The type multiplier of the hit, 0.0 when it does nothing (immune, absorbed, failed)."""
    mtype = h.mtype
    mid = h.mid
    tgt = h.tgt
    weather = h.weather
    if weather == "desolateland" and mtype == "water":
        return 0.0
    if weather == "primordialsea" and mtype == "fire":
        return 0.0
    if mid in FAILS and _fails(h):
        return 0.0
    d_types = tgt.current_types()
    if mtype == "stellar":
        eff = 2.0 if tgt.terastallized else 1.0
    else:
        gen = h.gen
        row = (CHARTS.get(gen) or chart(gen)).get(mtype)
        eff = 1.0
        if row is not None:
            for t in d_types:
                f = row.get(t, 1.0)
                if f == 0.0:
                    if mtype == "ground":
                        f = 1.0  # ground immunity is decided by groundedness below
                    elif (t == "ghost" and h.a_ab in ("scrappy", "mindseye")) or (
                        h.move.ignore_immunity
                    ):
                        f = 1.0
                elif t == "water" and mid == "freezedry":
                    f = 2.0
                eff *= f
            if mid == "flyingpress":
                eff *= type_effectiveness(gen, "flying", d_types)
        if eff == 0.0:
            return 0.0
        if (
            mtype == "ground"
            and not h.move.ignore_immunity
            and not grounded(tgt, h.d_ab, h.gravity)
        ):
            return 0.0
    if h.d_ab and _ability_blocks(h, eff):
        return 0.0
    return eff


def _fails(h: Hit) -> bool:
    """Whether a move of FAILS fails here (Poltergeist, Dream Eater, Steel Roller, Fake Out,
    First Impression)."""
    mid = h.mid
    if mid == "poltergeist":
        return not h.d_item
    if mid == "dreameater":
        return h.tgt.status != "slp" and h.tgt.ability != "comatose"
    if mid == "steelroller":
        return not h.terrain
    return not h.src.first_turn


def _ability_blocks(h: Hit, eff: float) -> bool:
    """Whether the defender's ability absorbs or blocks the hit."""
    d_ab = h.d_ab
    flags = h.flags
    absorbed = ABSORB.get(d_ab)
    if absorbed is not None:
        return absorbed == h.mtype and (h.gen >= 5 or d_ab not in ("stormdrain", "lightningrod"))
    if d_ab == "wonderguard":
        return eff <= 1.0 and h.mid != "struggle"
    if d_ab == "bulletproof":
        return "bullet" in flags
    if d_ab == "soundproof":
        return "sound" in flags
    return d_ab == "windrider" and "wind" in flags


# --------------------------------------------------------------------------------------
# Fixed damage and hits
# --------------------------------------------------------------------------------------


def fixed_damage(gen: int, src: Mon, tgt: Mon, move: MoveData, d_ab: str) -> tuple[int, ...] | None:
    """Rolls of a move whose damage ignores stats, or None for an ordinary move."""
    n = 16 if gen >= 3 else 39
    mid = move.id
    fixed = move.fixed_damage
    if fixed is not None:
        value = src.level if fixed == "level" else int(fixed)
    elif move.ohko:
        if d_ab == "sturdy" or tgt.level > src.level:
            return (0,) * n
        if mid == "sheercold" and gen >= 7 and "ice" in tgt.current_types():
            return (0,) * n
        value = tgt.hp if gen == 3 else tgt.max_hp
    elif mid in HALF_HP:
        value = max(1, tgt.hp // 2)
    elif mid == "finalgambit":
        value = src.hp
    elif mid == "endeavor":
        value = max(0, tgt.hp - src.hp)
    elif mid in NO_DAMAGE:
        value = 0
    elif mid == "psywave":
        level = src.level
        if gen >= 5:
            lo, hi = level * 50 // 100, level * 150 // 100
        else:
            lo, hi = 1, max(1, level * 3 // 2 - 1)
        return tuple(lo + (hi - lo) * i // (n - 1) for i in range(n))
    elif mid == "guardianofalola":
        value = max(1, tgt.hp * 3 // 4)
    else:
        return None
    return (value,) * n


def hit_count(h: Hit) -> tuple[int, tuple[int, ...]]:
    """(hits, per-hit base powers): the expected hit count of a multi-hit move, or the
    powers of each hit of Triple Axel, Triple Kick and Beat Up (then hits is 1)."""
    mid = h.mid
    a_ab = h.a_ab
    mh = h.move.multihit
    if mh is not None:
        lo, hi = mh
        if mid == "tripleaxel":
            return 1, (20, 40, 60)
        if mid == "triplekick":
            return 1, (10, 20, 30)
        if lo == hi:
            hits = lo
            if hits == 10 and a_ab != "skilllink":
                hits = 7
            return hits, ()
        if a_ab == "skilllink":
            return hi, ()
        if lo == 2 and hi == 5:
            return (4 if h.a_item == "loadeddice" else 3), ()
        return (lo + hi + 1) // 2, ()
    if mid == "beatup":
        src = h.src
        per_hit = tuple(
            5 + species_data(h.gen, m.species)["baseStats"]["atk"] // 10
            for m in h.a_side.mons
            if m.hp > 0 and (m is src or not m.status)
        ) or (10,)
        return 1, per_hit
    return 1, ()

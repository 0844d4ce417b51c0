"""The rules of a turn that involve no chance, on `battle.model` objects.

What `battle.turn.TurnModel` applies between and around the chance branches: whether a
Pokémon is grounded, what hazards take on switching in, stat boosts (with Contrary,
Simple, Clear Body), major statuses and what prevents them, hazards cleared and swapped,
move priority and who moves first, a switch-in with everything it triggers (hazards,
Intimidate, weather and terrain setters; Regenerator and Natural Cure on the way out),
and the end-of-turn effects (weather, Leftovers, Leech Seed, poison and burn, screens
and Trick Room counting down). What changes a battle changes the one it is given.
"""

from __future__ import annotations

from battle.damage import effective_speed, type_effectiveness
from battle.model import Battle, Field, Mon, MoveData, Side

_WEATHER_ABILITIES = {
    "drought": "sunnyday", "drizzle": "raindance", "sandstream": "sandstorm",
    "snowwarning": "snowscape", "orichalcumpulse": "sunnyday",
}  # fmt: skip
_TERRAIN_ABILITIES = {
    "electricsurge": "electricterrain", "grassysurge": "grassyterrain",
    "mistysurge": "mistyterrain", "psychicsurge": "psychicterrain",
    "hadronengine": "electricterrain", "seedsower": "grassyterrain",
}  # fmt: skip
_STATUS_IMMUNE_TYPES = {"brn": ("fire",), "par": ("electric",), "psn": ("poison", "steel"),
                        "tox": ("poison", "steel"), "frz": ("ice",)}  # fmt: skip
_INTIMIDATE_IMMUNE = frozenset({"innerfocus", "owntempo", "oblivious", "scrappy", "guarddog"})


def grounded(mon: Mon, field: Field) -> bool:
    if field.gravity or mon.item == "ironball":
        return True
    airborne = "flying" in mon.current_types() or mon.ability == "levitate"
    return not (airborne or mon.item == "airballoon")


def hazard_damage(mon: Mon, side: Side, battle: Battle) -> int:
    """HP lost on switching in to `side`'s hazards (Heavy-Duty Boots and Magic Guard: none)."""
    if mon.item == "heavydutyboots" or mon.ability == "magicguard":
        return 0
    damage = 0
    if side.stealth_rock:
        damage += int(mon.max_hp * type_effectiveness(battle.gen, "rock", mon.current_types()) / 8)
    if side.spikes and grounded(mon, battle.field):
        damage += mon.max_hp * (2, 3, 4)[min(side.spikes, 3) - 1] // 16
    return damage


def clamp_boost(value: int) -> int:
    return max(-6, min(6, value))


def apply_boosts(mon: Mon, boosts: tuple[tuple[str, int], ...], *, from_foe: bool) -> None:
    if from_foe and mon.ability in ("clearbody", "whitesmoke", "fullmetalbody"):
        return
    for stat, amount in boosts:
        if mon.ability == "contrary":
            amount = -amount
        elif mon.ability == "simple":
            amount *= 2
        new = clamp_boost(mon.boosts.get(stat, 0) + amount)
        if new:
            mon.boosts[stat] = new
        else:
            mon.boosts.pop(stat, None)


def bypasses_sub(move: MoveData, attacker: Mon) -> bool:
    return "sound" in move.flags or "bypasssub" in move.flags or attacker.ability == "infiltrator"


def clear_hazards(side: Side) -> None:
    side.stealth_rock = False
    side.spikes = 0
    side.toxic_spikes = 0
    side.sticky_web = False


def swap_hazards(a: Side, b: Side) -> None:
    for attr in ("stealth_rock", "spikes", "toxic_spikes", "sticky_web", "reflect",
                 "light_screen", "aurora_veil", "tailwind"):  # fmt: skip
        va, vb = getattr(a, attr), getattr(b, attr)
        setattr(a, attr, vb)
        setattr(b, attr, va)


def healthiest(side: Side) -> int | None:
    options = [i for i, m in enumerate(side.mons) if i != side.active and m.hp > 0]
    return max(options, key=lambda i: side.mons[i].hp_fraction) if options else None


def inflict(b: Battle, mon: Mon, status: str) -> None:
    """Give `mon` a major status if nothing prevents it."""
    if mon.status or mon.hp <= 0:
        return
    types = mon.current_types()
    immune = any(t in types for t in _STATUS_IMMUNE_TYPES.get(status, ()))
    if immune and not (status == "par" and b.gen < 6):  # electric types: gen 6 on
        return
    if mon.ability in ("purifyingsalt", "comatose", "goodasgold") or (
        status == "par" and mon.ability == "limber"
    ):
        return
    if status in ("psn", "tox") and mon.ability == "immunity":
        return
    if status == "brn" and mon.ability in ("waterveil", "waterbubble", "thermalexchange"):
        return
    if status == "slp" and mon.ability in ("insomnia", "vitalspirit", "sweetveil"):
        return
    if b.field.terrain == "mistyterrain" and grounded(mon, b.field):
        return
    if status == "slp" and b.field.terrain == "electricterrain" and grounded(mon, b.field):
        return
    mon.status = status
    if status == "slp":
        mon.sleep_turns = -2
    if status == "tox":
        mon.toxic_turns = 0


def priority(b: Battle, s: int, move: MoveData) -> int:
    """The priority of side `s`'s active using `move`: the move's own, plus Prankster, Gale
    Wings, Triage and Grassy Glide's."""
    mon = b.sides[s].mon
    value = move.priority
    ability = mon.ability
    if (ability == "prankster" and move.category == "status") or (
        ability == "galewings" and move.type == "flying" and mon.hp >= mon.max_hp
    ):
        value += 1
    elif mon.ability == "triage" and (move.heal or move.drain):
        value += 3
    if move.id == "grassyglide" and b.field.terrain == "grassyterrain":
        value += 1
    return value


def goes_first(b: Battle, s: int, move: MoveData) -> bool:
    """Whether side `s`'s active using `move` moves before the other active (by priority,
    then speed; reversed under Trick Room)."""
    mine = priority(b, s, move)
    if mine > 0:
        return True
    if mine < 0:
        return False
    a, d = effective_speed(b, s), effective_speed(b, 1 - s)
    return a < d if b.field.trick_room else a > d


def switch_in(b: Battle, s: int, index: int) -> None:
    """Side `s` brings in `mons[index]`: the leaving Pokémon's boosts and volatiles go (and
    Regenerator or Natural Cure act), then hazards, Toxic Spikes, Sticky Web, Intimidate
    and weather and terrain setters."""
    side = b.sides[s]
    leaving = side.mon
    if leaving.hp > 0:
        if leaving.ability == "regenerator":
            leaving.hp = min(leaving.max_hp, leaving.hp + leaving.max_hp // 3)
        elif leaving.ability == "naturalcure":
            leaving.status = ""
    leaving.boosts = {}
    leaving.volatiles = set()
    leaving.substitute_hp = 0
    leaving.toxic_turns = 0
    side.active = index
    mon = side.own(index)
    mon.first_turn = True
    mon.hp -= hazard_damage(mon, side, b)
    if mon.hp <= 0:
        mon.hp = 0
        return
    if side.toxic_spikes and grounded(mon, b.field) and mon.item != "heavydutyboots":
        types = mon.current_types()
        if "poison" in types:
            side.toxic_spikes = 0
        elif not mon.status and "steel" not in types:
            mon.status = "tox" if side.toxic_spikes >= 2 else "psn"
    if side.sticky_web and grounded(mon, b.field) and mon.item != "heavydutyboots":
        apply_boosts(mon, (("spe", -1),), from_foe=True)
    foe = b.sides[1 - s].mon
    if mon.ability == "intimidate" and foe.hp > 0 and foe.ability not in _INTIMIDATE_IMMUNE:
        apply_boosts(foe, (("atk", -1),), from_foe=True)
    weather = _WEATHER_ABILITIES.get(mon.ability)
    if weather and b.gen >= 3:
        b.field.weather = weather
    terrain = _TERRAIN_ABILITIES.get(mon.ability)
    if terrain:
        b.field.terrain = terrain


def end_of_turn(b: Battle) -> None:
    """The end of a turn: Protect and flinch end, weather, Leftovers and Black Sludge,
    Grassy Terrain, Leech Seed, poison and burn, Speed Boost; screens, Tailwind, Trick
    Room and Gravity count down."""
    weather = b.field.weather
    for s in (0, 1):
        side = b.sides[s]
        mon = side.mon
        mon.volatiles.discard("protect")
        mon.volatiles.discard("flinch")
        arrived = mon.first_turn  # switched in this turn: no Speed Boost yet
        mon.first_turn = False
        if mon.hp <= 0:
            continue
        guard = mon.ability == "magicguard"
        types = mon.current_types()
        if not guard:
            if weather == "sandstorm" and not (set(types) & {"rock", "ground", "steel"}):
                if mon.ability not in ("sandveil", "sandrush", "sandforce", "overcoat"):
                    mon.hp -= mon.max_hp // 16
            elif weather == "hail" and "ice" not in types and mon.ability != "icebody":
                mon.hp -= mon.max_hp // 16
        if mon.item == "leftovers" or (mon.item == "blacksludge" and "poison" in types):
            mon.hp = min(mon.max_hp, mon.hp + mon.max_hp // 16)
        elif mon.item == "blacksludge" and not guard:
            mon.hp -= mon.max_hp // 8
        if b.field.terrain == "grassyterrain" and grounded(mon, b.field):
            mon.hp = min(mon.max_hp, mon.hp + mon.max_hp // 16)
        if "leechseed" in mon.volatiles and not guard:
            drained = mon.max_hp // 8
            mon.hp -= drained
            other = b.sides[1 - s].mon
            if other.hp > 0:
                other.hp = min(other.max_hp, other.hp + drained)
        status = mon.status
        if status in ("psn", "tox") and mon.ability == "poisonheal":
            mon.hp = min(mon.max_hp, mon.hp + mon.max_hp // 8)
        elif not guard:
            if status == "brn":
                mon.hp -= mon.max_hp // (16 if b.gen >= 7 else 8)
            elif status == "psn":
                mon.hp -= mon.max_hp // 8
            elif status == "tox":
                mon.toxic_turns += 1
                mon.hp -= mon.max_hp * min(mon.toxic_turns, 15) // 16
        if mon.ability == "speedboost" and not arrived:
            apply_boosts(mon, (("spe", 1),), from_foe=False)
        if mon.hp < 0:
            mon.hp = 0
        for attr in ("reflect", "light_screen", "aurora_veil", "tailwind"):
            value = getattr(side, attr)
            if value:
                setattr(side, attr, value - 1)
    if b.field.trick_room:
        b.field.trick_room -= 1
    if b.field.gravity:
        b.field.gravity -= 1

"""Showdown's damage and speed mechanics on `battle.model` objects, in pure Python.

`damage_rolls` follows Pokémon Showdown's `BattleActions.getDamage` / `modifyDamage`
(`sim/battle-actions.js`) and the gen 1-4 overrides in `data/mods/gen{1,2,3,4}/scripts.js`:
4096-based `chainModify` / `modify` (pokeRound) wherever Showdown uses them, the same order
of modifiers (base power chain, attack / defense chains, +2, weather, crit, random roll,
STAB, type effectiveness, burn, final ModifyDamage chain). Numbers in 4096ths below are
copied from Showdown's data (`data/{abilities,items,moves,conditions}.js`).

Singles only. Known simplifications (what is NOT modelled):

- Handler order inside one Showdown event: Showdown sorts handlers of equal priority by the
  holder's speed; here the attacker's handlers always come first, then the defender's, then
  the side conditions (screens). With three or more final modifiers this can differ from
  Showdown by one point of damage on some rolls.
- Spread moves, Parental Bond, Dynamax / Z-moves / Max moves, doubles-only abilities
  (Battery, Power Spot, Steely Spirit, Friend Guard, Plus/Minus, Flower Gift), Helping Hand.
- Neutralizing Gas, Skill Swap-style ability changes, Unburden, Slow Start, Stakeout,
  Rivalry, Supreme Overlord counts only fainted Pokémon of the attacker's visible team.
- Per-hit effects of multi-hit moves: Multiscale / resist berries / Weak Armor apply to
  every hit alike; per-hit accuracy (Triple Axel, Population Bomb) is ignored (Population
  Bomb counts 10 hits with Skill Link, else 7).
- Stellar tera: every type is assumed to still have its one-time Stellar boost.
- Assurance, Retaliate, Rage Fist (base 50), Temper Flare, Stomping Tantrum, Fury Cutter,
  Rollout, Echoed Voice, Round, Pursuit on switch, Spit Up, Fling, Natural Gift, Trump Card,
  Judgment / Multi-Attack plates, Aura Wheel forms, Charge, gems: base data power (or zero
  damage when the data power is 0). Counter / Mirror Coat / Metal Burst / Bide /
  Comeuppance deal 0 (they depend on damage taken). Magnitude uses its mean power 71,
  Present 52, Return / Frustration 102, Beat Up the gen 5+ formula in every gen.
- Sucker Punch / Thunderclap / Upper Hand conditions, Focus Punch, Burn Up, Synchronoise,
  Substitute, protection and semi-invulnerability are the caller's business. Fake Out and
  First Impression fail unless `attacker.first_turn`; Dream Eater fails unless the target
  sleeps; Poltergeist fails without a target item; Steel Roller without terrain.
- Delta Stream, Tera Shell, Disguise / Ice Face, Wonder Room, Magic Room, Heavy Metal /
  Light Metal / Float Stone / Autotomize weights, Smack Down / Roost type changes (only the
  "smackdown", "magnetrise", "telekinesis" volatiles are read for grounding).
- Unremovable items for Knock Off: a fixed list (mega stones, Z-crystals, Booster Energy on
  Protosynthesis / Quark Drive holders, Rusted Sword/Shield, Griseous Core, Ogerpon masks,
  drives, memories, plates on Arceus are not distinguished from other plates).
- OHKO moves return the target's max HP (gen 3: current HP), not Showdown's gen 1 65535.
- The 16-bit truncation of the final damage (`tr(damage, 16)`) is applied as Showdown does.
- Gens 1-2 use Showdown's gen 1/2 formulas (stat >= 256 scaling, 217-255 roll, gen 1 crit
  with doubled level and no boosts, gen 2 crit ignoring boosts only when the attack boost
  is <= the defense boost) but no abilities; gen 2 items are the type boosters (x1.1),
  Light Ball, Thick Club and Metal Powder. Gen 1 stat changes from boosts use the gen 2
  table, Reflect / Light Screen are read from the side (gen 1 has them as volatiles).
- Protean / Libero are assumed active (every move gets STAB). Gens 3-4 follow their
  modifyDamage order (burn and screens before the +2, random last in gen 3, Life Orb x1.3
  in gen 4) with Thick Fat and Blaze/Torrent/Overgrow/Swarm on the base power; abilities
  and items given to a Pokémon of a generation that lacks them are applied anyway.
- Gen 2 Triple Kick is six times its 10-power hit (Showdown floors each hit).
- crit_chance in gen 2 uses Showdown's 17/256, 32/256, 64/256, 85/256, 128/256 and in gen 6
  1/16, 1/8, 1/2, 1 (Showdown's tables); Focus Energy is read from `volatiles`.
"""

from __future__ import annotations

from poke_env.data import GenData

from battle.model import Battle, Mon, MoveData, species_data

__all__ = [
    "crit_chance",
    "damage_rolls",
    "effective_speed",
    "ko_probability",
    "stat_multiplier",
    "type_effectiveness",
]

# --------------------------------------------------------------------------------------
# Type chart
# --------------------------------------------------------------------------------------

_CHARTS: dict[int, dict[str, dict[str, float]]] = {}


def _chart(gen: int) -> dict[str, dict[str, float]]:
    """chart[attacking type][defending type] -> multiplier, lower-case ids."""
    chart = _CHARTS.get(gen)
    if chart is None:
        chart = {}
        for defending, row in GenData.from_gen(gen).type_chart.items():
            for attacking, mult in row.items():
                chart.setdefault(attacking.lower(), {})[defending.lower()] = float(mult)
        _CHARTS[gen] = chart
    return chart


def type_effectiveness(gen: int, move_type: str, defender_types: tuple[str, ...]) -> float:
    """Product of the chart multipliers of `move_type` against each defending type."""
    chart = _CHARTS.get(gen) or _chart(gen)
    row = chart.get(move_type)
    if row is None:
        return 1.0
    mult = 1.0
    for t in defender_types:
        mult *= row.get(t, 1.0)
    return mult


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def stat_multiplier(boost: int) -> float:
    """(2+b)/2 for b >= 0 else 2/(2-b), b clamped to [-6, 6]."""
    if boost > 6:
        boost = 6
    elif boost < -6:
        boost = -6
    return (2 + boost) / 2 if boost >= 0 else 2 / (2 - boost)


def ko_probability(rolls: tuple[int, ...], hp: int) -> float:
    """Share of `rolls` that deal at least `hp` (1.0 when hp <= 0)."""
    if hp <= 0:
        return 1.0
    if not rolls:
        return 0.0
    return sum(1 for r in rolls if r >= hp) / len(rolls)


def _boosted(stat: int, boost: int) -> int:
    """Showdown's boost table [1, 1.5, 2, ..., 4], floored (gens 3+)."""
    if boost == 0:
        return stat
    if boost > 0:
        return stat * (2 + (boost if boost < 6 else 6)) // 2
    return stat * 2 // (2 - (boost if boost > -6 else -6))


_OLD_NEG = (100, 66, 50, 40, 33, 28, 25)  # gens 1-2 negative boost numerators (/100)


def _boosted_old(stat: int, boost: int) -> int:
    if boost >= 0:
        return stat * (2 + min(boost, 6)) // 2
    return stat * _OLD_NEG[min(-boost, 6)] // 100


def _chain(a: int, b: int) -> int:
    """Showdown's chainModify of two 4096-based modifiers."""
    return (a * b + 2048) >> 12


def _mod(value: int, m: int) -> int:
    """Showdown's modify(value, m/4096): pokeRound (0.5 rounds down)."""
    return (value * m + 2047) >> 12


# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------

_ZEROS16 = (0,) * 16
_ZEROS39 = (0,) * 39
_ROLLS_NEW = tuple(range(85, 101))
_ROLLS_OLD = tuple(range(217, 256))

_PHYSICAL_OLD = frozenset(
    {"normal", "fighting", "flying", "poison", "ground", "rock", "bug", "ghost", "steel"}
)

_MOLD_BREAKERS = frozenset({"moldbreaker", "teravolt", "turboblaze"})
# Defender abilities this module reads that Mold Breaker ignores (Showdown "breakable").
_BREAKABLE = frozenset(
    {
        "levitate", "flashfire", "waterabsorb", "voltabsorb", "stormdrain", "lightningrod",
        "motordrive", "sapsipper", "dryskin", "eartheater", "wellbakedbody", "bulletproof",
        "soundproof", "wonderguard", "windrider", "multiscale", "filter", "solidrock",
        "furcoat", "icescales", "fluffy", "thickfat", "heatproof", "purifyingsalt",
        "unaware", "marvelscale", "punkrock", "battlearmor", "shellarmor", "grasspelt",
        "waterbubble", "sturdy",
    }
)  # fmt: skip
_ABSORB = {
    "flashfire": "fire", "wellbakedbody": "fire", "waterabsorb": "water",
    "stormdrain": "water", "dryskin": "water", "voltabsorb": "electric",
    "lightningrod": "electric", "motordrive": "electric", "sapsipper": "grass",
    "eartheater": "ground",
}  # fmt: skip
_ATE = {"aerilate": "flying", "pixilate": "fairy", "refrigerate": "ice", "galvanize": "electric"}
_NO_ATE = frozenset(
    {"judgment", "multiattack", "naturalgift", "revelationdance", "technoblast",
     "terrainpulse", "weatherball", "struggle", "hiddenpower"}
)  # fmt: skip
_PROTEAN = frozenset({"protean", "libero"})  # assumed active: every move gets STAB
_PINCH = {"blaze": "fire", "torrent": "water", "overgrow": "grass", "swarm": "bug"}
_TYPE_BOOST_ABILITY = {  # x1.5 attack for moves of the type (gen 9 transistor: 5325)
    "dragonsmaw": "dragon", "steelworker": "steel", "rockypayload": "rock",
}  # fmt: skip

# Gen 4+ type-boosting items and plates (onBasePower x4915/4096).
_TYPE_ITEMS = {
    "silkscarf": "normal", "blackbelt": "fighting", "fistplate": "fighting",
    "sharpbeak": "flying", "skyplate": "flying", "poisonbarb": "poison",
    "toxicplate": "poison", "softsand": "ground", "earthplate": "ground",
    "hardstone": "rock", "stoneplate": "rock", "rockincense": "rock",
    "silverpowder": "bug", "insectplate": "bug", "spelltag": "ghost", "spookyplate": "ghost",
    "metalcoat": "steel", "ironplate": "steel", "charcoal": "fire", "flameplate": "fire",
    "mysticwater": "water", "splashplate": "water", "seaincense": "water",
    "waveincense": "water", "miracleseed": "grass", "meadowplate": "grass",
    "roseincense": "grass", "magnet": "electric", "zapplate": "electric",
    "twistedspoon": "psychic", "mindplate": "psychic", "oddincense": "psychic",
    "nevermeltice": "ice", "icicleplate": "ice", "dragonfang": "dragon",
    "dracoplate": "dragon", "blackglasses": "dark", "dreadplate": "dark",
    "pixieplate": "fairy", "fairyfeather": "fairy",
}  # fmt: skip
# Gens 2-3 type boosters (x1.1; gen 2 on damage, gen 3 on the attack stat).
_TYPE_ITEMS_OLD = {
    "silkscarf": "normal", "pinkbow": "normal", "polkadotbow": "normal",
    "blackbelt": "fighting", "sharpbeak": "flying", "poisonbarb": "poison",
    "softsand": "ground", "hardstone": "rock", "silverpowder": "bug", "spelltag": "ghost",
    "metalcoat": "steel", "charcoal": "fire", "mysticwater": "water",
    "miracleseed": "grass", "magnet": "electric", "twistedspoon": "psychic",
    "nevermeltice": "ice", "dragonfang": "dragon", "dragonscale": "dragon",
    "blackglasses": "dark",
}  # fmt: skip
_RESIST_BERRIES = {
    "occaberry": "fire", "passhoberry": "water", "wacanberry": "electric",
    "rindoberry": "grass", "yacheberry": "ice", "chopleberry": "fighting",
    "kebiaberry": "poison", "shucaberry": "ground", "cobaberry": "flying",
    "payapaberry": "psychic", "tangaberry": "bug", "chartiberry": "rock",
    "kasibberry": "ghost", "habanberry": "dragon", "colburberry": "dark",
    "babiriberry": "steel", "roseliberry": "fairy",
}  # fmt: skip
_UNREMOVABLE = frozenset(
    {"rustedsword", "rustedshield", "griseouscore", "wellspringmask", "hearthflamemask",
     "cornerstonemask", "redorb", "blueorb", "adamantcrystal", "lustrousglobe"}
)  # fmt: skip

_TERRAIN_TYPE = {
    "electricterrain": "electric", "grassyterrain": "grass",
    "psychicterrain": "psychic", "mistyterrain": "fairy",
}  # fmt: skip
_WEATHER_BALL = {
    "sunnyday": "fire", "desolateland": "fire", "raindance": "water",
    "primordialsea": "water", "sandstorm": "rock", "hail": "ice", "snowscape": "ice",
    "snow": "ice",
}  # fmt: skip
_SUN = frozenset({"sunnyday", "desolateland"})
_RAIN = frozenset({"raindance", "primordialsea"})
_WEAK_SOLAR = frozenset({"raindance", "primordialsea", "sandstorm", "hail", "snowscape", "snow"})
_SNOW = frozenset({"snowscape", "snow"})

_CRIT_GEN2 = (17 / 256, 32 / 256, 64 / 256, 85 / 256, 128 / 256)
_CRIT_GEN3 = (1 / 16, 1 / 8, 1 / 4, 1 / 3, 1 / 2)
_CRIT_GEN6 = (1 / 16, 1 / 8, 1 / 2, 1.0)
_CRIT_GEN7 = (1 / 24, 1 / 8, 1 / 2, 1.0)

_NO_DAMAGE = frozenset({"counter", "mirrorcoat", "metalburst", "bide", "comeuppance"})
_HALF_HP = frozenset({"superfang", "ruination", "naturesmadness"})
# Moves whose base power (or success) depends on the situation: handled in _special_bp.
_SPECIAL_BP = frozenset(
    {
        "acrobatics", "hex", "infernalparade", "eruption", "waterspout", "dragonenergy",
        "flail", "reversal",
        "lowkick", "grassknot", "heavyslam", "heatcrash", "gyroball", "electroball",
        "storedpower", "powertrip", "boltbeak", "fishiousrend", "avalanche", "revenge",
        "payback", "lastrespects", "ragefist", "hardpress", "crushgrip", "wringout",
        "return", "frustration", "magnitude", "present", "risingvoltage", "punishment",
        "wakeupslap", "smellingsalts", "weatherball", "terrainpulse", "terablast",
        "hiddenpower",
    }
)  # fmt: skip
_FAILS = frozenset({"poltergeist", "fakeout", "firstimpression", "dreameater", "steelroller"})
_PHOTON = frozenset({"photongeyser", "terablast"})
_IGNORE_DEF_BOOSTS = frozenset({"chipaway", "sacredsword", "darkestlariat"})

_POWER_ITEMS = frozenset(
    {"poweranklet", "powerband", "powerbelt", "powerbracer", "powerlens", "powerweight"}
)

_NFE: dict[tuple[int, str], bool] = {}


def _nfe(gen: int, species: str) -> bool:
    key = (gen, species)
    value = _NFE.get(key)
    if value is None:
        try:
            value = bool(species_data(gen, species).get("evos"))
        except KeyError:
            value = False
        _NFE[key] = value
    return value


def _weight(gen: int, mon: Mon) -> float:
    if mon.weight > 0:
        return mon.weight
    try:
        return float(species_data(gen, mon.species).get("weightkg", 0) or 0)
    except KeyError:
        return 0.0


def _grounded(mon: Mon, ability: str, gravity: bool) -> bool:
    if gravity:
        return True
    item = mon.item
    if item == "ironball":
        return True
    vol = mon.volatiles
    if vol and "smackdown" in vol:
        return True
    if "flying" in mon.current_types() or ability == "levitate":
        return False
    if vol and ("magnetrise" in vol or "telekinesis" in vol):
        return False
    return item != "airballoon"


def _item_removable(mon: Mon) -> bool:
    item = mon.item
    if not item or item in _UNREMOVABLE:
        return False
    if item == "boosterenergy":
        return mon.ability not in ("protosynthesis", "quarkdrive")
    if item.endswith(("itex", "itey", "iumz")) or (item.endswith("ite") and item != "eviolite"):
        return False
    if item.endswith("memory") and mon.species.startswith("silvally"):
        return False
    if item.endswith("drive") and mon.species.startswith("genesect"):
        return False
    return not (item.endswith("plate") and mon.species.startswith("arceus"))


def _best_stat(mon: Mon) -> str:
    """getBestStat(unboosted=False, unmodified=True): boosted stats, first max wins."""
    stats = mon.stats
    boosts = mon.boosts
    best = "atk"
    best_value = 0
    for name in ("atk", "def", "spa", "spd", "spe"):
        value = _boosted(stats[name], boosts.get(name, 0))
        if value > best_value:
            best, best_value = name, value
    return best


def _paradox_stat(mon: Mon, ability: str, weather: str, terrain: str) -> str:
    """The stat Protosynthesis / Quark Drive boosts now, or ""."""
    if ability == "protosynthesis":
        active = weather == "sunnyday" or mon.item == "boosterenergy"
    elif ability == "quarkdrive":
        active = terrain == "electricterrain" or mon.item == "boosterenergy"
    else:
        return ""
    if not active:
        for v in mon.volatiles:
            if v.startswith(ability):
                active = True
                break
    return _best_stat(mon) if active else ""


def _suppressed_weather(battle: Battle) -> str:
    weather = battle.field.weather
    if weather:
        a, b = battle.sides[0].mon.ability, battle.sides[1].mon.ability
        if a in ("airlock", "cloudnine") or b in ("airlock", "cloudnine"):
            return ""
    return weather


# --------------------------------------------------------------------------------------
# Speed
# --------------------------------------------------------------------------------------


def effective_speed(battle: Battle, side: int) -> int:
    """The speed of `battle.sides[side].mon` used for turn order (no Trick Room)."""
    gen = battle.gen
    s = battle.sides[side]
    mon = s.mon
    boost = mon.boosts.get("spe", 0)
    status = mon.status
    if gen <= 2:
        speed = _boosted_old(mon.stats["spe"], boost)
        if status == "par":
            speed //= 4
        return max(1, min(speed, 999))
    speed = _boosted(mon.stats["spe"], boost)
    ability = mon.ability
    item = mon.item
    m = 4096
    if item == "choicescarf":
        m = _chain(m, 6144)
    elif item == "ironball" or item in _POWER_ITEMS:
        m = _chain(m, 2048)
    if s.tailwind > 0:
        m = _chain(m, 8192)
    if ability:
        weather = _suppressed_weather(battle)
        terrain = battle.field.terrain
        if ability == "quickfeet":
            if status:
                m = _chain(m, 6144)
        elif ability == "swiftswim":
            if weather in _RAIN and item != "utilityumbrella":
                m = _chain(m, 8192)
        elif ability == "chlorophyll":
            if weather in _SUN and item != "utilityumbrella":
                m = _chain(m, 8192)
        elif ability == "sandrush":
            if weather == "sandstorm":
                m = _chain(m, 8192)
        elif ability == "slushrush":
            if weather == "hail" or weather in _SNOW:
                m = _chain(m, 8192)
        elif ability == "surgesurfer":
            if terrain == "electricterrain":
                m = _chain(m, 8192)
        elif (
            ability in ("protosynthesis", "quarkdrive")
            and _paradox_stat(mon, ability, weather, terrain) == "spe"
        ):
            m = _chain(m, 6144)
    par = status == "par" and ability != "quickfeet"
    if par and gen <= 4:
        m = _chain(m, 1024)
        par = False
    if m != 4096:
        speed = _mod(speed, m)
    if par:
        speed = speed * 50 // 100 if gen >= 7 else speed * 25 // 100
    return min(speed, 10000)


# --------------------------------------------------------------------------------------
# Critical hits
# --------------------------------------------------------------------------------------


def crit_chance(gen: int, attacker: Mon, move: MoveData) -> float:
    """Chance that `move` used by `attacker` is a critical hit (attacker side only)."""
    if move.will_crit:
        return 1.0
    if move.category == "status":
        return 0.0
    if gen == 1:
        try:
            base = species_data(1, attacker.species)["baseStats"]["spe"]
        except KeyError:
            base = 80
        chance = base // 2
        if "focusenergy" in attacker.volatiles:
            chance //= 2  # the gen 1 Focus Energy bug
        else:
            chance = min(max(chance * 2, 1), 255)
        if move.crit_ratio == 1:
            chance //= 2
        elif move.crit_ratio >= 2:
            chance = min(max(chance * 4, 1), 255)
        return chance / 256
    stage = move.crit_ratio - 1
    if gen >= 3 and attacker.ability == "superluck":
        stage += 1
    item = attacker.item
    if item in ("scopelens", "razorclaw"):
        stage += 1
    elif (item in ("leek", "stick") and attacker.species.startswith("farfetch")) or (
        item == "luckypunch" and attacker.species == "chansey"
    ):
        stage += 2
    if "focusenergy" in attacker.volatiles or "dragoncheer" in attacker.volatiles:
        stage += 1 if gen == 2 else 2
    if stage < 0:
        stage = 0
    table = _CRIT_GEN7 if gen >= 7 else _CRIT_GEN6 if gen == 6 else _CRIT_GEN3
    if gen == 2:
        table = _CRIT_GEN2
    return table[stage if stage < len(table) else len(table) - 1]


# --------------------------------------------------------------------------------------
# Damage
# --------------------------------------------------------------------------------------


def _special_bp(
    battle: Battle, attacker: int, src: Mon, tgt: Mon, move: MoveData, first: bool
) -> int:
    """Base power of the situational moves in _SPECIAL_BP (before the BasePower chain)."""
    mid = move.id
    bp = move.base_power
    if mid == "acrobatics":
        return bp * 2 if not src.item else bp
    if mid in ("hex", "infernalparade"):
        return bp * 2 if tgt.status or tgt.ability == "comatose" else bp
    if mid in ("eruption", "waterspout", "dragonenergy"):
        return max(1, bp * src.hp // src.max_hp) if src.max_hp else 1
    if mid in ("flail", "reversal"):
        if battle.gen == 4:
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
    if mid in ("lowkick", "grassknot"):
        if battle.gen <= 2:
            return bp or 50
        w = _weight(battle.gen, tgt)
        if w >= 200:
            return 120
        if w >= 100:
            return 100
        if w >= 50:
            return 80
        if w >= 25:
            return 60
        return 40 if w >= 10 else 20
    if mid in ("heavyslam", "heatcrash"):
        tw = _weight(battle.gen, tgt)
        sw = _weight(battle.gen, src)
        if sw >= tw * 5:
            return 120
        if sw >= tw * 4:
            return 100
        if sw >= tw * 3:
            return 80
        return 60 if sw >= tw * 2 else 40
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


def damage_rolls(
    battle: Battle,
    attacker: int,
    move: MoveData,
    *,
    crit: bool = False,
    attacker_moves_first: bool = True,
) -> tuple[int, ...]:
    """Every damage roll (ascending, HP points) of `move` used by `battle.sides[attacker]`'s
    active Pokémon against the other side's active Pokémon.

    16 rolls in gens 3-9, 39 in gens 1-2; all zeros when the move deals no damage. Multi-hit
    moves give the total of their expected hit count; damage is not capped at the HP.
    """
    gen = battle.gen
    if move.category == "status":
        return _ZEROS16 if gen >= 3 else _ZEROS39
    if gen <= 2:
        return _rolls_gen12(battle, attacker, move, crit)

    sides = battle.sides
    a_side = sides[attacker]
    d_side = sides[1 - attacker]
    src = a_side.mons[a_side.active]
    tgt = d_side.mons[d_side.active]
    fld = battle.field
    mid = move.id
    flags = move.flags

    a_ab = src.ability
    d_ab = tgt.ability
    a_item = src.item
    d_item = tgt.item
    weather = fld.weather
    if weather and (a_ab in ("airlock", "cloudnine") or d_ab in ("airlock", "cloudnine")):
        weather = ""
    terrain = fld.terrain
    gravity = fld.gravity > 0
    if d_ab and a_ab in _MOLD_BREAKERS and d_ab in _BREAKABLE:
        d_ab = ""

    # ---- move type and category (ModifyType / ModifyMove) --------------------------
    mtype = move.type
    category = move.category
    bp = move.base_power
    ate = False
    if mid in _SPECIAL_BP:
        if mid == "weatherball":
            w = weather if a_item != "utilityumbrella" or weather not in _SUN | _RAIN else ""
            wt = _WEATHER_BALL.get(w)
            if wt:
                mtype = wt
                bp *= 2
        elif mid == "terrainpulse":
            if terrain and _grounded(src, a_ab, gravity):
                mtype = _TERRAIN_TYPE.get(terrain, mtype)
                bp *= 2
        elif mid == "terablast":
            if src.terastallized and src.tera_type:
                mtype = src.tera_type
                if mtype == "stellar":
                    bp = 100
        else:
            bp = _special_bp(battle, attacker, src, tgt, move, attacker_moves_first)
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
    if a_ab:
        if a_ab in _ATE:
            if mtype == "normal" and mid not in _NO_ATE:
                mtype = _ATE[a_ab]
                ate = True
        elif a_ab == "normalize":
            if mid not in _NO_ATE and not (mid == "terablast" and src.terastallized):
                mtype = "normal"
                ate = gen >= 7
        elif a_ab == "liquidvoice" and "sound" in flags:
            mtype = "water"
    if gen <= 3:
        category = "physical" if mtype in _PHYSICAL_OLD else "special"
    elif mid in _PHOTON and (mid == "photongeyser" or src.terastallized):
        boosts = src.boosts
        if _boosted(src.stats["atk"], boosts.get("atk", 0)) > _boosted(
            src.stats["spa"], boosts.get("spa", 0)
        ):
            category = "physical"
    physical = category == "physical"
    zeros = _ZEROS16

    # ---- immunities and failures -------------------------------------------------------
    if weather == "desolateland" and mtype == "water":
        return zeros
    if weather == "primordialsea" and mtype == "fire":
        return zeros
    if mid in _FAILS:
        if mid == "poltergeist":
            if not d_item:
                return zeros
        elif mid == "dreameater":
            if tgt.status != "slp" and tgt.ability != "comatose":
                return zeros
        elif mid == "steelroller":
            if not terrain:
                return zeros
        elif not src.first_turn:
            return zeros
    d_types = tgt.current_types()
    if mtype == "stellar":
        eff = 2.0 if tgt.terastallized else 1.0
    else:
        row = (_CHARTS.get(gen) or _chart(gen)).get(mtype)
        eff = 1.0
        if row is not None:
            for t in d_types:
                f = row.get(t, 1.0)
                if f == 0.0:
                    if mtype == "ground":
                        f = 1.0  # ground immunity is decided by groundedness below
                    elif (t == "ghost" and a_ab in ("scrappy", "mindseye")) or move.ignore_immunity:
                        f = 1.0
                elif t == "water" and mid == "freezedry":
                    f = 2.0
                eff *= f
            if mid == "flyingpress":
                eff *= type_effectiveness(gen, "flying", d_types)
        if eff == 0.0:
            return zeros
        if mtype == "ground" and not move.ignore_immunity and not _grounded(tgt, d_ab, gravity):
            return zeros
    if d_ab:
        absorbed = _ABSORB.get(d_ab)
        if absorbed is not None:
            if absorbed == mtype and (gen >= 5 or d_ab not in ("stormdrain", "lightningrod")):
                return zeros
        elif d_ab == "wonderguard":
            if eff <= 1.0 and mid != "struggle":
                return zeros
        elif d_ab == "bulletproof":
            if "bullet" in flags:
                return zeros
        elif d_ab == "soundproof":
            if "sound" in flags:
                return zeros
        elif d_ab == "windrider" and "wind" in flags:
            return zeros

    # ---- fixed damage -----------------------------------------------------------------
    if bp == 0 or move.fixed_damage is not None or move.ohko:
        fixed = _fixed_damage(gen, src, tgt, move, d_ab)
        if fixed is not None:
            return fixed
        if bp == 0:
            return zeros

    # ---- crit and multi-hit ------------------------------------------------------------
    if crit and d_ab in ("battlearmor", "shellarmor"):
        crit = False
    hits = 1
    per_hit: tuple[int, ...] = ()
    mh = move.multihit
    if mh is not None:
        lo, hi = mh
        if mid == "tripleaxel":
            per_hit = (20, 40, 60)
        elif mid == "triplekick":
            per_hit = (10, 20, 30)
        elif lo == hi:
            hits = lo
            if hits == 10 and a_ab != "skilllink":
                hits = 7
        elif a_ab == "skilllink":
            hits = hi
        elif lo == 2 and hi == 5:
            hits = 4 if a_item == "loadeddice" else 3
        else:
            hits = (lo + hi + 1) // 2
    elif mid == "beatup":
        per_hit = tuple(
            5 + species_data(gen, m.species)["baseStats"]["atk"] // 10
            for m in a_side.mons
            if m.hp > 0 and (m is src or not m.status)
        ) or (10,)

    if mid == "risingvoltage" and terrain == "electricterrain" and _grounded(tgt, d_ab, gravity):
        bp *= 2

    # ---- base power chain (BasePower event) -----------------------------------------------
    # Technician (priority 30) comes first and sees the unmodified base power.
    m = 6144 if a_ab == "technician" and max(per_hit or (bp,)) <= 60 else 4096
    if a_ab:
        if ate:
            m = _chain(m, 5325 if gen == 6 else 4915)
        elif a_ab == "ironfist":
            if "punch" in flags:
                m = _chain(m, 4915)
        elif a_ab == "reckless":
            if move.recoil > 0 or (mid in ("jumpkick", "highjumpkick", "axekick", "supercellslam")):
                m = _chain(m, 4915)
        elif a_ab == "analytic":
            if not attacker_moves_first:
                m = _chain(m, 5325)
        elif a_ab == "sandforce":
            if weather == "sandstorm" and mtype in ("rock", "ground", "steel"):
                m = _chain(m, 5325)
        elif a_ab == "sheerforce":
            if move.secondary_chance > 0:
                m = _chain(m, 5325)
        elif a_ab == "toughclaws":
            if "contact" in flags:
                m = _chain(m, 5325)
        elif a_ab == "supremeoverlord":
            fallen = min(5, sum(1 for x in a_side.mons if x.hp <= 0))
            if fallen:
                m = _chain(m, (4096, 4506, 4915, 5325, 5734, 6144)[fallen])
        elif a_ab == "megalauncher":
            if "pulse" in flags:
                m = _chain(m, 6144)
        elif a_ab == "strongjaw":
            if "bite" in flags:
                m = _chain(m, 6144)
        elif a_ab == "sharpness":
            if "slicing" in flags:
                m = _chain(m, 6144)
        elif a_ab == "flareboost":
            if src.status == "brn" and not physical:
                m = _chain(m, 6144)
        elif a_ab == "toxicboost":
            if src.status in ("psn", "tox") and physical:
                m = _chain(m, 6144)
        elif a_ab == "punkrock" and "sound" in flags:
            m = _chain(m, 5325)
    if a_item == "punchingglove" and "punch" in flags:
        m = _chain(m, 4506)
    if (a_ab in ("darkaura", "fairyaura") or d_ab in ("darkaura", "fairyaura")) and mtype in (
        "dark",
        "fairy",
    ):
        aura = "darkaura" if mtype == "dark" else "fairyaura"
        if a_ab == aura or d_ab == aura:
            broken = a_ab == "aurabreak" or d_ab == "aurabreak"
            m = _chain(m, 3072 if broken else 5448)
    if gen <= 4:  # gens 3-4: Thick Fat and the pinch abilities modify the base power
        if d_ab == "thickfat" and mtype in ("fire", "ice"):
            m = _chain(m, 2048)
        if _PINCH.get(a_ab) == mtype and src.hp * 3 <= src.max_hp:
            m = _chain(m, 6144)
    if d_ab == "dryskin" and mtype == "fire":
        m = _chain(m, 5120)
    if a_item:
        if a_item == "muscleband":
            if physical:
                m = _chain(m, 4505)
        elif a_item == "wiseglasses":
            if not physical:
                m = _chain(m, 4505)
        elif gen >= 4:
            it = _TYPE_ITEMS.get(a_item)
            if it is not None:
                if it == mtype:
                    m = _chain(m, 4915)
            elif a_item.endswith(("orb", "globe", "crystal", "core", "mask", "dew")):
                m = _item_species_boost(m, src.species, a_item, mtype, gen)
    if terrain and gen >= 6:
        if terrain == "electricterrain":
            if mtype == "electric" and _grounded(src, a_ab, gravity):
                m = _chain(m, 5325 if gen >= 8 else 6144)
        elif terrain == "psychicterrain":
            if mtype == "psychic" and _grounded(src, a_ab, gravity):
                m = _chain(m, 5325 if gen >= 8 else 6144)
        elif terrain == "grassyterrain":
            if mid in ("earthquake", "bulldoze", "magnitude") and _grounded(tgt, d_ab, gravity):
                m = _chain(m, 2048)
            elif mtype == "grass" and _grounded(src, a_ab, gravity):
                m = _chain(m, 5325 if gen >= 8 else 6144)
        elif terrain == "mistyterrain" and mtype == "dragon" and _grounded(tgt, d_ab, gravity):
            m = _chain(m, 2048)
    # the moves' own onBasePower handlers (priority 0)
    if mid == "knockoff":
        if gen >= 6 and _item_removable(tgt):
            m = _chain(m, 6144)
    elif mid == "facade":
        if src.status and src.status != "slp":
            m = _chain(m, 8192)
    elif mid in ("venoshock", "barbbarrage"):
        if tgt.status in ("psn", "tox"):
            m = _chain(m, 8192)
    elif mid == "brine":
        if tgt.hp * 2 <= tgt.max_hp:
            m = _chain(m, 8192)
    elif mid in ("collisioncourse", "electrodrift"):
        if eff > 1.0:
            m = _chain(m, 5461)
    elif mid in ("solarbeam", "solarblade"):
        if weather in _WEAK_SOLAR and not (a_item == "utilityumbrella" and weather in _RAIN):
            m = _chain(m, 2048)
    elif mid == "gravapple":
        if gravity:
            m = _chain(m, 6144)
    elif mid == "expandingforce":
        if terrain == "psychicterrain" and _grounded(src, a_ab, gravity):
            m = _chain(m, 6144)
    elif mid == "psyblade":
        if terrain == "electricterrain":
            m = _chain(m, 6144)
    elif mid == "mistyexplosion" and terrain == "mistyterrain" and _grounded(src, a_ab, gravity):
        m = _chain(m, 6144)

    # ---- attack -------------------------------------------------------------------------
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
    if d_ab == "unaware" or (crit and a_boost < 0):
        a_boost = 0
    attack = _boosted(a_stat, a_boost)
    am = 4096
    if d_ab:
        if d_ab == "thickfat":
            if mtype in ("fire", "ice") and gen >= 5:
                am = _chain(am, 2048)
        elif d_ab == "heatproof":
            if mtype == "fire":
                am = _chain(am, 2048)
        elif d_ab == "purifyingsalt":
            if mtype == "ghost":
                am = _chain(am, 2048)
        elif d_ab == "waterbubble" and mtype == "fire":
            am = _chain(am, 2048)
    if a_ab:
        pinch = _PINCH.get(a_ab)
        if pinch is not None:
            if pinch == mtype and src.hp * 3 <= src.max_hp and gen >= 5:
                am = _chain(am, 6144)
        elif a_ab in _TYPE_BOOST_ABILITY:
            if _TYPE_BOOST_ABILITY[a_ab] == mtype:
                am = _chain(am, 6144)
        elif a_ab == "transistor":
            if mtype == "electric":
                am = _chain(am, 5325 if gen >= 9 else 6144)
        elif a_ab in ("hugepower", "purepower"):
            if physical:
                am = _chain(am, 8192)
        elif a_ab == "hustle":
            if physical:
                attack = _mod(attack, 6144)
        elif a_ab == "guts":
            if physical and src.status:
                am = _chain(am, 6144)
        elif a_ab == "defeatist":
            if src.hp * 2 <= src.max_hp:
                am = _chain(am, 2048)
        elif a_ab == "flashfire":
            if mtype == "fire" and "flashfire" in src.volatiles:
                am = _chain(am, 6144)
        elif a_ab == "waterbubble":
            if mtype == "water":
                am = _chain(am, 8192)
        elif a_ab == "orichalcumpulse":
            if physical and weather in _SUN and a_item != "utilityumbrella":
                am = _chain(am, 5461)
        elif a_ab == "hadronengine":
            if not physical and terrain == "electricterrain":
                am = _chain(am, 5461)
        elif a_ab == "solarpower":
            if not physical and weather in _SUN and a_item != "utilityumbrella":
                am = _chain(am, 6144)
        elif a_ab in ("protosynthesis", "quarkdrive"):
            if _paradox_stat(src, a_ab, weather, terrain) == ("atk" if physical else "spa"):
                am = _chain(am, 5325)
        elif a_ab == "gorillatactics" and physical:
            am = _chain(am, 6144)
    if a_item:
        if a_item == "choiceband":
            if physical:
                am = _chain(am, 6144)
        elif a_item == "choicespecs":
            if not physical:
                am = _chain(am, 6144)
        elif a_item == "lightball":
            if src.species.startswith("pikachu") and (not physical or gen >= 4):
                am = _chain(am, 8192)
        elif a_item == "thickclub":
            if physical and src.species.startswith(("cubone", "marowak")):
                am = _chain(am, 8192)
        elif a_item == "deepseatooth":
            if not physical and src.species == "clamperl":
                am = _chain(am, 8192)
        elif gen == 3:
            it = _TYPE_ITEMS_OLD.get(a_item)
            if it is not None and it == mtype:
                am = _chain(am, 4505)
            elif a_item == "seaincense" and mtype == "water":
                am = _chain(am, 4300)
    if (d_ab == "tabletsofruin" and physical and a_ab != "tabletsofruin") or (
        d_ab == "vesselofruin" and not physical and a_ab != "vesselofruin"
    ):
        am = _chain(am, 3072)
    if am != 4096:
        attack = _mod(attack, am)

    # ---- defense ------------------------------------------------------------------------
    def_is_def = physical or mid in ("psyshock", "psystrike", "secretsword")
    d_stat = tgt.stats["def" if def_is_def else "spd"]
    d_boost = tgt.boosts.get("def" if def_is_def else "spd", 0)
    if a_ab == "unaware" or (crit and d_boost > 0) or mid in _IGNORE_DEF_BOOSTS:
        d_boost = 0
    defense = _boosted(d_stat, d_boost)
    if def_is_def:
        if gen >= 9 and weather in _SNOW and "ice" in d_types:
            defense = _mod(defense, 6144)
    elif gen >= 4 and weather == "sandstorm" and "rock" in d_types:
        defense = _mod(defense, 6144)
    dm = 4096
    if d_ab:
        if def_is_def:
            if d_ab == "furcoat":
                dm = _chain(dm, 8192)
            elif d_ab == "marvelscale":
                if tgt.status:
                    dm = _chain(dm, 6144)
            elif d_ab == "grasspelt" and terrain == "grassyterrain":
                dm = _chain(dm, 6144)
        if d_ab in ("protosynthesis", "quarkdrive") and _paradox_stat(
            tgt, d_ab, weather, terrain
        ) == ("def" if def_is_def else "spd"):
            dm = _chain(dm, 5325)
    if d_item:
        if d_item == "eviolite":
            if _nfe(gen, tgt.species):
                dm = _chain(dm, 6144)
        elif d_item == "assaultvest":
            if not def_is_def:
                dm = _chain(dm, 6144)
        elif d_item == "metalpowder":
            if def_is_def and tgt.species == "ditto":
                dm = _chain(dm, 8192)
        elif d_item == "deepseascale" and not def_is_def and tgt.species == "clamperl":
            dm = _chain(dm, 8192)
    if def_is_def:
        if a_ab == "swordofruin" and d_ab != "swordofruin":
            dm = _chain(dm, 3072)
    elif a_ab == "beadsofruin" and d_ab != "beadsofruin":
        dm = _chain(dm, 3072)
    if dm != 4096:
        defense = _mod(defense, dm)
    if gen <= 4 and def_is_def and mid in ("explosion", "selfdestruct"):
        defense = max(1, defense // 2)
    if defense < 1:
        defense = 1

    # ---- pre-roll modifiers -------------------------------------------------------------
    wm = 4096  # WeatherModifyDamage (the defender's umbrella cancels sun / rain)
    if weather and mtype in ("fire", "water"):
        if mid == "hydrosteam" and weather == "sunnyday" and a_item != "utilityumbrella":
            wm = 6144
        elif d_item != "utilityumbrella":
            if weather in _SUN:
                wm = 6144 if mtype == "fire" else (2048 if weather == "sunnyday" else 4096)
            elif weather in _RAIN:
                wm = 6144 if mtype == "water" else (2048 if weather == "raindance" else 4096)

    # STAB
    stab = 4096
    if mtype != "???":
        orig = src.types
        is_stab = mtype in orig or mtype in src.current_types() or a_ab in _PROTEAN
        if src.terastallized and src.tera_type == "stellar":
            stab = 8192 if is_stab else 4915
        else:
            if is_stab:
                stab = 6144
                if src.terastallized and mtype == src.tera_type and mtype in orig:
                    stab = 8192
            if a_ab == "adaptability" and mtype in src.current_types():
                stab = 9216 if stab == 8192 else 8192
    # type effectiveness as integer multiply / floor-divide
    emul = 1
    ediv = 1
    if eff > 1.0:
        emul = int(eff)
    elif eff < 1.0:
        ediv = round(1.0 / eff)
    burn = physical and src.status == "brn" and a_ab != "guts" and (gen < 6 or mid != "facade")

    # final ModifyDamage chain
    fm = 4096
    if a_ab:
        if a_ab == "sniper":
            if crit:
                fm = _chain(fm, 6144)
        elif a_ab == "tintedlens":
            if eff < 1.0:
                fm = _chain(fm, 8192)
        elif a_ab == "neuroforce" and eff > 1.0:
            fm = _chain(fm, 5120)
    if a_item == "lifeorb":
        if gen >= 5:
            fm = _chain(fm, 5324)
    elif a_item == "expertbelt" and eff > 1.0:
        fm = _chain(fm, 4915)
    if d_ab:
        if d_ab in ("multiscale", "shadowshield"):
            if tgt.hp >= tgt.max_hp:
                fm = _chain(fm, 2048)
        elif d_ab in ("filter", "solidrock", "prismarmor"):
            if eff > 1.0:
                fm = _chain(fm, 3072)
        elif d_ab == "fluffy":
            fl = (8192 if mtype == "fire" else 4096) // (2 if "contact" in flags else 1)
            if fl != 4096:
                fm = _chain(fm, fl)
        elif d_ab == "icescales":
            if not physical:
                fm = _chain(fm, 2048)
        elif d_ab == "punkrock" and "sound" in flags:
            fm = _chain(fm, 2048)
    if d_item and d_item.endswith("berry"):
        if d_item == "chilanberry":
            if mtype == "normal":
                fm = _chain(fm, 2048)
        elif eff > 1.0 and _RESIST_BERRIES.get(d_item) == mtype:
            fm = _chain(fm, 2048)
            if d_ab == "ripen":
                fm = _chain(fm, 2048)
    screen = False
    if not crit and a_ab != "infiltrator":
        if physical:
            screen = d_side.reflect > 0 or d_side.aurora_veil > 0
        else:
            screen = d_side.light_screen > 0 or d_side.aurora_veil > 0
    if screen and gen >= 5:
        fm = _chain(fm, 2048)

    # ---- rolls --------------------------------------------------------------------------
    level_factor = 2 * src.level // 5 + 2
    bps = per_hit or (bp,)
    total: list[int] | None = None
    for hit_bp in bps:
        power = _mod(hit_bp, m) if m != 4096 else hit_bp
        if power < 1:
            power = 1
        if (
            src.terastallized
            and power < 60
            and mtype in src.current_types()
            and move.priority <= 0
            and mh is None
            and not (move.base_power in (0, 150) and mid in _SPECIAL_BP)
        ):
            power = 60
        base = level_factor * power * attack // defense // 50
        if gen >= 5:
            rolls = _rolls_gen5(gen, base, wm, crit, stab, emul, ediv, burn, fm)
        else:
            rolls = _rolls_gen34(
                gen,
                base,
                wm,
                crit,
                stab,
                emul,
                ediv,
                burn,
                fm,
                screen,
                physical,
                a_item == "lifeorb",
            )
        total = rolls if total is None else [a + b for a, b in zip(total, rolls, strict=True)]
    assert total is not None
    if hits != 1:
        total = [d * hits for d in total]
    return tuple(total)


def _rolls_gen5(
    gen: int,
    base: int,
    wm: int,
    crit: bool,
    stab: int,
    emul: int,
    ediv: int,
    burn: bool,
    fm: int,
) -> list[int]:
    base += 2
    if wm != 4096:
        base = _mod(base, wm)
    if crit:
        base = base * 3 // 2 if gen >= 6 else base * 2
    out = []
    wrapped = False
    for r in _ROLLS_NEW:
        d = base * r // 100
        if stab != 4096:
            d = (d * stab + 2047) >> 12
        if emul != 1:
            d *= emul
        elif ediv != 1:
            d //= ediv
        if burn:
            d = (d * 2048 + 2047) >> 12
        if gen == 5 and d == 0:
            d = 1
        if fm != 4096:
            d = (d * fm + 2047) >> 12
        if d == 0:
            d = 1
        elif d > 65535:
            d %= 65536
            wrapped = True
        out.append(d)
    if wrapped:
        out.sort()
    return out


def _rolls_gen34(
    gen: int,
    base: int,
    wm: int,
    crit: bool,
    stab: int,
    emul: int,
    ediv: int,
    burn: bool,
    fm: int,
    screen: bool,
    physical: bool,
    life_orb: bool,
) -> list[int]:
    if burn and base:
        base = _mod(base, 2048)
    if screen:
        base = _mod(base, 2048)
    if wm != 4096:
        base = _mod(base, wm)
    if gen == 3 and physical and base == 0:
        base = 1
    base += 2
    if crit:
        base *= 2
    if life_orb and gen == 4:
        base = int(base * 1.3)

    def finish(d: int) -> int:
        if stab != 4096:
            d = _mod(d, stab)
        if emul != 1:
            d *= emul
        elif ediv != 1:
            d //= ediv
        if fm != 4096:
            d = _mod(d, fm)
        return d

    if gen == 4:
        out = [finish(base * r // 100) for r in _ROLLS_NEW]
    else:
        d = finish(base)
        out = [d * r // 100 for r in _ROLLS_NEW]
    return [d if d > 0 else 1 for d in out]


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
    return _chain(m, 4915) if ok else m


def _fixed_damage(
    gen: int, src: Mon, tgt: Mon, move: MoveData, d_ab: str
) -> tuple[int, ...] | None:
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
    elif mid in _HALF_HP:
        value = max(1, tgt.hp // 2)
    elif mid == "finalgambit":
        value = src.hp
    elif mid == "endeavor":
        value = max(0, tgt.hp - src.hp)
    elif mid in _NO_DAMAGE:
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


# --------------------------------------------------------------------------------------
# Gens 1-2
# --------------------------------------------------------------------------------------


def _rolls_gen12(battle: Battle, attacker: int, move: MoveData, crit: bool) -> tuple[int, ...]:
    gen = battle.gen
    zeros = _ZEROS39
    a_side = battle.sides[attacker]
    d_side = battle.sides[1 - attacker]
    src = a_side.mon
    tgt = d_side.mon
    mid = move.id
    mtype = move.type
    physical = mtype in _PHYSICAL_OLD
    chart = _CHARTS.get(gen) or _chart(gen)
    row = chart.get(mtype)
    eff = 1.0
    if row is not None:
        for t in tgt.types:
            eff *= row.get(t, 1.0)
    if eff == 0.0:
        return zeros
    bp = move.base_power
    if bp == 0 or move.fixed_damage is not None or move.ohko:
        fixed = _fixed_damage(gen, src, tgt, move, "")
        if fixed is not None:
            return fixed
        if mid in _SPECIAL_BP:
            bp = _special_bp(battle, attacker, src, tgt, move, True)
        if bp == 0:
            return zeros
    elif mid in _SPECIAL_BP:
        bp = _special_bp(battle, attacker, src, tgt, move, True)
    a_name = "atk" if physical else "spa"
    d_name = "def" if physical else "spd"
    level = src.level
    a_boost = src.boosts.get(a_name, 0)
    d_boost = tgt.boosts.get(d_name, 0)
    a_item = src.item if gen == 2 else ""
    d_item = tgt.item if gen == 2 else ""
    screen = d_side.reflect > 0 if physical else d_side.light_screen > 0

    if gen == 1:
        if crit:
            attack = src.stats[a_name]
            defense = tgt.stats[d_name]
            level *= 2
        else:
            attack = max(1, min(999, _boosted_old(src.stats[a_name], a_boost)))
            if physical and src.status == "brn":
                attack = max(1, attack // 2)
            defense = max(1, min(999, _boosted_old(tgt.stats[d_name], d_boost)))
            if screen:
                defense *= 2
        level %= 256
    else:
        unboosted = crit and a_boost <= d_boost
        if unboosted:
            attack = src.stats[a_name]
            defense = tgt.stats[d_name]
        else:
            attack = _boosted_old(src.stats[a_name], a_boost)
            if physical and src.status == "brn":
                attack //= 2
            defense = _boosted_old(tgt.stats[d_name], d_boost)
        attack = max(1, min(999, attack))
        defense = max(1, min(999, defense))
        if not unboosted and screen:
            defense *= 2
        sp = src.species
        if (a_item == "thickclub" and physical and sp.startswith(("cubone", "marowak"))) or (
            a_item == "lightball" and not physical and sp.startswith("pikachu")
        ):
            attack *= 2
        if d_item == "metalpowder" and tgt.species == "ditto":
            defense = defense * 3 // 2
    if attack >= 256 or defense >= 256:
        attack = max(1, (attack // 4) % 256)
        defense = (defense // 4) % 256 or 1
    if mid in ("explosion", "selfdestruct") and physical:
        defense = max(1, defense // 2)

    damage = (level * 2 // 5 + 2) * bp * attack // defense
    if gen == 1:
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
        if damage == 0:
            return zeros
    else:
        damage //= 50
        if crit:
            damage *= 2
        if a_item and _TYPE_ITEMS_OLD.get(a_item) == mtype:
            damage = int(damage * 1.1)
        damage = max(1, min(damage, 997)) + 2
        weather = _suppressed_weather(battle)
        if (mtype == "water" and weather == "raindance") or (
            mtype == "fire" and weather == "sunnyday"
        ):
            damage = int(damage * 1.5)
        elif ((mtype == "fire" or mid == "solarbeam") and weather == "raindance") or (
            mtype == "water" and weather == "sunnyday"
        ):
            damage //= 2
        if mtype in src.types:
            damage += damage // 2
        if eff > 1.0:
            damage *= int(eff)
        elif eff < 1.0:
            damage //= round(1.0 / eff)
    if damage <= 1:
        out = (max(damage, 1 if gen == 2 else damage),) * 39
    else:
        floor = 1 if gen == 2 else 0
        out = tuple(max(floor, damage * r // 255) for r in _ROLLS_OLD)
    hits = 1
    mh = move.multihit
    if mh is not None:
        lo, hi = mh
        hits = lo if lo == hi else 3 if (lo, hi) == (2, 5) else (lo + hi + 1) // 2
        if mid == "triplekick":
            hits = 1
            out = tuple(d * 6 for d in out)  # 10 + 20 + 30 power: six times the 10-power hit
    if hits != 1:
        out = tuple(d * hits for d in out)
    return out

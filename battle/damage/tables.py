"""Showdown's data as the damage calculator reads it: the type chart and the id tables.

The type chart comes from poke-env's copy of Showdown's data, per generation, cached. The
other tables name the abilities, items, moves, weathers and terrains that some step of
the calculation singles out (copied from `data/{abilities,items,moves,conditions}.js`),
and the fixed roll ranges: 16 rolls (85..100 / 100) in gens 3-9, 39 (217..255 / 255) in
gens 1-2.
"""

from __future__ import annotations

from poke_env.data import GenData

# --------------------------------------------------------------------------------------
# Type chart
# --------------------------------------------------------------------------------------

CHARTS: dict[int, dict[str, dict[str, float]]] = {}


def chart(gen: int) -> dict[str, dict[str, float]]:
    """chart[attacking type][defending type] -> multiplier, lower-case ids."""
    table = CHARTS.get(gen)
    if table is None:
        table = {}
        for defending, row in GenData.from_gen(gen).type_chart.items():
            for attacking, mult in row.items():
                table.setdefault(attacking.lower(), {})[defending.lower()] = float(mult)
        CHARTS[gen] = table
    return table


def type_effectiveness(gen: int, move_type: str, defender_types: tuple[str, ...]) -> float:
    """Product of the chart multipliers of `move_type` against each defending type."""
    table = CHARTS.get(gen) or chart(gen)
    row = table.get(move_type)
    if row is None:
        return 1.0
    mult = 1.0
    for t in defender_types:
        mult *= row.get(t, 1.0)
    return mult


# --------------------------------------------------------------------------------------
# Rolls
# --------------------------------------------------------------------------------------

ZEROS16 = (0,) * 16
ZEROS39 = (0,) * 39
ROLLS_NEW = tuple(range(85, 101))
ROLLS_OLD = tuple(range(217, 256))

# --------------------------------------------------------------------------------------
# Abilities
# --------------------------------------------------------------------------------------

PHYSICAL_OLD = frozenset(
    {"normal", "fighting", "flying", "poison", "ground", "rock", "bug", "ghost", "steel"}
)

MOLD_BREAKERS = frozenset({"moldbreaker", "teravolt", "turboblaze"})
# Defender abilities this package reads that Mold Breaker ignores (Showdown "breakable").
BREAKABLE = frozenset(
    {
        "levitate", "flashfire", "waterabsorb", "voltabsorb", "stormdrain", "lightningrod",
        "motordrive", "sapsipper", "dryskin", "eartheater", "wellbakedbody", "bulletproof",
        "soundproof", "wonderguard", "windrider", "multiscale", "filter", "solidrock",
        "furcoat", "icescales", "fluffy", "thickfat", "heatproof", "purifyingsalt",
        "unaware", "marvelscale", "punkrock", "battlearmor", "shellarmor", "grasspelt",
        "waterbubble", "sturdy",
    }
)  # fmt: skip
ABSORB = {
    "flashfire": "fire", "wellbakedbody": "fire", "waterabsorb": "water",
    "stormdrain": "water", "dryskin": "water", "voltabsorb": "electric",
    "lightningrod": "electric", "motordrive": "electric", "sapsipper": "grass",
    "eartheater": "ground",
}  # fmt: skip
ATE = {"aerilate": "flying", "pixilate": "fairy", "refrigerate": "ice", "galvanize": "electric"}
NO_ATE = frozenset(
    {"judgment", "multiattack", "naturalgift", "revelationdance", "technoblast",
     "terrainpulse", "weatherball", "struggle", "hiddenpower"}
)  # fmt: skip
PROTEAN = frozenset({"protean", "libero"})  # assumed active: every move gets STAB
PINCH = {"blaze": "fire", "torrent": "water", "overgrow": "grass", "swarm": "bug"}
TYPE_BOOST_ABILITY = {  # x1.5 attack for moves of the type (gen 9 transistor: 5325)
    "dragonsmaw": "dragon", "steelworker": "steel", "rockypayload": "rock",
}  # fmt: skip

# --------------------------------------------------------------------------------------
# Items
# --------------------------------------------------------------------------------------

# Gen 4+ type-boosting items and plates (onBasePower x4915/4096).
TYPE_ITEMS = {
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
TYPE_ITEMS_OLD = {
    "silkscarf": "normal", "pinkbow": "normal", "polkadotbow": "normal",
    "blackbelt": "fighting", "sharpbeak": "flying", "poisonbarb": "poison",
    "softsand": "ground", "hardstone": "rock", "silverpowder": "bug", "spelltag": "ghost",
    "metalcoat": "steel", "charcoal": "fire", "mysticwater": "water",
    "miracleseed": "grass", "magnet": "electric", "twistedspoon": "psychic",
    "nevermeltice": "ice", "dragonfang": "dragon", "dragonscale": "dragon",
    "blackglasses": "dark",
}  # fmt: skip
RESIST_BERRIES = {
    "occaberry": "fire", "passhoberry": "water", "wacanberry": "electric",
    "rindoberry": "grass", "yacheberry": "ice", "chopleberry": "fighting",
    "kebiaberry": "poison", "shucaberry": "ground", "cobaberry": "flying",
    "payapaberry": "psychic", "tangaberry": "bug", "chartiberry": "rock",
    "kasibberry": "ghost", "habanberry": "dragon", "colburberry": "dark",
    "babiriberry": "steel", "roseliberry": "fairy",
}  # fmt: skip
UNREMOVABLE = frozenset(
    {"rustedsword", "rustedshield", "griseouscore", "wellspringmask", "hearthflamemask",
     "cornerstonemask", "redorb", "blueorb", "adamantcrystal", "lustrousglobe"}
)  # fmt: skip
POWER_ITEMS = frozenset(
    {"poweranklet", "powerband", "powerbelt", "powerbracer", "powerlens", "powerweight"}
)

# --------------------------------------------------------------------------------------
# Weather and terrain
# --------------------------------------------------------------------------------------

TERRAIN_TYPE = {
    "electricterrain": "electric", "grassyterrain": "grass",
    "psychicterrain": "psychic", "mistyterrain": "fairy",
}  # fmt: skip
WEATHER_BALL = {
    "sunnyday": "fire", "desolateland": "fire", "raindance": "water",
    "primordialsea": "water", "sandstorm": "rock", "hail": "ice", "snowscape": "ice",
    "snow": "ice",
}  # fmt: skip
SUN = frozenset({"sunnyday", "desolateland"})
RAIN = frozenset({"raindance", "primordialsea"})
WEAK_SOLAR = frozenset({"raindance", "primordialsea", "sandstorm", "hail", "snowscape", "snow"})
SNOW = frozenset({"snowscape", "snow"})

# --------------------------------------------------------------------------------------
# Critical hits
# --------------------------------------------------------------------------------------

CRIT_GEN2 = (17 / 256, 32 / 256, 64 / 256, 85 / 256, 128 / 256)
CRIT_GEN3 = (1 / 16, 1 / 8, 1 / 4, 1 / 3, 1 / 2)
CRIT_GEN6 = (1 / 16, 1 / 8, 1 / 2, 1.0)
CRIT_GEN7 = (1 / 24, 1 / 8, 1 / 2, 1.0)

# --------------------------------------------------------------------------------------
# Moves
# --------------------------------------------------------------------------------------

NO_DAMAGE = frozenset({"counter", "mirrorcoat", "metalburst", "bide", "comeuppance"})
HALF_HP = frozenset({"superfang", "ruination", "naturesmadness"})
# Moves whose base power (or success) depends on the situation (`power.special_power`).
SPECIAL_BP = frozenset(
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
FAILS = frozenset({"poltergeist", "fakeout", "firstimpression", "dreameater", "steelroller"})
PHOTON = frozenset({"photongeyser", "terablast"})
IGNORE_DEF_BOOSTS = frozenset({"chipaway", "sacredsword", "darkestlariat"})

"""What the damage and speed formulas ask about one Pokémon on the field.

Whether it is grounded, its weight, whether it can still evolve (Eviolite), whether its
item can be knocked off, which stat Protosynthesis / Quark Drive boosts, and the weather
once Air Lock / Cloud Nine have had their say. Lookups of Showdown's pokedex are cached.
"""

from __future__ import annotations

from battle.damage.arith import boosted
from battle.damage.tables import UNREMOVABLE
from battle.model import Battle, Mon, species_data

_NFE: dict[tuple[int, str], bool] = {}


def nfe(gen: int, species: str) -> bool:
    """Whether `species` still evolves (Eviolite's condition)."""
    key = (gen, species)
    value = _NFE.get(key)
    if value is None:
        try:
            value = bool(species_data(gen, species).get("evos"))
        except KeyError:
            value = False
        _NFE[key] = value
    return value


def weight(gen: int, mon: Mon) -> float:
    """The Pokémon's weight in kg: its own, else its species' (0 when unknown)."""
    if mon.weight > 0:
        return mon.weight
    try:
        return float(species_data(gen, mon.species).get("weightkg", 0) or 0)
    except KeyError:
        return 0.0


def grounded(mon: Mon, ability: str, gravity: bool) -> bool:
    """Whether ground moves and terrains reach the Pokémon."""
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


def item_removable(mon: Mon) -> bool:
    """Whether Knock Off can remove the Pokémon's item (and so gets its boost)."""
    item = mon.item
    if not item or item in UNREMOVABLE:
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
        value = boosted(stats[name], boosts.get(name, 0))
        if value > best_value:
            best, best_value = name, value
    return best


def paradox_stat(mon: Mon, ability: str, weather: str, terrain: str) -> str:
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


def suppressed_weather(battle: Battle) -> str:
    """The field's weather, or "" while an active Pokémon has Air Lock / Cloud Nine."""
    weather = battle.field.weather
    if weather:
        a, b = battle.sides[0].mon.ability, battle.sides[1].mon.ability
        if a in ("airlock", "cloudnine") or b in ("airlock", "cloudnine"):
            return ""
    return weather

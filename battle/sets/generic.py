"""A generic set for a species no source knows: the seen moves plus STAB attacks.

Its first ability, even EVs (gens 1-2: maxed), and one strong attack per type of the
species (`STAB_MOVES`, the first that exists in the generation), physical or special by
its better attacking stat (gens 1-3: by the type).
"""

from __future__ import annotations

from collections.abc import Iterable

from poke_env.data import GenData

from battle.model import species_data, to_id
from battle.sets.hypothesis import SetHypothesis, ability_id, base_stats, set_stats

# One strong STAB attack per type and category, best first; the first that exists in a
# generation's move data is used (then the other category's, then Body Slam).
STAB_MOVES: dict[str, dict[str, tuple[str, ...]]] = {
    "normal": {"physical": ("return", "doubleedge", "bodyslam"),
               "special": ("hypervoice", "triattack", "bodyslam")},
    "fire": {"physical": ("flareblitz", "firepunch", "fireblast"),
             "special": ("flamethrower", "fireblast")},
    "water": {"physical": ("waterfall", "liquidation", "surf"),
              "special": ("surf", "hydropump")},
    "electric": {"physical": ("wildcharge", "thunderpunch"),
                 "special": ("thunderbolt", "thunder")},
    "grass": {"physical": ("woodhammer", "leafblade", "seedbomb", "razorleaf"),
              "special": ("energyball", "gigadrain", "razorleaf")},
    "ice": {"physical": ("iciclecrash", "icepunch"), "special": ("icebeam", "blizzard")},
    "fighting": {"physical": ("closecombat", "crosschop", "highjumpkick", "submission"),
                 "special": ("aurasphere", "focusblast")},
    "poison": {"physical": ("gunkshot", "poisonjab", "sludge"),
               "special": ("sludgebomb", "sludge")},
    "ground": {"physical": ("earthquake",), "special": ("earthpower", "earthquake")},
    "flying": {"physical": ("bravebird", "drillpeck"),
               "special": ("hurricane", "airslash", "drillpeck")},
    "psychic": {"physical": ("zenheadbutt", "psychocut"), "special": ("psychic", "psyshock")},
    "bug": {"physical": ("uturn", "xscissor", "megahorn", "pinmissile"),
            "special": ("bugbuzz", "signalbeam")},
    "rock": {"physical": ("stoneedge", "rockslide"),
             "special": ("powergem", "ancientpower", "rockslide")},
    "ghost": {"physical": ("shadowclaw", "shadowpunch", "shadowball", "lick"),
              "special": ("shadowball", "nightshade")},
    "dragon": {"physical": ("outrage", "dragonclaw"),
               "special": ("dracometeor", "dragonpulse", "outrage", "dragonrage")},
    "dark": {"physical": ("knockoff", "crunch", "bite"), "special": ("darkpulse", "crunch")},
    "steel": {"physical": ("ironhead", "meteormash", "irontail"),
              "special": ("flashcannon", "irontail")},
    "fairy": {"physical": ("playrough",), "special": ("moonblast", "dazzlinggleam")},
}  # fmt: skip
FALLBACK_MOVES = ("bodyslam", "return", "tackle")
# Gens 1-3: a move's category is its type's.
SPECIAL_TYPES = frozenset(
    {"fire", "water", "grass", "electric", "ice", "psychic", "dragon", "dark"}
)


def move_exists(gen: int, move: str) -> bool:
    """Whether `move` is a usable move in generation `gen`'s move data."""
    entry = GenData.from_gen(gen).moves.get(to_id(move))
    return entry is not None and not entry.get("isNonstandard")


def stab_move(gen: int, move_type: str, category: str) -> str:
    """A strong attack of `move_type` that exists in `gen` ("" when none does)."""
    table = STAB_MOVES.get(move_type, {})
    other = "special" if category == "physical" else "physical"
    for move in (*table.get(category, ()), *table.get(other, ()), *FALLBACK_MOVES):
        if move_exists(gen, move):
            return move
    return ""


def generic_set(
    gen: int,
    species: str,
    *,
    level: int,
    moves: Iterable[str] = (),
    ability: str | None = None,
    item: str | None = None,
    tera_type: str | None = None,
) -> SetHypothesis:
    """A plain guess for a species no source knows: the seen moves plus STAB attacks."""
    species = to_id(species)
    try:
        entry = species_data(gen, species)
    except KeyError:
        entry = {}
    base = base_stats(gen, species)
    if ability is None:
        abilities = entry.get("abilities") or {}
        ability = ability_id(abilities.get("0", "")) if abilities else ""
    ability = "" if gen <= 2 else ability_id(ability)
    chosen: list[str] = [m for m in dict.fromkeys(to_id(m) for m in moves) if m]
    by_stats = "physical" if base.get("atk", 0) >= base.get("spa", 0) else "special"
    types = [to_id(t) for t in entry.get("types", [])] or ["normal"]
    for move_type in types:
        if len(chosen) >= 4:
            break
        category = by_stats
        if gen <= 3:  # the type decides the category
            category = "special" if move_type in SPECIAL_TYPES else "physical"
        move = stab_move(gen, move_type, category)
        if move and move not in chosen:
            chosen.append(move)
    ev = 255 if gen <= 2 else 84
    iv = 30 if gen <= 2 else 31
    return SetHypothesis(
        species=species,
        level=level,
        ability=ability,
        item="" if gen <= 1 or item is None else to_id(item),
        moves=tuple(chosen),
        tera_type=to_id(tera_type or "") if gen >= 9 else "",
        stats=dict(set_stats(gen, species, level, (ev,) * 6, (iv,) * 6, "")),
        weight=1.0,
    )

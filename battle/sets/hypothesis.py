"""What a set is: `SetHypothesis` (a full guess, with stats and weight) and `FullSet`.

`FullSet` is a set as a source gives it (level, ability, item, moves, tera type, EVs,
IVs, nature), hashable so that identical sets from one source merge and their counts
add up. `set_stats` turns one into real stats (cached); `base_stats` falls back to 80s
for a species the pokedex lacks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

from battle.model import STATS, compute_stats, species_data, to_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SetHypothesis:
    """One complete guess at an opposing Pokémon's set."""

    species: str  # species id as asked (the source's id, or a forme of it)
    level: int
    ability: str  # id, "" for none (gens 1-2)
    item: str  # id, "" for none
    moves: tuple[str, ...]  # move ids, up to 4 (more when more were seen)
    tera_type: str  # lower-case type id, "" for none / unknown (gens 1-8)
    stats: dict[str, int]  # hp atk def spa spd spe
    weight: float  # probability among the candidates returned (they sum to 1)


@dataclass(frozen=True, slots=True)
class FullSet:
    """A full set as a source gives it (hashable: identical sets merge)."""

    level: int
    ability: str
    item: str
    moves: tuple[str, ...]
    tera_type: str
    evs: tuple[int, ...]  # in STATS order
    ivs: tuple[int, ...]
    nature: str


def stat_tuple(stats: dict[str, int] | None, default: int) -> tuple[int, ...]:
    """`stats` in STATS order, `default` for the missing ones."""
    stats = stats or {}
    return tuple(int(stats.get(stat, default)) for stat in STATS)


@lru_cache(maxsize=65536)
def set_stats(
    gen: int, species: str, level: int, evs: tuple[int, ...], ivs: tuple[int, ...], nature: str
) -> dict[str, int]:
    """The real stats of `species` with this spread (EVs and IVs in STATS order)."""
    return compute_stats(
        base_stats(gen, species),
        level,
        dict(zip(STATS, evs, strict=True)),
        dict(zip(STATS, ivs, strict=True)),
        nature,
    )


def base_stats(gen: int, species: str) -> dict[str, int]:
    """The species' base stats, 80 each (with a warning) when the pokedex lacks it."""
    try:
        return dict(species_data(gen, species)["baseStats"])
    except KeyError:
        log.warning("no gen %d pokedex entry for %r: guessing base stats of 80", gen, species)
        return dict.fromkeys(STATS, 80)


def ability_id(name: str) -> str:
    """The ability's id, "" for none."""
    ability = to_id(name)
    return "" if ability == "noability" else ability

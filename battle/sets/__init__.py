"""Hypotheses about an opponent's hidden set: moves, item, ability, stats, level, tera type.

Search sees only part of each opposing Pokémon (the moves it used, an item that showed,
its level) and has to guess the rest consistently. `SetPool.for_format(format)` gathers
the sets that format's opponents plausibly bring, all offline:

1. random-battle formats: Showdown's own team generator (`battle/random_sets.js`), run
   once per format and Showdown version into the cache folder (`cache_dir()`): per
   species, the distinct full sets it deals with their counts;
2. formats with teams (gen9ou, gen1ou, ...): the bundled team pool `teams/<format>/*.txt`
   (each team file counts once), then, for species not in the pool, the same
   generation's random-battle sets rescaled to level 100;
3. a species found in neither: a generic set (its first ability, even EVs, the seen moves
   and one strong STAB attack per type).

`SetPool.candidates(species, moves=..., item=...)` lists the sets consistent with what
was seen, weighted; `SetPool.sample` draws a few of them.

Modules: `hypothesis` (what a set is), `random_battle` (the generator, its cache, its
sets), `teams` (team files), `generic` (the generic set), `pool` (`SetPool`).
"""

from __future__ import annotations

from battle.files import REPO_ROOT
from battle.sets.generic import (
    FALLBACK_MOVES,
    SPECIAL_TYPES,
    STAB_MOVES,
    generic_set,
    move_exists,
    stab_move,
)
from battle.sets.hypothesis import SetHypothesis
from battle.sets.pool import (
    GENERIC_LEVEL_RANDOM,
    GENERIC_LEVEL_TIER,
    IGNORED_MOVES,
    TEAMS_DIR,
    SetPool,
    clear_cache,
)
from battle.sets.random_battle import (
    DEFAULT_SEED,
    DEFAULT_TEAMS,
    PACKAGE_DIR,
    RANDOM_SETS_JS,
    cache_dir,
    format_gen,
    generate,
    is_generated,
    load_aggregate,
    set_teams,
    showdown_version,
)
from battle.sets.teams import HP_DVS, HP_IVS, load_team_pool, parse_export

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_TEAMS",
    "FALLBACK_MOVES",
    "GENERIC_LEVEL_RANDOM",
    "GENERIC_LEVEL_TIER",
    "HP_DVS",
    "HP_IVS",
    "IGNORED_MOVES",
    "PACKAGE_DIR",
    "RANDOM_SETS_JS",
    "REPO_ROOT",
    "SPECIAL_TYPES",
    "STAB_MOVES",
    "TEAMS_DIR",
    "SetHypothesis",
    "SetPool",
    "cache_dir",
    "clear_cache",
    "format_gen",
    "generate",
    "generic_set",
    "is_generated",
    "load_aggregate",
    "load_team_pool",
    "move_exists",
    "parse_export",
    "set_teams",
    "showdown_version",
    "stab_move",
]

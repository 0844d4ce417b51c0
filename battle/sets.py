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
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from poke_env.data import GenData

from battle.files import REPO_ROOT
from battle.files import SHOWDOWN_DIR as PACKAGE_DIR
from battle.model import STATS, compute_stats, species_data, to_id

log = logging.getLogger(__name__)

TEAMS_DIR = REPO_ROOT / "teams"
RANDOM_SETS_JS = Path(__file__).resolve().parent / "random_sets.js"

DEFAULT_TEAMS = 1500  # teams generated per random-battle format (env ARENA_SET_TEAMS)
DEFAULT_SEED = 1  # the generator's seed: the same statistics on every machine
GENERIC_LEVEL_TIER = 100
GENERIC_LEVEL_RANDOM = 80
IGNORED_MOVES = frozenset({"", "struggle", "recharge"})


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


# ---------------------------------------------------------------------------- paths, cache


def cache_dir() -> Path:
    """Where generated set statistics live: `$ARENA_CACHE_DIR/sets`, else `<repo>/.cache/sets`."""
    root = os.environ.get("ARENA_CACHE_DIR")
    return Path(root) / "sets" if root else REPO_ROOT / ".cache" / "sets"


def set_teams() -> int:
    """How many teams to generate per random-battle format (env `ARENA_SET_TEAMS`)."""
    value = os.environ.get("ARENA_SET_TEAMS", "")
    try:
        return max(1, int(value)) if value.strip() else DEFAULT_TEAMS
    except ValueError:
        log.warning("ARENA_SET_TEAMS=%r is not a number: using %d", value, DEFAULT_TEAMS)
        return DEFAULT_TEAMS


def showdown_version() -> str:
    """Version of the bundled Showdown package, "unknown" when it is not installed."""
    try:
        return str(json.loads((PACKAGE_DIR / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"


def format_gen(format_id: str) -> int:
    """The generation of a format id ("gen4ou" -> 4); 9 when the id names none."""
    match = re.match(r"gen(\d+)", to_id(format_id))
    return int(match.group(1)) if match else 9


def is_generated(format_id: str) -> bool:
    """Whether Showdown deals the format's teams itself (random battles)."""
    return "random" in to_id(format_id)


def generate(format_id: str, n_teams: int, seed: int, out: Path) -> None:
    """Write the random-battle set statistics of `format_id` to `out` (`random_sets.js`).

    The file appears atomically (the script writes a temp file and renames it), so two
    processes generating at once are safe. Raises RuntimeError when node, the bundled
    package or the script fails.
    """
    node = shutil.which("node")
    if node is None:
        raise RuntimeError(
            "node is needed to generate opponent set statistics: install Node.js 20 or newer "
            "(https://nodejs.org)"
        )
    if not (PACKAGE_DIR / "dist").is_dir():
        raise RuntimeError(f"the bundled Showdown package is missing: run `npm ci` in {REPO_ROOT}")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SHOWDOWN_PACKAGE_DIR": str(PACKAGE_DIR)}
    args = [node, str(RANDOM_SETS_JS), to_id(format_id), str(n_teams), str(seed), str(out)]
    try:
        result = subprocess.run(
            args,
            capture_output=True,
            text=True,
            env=env,
            timeout=120 + 0.1 * n_teams,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(
            f"Showdown's team generator did not finish for {format_id} ({n_teams} teams): "
            "set ARENA_SET_TEAMS lower"
        ) from None
    if result.returncode != 0 or not out.is_file():
        tail = ((result.stderr or result.stdout).strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(
            f"Showdown's team generator failed for {format_id} (exit {result.returncode}): "
            f"{tail}; check that `npm ci` has run in {REPO_ROOT}"
        )


def _aggregate_path(format_id: str, n_teams: int, seed: int) -> Path:
    version = re.sub(r"[^A-Za-z0-9.]", "_", showdown_version())
    return cache_dir() / f"{to_id(format_id)}-{n_teams}teams-seed{seed}-showdown{version}.json"


def load_aggregate(format_id: str, n_teams: int | None = None) -> dict[str, Any]:
    """The random-battle aggregate of `format_id`, generated into `cache_dir()` on first use."""
    n_teams = set_teams() if n_teams is None else n_teams
    path = _aggregate_path(format_id, n_teams, DEFAULT_SEED)
    if not path.is_file():
        log.info(
            "generating opponent set statistics for %s from Showdown's team generator "
            "(%d teams, one-time) into %s",
            to_id(format_id),
            n_teams,
            path,
        )
        generate(format_id, n_teams, DEFAULT_SEED, path)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise RuntimeError(f"unreadable set statistics {path}: {error}; delete it") from None


# ---------------------------------------------------------------------------- sets


def _stat_tuple(stats: dict[str, int] | None, default: int) -> tuple[int, ...]:
    stats = stats or {}
    return tuple(int(stats.get(stat, default)) for stat in STATS)


@dataclass(frozen=True, slots=True)
class _Set:
    """A full set as a source gives it (hashable: identical sets merge)."""

    level: int
    ability: str
    item: str
    moves: tuple[str, ...]
    tera_type: str
    evs: tuple[int, ...]  # in STATS order
    ivs: tuple[int, ...]
    nature: str


@lru_cache(maxsize=65536)
def _stats(
    gen: int, species: str, level: int, evs: tuple[int, ...], ivs: tuple[int, ...], nature: str
) -> dict[str, int]:
    return compute_stats(
        _base_stats(gen, species),
        level,
        dict(zip(STATS, evs, strict=True)),
        dict(zip(STATS, ivs, strict=True)),
        nature,
    )


def _base_stats(gen: int, species: str) -> dict[str, int]:
    try:
        return dict(species_data(gen, species)["baseStats"])
    except KeyError:
        log.warning("no gen %d pokedex entry for %r: guessing base stats of 80", gen, species)
        return dict.fromkeys(STATS, 80)


def _ability_id(name: str) -> str:
    ability = to_id(name)
    return "" if ability == "noability" else ability


def _from_random(entry: dict[str, Any], gen: int, rescale: bool) -> _Set:
    """A set of the random-battle aggregate (rescaled to level 100, neutral, for tiers)."""
    return _Set(
        level=100 if rescale else int(entry.get("level") or 100),
        ability="" if gen <= 2 else _ability_id(entry.get("ability", "")),
        item="" if gen <= 1 else to_id(entry.get("item", "")),
        moves=tuple(to_id(m) for m in entry.get("moves", ())),
        tera_type=to_id(entry.get("tera_type", "")) if gen >= 9 else "",
        evs=_stat_tuple(entry.get("evs"), 0),
        ivs=tuple(iv & 30 if gen <= 2 else iv for iv in _stat_tuple(entry.get("ivs"), 31)),
        nature="" if rescale else to_id(entry.get("nature", "")),
    )


def _random_source(
    aggregate: dict[str, Any], gen: int, *, rescale: bool
) -> dict[str, dict[_Set, float]]:
    """Per species id, the aggregate's sets with their counts."""
    source: dict[str, dict[_Set, float]] = {}
    for species, entries in (aggregate.get("species") or {}).items():
        sets = source.setdefault(to_id(species), {})
        for entry in entries:
            parsed = _from_random(entry, gen, rescale)
            sets[parsed] = sets.get(parsed, 0.0) + float(entry.get("count", 1))
    return source


# Hidden Power: the IVs Showdown's validator gives a set with maxed IVs (gens 3-8), and
# the DVs (gens 1-2; unlisted ones are 15), by type.
HP_IVS: dict[str, dict[str, int]] = {
    "bug": {"atk": 30, "def": 30, "spd": 30}, "dark": {}, "dragon": {"atk": 30},
    "electric": {"spa": 30}, "fighting": {"def": 30, "spa": 30, "spd": 30, "spe": 30},
    "fire": {"atk": 30, "spa": 30, "spe": 30},
    "flying": {"hp": 30, "atk": 30, "def": 30, "spa": 30, "spd": 30},
    "ghost": {"def": 30, "spd": 30}, "grass": {"atk": 30, "spa": 30},
    "ground": {"spa": 30, "spd": 30}, "ice": {"atk": 30, "def": 30},
    "poison": {"def": 30, "spa": 30, "spd": 30}, "psychic": {"atk": 30, "spe": 30},
    "rock": {"def": 30, "spd": 30, "spe": 30}, "steel": {"spd": 30},
    "water": {"atk": 30, "def": 30, "spa": 30},
}  # fmt: skip
HP_DVS: dict[str, dict[str, int]] = {
    "bug": {"atk": 13, "def": 13}, "dark": {}, "dragon": {"def": 14}, "electric": {"atk": 14},
    "fighting": {"atk": 12, "def": 12}, "fire": {"atk": 14, "def": 12},
    "flying": {"atk": 12, "def": 13}, "ghost": {"atk": 13, "def": 14},
    "grass": {"atk": 14, "def": 14}, "ground": {"atk": 12}, "ice": {"def": 13},
    "poison": {"atk": 12, "def": 14}, "psychic": {"def": 12}, "rock": {"atk": 13, "def": 12},
    "steel": {"atk": 13}, "water": {"atk": 14, "def": 13},
}  # fmt: skip

_STAT_NAMES = {
    "hp": "hp", "atk": "atk", "def": "def", "spa": "spa", "spd": "spd", "spe": "spe",
    "satk": "spa", "sdef": "spd", "spc": "spa",
}  # fmt: skip


def _parse_spread(text: str) -> dict[str, int]:
    """ "252 HP / 4 Atk / 252 Spe" -> {"hp": 252, "atk": 4, "spe": 252}."""
    spread: dict[str, int] = {}
    for part in text.split("/"):
        words = part.split()
        if len(words) >= 2 and words[0].isdigit():
            stat = _STAT_NAMES.get(to_id(words[1]))
            if stat:
                spread[stat] = int(words[0])
    return spread


@dataclass
class _Parsed:
    species: str = ""
    item: str = ""
    ability: str = ""
    level: int = 100
    tera_type: str = ""
    evs: dict[str, int] | None = None
    ivs: dict[str, int] | None = None
    nature: str = ""
    moves: list[str] | None = None


def parse_export(text: str) -> list[_Parsed]:
    """The Pokémon of one Showdown export text, as written (no legality fixes)."""
    mons: list[_Parsed] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines or lines[0].startswith("==="):
            continue
        mon = _Parsed(moves=[])
        first = lines[0]
        if " @ " in first:
            first, item = first.rsplit(" @ ", 1)
            mon.item = to_id(item)
        first = re.sub(r"\s*\((M|F)\)$", "", first.strip())
        match = re.match(r"^(.*?)\s*\(([^()]+)\)$", first)
        species = match.group(2) if match and match.group(1) else first
        mon.species = to_id(species)
        for line in lines[1:]:
            key, _, value = line.partition(":")
            key_id = to_id(key)
            if line.startswith("-"):
                move = to_id(line[1:].split("/")[0])
                if move:
                    mon.moves.append(move)
            elif key_id == "ability" and value:
                mon.ability = _ability_id(value)
            elif key_id == "level" and value.strip().isdigit():
                mon.level = int(value.strip())
            elif key_id == "teratype" and value:
                mon.tera_type = to_id(value)
            elif key_id == "evs" and value:
                mon.evs = _parse_spread(value)
            elif key_id == "ivs" and value:
                mon.ivs = _parse_spread(value)
            elif line.endswith(" Nature") and ":" not in line:
                mon.nature = to_id(line[: -len(" Nature")])
        if mon.species:
            mons.append(mon)
    return mons


def _legal_set(mon: _Parsed, gen: int) -> _Set:
    """`mon` as Showdown's validator and simulator complete it (EV/IV defaults, DVs)."""
    evs_default = 252 if gen <= 2 else 0
    evs = {stat: evs_default for stat in STATS} if mon.evs is None else mon.evs
    ivs = {stat: 31 for stat in STATS}
    ivs.update(mon.ivs or {})
    moves = tuple(sorted(dict.fromkeys(mon.moves or ())))
    hp_type = next((m[len("hiddenpower") :] for m in moves if m.startswith("hiddenpower")), "")
    maxed = all(value == 31 for value in ivs.values())
    if hp_type in HP_IVS and maxed:
        if gen <= 2:
            dvs = {stat: 15 for stat in STATS}
            dvs.update(HP_DVS[hp_type])
            dvs["hp"] = (dvs["atk"] % 2) * 8 + (dvs["def"] % 2) * 4
            dvs["hp"] += (dvs["spe"] % 2) * 2 + dvs["spa"] % 2
            ivs = {stat: dv * 2 for stat, dv in dvs.items()}
        elif gen < 7 or mon.level < (100 if gen < 9 else 50):  # else: bottle caps
            ivs = {stat: 31 for stat in STATS}
            ivs.update(HP_IVS[hp_type])
    if gen <= 2:
        ivs = {stat: value & 30 for stat, value in ivs.items()}
        ivs["spd"] = ivs["spa"]
        if mon.species == "marowak" and mon.item == "thickclub" and "swordsdance" in moves:
            # the validator keeps Swords Dance Marowak's boosted Attack from overflowing
            evs = dict(evs)
            while (
                mon.level == 100
                and evs.get("atk", 0) > 0
                and 2 * 80 + ivs["atk"] + evs["atk"] // 4 + 5 > 255
            ):
                evs["atk"] -= 4
    return _Set(
        level=mon.level,
        ability="" if gen <= 2 else mon.ability,
        item="" if gen <= 1 else mon.item,
        moves=moves,
        tera_type=mon.tera_type if gen >= 9 else "",
        evs=_stat_tuple(evs, 0),
        ivs=_stat_tuple(ivs, 31),
        nature="" if gen <= 2 else mon.nature,
    )


def load_team_pool(teams_dir: Path, gen: int) -> dict[str, dict[_Set, float]]:
    """Per species id, its sets in the export files of `teams_dir` (each file counts 1)."""
    pool: dict[str, dict[_Set, float]] = {}
    files = sorted(teams_dir.glob("*.txt")) if teams_dir.is_dir() else []
    for path in files:
        try:
            mons = parse_export(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            log.warning("skipping unreadable team file %s: %s", path, error)
            continue
        for mon in mons:
            sets = pool.setdefault(mon.species, {})
            legal = _legal_set(mon, gen)
            sets[legal] = sets.get(legal, 0.0) + 1.0
    return pool


# ---------------------------------------------------------------------------- generic sets

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
    base = _base_stats(gen, species)
    if ability is None:
        abilities = entry.get("abilities") or {}
        ability = _ability_id(abilities.get("0", "")) if abilities else ""
    ability = "" if gen <= 2 else _ability_id(ability)
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
        stats=dict(_stats(gen, species, level, (ev,) * 6, (iv,) * 6, "")),
        weight=1.0,
    )


# ---------------------------------------------------------------------------- the pool


def _has_move(set_moves: tuple[str, ...], move: str) -> bool:
    if move in set_moves:
        return True
    return move == "hiddenpower" and any(m.startswith("hiddenpower") for m in set_moves)


_POOLS: dict[tuple[Any, ...], SetPool] = {}


def clear_cache() -> None:
    """Forget the pools `SetPool.for_format` built (tests; after regenerating)."""
    _POOLS.clear()


class SetPool:
    """The sets a format's opponents may bring, per species, with their weights."""

    def __init__(
        self,
        format_id: str,
        gen: int,
        sources: list[dict[str, dict[_Set, float]]],
        *,
        generated: bool,
    ) -> None:
        self.format_id = to_id(format_id)
        self.gen = gen
        self.generated = generated
        self._sources = sources  # in priority order
        self._groups_cache: dict[str, list[list[tuple[_Set, float]]]] = {}

    @classmethod
    def for_format(cls, format_id: str, *, teams_dir: Path | None = None) -> SetPool:
        """The pool of `format_id`, built once per process (see the module doc)."""
        fid = to_id(format_id)
        n_teams = set_teams()
        folder = Path(teams_dir) if teams_dir is not None else TEAMS_DIR / fid
        key = (fid, str(folder.resolve()), str(cache_dir()), n_teams)
        if key not in _POOLS:
            _POOLS[key] = cls._build(fid, folder, n_teams)
        return _POOLS[key]

    @classmethod
    def _build(cls, fid: str, folder: Path, n_teams: int) -> SetPool:
        gen = format_gen(fid)
        if is_generated(fid):
            aggregate = load_aggregate(fid, n_teams)
            return cls(fid, gen, [_random_source(aggregate, gen, rescale=False)], generated=True)
        pool = load_team_pool(folder, gen)
        aggregate = load_aggregate(f"gen{gen}randombattle", n_teams)
        sources = [pool, _random_source(aggregate, gen, rescale=True)]
        return cls(fid, gen, sources, generated=False)

    # -- lookup

    def _family(self, species: str) -> tuple[str, list[str]]:
        """(base species id, the ids sharing `species`' sets: it and its cosmetic formes)."""
        try:
            entry = species_data(self.gen, species)
        except KeyError:
            return species, [species]
        base = to_id(entry.get("baseSpecies") or species)
        try:
            base_entry = species_data(self.gen, base)
        except KeyError:
            return base, [species]
        cosmetic = [to_id(name) for name in base_entry.get("cosmeticFormes") or ()]
        if species == base or species in cosmetic:
            return base, list(dict.fromkeys([species, base, *cosmetic]))
        return base, [species]

    def _collect(self, names: list[str]) -> list[list[tuple[_Set, float]]]:
        groups = []
        for source in self._sources:
            merged: dict[_Set, float] = {}
            for name in names:
                for entry, weight in source.get(name, {}).items():
                    merged[entry] = merged.get(entry, 0.0) + weight
            if merged:
                groups.append(list(merged.items()))
        return groups

    def _groups(self, species: str) -> list[list[tuple[_Set, float]]]:
        if species not in self._groups_cache:
            base, names = self._family(species)
            groups = self._collect(names)
            if not groups and base != species:
                groups = self._collect(self._family(base)[1])
            self._groups_cache[species] = groups
        return self._groups_cache[species]

    # -- public API

    def candidates(
        self,
        species: str,
        *,
        level: int | None = None,
        moves: Iterable[str] = (),
        item: str | None = None,
        ability: str | None = None,
        tera_type: str | None = None,
        limit: int = 64,
    ) -> list[SetHypothesis]:
        """The most likely `limit` sets of `species` consistent with what was seen.

        Every seen move is in each set; `item` equal when given (None: unknown; "": holds
        nothing now, so sets are not filtered on it but carry ""), `ability`, `tera_type`
        and `level` equal when given (an empty ability or tera type, and abilities in
        gens 1-2 and tera types before gen 9, do not filter). Never empty: with nothing
        consistent it relaxes level, tera type, ability, item in turn (the hypotheses
        still carry the seen values), then patches the sets with most seen moves to have
        them all, then falls back to a generic set. Weights sum to 1, best first.
        """
        sid = to_id(species)
        seen = tuple(dict.fromkeys(m for m in (to_id(m) for m in moves) if m not in IGNORED_MOVES))
        want_item = None if item is None else to_id(item)
        want_ability = None if not ability or self.gen <= 2 else _ability_id(ability)
        want_tera = None if not tera_type or self.gen < 9 else to_id(tera_type)
        want_level = int(level) if level else None
        overrides = {
            "level": want_level,
            "item": want_item if self.gen >= 2 else None,
            "ability": want_ability,
            "tera_type": want_tera,
        }
        groups = self._groups(sid)
        if not groups:
            return [self._generic(sid, seen, overrides)]
        # Relax, in order: level, tera type, ability, item ("" never filters).
        checks = [
            ("level", want_level),
            ("tera_type", want_tera),
            ("ability", want_ability),
            ("item", want_item or None),
        ]
        for relaxed in range(len(checks) + 1):
            active = [(field, value) for field, value in checks[relaxed:] if value is not None]
            for group in groups:
                matched = [
                    (entry, weight)
                    for entry, weight in group
                    if all(_has_move(entry.moves, m) for m in seen)
                    and all(getattr(entry, field) == value for field, value in active)
                ]
                if matched:
                    return self._finish(sid, matched, overrides, limit)
        return self._finish(sid, self._patched(groups, seen), overrides, limit)

    def sample(self, species: str, rng: random.Random, k: int, **seen: Any) -> list[SetHypothesis]:
        """`k` hypotheses drawn with replacement by weight, each with weight 1/k."""
        if k <= 0:
            return []
        pool = self.candidates(species, **seen)
        drawn = rng.choices(pool, weights=[c.weight for c in pool], k=k)
        return [replace(c, weight=1.0 / k) for c in drawn]

    def species_levels(self) -> dict[str, int]:
        """Per species id, its most common level (random battles: its fixed level)."""
        levels: dict[str, int] = {}
        for source in reversed(self._sources):  # earlier sources win
            for species, sets in source.items():
                counts: dict[int, float] = {}
                for entry, weight in sets.items():
                    counts[entry.level] = counts.get(entry.level, 0.0) + weight
                levels[species] = max(counts, key=lambda lv: (counts[lv], lv))
        return levels

    def species(self) -> list[str]:
        """Every species id with sets of its own in some source."""
        return sorted({name for source in self._sources for name in source})

    # -- helpers

    def _generic(self, sid: str, seen: tuple[str, ...], overrides: dict[str, Any]) -> SetHypothesis:
        level = overrides["level"] or (
            GENERIC_LEVEL_RANDOM if self.generated else GENERIC_LEVEL_TIER
        )
        return generic_set(
            self.gen,
            sid,
            level=level,
            moves=seen,
            ability=overrides["ability"],
            item=overrides["item"],
            tera_type=overrides["tera_type"],
        )

    @staticmethod
    def _patched(
        groups: list[list[tuple[_Set, float]]], seen: tuple[str, ...]
    ) -> list[tuple[_Set, float]]:
        """The sets with most seen moves, given all of them (replacing moves not seen)."""

        def hits(entry: _Set) -> int:
            return sum(_has_move(entry.moves, m) for m in seen)

        best = max(hits(entry) for group in groups for entry, _ in group)
        group = next(g for g in groups if any(hits(entry) == best for entry, _ in g))
        patched: dict[_Set, float] = {}
        for entry, weight in group:
            if hits(entry) != best:
                continue
            kept = [m for m in entry.moves if not any(_has_move((m,), s) for s in seen)]
            kept = [m for m in kept if m not in seen]
            size = max(4, len(seen))
            moves = (*seen, *kept)[:size]
            new = replace(entry, moves=moves)
            patched[new] = patched.get(new, 0.0) + weight
        return list(patched.items())

    def _finish(
        self,
        sid: str,
        matched: list[tuple[_Set, float]],
        overrides: dict[str, Any],
        limit: int,
    ) -> list[SetHypothesis]:
        merged: dict[tuple[Any, ...], float] = {}
        built: dict[tuple[Any, ...], SetHypothesis] = {}
        for entry, weight in matched:
            level = overrides["level"] or entry.level
            stats = _stats(self.gen, sid, level, entry.evs, entry.ivs, entry.nature)
            hypothesis = SetHypothesis(
                species=sid,
                level=level,
                ability=entry.ability if overrides["ability"] is None else overrides["ability"],
                item=entry.item if overrides["item"] is None else overrides["item"],
                moves=entry.moves,
                tera_type=(
                    entry.tera_type if overrides["tera_type"] is None else overrides["tera_type"]
                ),
                stats=stats,
                weight=0.0,
            )
            key = (
                hypothesis.level,
                hypothesis.ability,
                hypothesis.item,
                hypothesis.moves,
                hypothesis.tera_type,
                tuple(stats[s] for s in STATS),
            )
            if key not in built:
                built[key] = hypothesis
                merged[key] = 0.0
            merged[key] += weight
        ranked = sorted(built, key=lambda k: -merged[k])[: max(1, limit)]
        total = sum(merged[k] for k in ranked) or 1.0
        return [
            replace(built[k], stats=dict(built[k].stats), weight=merged[k] / total) for k in ranked
        ]

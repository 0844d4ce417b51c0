"""Random-battle sets: Showdown's own team generator, run once into a cache, as sets.

`generate` runs `battle/random_sets.js` (node, the bundled Showdown package) for a
format, a number of teams and a seed, and writes per species the distinct full sets it
dealt with their counts; `load_aggregate` does that once per format and Showdown version
into `cache_dir()`; `random_source` turns the aggregate into `FullSet` counts (rescaled to
level 100 with a neutral nature for tier formats). `format_gen` and `is_generated` read
a format id.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from battle.files import REPO_ROOT
from battle.files import SHOWDOWN_DIR as PACKAGE_DIR
from battle.model import to_id
from battle.sets.hypothesis import FullSet, ability_id, stat_tuple

log = logging.getLogger(__name__)

RANDOM_SETS_JS = Path(__file__).resolve().parent.parent / "random_sets.js"

DEFAULT_TEAMS = 1500  # teams generated per random-battle format (env ARENA_SET_TEAMS)
DEFAULT_SEED = 1  # the generator's seed: the same statistics on every machine

# ---------------------------------------------------------------------------- formats


def format_gen(format_id: str) -> int:
    """The generation of a format id ("gen4ou" -> 4); 9 when the id names none."""
    match = re.match(r"gen(\d+)", to_id(format_id))
    return int(match.group(1)) if match else 9


def is_generated(format_id: str) -> bool:
    """Whether Showdown deals the format's teams itself (random battles)."""
    return "random" in to_id(format_id)


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


# ---------------------------------------------------------------------------- the generator


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


# ---------------------------------------------------------------------------- as sets


def _from_random(entry: dict[str, Any], gen: int, rescale: bool) -> FullSet:
    """A set of the random-battle aggregate (rescaled to level 100, neutral, for tiers)."""
    return FullSet(
        level=100 if rescale else int(entry.get("level") or 100),
        ability="" if gen <= 2 else ability_id(entry.get("ability", "")),
        item="" if gen <= 1 else to_id(entry.get("item", "")),
        moves=tuple(to_id(m) for m in entry.get("moves", ())),
        tera_type=to_id(entry.get("tera_type", "")) if gen >= 9 else "",
        evs=stat_tuple(entry.get("evs"), 0),
        ivs=tuple(iv & 30 if gen <= 2 else iv for iv in stat_tuple(entry.get("ivs"), 31)),
        nature="" if rescale else to_id(entry.get("nature", "")),
    )


def random_source(
    aggregate: dict[str, Any], gen: int, *, rescale: bool
) -> dict[str, dict[FullSet, float]]:
    """Per species id, the aggregate's sets with their counts."""
    source: dict[str, dict[FullSet, float]] = {}
    for species, entries in (aggregate.get("species") or {}).items():
        sets = source.setdefault(to_id(species), {})
        for entry in entries:
            parsed = _from_random(entry, gen, rescale)
            sets[parsed] = sets.get(parsed, 0.0) + float(entry.get("count", 1))
    return source

"""Sets from team files: Showdown's export format, completed as the validator would.

`parse_export` reads the Pokémon of an export text as written; `legal_set` completes one
the way Showdown's validator and simulator do (default EVs and IVs, Hidden Power IVs and
gens 1-2 DVs, the Swords Dance Marowak EV fix); `load_team_pool` counts the sets of every
`*.txt` team in a folder, each file once.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from battle.model import STATS, to_id
from battle.sets.hypothesis import FullSet, ability_id, stat_tuple

log = logging.getLogger(__name__)

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
class ExportedMon:
    """One Pokémon of an export text, as written (None: the line was absent)."""

    species: str = ""
    item: str = ""
    ability: str = ""
    level: int = 100
    tera_type: str = ""
    evs: dict[str, int] | None = None
    ivs: dict[str, int] | None = None
    nature: str = ""
    moves: list[str] | None = None


def parse_export(text: str) -> list[ExportedMon]:
    """The Pokémon of one Showdown export text, as written (no legality fixes)."""
    mons: list[ExportedMon] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = [line.strip() for line in block.splitlines() if line.strip()]
        if not lines or lines[0].startswith("==="):
            continue
        mon = ExportedMon(moves=[])
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
                mon.ability = ability_id(value)
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


def legal_set(mon: ExportedMon, gen: int) -> FullSet:
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
    return FullSet(
        level=mon.level,
        ability="" if gen <= 2 else mon.ability,
        item="" if gen <= 1 else mon.item,
        moves=moves,
        tera_type=mon.tera_type if gen >= 9 else "",
        evs=stat_tuple(evs, 0),
        ivs=stat_tuple(ivs, 31),
        nature="" if gen <= 2 else mon.nature,
    )


def load_team_pool(teams_dir: Path, gen: int) -> dict[str, dict[FullSet, float]]:
    """Per species id, its sets in the export files of `teams_dir` (each file counts 1)."""
    pool: dict[str, dict[FullSet, float]] = {}
    files = sorted(teams_dir.glob("*.txt")) if teams_dir.is_dir() else []
    for path in files:
        try:
            mons = parse_export(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as error:
            log.warning("skipping unreadable team file %s: %s", path, error)
            continue
        for mon in mons:
            sets = pool.setdefault(mon.species, {})
            legal = legal_set(mon, gen)
            sets[legal] = sets.get(legal, 0.0) + 1.0
    return pool

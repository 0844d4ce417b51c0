"""Synthetic trajectories in Metamon's parsed-replay format, for tests and benchmarks.

    uv run python -m training.synthetic /tmp/metamon-synth --n 1000 --kinds lz4 json tar

Writes `{root}/{format}/{battle_id}_{rating}_{p1}_vs_{p2}_{MM-DD-YYYY}_{WIN|LOSS}.json[.lz4]`
files and `{root}/{format}.tar` shards (members `{format}/<name>.json.lz4`), each holding
`{"states": [...], "actions": [...]}` from one player's point of view. Species, moves,
types and base stats come from poke-env's bundled Gen 9 data, so names are real; the
battle itself is a toy simulation (damage, heals, statuses, faints, forced switches) whose
outcome matches the WIN/LOSS in the file name and the `battle_won`/`battle_lost` flags of
the last state. Actions follow Metamon's action space: 0-3 moves (sorted by name), 4-8
switches (sorted by name), 9-12 tera moves, and -1 where the action is hidden.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import logging
import random
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import lz4.frame

logger = logging.getLogger(__name__)

STATUSES = ("brn", "par", "slp", "psn", "tox", "frz")
EFFECTS = ("noeffect",) * 8 + ("confusion", "substitute", "leechseed", "taunt")
WEATHERS = ("noweather",) * 6 + ("sunnyday", "raindance", "sandstorm", "snow")
FIELDS = ("nofield",) * 6 + ("electricterrain", "grassyterrain", "psychicterrain", "trickroom")
CONDITIONS = ("noconditions",) * 5 + ("stealthrock", "spikes", "reflect", "lightscreen")
ITEMS = ("leftovers", "choicescarf", "choiceband", "heavydutyboots", "lifeorb", "boosterenergy")
USERNAMES = ("ash", "misty", "brock", "red-blue", "gary oak", "team_rocket", "prof.oak", "n")
BOOSTS = ("atk", "spa", "def", "spd", "spe", "accuracy", "evasion")


@dataclass(frozen=True)
class _Species:
    name: str
    types: str
    ability: str
    base: dict[str, int]


@dataclass(frozen=True)
class _Move:
    name: str
    move_type: str
    category: str
    base_power: int
    accuracy: float
    priority: int
    max_pp: int


@lru_cache(maxsize=1)
def _game_data() -> tuple[list[_Species], list[_Move]]:
    """Real Gen 9 species and moves from poke-env's bundled data (loaded once)."""
    from poke_env.data import GenData

    data = GenData.from_gen(9)
    battle_types = {t.lower() for t in data.type_chart}
    species = []
    for key, entry in data.pokedex.items():
        if entry.get("isNonstandard") or entry.get("forme") or "baseStats" not in entry:
            continue
        if not {t.lower() for t in entry.get("types", ())} <= battle_types:
            continue  # a glitch species typed "Bird": no battle state ever holds it
        types = [t.lower() for t in entry["types"]] + ["notype"]
        species.append(
            _Species(
                name=key,
                types=" ".join(sorted(types[:2])),
                ability="".join(c for c in entry["abilities"]["0"].lower() if c.isalpha()),
                base=dict(entry["baseStats"]),
            )
        )
    moves = []
    for key, entry in data.moves.items():
        if entry.get("isNonstandard") or entry.get("isZ") or entry.get("isMax"):
            continue
        accuracy = entry["accuracy"]
        moves.append(
            _Move(
                name=key,
                move_type=entry["type"].upper(),
                category=entry["category"].upper(),
                base_power=int(entry["basePower"]),
                accuracy=1.0 if accuracy is True else accuracy / 100.0,
                priority=int(entry["priority"]),
                max_pp=int(entry["pp"]) * 8 // 5,
            )
        )
    return species, moves


def _move_dict(move: _Move | None, pp_used: int = 0) -> dict[str, Any]:
    if move is None:
        from battle.metamon_convention import BLANK_MOVE  # poke-env's data: only when needed

        return dict(BLANK_MOVE)
    return {
        "name": move.name,
        "move_type": move.move_type,
        "category": move.category,
        "base_power": move.base_power,
        "accuracy": move.accuracy,
        "priority": move.priority,
        "current_pp": max(move.max_pp - pp_used, 0),
        "max_pp": move.max_pp,
    }


class _Mon:
    """One team member during the toy battle."""

    def __init__(self, rng: random.Random, species: _Species, moves: list[_Move], lvl: int):
        self.species = species
        self.moves = sorted(moves, key=lambda m: m.name)
        self.lvl = lvl
        self.item = rng.choice(ITEMS)
        self.hp = 1.0
        self.status = "nostatus"
        self.effect = "noeffect"
        self.boosts = dict.fromkeys(BOOSTS, 0)
        self.pp_used = 0

    @property
    def name(self) -> str:
        return self.species.name

    def to_dict(self, revealed_moves: int = 4, hide_item: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.species.name,
            "hp_pct": round(self.hp, 4),
            "types": self.species.types,
            "item": "unknownitem" if hide_item else self.item,
            "ability": "unknownability" if hide_item else self.species.ability,
            "lvl": self.lvl,
            "status": self.status,
            "effect": self.effect,
            "moves": [_move_dict(m, self.pp_used) for m in self.moves[:revealed_moves]],
        }
        for boost in BOOSTS:
            out[f"{boost}_boost"] = self.boosts[boost]
        for stat in ("atk", "spa", "def", "spd", "spe", "hp"):
            out[f"base_{stat}"] = self.species.base[stat]
        return out


def synthetic_trajectory(
    rng: random.Random,
    *,
    won: bool,
    turns: int = 40,
    format: str = "gen9ou",
    missing_rate: float = 0.05,
    equal_counts: bool = True,
) -> dict[str, list]:
    """A toy battle from one player's view: `{"states": [...], "actions": [...]}`.

    About `turns` decisions long (forced switches add a few); the player wins iff `won`.
    With `equal_counts` there is one action per state (the last one, at the final state,
    is -1), otherwise one more state than actions: Metamon has shipped both.
    """
    species, moves = _game_data()
    lvl = 100 if "random" not in format else 80

    def team() -> list[_Mon]:
        return [_Mon(rng, s, rng.sample(moves, 4), lvl) for s in rng.sample(species, 6)]

    mine, theirs = team(), team()
    me, opp = 0, 0  # index of the active pokemon on each side
    revealed = {0: 0}  # opponent pokemon index -> number of its moves revealed so far
    # Per-turn damage: the loser's side loses six pokemon in about `turns` turns, the
    # winner's side less; the winner's last pokemon never faints.
    heavy, light = 6.5 / max(turns, 6), 3.0 / max(turns, 6)
    dmg_to_me, dmg_to_opp = (light, heavy) if won else (heavy, light)
    states: list[dict] = []
    actions: list[int] = []
    weather, field = "noweather", "nofield"
    conditions = ["noconditions", "noconditions"]
    prev_moves: list[_Move | None] = [None, None]
    forced = False

    def alive(side: list[_Mon], active: int) -> list[int]:
        return [i for i, m in enumerate(side) if i != active and m.hp > 0]

    while True:
        switches = sorted(alive(mine, me), key=lambda i: mine[i].name)
        opp_left = sum(m.hp > 0 for m in theirs)
        done_won = opp_left == 0
        done_lost = not switches and mine[me].hp <= 0
        states.append(
            {
                "format": format,
                "player_active_pokemon": mine[me].to_dict(),
                "opponent_active_pokemon": theirs[opp].to_dict(
                    revealed.get(opp, 0), hide_item=revealed.get(opp, 0) < 2
                ),
                "available_switches": [mine[i].to_dict() for i in switches],
                "player_prev_move": _move_dict(prev_moves[0]),
                "opponent_prev_move": _move_dict(prev_moves[1]),
                "opponents_remaining": opp_left,
                "player_conditions": conditions[0],
                "opponent_conditions": conditions[1],
                "weather": weather,
                "battle_field": field,
                "forced_switch": forced,
                "battle_won": done_won,
                "battle_lost": done_lost,
            }
        )
        if done_won or done_lost:
            if equal_counts:
                actions.append(-1)
            return {"states": states, "actions": actions}

        # The player's decision, in Metamon's action space.
        if forced or (switches and rng.random() < 0.08):
            slot = rng.randrange(len(switches))
            action = 4 + slot
            if mine[me].hp > 0:
                mine[me].boosts = dict.fromkeys(BOOSTS, 0)
            me = switches[slot]
            prev_moves[0] = None
            forced = False
        else:
            slot = rng.randrange(len(mine[me].moves))
            action = slot + (9 if "gen9" in format and rng.random() < 0.03 else 0)
            prev_moves[0] = mine[me].moves[slot]
            mine[me].pp_used += 1
            theirs[opp].hp -= rng.uniform(0.0, 2.0 * dmg_to_opp)
            if theirs[opp].status == "nostatus" and rng.random() < 0.05:
                theirs[opp].status = rng.choice(STATUSES)
        actions.append(-1 if rng.random() < missing_rate else action)

        # The opponent's move, then end-of-turn effects.
        opp_mon = theirs[opp]
        if opp_mon.hp > 0:
            seen = revealed.get(opp, 0)
            slot = rng.randrange(4)
            revealed[opp] = max(seen, slot + 1)
            prev_moves[1] = opp_mon.moves[slot]
            mine[me].hp -= rng.uniform(0.0, 2.0 * dmg_to_me)
            if mine[me].status == "nostatus" and rng.random() < 0.05:
                mine[me].status = rng.choice(STATUSES)
            if rng.random() < 0.1:
                stat = rng.choice(BOOSTS)
                opp_mon.boosts[stat] = max(-6, min(6, opp_mon.boosts[stat] + rng.choice((-1, 2))))
        if rng.random() < 0.05:
            mine[me].hp = min(1.0, mine[me].hp + 0.25)
        if rng.random() < 0.05:
            weather = rng.choice(WEATHERS)
        if rng.random() < 0.03:
            field = rng.choice(FIELDS)
        if rng.random() < 0.05:
            conditions[rng.randrange(2)] = rng.choice(CONDITIONS)
        mine[me].effect = rng.choice(EFFECTS)

        # Faints. The winner's last pokemon hangs on at 1%.
        if won and not alive(mine, me) and mine[me].hp <= 0:
            mine[me].hp = 0.01
        if not won and not alive(theirs, opp) and theirs[opp].hp <= 0:
            theirs[opp].hp = 0.01
        if theirs[opp].hp <= 0:
            theirs[opp].hp, theirs[opp].status = 0.0, "fnt"
            remaining = alive(theirs, opp)
            if remaining:
                opp = rng.choice(remaining)
                revealed.setdefault(opp, 0)
        if mine[me].hp <= 0:
            mine[me].hp, mine[me].status = 0.0, "fnt"
            forced = bool(alive(mine, me))


def trajectory_name(
    battle_id: str,
    rating: int | None,
    p1: str,
    p2: str,
    date: dt.date | dt.datetime,
    won: bool,
    suffix: str = ".json.lz4",
) -> str:
    """Metamon's file name; `rating=None` writes `Unrated`, a datetime adds the time."""
    when = date.strftime("%m-%d-%Y-%H:%M:%S" if isinstance(date, dt.datetime) else "%m-%d-%Y")
    rated = "Unrated" if rating is None else str(rating)
    return f"{battle_id}_{rated}_{p1}_vs_{p2}_{when}_{'WIN' if won else 'LOSS'}{suffix}"


def encode_trajectory(trajectory: dict, compress: bool) -> bytes:
    raw = json.dumps(trajectory, separators=(",", ":")).encode()
    return lz4.frame.compress(raw) if compress else raw


def random_name(rng: random.Random, format: str, number: int, suffix: str) -> tuple[str, bool]:
    """A random but well-formed file name for battle `number`; returns (name, won)."""
    won = rng.random() < 0.5
    rating = None if rng.random() < 0.2 else rng.randrange(1000, 2000)
    day = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randrange(730))
    date: dt.date | dt.datetime = day
    if rng.random() < 0.2:
        date = dt.datetime(day.year, day.month, day.day, rng.randrange(24), rng.randrange(60))
    p1, p2 = rng.sample(USERNAMES, 2)
    return trajectory_name(f"{format}-{number}", rating, p1, p2, date, won, suffix), won


def write_dataset(
    root: Path,
    n: int,
    *,
    formats: Sequence[str] = ("gen9ou",),
    kinds: Iterable[str] = ("lz4",),
    seed: int = 0,
    turns: tuple[int, int] = (15, 60),
    pool: int | None = None,
    tar_shards: int = 1,
) -> list[Path]:
    """Write `n` trajectories under `root`, spread over `formats` and file `kinds`.

    kinds: `json` (plain `.json`), `lz4` (`.json.lz4`) and `tar` (members `.json.lz4` in
    `{format}.tar`, or `{format}-{k}.tar` with several shards). With `pool`, only that
    many distinct battles are simulated and reused under different names: much faster for
    large benchmark sets. Returns the paths written (tar shards once each).
    """
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    kinds = list(kinds)
    cache: dict[tuple[int, bool, bool], bytes] = {}

    def payload(number: int, won: bool, compress: bool, format: str) -> bytes:
        key = (number % pool if pool else number, won, compress)
        if key not in cache:
            traj = synthetic_trajectory(
                random.Random(f"{seed}-{key[0]}-{won}"),
                won=won,
                turns=random.Random(key[0]).randint(*turns),
                format=format,
                equal_counts=key[0] % 2 == 0,
            )
            blob = encode_trajectory(traj, compress)
            if not pool:
                return blob
            cache[key] = blob
        return cache[key]

    written: list[Path] = []
    tars: dict[Path, tarfile.TarFile] = {}
    try:
        for number in range(n):
            format = formats[number % len(formats)]
            kind = kinds[(number // len(formats)) % len(kinds)]
            suffix = ".json" if kind == "json" else ".json.lz4"
            name, won = random_name(rng, format, number, suffix)
            blob = payload(number, won, kind != "json", format)
            if kind == "tar":
                shard = f"-{number % tar_shards}" if tar_shards > 1 else ""
                path = root / f"{format}{shard}.tar"
                if path not in tars:
                    tars[path] = tarfile.open(path, "w")  # noqa: SIM115 (closed below)
                    written.append(path)
                info = tarfile.TarInfo(f"{format}/{name}")
                info.size = len(blob)
                tars[path].addfile(info, io.BytesIO(blob))
            else:
                folder = root / format
                folder.mkdir(exist_ok=True)
                path = folder / name
                path.write_bytes(blob)
                written.append(path)
    finally:
        for tar in tars.values():
            tar.close()
    logger.info("wrote %d trajectories under %s", n, root)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--formats", nargs="+", default=["gen9ou"])
    parser.add_argument("--kinds", nargs="+", default=["lz4"], choices=["json", "lz4", "tar"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pool", type=int, default=None, help="distinct battles to reuse")
    parser.add_argument(
        "--turns", type=int, nargs=2, default=(15, 60), metavar=("MIN", "MAX"),
        help="battle length range",
    )  # fmt: skip
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    write_dataset(
        args.root,
        args.n,
        formats=args.formats,
        kinds=args.kinds,
        seed=args.seed,
        pool=args.pool,
        turns=tuple(args.turns),
    )


if __name__ == "__main__":
    main()

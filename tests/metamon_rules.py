"""What Metamon's own dataset reader (v1.1.0) needs of a trajectory file, written out from
`shared/reference/metamon.md` ("What Metamon's own code writes and reads"), independently of
`battle.metamon_convention`: `metamon_file_violations(path)` lists every rule a file breaks.
"""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

from poke_env.battle import PokemonType

from battle.metamon import MOVE_FIELDS, POKEMON_FIELDS, STATE_FIELDS

TYPE_WORDS = {t.name.lower() for t in PokemonType if t is not PokemonType.THREE_QUESTION_MARKS}
TYPE_WORDS.add("notype")
CATEGORIES = {"PHYSICAL", "SPECIAL", "STATUS", "nomove"}
ONE_WORD = re.compile(r"[a-z]+")  # an id without digits
UPPER = re.compile(r"[A-Z_]+")
BLANK_MOVE = {"name": "nomove", "move_type": "nomove", "category": "nomove", "base_power": 0,
              "accuracy": 1.0, "priority": 0, "current_pp": 0, "max_pp": 0}  # fmt: skip


def name_violations(path: Path) -> list[str]:
    """The reader's file-name rules: `{format}/*.json`, 7 `_` fields, the format in the id."""
    out = []
    if path.suffix != ".json" or path.name.endswith(".lz4"):
        out.append(f"{path.name}: not a plain .json file")
    fields = path.name.removesuffix(".json").split("_")
    if len(fields) != 7:
        return [*out, f"{path.name}: {len(fields)} '_' fields, not 7"]
    battle_id, rating, _player, vs, _opponent, date, result = fields
    if vs != "vs" or result not in ("WIN", "LOSS"):
        out.append(f"{path.name}: fields 4 and 7 are {vs!r}, {result!r}")
    if not (rating == "Unrated" or rating.isdigit()):
        out.append(f"{path.name}: rating {rating!r}")
    try:
        datetime.strptime(date, "%m-%d-%Y-%H:%M:%S" if len(date) > 10 else "%m-%d-%Y")
    except ValueError:
        out.append(f"{path.name}: date {date!r}")
    if path.parent.name not in battle_id:
        out.append(f"{path.name}: format {path.parent.name} not in the battle id")
    return out


def _move_violations(move: dict[str, Any], where: str) -> list[str]:
    out = []
    if tuple(move) != MOVE_FIELDS:
        out.append(f"{where}: move fields {tuple(move)}")
    if move.get("name") == "nomove":
        return out if move == BLANK_MOVE else [*out, f"{where}: blank move {move}"]
    if not ONE_WORD.fullmatch(str(move.get("name"))):
        out.append(f"{where}: move name {move.get('name')!r}")
    if move["name"].startswith("hiddenpower") and move["name"] != "hiddenpower":
        out.append(f"{where}: Hidden Power spelt {move['name']!r}")
    if not UPPER.fullmatch(str(move.get("move_type"))):
        out.append(f"{where}: move_type {move.get('move_type')!r}")
    if move.get("category") not in CATEGORIES:
        out.append(f"{where}: category {move.get('category')!r}")
    return out


def _pokemon_violations(mon: dict[str, Any], where: str) -> list[str]:
    out = []
    if tuple(mon) != POKEMON_FIELDS:
        out.append(f"{where}: pokemon fields {tuple(mon)}")
    types = str(mon.get("types")).split(" ")
    if len(types) != 2 or types != sorted(types) or not set(types) <= TYPE_WORDS:
        out.append(f"{where}: types {mon.get('types')!r}")
    if not ONE_WORD.fullmatch(str(mon.get("effect"))):
        out.append(f"{where}: effect {mon.get('effect')!r}")
    moves = mon.get("moves", [])
    if [m.get("name") for m in moves] != sorted(m.get("name") for m in moves):
        out.append(f"{where}: moves not sorted by name")
    for move in moves:
        out += _move_violations(move, f"{where} {mon.get('name')}")
    return out


def state_violations(state: dict[str, Any], where: str) -> list[str]:
    """Metamon's fields only, in its spellings; switches sorted by name."""
    out = []
    if tuple(state) != STATE_FIELDS:
        return [f"{where}: state fields {tuple(state)}"]
    for key in ("player_active_pokemon", "opponent_active_pokemon"):
        out += _pokemon_violations(state[key], f"{where} {key}")
    names = [mon["name"] for mon in state["available_switches"]]
    if names != sorted(names) or len(names) > 5:
        out.append(f"{where}: available_switches {names}")
    for mon in state["available_switches"]:
        out += _pokemon_violations(mon, f"{where} switch")
    for key in ("player_prev_move", "opponent_prev_move"):
        out += _move_violations(state[key], f"{where} {key}")
    for key in ("player_conditions", "opponent_conditions", "battle_field", "weather"):
        if not ONE_WORD.fullmatch(str(state[key])):
            out.append(f"{where}: {key} {state[key]!r}")
    return out


def trajectory_violations(data: dict[str, Any], where: str = "") -> list[str]:
    """The reader's content rules, the action ranges, and the shaped reward's name lookup."""
    out = []
    if list(data) != ["states", "actions"]:
        return [f"{where}: keys {list(data)}"]
    states, actions = data["states"], data["actions"]
    if len(states) not in (len(actions), len(actions) + 1) or not actions:
        out.append(f"{where}: {len(states)} states for {len(actions)} actions")
    for i, state in enumerate(states):
        out += state_violations(state, f"{where} state {i}")
        if i < len(states) - 1 and (state["battle_won"] or state["battle_lost"]):
            out.append(f"{where} state {i}: battle over before the last state")
    for i, (state, action) in enumerate(zip(states, actions, strict=False)):
        if not -1 <= action <= 8:
            out.append(f"{where} action {i}: {action} outside -1..8")
        elif 0 <= action <= 3 and action >= len(state["player_active_pokemon"]["moves"]):
            out.append(f"{where} action {i}: move {action} of a moveset of fewer")
        elif action >= 4 and action - 4 >= len(state["available_switches"]):
            out.append(f"{where} action {i}: switch {action} of fewer switches")
    for i, (prev, now) in enumerate(itertools.pairwise(states)):
        team = {prev["player_active_pokemon"]["name"]}
        team |= {mon["name"] for mon in prev["available_switches"]}
        if now["player_active_pokemon"]["name"] not in team:
            name = now["player_active_pokemon"]["name"]
            out.append(f"{where} state {i + 1}: active {name} not among {sorted(team)}")
    return out


def metamon_file_violations(path: Path) -> list[str]:
    """Every rule of Metamon's reader the file at `path` breaks (empty: it reads it)."""
    out = name_violations(path)
    data = json.loads(path.read_bytes())  # plain JSON: json reads it as Metamon's reader does
    return out + trajectory_violations(data, path.name)

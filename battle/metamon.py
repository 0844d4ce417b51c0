"""Metamon's view of a battle: its state dict, from a live battle.

`metamon_state(battle)` builds one state from `battle.state.BattleState` (the project's one
state representation) plus what it lacks (each side's previous move, from the protocol
log). Metamon's action space (0-3 the active's moves, 4-8 switches, 9-12 moves with
tera, -1 outside it) is `battle.metamon_actions`'s. The agent `metamon` reads states
built here, and the arena's trajectory files (`battle.trajectory`, written by
`arena.trajectories`) hold them, in the layout of Metamon's public parsed-replay dataset
(see `../shared/reference/metamon.md`).

The textual conventions below are ours (the agent's input and the arena's default "lz4"
files). Metamon's own code spells some things differently (sorted types padded with
"notype", upper-case move types, one most recent effect...): `battle.metamon_convention`
turns a state into those, for the files `main.py --trajectory-format metamon` writes.

State
    Names are lower-case Showdown ids: pokemon `name` is the species id ("urshifurapidstrike"),
    moves, items, abilities, types, statuses, effects, weather, fields and side conditions
    are ids too ("thunderbolt", "leftovers", "electric", "par", "raindance", "stealthrock").
    Unknown and absent values are fixed words, never null:

    ========================  ================================================
    `item`                    "unknownitem" (not revealed), "noitem" (none, consumed,
                              knocked off)
    `ability`                 "unknownability" (not revealed)
    `status`                  "nostatus"; fainted is "fnt"
    `effect`                  "noeffect", else the volatile effects' ids, sorted, joined by
                              one space ("confusion substitute")
    `types`                   the current types joined by one space ("fire flying"); a
                              terastallized pokemon has its tera type alone; typeless "???"
    `weather`                 "noweather"
    `battle_field`            "nofield", else field ids sorted, space-joined ("trickroom")
    `*_conditions`            "noconditions", else side-condition ids sorted, space-joined,
                              a layered hazard repeated once per layer ("spikes spikes")
    `*_prev_move`             the blank move (below) when that side used no move
    no active pokemon         the blank pokemon: name "nopokemon", type "notype", zeros
    ========================  ================================================

    Numbers: `hp_pct` is a fraction in [0, 1] (not a percentage); `accuracy` is a fraction
    in [0, 1], 1.0 for moves that never miss (poke-env's convention); `lvl`, boosts (-6..6),
    base stats, `base_power`, `priority`, `current_pp`, `max_pp` are ints. The blank move
    is name "nomove", type "notype", category "nocategory", all numbers 0.

    `player_active_pokemon.moves` are the active's moves sorted by id, so `moves[i]` is the
    move of action `i` (and `i + 9` with tera). `available_switches` are the player's
    non-active, non-fainted pokemon (the fainted ones while choosing a Revival Blessing
    target), sorted by species id, so `available_switches[i]` is the target of action
    `4 + i`; they are listed while trapped too (then no switch action is legal). Other
    pokemon's moves (the opponent's revealed ones) are sorted by id as well. The pp of the
    active's moves is the server's (from the request); the opponent's is poke-env's
    estimate from the uses it saw.

    `player_prev_move` / `opponent_prev_move`: the last move that side used in the turn in
    progress or, if none yet, in the previous turn (the blank move if it switched, could
    not move, or it is turn 1). `opponents_remaining`: the opponent's team size (6 unless
    announced otherwise) minus its fainted pokemon. `forced_switch`, `battle_won`,
    `battle_lost` are bools; a tie has both results false.

Arena extensions
    Fields Metamon's files lack, written after Metamon's own (readers must not need them):
    `can_tera` (the player may still terastallize this battle), `opponent_bench` (the
    opponent's revealed Pokémon other than its active, fainted ones included, sorted by
    species id, each a pokemon as above) and, on every pokemon, `tera_type` (its tera
    type id, "notype" while unknown; the opponent's is known once it terastallized).
    Files written with a teacher (`main.py --teacher AGENT`) also hold `played_actions`,
    next to `actions` and as long: `actions[i]` is then the teacher's action index in
    `states[i]` (-1 when the teacher failed, fell back or chose an illegal order) and
    `played_actions[i]` the one the player played there (which led to `states[i + 1]`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from poke_env.battle.battle import Battle
from poke_env.battle.move import Move
from poke_env.data import to_id_str

# `legal_indices` is re-exported: callers read the state and its mask from this module.
from battle.metamon_actions import legal_indices as legal_indices
from battle.metamon_actions import move_slots, switch_slots
from battle.observe import (  # the per-pokemon pieces BattleState.from_battle is built of
    move_state,
    pokemon_state,
    side_conditions_state,
)
from battle.state import BattleState, MoveState, PokemonState, SideConditionState, enum_id

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle

# --------------------------------------------------------------------------- constants


UNKNOWN_ITEM = "unknownitem"
NO_ITEM = "noitem"
UNKNOWN_ABILITY = "unknownability"
NO_STATUS = "nostatus"
NO_EFFECT = "noeffect"
NO_WEATHER = "noweather"
NO_FIELD = "nofield"
NO_CONDITIONS = "noconditions"
NO_MOVE = "nomove"
NO_POKEMON = "nopokemon"
NO_TYPE = "notype"
NO_CATEGORY = "nocategory"

STATE_FIELDS = (
    "format",
    "player_active_pokemon",
    "opponent_active_pokemon",
    "available_switches",
    "player_prev_move",
    "opponent_prev_move",
    "opponents_remaining",
    "player_conditions",
    "opponent_conditions",
    "weather",
    "battle_field",
    "forced_switch",
    "battle_won",
    "battle_lost",
)
# The arena's additions to Metamon's fields (after them, in this order; readers must not
# need them: Metamon's public files lack them). See "Arena extensions" in the module doc.
EXTENSION_STATE_FIELDS = ("can_tera", "opponent_bench")
EXTENSION_POKEMON_FIELDS = ("tera_type",)
POKEMON_FIELDS = (
    "name",
    "hp_pct",
    "types",
    "item",
    "ability",
    "lvl",
    "status",
    "effect",
    "moves",
    "atk_boost",
    "spa_boost",
    "def_boost",
    "spd_boost",
    "spe_boost",
    "accuracy_boost",
    "evasion_boost",
    "base_atk",
    "base_spa",
    "base_def",
    "base_spd",
    "base_spe",
    "base_hp",
)
MOVE_FIELDS = (
    "name",
    "move_type",
    "category",
    "base_power",
    "accuracy",
    "priority",
    "current_pp",
    "max_pp",
)
BOOSTS = ("atk", "spa", "def", "spd", "spe", "accuracy", "evasion")
BASE_STATS = ("atk", "spa", "def", "spd", "spe", "hp")
# --------------------------------------------------------------------------- moves


def blank_move() -> dict[str, Any]:
    return {
        "name": NO_MOVE,
        "move_type": NO_TYPE,
        "category": NO_CATEGORY,
        "base_power": 0,
        "accuracy": 0.0,
        "priority": 0,
        "current_pp": 0,
        "max_pp": 0,
    }


def _move_dict(move: MoveState, pp: tuple[int, int] | None = None) -> dict[str, Any]:
    current_pp, max_pp = pp if pp is not None else (move.pp, move.max_pp)
    return {
        "name": move.id,
        "move_type": move.type,
        "category": move.category,
        "base_power": move.base_power,
        "accuracy": 1.0 if move.accuracy is None else round(move.accuracy, 4),
        "priority": move.priority,
        "current_pp": current_pp,
        "max_pp": max_pp,
    }


def _poke_env_move_dict(move: Move, pp: tuple[int, int] | None = None) -> dict[str, Any]:
    """A move BattleState does not list (a previous move, a slot poke-env lacks)."""
    try:
        return _move_dict(move_state(move), pp)
    except Exception:  # an id poke-env's move data does not know
        return {**blank_move(), "name": move.id}


# --------------------------------------------------------------------------- pokemon


def blank_pokemon() -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": NO_POKEMON,
        "hp_pct": 0.0,
        "types": NO_TYPE,
        "item": NO_ITEM,
        "ability": UNKNOWN_ABILITY,
        "lvl": 0,
        "status": NO_STATUS,
        "effect": NO_EFFECT,
        "moves": [],
    }
    data.update({f"{s}_boost": 0 for s in BOOSTS})
    data.update({f"base_{s}": 0 for s in BASE_STATS})
    data["tera_type"] = NO_TYPE
    return data


def _pokemon_dict(mon: PokemonState, moves: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    if moves is None:
        moves = [_move_dict(m) for m in sorted(mon.moves, key=lambda m: m.id)]
    item = UNKNOWN_ITEM if mon.item is None else (mon.item or NO_ITEM)
    data: dict[str, Any] = {
        "name": mon.species,
        "hp_pct": round(mon.hp_fraction, 4),
        "types": " ".join(mon.types) or NO_TYPE,
        "item": item,
        "ability": mon.ability or UNKNOWN_ABILITY,
        "lvl": int(mon.level),
        "status": mon.status or NO_STATUS,
        "effect": " ".join(sorted(mon.effects)) or NO_EFFECT,
        "moves": moves,
    }
    data.update({f"{s}_boost": int(mon.boosts.get(s, 0)) for s in BOOSTS})
    data.update({f"base_{s}": int(mon.base_stats.get(s, 0)) for s in BASE_STATS})
    data["tera_type"] = mon.tera_type or NO_TYPE
    return data


def _request_pp(battle: AbstractBattle) -> dict[str, tuple[int, int]]:
    """(pp, maxpp) of the active's moves, from the last request."""
    request = battle.last_request or {}
    active = (request.get("active") or [{}])[0]
    pp = {}
    for entry in active.get("moves", []):
        if "pp" in entry:
            pp[Move.retrieve_id(entry.get("id", ""))] = (
                int(entry["pp"]),
                int(entry.get("maxpp", entry["pp"])),
            )
    return pp


def _active_moves(battle: AbstractBattle, active: PokemonState) -> list[dict[str, Any]]:
    """The active's moves in action order, with the server's pp."""
    by_id = {Move.retrieve_id(m.id): m for m in active.moves}  # "hiddenpowerfire" -> slot id
    request_pp = _request_pp(battle)
    moves = []
    for move_id in move_slots(battle):
        pp = request_pp.get(move_id)
        if move_id in by_id:
            moves.append(_move_dict(by_id[move_id], pp))
        else:
            moves.append(_poke_env_move_dict(Move(move_id, gen=battle.gen), pp))
    return moves


# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class _View:
    """The parts of a `BattleState` a Metamon state is made of."""

    player_role: str | None
    opponent_role: str | None
    player_active: PokemonState | None
    opponent_active: PokemonState | None
    switches: dict[str, PokemonState]  # species -> own benched pokemon (at least the slots)
    player_conditions: tuple[SideConditionState, ...]
    opponent_conditions: tuple[SideConditionState, ...]
    weather: str | None
    fields: tuple[str, ...]
    force_switch: bool
    opponent_team_size: int | None
    opponent_fainted: int
    opponent_bench: tuple[PokemonState, ...]  # revealed, not active (fainted ones too)
    can_tera: bool

    @classmethod
    def of_state(cls, state: BattleState) -> _View:
        return cls(
            player_role=state.player.role,
            opponent_role=state.opponent.role,
            player_active=state.player.active,
            opponent_active=state.opponent.active,
            switches={mon.species: mon for mon in state.player.bench},
            player_conditions=state.player.conditions,
            opponent_conditions=state.opponent.conditions,
            weather=state.weather,
            fields=tuple(state.fields),
            force_switch=state.force_switch,
            opponent_team_size=state.opponent.team_size,
            opponent_fainted=sum(mon.fainted for mon in state.opponent.pokemon),
            opponent_bench=state.opponent.bench,
            can_tera=state.can_tera,
        )

    @classmethod
    def of_battle(cls, battle: AbstractBattle) -> _View:
        """What `of_state(BattleState.from_battle(battle))` gives, built for the needed
        pokemon only (the same per-pokemon code, a third of the cost)."""
        if not isinstance(battle, Battle):
            raise TypeError(f"Metamon states cover singles battles only, got {type(battle)}")
        own, foe = battle.active_pokemon, battle.opponent_active_pokemon
        weather = next(iter(battle.weather), None)
        team_sizes = getattr(battle, "_team_size", {}) or {}
        return cls(
            player_role=battle.player_role,
            opponent_role=battle.opponent_role,
            player_active=None if own is None else pokemon_state(own, own=True),
            opponent_active=None if foe is None else pokemon_state(foe, own=False),
            switches={
                mon.species: pokemon_state(mon, own=True)
                for mon in switch_slots(battle)
                if mon is not own
            },
            player_conditions=side_conditions_state(battle.side_conditions, battle.turn),
            opponent_conditions=side_conditions_state(battle.opponent_side_conditions, battle.turn),
            weather=None if weather is None else enum_id(weather),
            fields=tuple(enum_id(f) for f in battle.fields),
            force_switch=bool(battle.force_switch),
            opponent_team_size=team_sizes.get(battle.opponent_role)
            if battle.opponent_role
            else None,
            opponent_fainted=sum(
                mon.fainted for mon in battle.opponent_team.values() if mon.revealed
            ),
            opponent_bench=tuple(
                pokemon_state(mon, own=False)
                for mon in battle.opponent_team.values()
                if mon is not foe and mon.revealed
            ),
            can_tera=bool(battle.can_tera),
        )


def _conditions(conditions: tuple[SideConditionState, ...]) -> str:
    words = [c.name for c in conditions for _ in range(max(c.layers, 1))]
    return " ".join(words) or NO_CONDITIONS


def _prev_moves(battle: AbstractBattle) -> dict[str, str]:
    """role -> id of the last move that side used, this turn or the previous one."""
    found: dict[str, str] = {}
    turns_seen = 0
    for event in reversed(battle._replay_data):
        if len(event) < 2:
            continue
        if event[1] == "turn":
            turns_seen += 1
            if turns_seen == 2:
                break
        elif event[1] == "move" and len(event) > 3:
            role = event[2][:2]
            if role not in found:
                found[role] = to_id_str(event[3])
                if len(found) == 2:
                    break
    return found


def _prev_move_dict(battle: AbstractBattle, move_id: str | None, own: bool) -> dict[str, Any]:
    if not move_id:
        return blank_move()
    team = battle.team if own else battle.opponent_team
    active = battle.active_pokemon if own else battle.opponent_active_pokemon
    candidates = [active, *team.values()] if active is not None else list(team.values())
    for mon in candidates:
        move = mon.moves.get(move_id)
        if move is not None:
            return _poke_env_move_dict(move)
    return _poke_env_move_dict(Move(move_id, gen=battle.gen))


def metamon_state(battle: AbstractBattle, state: BattleState | None = None) -> dict[str, Any]:
    """The Metamon state dict of `battle` from its player's view (see the module doc).

    Built from `battle.state`'s pokemon and move states: from `state` when given (a
    `BattleState.from_battle(battle)` of this very moment), else for just the pokemon a
    Metamon state holds (the same result, for less work at every decision).
    """
    view = _View.of_battle(battle) if state is None else _View.of_state(state)
    if view.player_active is None:
        player_active = blank_pokemon()
    else:
        player_active = _pokemon_dict(view.player_active, _active_moves(battle, view.player_active))
    foe = view.opponent_active
    switches = [
        _pokemon_dict(view.switches[mon.species])
        for mon in switch_slots(battle)
        if mon.species in view.switches
    ]
    prev = _prev_moves(battle)
    return {
        "format": battle.format or "",
        "player_active_pokemon": player_active,
        "opponent_active_pokemon": blank_pokemon() if foe is None else _pokemon_dict(foe),
        "available_switches": switches,
        "player_prev_move": _prev_move_dict(battle, prev.get(view.player_role or ""), own=True),
        "opponent_prev_move": _prev_move_dict(
            battle, prev.get(view.opponent_role or ""), own=False
        ),
        "opponents_remaining": max((view.opponent_team_size or 6) - view.opponent_fainted, 0),
        "player_conditions": _conditions(view.player_conditions),
        "opponent_conditions": _conditions(view.opponent_conditions),
        "weather": view.weather or NO_WEATHER,
        "battle_field": " ".join(sorted(view.fields)) or NO_FIELD,
        "forced_switch": view.force_switch,
        "battle_won": battle.won is True,
        "battle_lost": battle.lost is True,
        "can_tera": view.can_tera,
        "opponent_bench": [
            _pokemon_dict(mon) for mon in sorted(view.opponent_bench, key=lambda m: m.species)
        ],
    }


# --------------------------------------------------------------------------- players


def opponent_name(battle: AbstractBattle) -> str | None:
    """The opponent's username (poke-env keeps the `|player|` lines but not this name)."""
    if battle.opponent_username:
        return battle.opponent_username
    players = getattr(battle, "_players", None) or []
    for entry in players:
        if entry.get("player") == battle.opponent_role:
            return entry.get("username")
    for entry in players:
        if entry.get("username") != battle.player_username:
            return entry.get("username")
    return None

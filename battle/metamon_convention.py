"""Metamon's own conventions for trajectory files (`main.py --trajectory-format metamon`).

The arena's trajectory states (`battle.metamon`) follow Metamon's layout with our own
spellings and a few extension fields. Metamon's dataset reader (version 1.1.0, see
`../shared/reference/metamon.md`, "What Metamon's own code writes and reads") builds its
objects from the dicts it reads and computes rewards from consecutive states, so a file it
is to read must hold exactly its fields, spelt as its parser spells them. This module turns
one of our states (and the action taken in it) into that form:

- fields: exactly `STATE_FIELDS`, `POKEMON_FIELDS`, `MOVE_FIELDS`, in that order; none of
  the arena's extensions (`can_tera`, `opponent_bench`, `tera_type`);
- pokemon `types`: two lower-case type names, sorted, padded with "notype" ("notype
  psychic"); a terastallized pokemon is its tera type and "notype"; typeless "notype notype";
- move `move_type` / `category`: upper-case enum names ("NORMAL", "PHYSICAL"; a typeless
  move "THREE_QUESTION_MARKS"); the blank move is Metamon's (`BLANK_MOVE`); move names lose
  their digits and every Hidden Power is "hiddenpower" (Metamon's move names);
- `effect`: one effect, the most recent (the last one poke-env's insertion-ordered
  `Pokemon.effects` holds), as an id without digits ("perish", not "perish3"), or "noeffect";
  `player_conditions` / `opponent_conditions` and `battle_field` likewise the most recent
  side condition / field ("noconditions", "nofield"). `battle.state` keeps effects sorted,
  so recency comes from the poke-env battle (`BattleFacts.of_battle`);
- names: a Pokémon keeps the name it had when first seen in the battle, whatever forme it
  changes to (Eiscue -> Eiscue-Noice, Palafin -> Palafin-Hero, Mimikyu -> Mimikyu-Busted...),
  on both sides, for the whole file: Metamon's shaped reward looks the new active up by
  name among the previous state's Pokémon, and a renamed forme stops its loader.
  `FirstNames` remembers, per battle, the first species of each poke-env team key;
- order: `available_switches` and every moveset are sorted again by the written names, and
  the action is remapped to that order (`MetamonStep.action`): switch `4 + i` goes to the
  new place of that Pokémon, move `i` to the new place of that move;
- actions: Metamon 1.1.0 has 9 (0-3 moves, 4-8 switches, -1 none): a move with tera
  (9-12) is written as the move itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from battle.metamon import (
    MOVE_FIELDS,
    NO_CATEGORY,
    NO_CONDITIONS,
    NO_EFFECT,
    NO_FIELD,
    NO_MOVE,
    NO_TYPE,
    POKEMON_FIELDS,
    STATE_FIELDS,
)
from battle.metamon_actions import N_MOVES, N_SWITCHES, NO_ACTION, TERA_OFFSET

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle
    from poke_env.battle.pokemon import Pokemon

TYPELESS = "???"  # battle.state's word for a typeless Pokémon or move
BLANK_MOVE: dict[str, Any] = {
    "name": NO_MOVE,
    "move_type": NO_MOVE,
    "category": NO_MOVE,
    "base_power": 0,
    "accuracy": 1.0,
    "priority": 0,
    "current_pp": 0,
    "max_pp": 0,
}


# --------------------------------------------------------------------------- words


def id_without_digits(name: str) -> str:
    """Metamon's spelling of an enum or name: its letters only, lower case
    ("PERISH3" -> "perish", "STEALTH_ROCK" -> "stealthrock")."""
    return "".join(char for char in name if char.isalpha()).lower()


def _most_recent(values: dict[Enum, Any] | None, blank: str) -> str:
    """The last key of an insertion-ordered poke-env dict, spelt by Metamon, or `blank`."""
    return id_without_digits(list(values)[-1].name) if values else blank


def _last_word(text: str, blank: str) -> str:
    """One of our space-joined words when recency is unknown: the last one listed."""
    words = text.split()
    return (id_without_digits(words[-1]) or blank) if words else blank


def metamon_types(types: str) -> str:
    """Our `types` ("psychic", "fire flying", "???") as Metamon writes them: two lower-case
    names, sorted, padded with "notype" ("notype psychic", "fire flying", "notype notype")."""
    words = [NO_TYPE if word in (TYPELESS, NO_TYPE) else word for word in types.split()][:2]
    return " ".join(sorted(words + [NO_TYPE] * (2 - len(words))))


def metamon_move_name(name: str) -> str:
    """Metamon's move name: the id without digits, every Hidden Power "hiddenpower"."""
    name = id_without_digits(name)
    return "hiddenpower" if name.startswith("hiddenpower") else name


def _enum_name(word: str) -> str:
    """Our lower-case type or category id as the upper-case enum name Metamon writes."""
    if word in (NO_TYPE, NO_CATEGORY, NO_MOVE, ""):
        return NO_MOVE
    return "THREE_QUESTION_MARKS" if word == TYPELESS else word.upper()


def metamon_move(move: dict[str, Any]) -> dict[str, Any]:
    """One of our move dicts in Metamon's spelling (the blank move is Metamon's)."""
    if move["name"] == NO_MOVE:
        return dict(BLANK_MOVE)
    converted = {key: move[key] for key in MOVE_FIELDS}
    converted["name"] = metamon_move_name(move["name"])
    converted["move_type"] = _enum_name(move["move_type"])
    converted["category"] = _enum_name(move["category"])
    return converted


def _sorted_places(names: list[str]) -> tuple[int, ...]:
    """`places[i]`: where item `i` goes once the list is sorted by `names` (stable)."""
    order = sorted(range(len(names)), key=lambda i: names[i])
    places = [0] * len(names)
    for new, old in enumerate(order):
        places[old] = new
    return tuple(places)


def _reorder(items: list[Any], places: tuple[int, ...]) -> list[Any]:
    out: list[Any] = [None] * len(items)
    for old, new in enumerate(places):
        out[new] = items[old]
    return out


# --------------------------------------------------------------------------- battle facts


@dataclass(frozen=True)
class SideFacts:
    """One side's facts a Metamon state needs and our state dict lacks, by current species."""

    names: dict[str, str] = field(default_factory=dict)  # species now -> name to write
    effects: dict[str, str] = field(default_factory=dict)  # species now -> most recent effect
    condition: str | None = None  # most recent side condition; None: take it from the state


@dataclass(frozen=True)
class BattleFacts:
    """What `metamon_step` takes from the poke-env battle: names and recency (empty: the
    state's own names, and the last word of its sorted effects / conditions / fields)."""

    player: SideFacts = field(default_factory=SideFacts)
    opponent: SideFacts = field(default_factory=SideFacts)
    battle_field: str | None = None

    @classmethod
    def of_battle(cls, battle: AbstractBattle, names: FirstNames) -> BattleFacts:
        """The facts of `battle` now; `names` keeps each Pokémon's first name."""
        return cls(
            player=_side_facts(
                battle.team, battle.active_pokemon, battle.side_conditions, True, names
            ),
            opponent=_side_facts(
                battle.opponent_team,
                battle.opponent_active_pokemon,
                battle.opponent_side_conditions,
                False,
                names,
            ),
            battle_field=_most_recent(battle.fields, NO_FIELD),
        )


@dataclass
class FirstNames:
    """One battle's first species of each Pokémon, by side and poke-env team key
    (`battle.team` / `battle.opponent_team`: "p1: Eiscue" stays the key of an Eiscue-Noice)."""

    first: dict[tuple[bool, str], str] = field(default_factory=dict)

    def name(self, own: bool, key: str, mon: Pokemon) -> str:
        return self.first.setdefault((own, key), mon.species)


def _side_facts(
    team: dict[str, Pokemon],
    active: Pokemon | None,
    conditions: dict[Any, int],
    own: bool,
    names: FirstNames,
) -> SideFacts:
    # The active last: should two Pokémon share a species now, the state names the active.
    mons = sorted(team.items(), key=lambda item: item[1] is active)
    return SideFacts(
        names={mon.species: names.name(own, key, mon) for key, mon in mons},
        effects={mon.species: _most_recent(mon.effects, NO_EFFECT) for _, mon in mons},
        condition=_most_recent(conditions, NO_CONDITIONS),
    )


# --------------------------------------------------------------------------- states


@dataclass(frozen=True)
class MetamonStep:
    """A state in Metamon's conventions, and where our indices went in it."""

    state: dict[str, Any]
    moves: tuple[int, ...]  # moves[i]: the written place of our active's move i
    switches: tuple[int, ...]  # switches[i]: the written place of our available switch i

    def action(self, index: int) -> int:
        """Our action index (0-12, -1) as Metamon's (0-8, -1) in the written order."""
        if index < 0:
            return NO_ACTION
        if index >= TERA_OFFSET:
            index -= TERA_OFFSET
        if index < N_MOVES:
            return self.moves[index] if index < len(self.moves) else NO_ACTION
        slot = index - N_MOVES
        if slot < min(len(self.switches), N_SWITCHES):
            return N_MOVES + self.switches[slot]
        return NO_ACTION


def _pokemon(mon: dict[str, Any], side: SideFacts) -> tuple[dict[str, Any], tuple[int, ...]]:
    """One of our pokemon dicts in Metamon's fields and spelling, and where its moves went."""
    moves = [metamon_move(move) for move in mon["moves"]]
    places = _sorted_places([move["name"] for move in moves])
    converted = {key: mon[key] for key in POKEMON_FIELDS}
    converted["name"] = side.names.get(mon["name"], mon["name"])
    converted["types"] = metamon_types(mon["types"])
    effect = side.effects.get(mon["name"])
    converted["effect"] = effect if effect is not None else _last_word(mon["effect"], NO_EFFECT)
    converted["moves"] = _reorder(moves, places)
    return converted, places


def metamon_step(state: dict[str, Any], facts: BattleFacts | None = None) -> MetamonStep:
    """Our state dict (`battle.metamon.metamon_state`) in Metamon's conventions (see the
    module doc); `facts` (`BattleFacts.of_battle`) give the names and recency to write."""
    facts = facts or BattleFacts()
    player, moves = _pokemon(state["player_active_pokemon"], facts.player)
    opponent, _ = _pokemon(state["opponent_active_pokemon"], facts.opponent)
    bench = [_pokemon(mon, facts.player)[0] for mon in state["available_switches"]]
    switches = _sorted_places([mon["name"] for mon in bench])
    converted = {key: state[key] for key in STATE_FIELDS}
    converted.update(
        player_active_pokemon=player,
        opponent_active_pokemon=opponent,
        available_switches=_reorder(bench, switches),
        player_prev_move=metamon_move(state["player_prev_move"]),
        opponent_prev_move=metamon_move(state["opponent_prev_move"]),
        player_conditions=facts.player.condition
        or _last_word(state["player_conditions"], NO_CONDITIONS),
        opponent_conditions=facts.opponent.condition
        or _last_word(state["opponent_conditions"], NO_CONDITIONS),
        battle_field=facts.battle_field or _last_word(state["battle_field"], NO_FIELD),
    )
    return MetamonStep(converted, moves, switches)


def metamon_battle_step(
    state: dict[str, Any], battle: AbstractBattle, names: FirstNames
) -> MetamonStep:
    """`metamon_step` of the state just built from `battle`, names kept by `names`."""
    return metamon_step(state, BattleFacts.of_battle(battle, names))

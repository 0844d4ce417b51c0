"""The one prompt renderer of the fine-tuned model, at train time and at play time.

`render_prompt(battle)` turns a poke-env battle (the player's own view) into the seed's
one-line prompt; `legal_options(battle)` lists the completions the model may give there.
The dataset builder (`finetune.dataset`) and the `alphastral` agent both call these two
functions on a poke-env battle object, so the model reads at play time exactly what it
was trained on. The default format is the alphaStral seed's, word for word:

    Turn 3. Weather: none. Your pokemon: Magnezone (99/100 HP, healthy) | Type:
    electric/steel | Atk: 70 SpA: 130 Spe: 60. Opponent: Raging Bolt (100/100 HP,
    healthy) | Type: electric/dragon | Def: 91 SpD: 89 Spe: 75 | Moves seen: Air Slash
    (flying, 75pw, special). What move do you use?

    completion: Flash Cannon (steel, 80pw, special)

(one line; wrapped here). Field by field:

- `Turn N`: poke-env's `battle.turn` (the turn being chosen for).
- `Weather`: Showdown's name of the current weather (`RainDance`, `SunnyDay`,
  `Sandstorm`, `Hail`, `Snowscape`, `DesolateLand`, `PrimordialSea`, `DeltaStream`), or
  `none`, as the seed copied it from `|-weather|`.
- Pokémon are named by their species' display name from poke-env's bundled pokedex
  (`Urshifu-Rapid-Strike`), never by nickname.
- HP is `current/max` as poke-env holds it: for our own Pokémon that is the exact HP from
  the server's request in a player's view (`245/301 HP`) and the log's percentage in a
  spectator's view (`99/100 HP`, the seed's case); the opponent's is always a percentage
  (`52/100 HP`).
- Status: `healthy`, or Showdown's `brn` `par` `slp` `frz` `psn` `tox`, `fnt`.
- `Type`: the current types, lower case, `/`-joined; a terastallized Pokémon shows its
  tera type followed by ` (tera)`: `Type: fairy (tera)`.
- Base stats from poke-env's pokedex for the battle's generation (the current forme's):
  our `Atk SpA Spe`, the opponent's `Def SpD Spe` (generation 1's Special is both SpA
  and SpD).
- `Moves seen`: the opponent's active's revealed moves, in the order they were revealed;
  the whole ` | Moves seen: ...` part is left out when none was seen (the seed's shape).
- A move is `Name (type, Npw, category)` from poke-env's move data for the generation:
  the data's type (no tera, weather or Hidden Power adjustment beyond its data entry),
  base power `0pw` for moves without one (status moves, fixed-damage moves like Seismic
  Toss), category `physical`/`special`/`status` (by type in generations 1-3).
  Nothing is ever rendered as `?`.

Options (`legal_options`) follow the battle's legal-action order: moves from
`battle.available_moves` (terastallizing or not is the same option: tera is not part of
the completion), then, with `switches=True` or when the battle forces a switch, one
`Switch to <Species>` per `battle.available_switches`. Two options that would render the
same text (rare: e.g. a move listed twice) are told apart by appending ` #2`, ` #3`, ...
to the later ones, in order, so texts are unique within a decision.

Switch-aware variant (`switches=True`): after the opponent part, ` Your bench: Garchomp
(100/100 HP, healthy), ...` lists the Pokémon that can switch in, and the question is
`What move do you use, or which pokemon do you switch to?`. When the battle forces a
switch (our active fainted or used U-turn), the question is `Which pokemon do you switch
in?` whatever `switches` is, and the options are the switches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from poke_env.battle.move import Move
from poke_env.battle.pokemon_type import PokemonType
from poke_env.data import GenData

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle
    from poke_env.battle.pokemon import Pokemon

QUESTION_MOVE = "What move do you use?"
QUESTION_MOVE_OR_SWITCH = "What move do you use, or which pokemon do you switch to?"
QUESTION_FORCED_SWITCH = "Which pokemon do you switch in?"

WEATHER_NAMES = {
    "DESOLATELAND": "DesolateLand",
    "DELTASTREAM": "DeltaStream",
    "HAIL": "Hail",
    "PRIMORDIALSEA": "PrimordialSea",
    "RAINDANCE": "RainDance",
    "SANDSTORM": "Sandstorm",
    "SNOWSCAPE": "Snowscape",
    "SUNNYDAY": "SunnyDay",
}


@dataclass(frozen=True)
class Option:
    """One legal completion at a decision: its text, and what it maps back to."""

    text: str  # "Flash Cannon (steel, 80pw, special)" | "Switch to Garchomp"
    kind: Literal["move", "switch"]
    id: str  # poke-env move id ("flashcannon") or species id ("garchomp")


# --------------------------------------------------------------------------- pieces


def species_name(mon: Pokemon) -> str:
    """The species' display name from the pokedex ("Raging Bolt"), else its id."""
    entry = GenData.from_gen(mon.gen).pokedex.get(mon.species)
    if entry and entry.get("name"):
        return str(entry["name"])
    return mon.species or "Unknown"


def _type(value: PokemonType | None) -> str:
    if value is None or value is PokemonType.THREE_QUESTION_MARKS:
        return "typeless"
    return value.name.lower()


def _types(mon: Pokemon) -> str:
    types = [t for t in mon.types if t is not None]
    text = "/".join(_type(t) for t in types) or "typeless"
    return f"{text} (tera)" if mon.is_terastallized else text


def _status(mon: Pokemon) -> str:
    if mon.fainted:
        return "fnt"
    return "healthy" if mon.status is None else mon.status.name.lower()


def _hp(mon: Pokemon, *, exact: bool) -> str:
    """`current/max`: exact for our own Pokémon when known, else a percentage."""
    current, maximum = mon.current_hp or 0, mon.max_hp or 0
    if mon.fainted:
        current = 0
    if exact and maximum:
        return f"{current}/{maximum}"
    if maximum == 100 or not maximum:
        percent = current if maximum else (0 if mon.fainted else 100)
    else:
        percent = round(100 * current / maximum)
        if percent == 0 and current > 0:
            percent = 1
    return f"{percent}/100"


def _stat(mon: Pokemon, name: str) -> int:
    stats = mon.base_stats
    if name not in stats and name in ("spa", "spd"):
        name = "spc" if "spc" in stats else name
    return int(stats.get(name, 0))


def render_move(move: Move) -> str:
    """`Flash Cannon (steel, 80pw, special)`: name, type, base power, category."""
    name = str(move.entry.get("name") or move.id)
    return f"{name} ({_type(move.type)}, {int(move.base_power)}pw, {move.category.name.lower()})"


def render_switch(pokemon: Pokemon) -> str:
    """`Switch to Garchomp`."""
    return f"Switch to {species_name(pokemon)}"


def _weather(battle: AbstractBattle) -> str:
    for weather in battle.weather:
        return WEATHER_NAMES.get(weather.name, weather.name.lower())
    return "none"


def _own_part(mon: Pokemon | None) -> str:
    if mon is None:
        return "Your pokemon: none"
    return (
        f"Your pokemon: {species_name(mon)} ({_hp(mon, exact=True)} HP, {_status(mon)}) | "
        f"Type: {_types(mon)} | "
        f"Atk: {_stat(mon, 'atk')} SpA: {_stat(mon, 'spa')} Spe: {_stat(mon, 'spe')}"
    )


def _opponent_part(mon: Pokemon | None) -> str:
    if mon is None:
        return "Opponent: none"
    text = (
        f"Opponent: {species_name(mon)} ({_hp(mon, exact=False)} HP, {_status(mon)}) | "
        f"Type: {_types(mon)} | "
        f"Def: {_stat(mon, 'def')} SpD: {_stat(mon, 'spd')} Spe: {_stat(mon, 'spe')}"
    )
    if mon.moves:
        text += " | Moves seen: " + ", ".join(render_move(m) for m in mon.moves.values())
    return text


def _bench_part(battle: AbstractBattle) -> str:
    mons = [
        f"{species_name(m)} ({_hp(m, exact=True)} HP, {_status(m)})"
        for m in battle.available_switches
    ]
    return "Your bench: " + (", ".join(mons) if mons else "none")


def _offers_switches(battle: AbstractBattle, switches: bool) -> bool:
    return bool(battle.force_switch) or (switches and bool(battle.available_switches))


# --------------------------------------------------------------------------- public


def render_prompt(battle: AbstractBattle, *, switches: bool = False) -> str:
    """The prompt for the decision `battle` is at, from its player's view (one line)."""
    parts = [
        f"Turn {battle.turn}",
        f"Weather: {_weather(battle)}",
        _own_part(battle.active_pokemon),
        _opponent_part(battle.opponent_active_pokemon),
    ]
    if battle.force_switch:
        parts += [_bench_part(battle), QUESTION_FORCED_SWITCH]
    elif _offers_switches(battle, switches):
        parts += [_bench_part(battle), QUESTION_MOVE_OR_SWITCH]
    else:
        parts.append(QUESTION_MOVE)
    return ". ".join(parts[:-1]) + ". " + parts[-1]


def legal_options(battle: AbstractBattle, *, switches: bool = False) -> list[Option]:
    """The legal completions in the battle's legal-action order, texts unique."""
    options: list[Option] = []
    if not battle.force_switch:
        options += [Option(render_move(m), "move", m.id) for m in battle.available_moves]
    if _offers_switches(battle, switches):
        options += [
            Option(render_switch(m), "switch", m.species) for m in battle.available_switches
        ]
    return _unique(options)


def _unique(options: list[Option]) -> list[Option]:
    seen: dict[str, int] = {}
    out = []
    for option in options:
        count = seen.get(option.text, 0) + 1
        seen[option.text] = count
        if count > 1:
            option = Option(f"{option.text} #{count}", option.kind, option.id)
        out.append(option)
    return out

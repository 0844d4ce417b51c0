"""The language-model prompt of a battle: what the Mistral agents are shown each turn.

- `SYSTEM_PROMPT`: the task, the prompt's notation and the answer format.
- `render_state(state)`: the user prompt for one decision, from `BattleState` only (never
  the poke-env battle), deterministic and compact (about 1,000-2,000 characters);
  `build_prompt(battle)` is both steps at once.
- `action_schema(state)` / `response_format(state)`: JSON schema of the answer, its
  "action" restricted to the legal labels (Mistral structured output).

Action labels are the canonical names of `battle.state.action_name`: "move thunderbolt",
"move thunderbolt tera", "switch pikachu", "default". The fine-tuned model's prompt (the
seed's one-line format) is `battle.finetune_prompt`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from battle.state import ActionOption, BattleState, PokemonState, SideState

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle


ANSWER_INSTRUCTION = (
    'Answer with JSON only: {"reasoning": "<one or two sentences>", '
    '"action": "<one label from Legal actions, copied exactly>"}'
)

SYSTEM_PROMPT = """\
You are playing a Pokémon Showdown singles battle (the format is named in each prompt) and \
must choose your next action.

Each turn you get the battle state as you can see it: the field, both active Pokémon, both \
benches (yours with their moves, items and abilities; the opponent's only as far as \
revealed, plus its whole team when the format shows it at team preview) and the legal \
actions. Notation: species and moves are Showdown ids; HP is a percentage; status is brn, \
par, slp, frz, psn or tox; "x2 vs gyarados" is a move's type effectiveness against the \
opponent's active Pokémon; STAB means the move gets the same-type bonus; a label ending in \
"tera" terastallizes your active Pokémon before it moves (once per battle); for a switch, \
"gyarados hits it x2" is the worst multiplier of the opponent's types against the Pokémon \
you switch in.

Choose exactly one of the legal actions: the value of "action" must be one of the labels \
listed under "Legal actions", copied exactly (for example "move thunderbolt", \
"move thunderbolt tera" or "switch pikachu"). Think about damage, speed, type matchups, \
hazards and what the opponent is likely to do, then answer with a single JSON object and \
nothing else:
{"reasoning": "<one or two sentences>", "action": "<one of the listed labels>"}"""


# --------------------------------------------------------------------------- rendering


def _pct(fraction: float | None) -> str:
    """0.643 -> "64%"; a Pokémon still standing never shows 0%."""
    if fraction is None:
        return "?%"
    value = round(fraction * 100)
    if value == 0 and fraction > 0:
        value = 1
    return f"{value}%"


def _mult(value: float) -> str:
    """2.0 -> "x2", 0.25 -> "x0.25"."""
    return f"x{value:g}"


def _turns(n: int | None) -> str:
    return "1 turn" if n == 1 else f"{n or 0} turns"


def _types(types: Sequence[str]) -> str:
    return "/".join(types) if types else "???"


def _boosts(boosts: dict[str, int]) -> str:
    return " ".join(f"{stat}{value:+d}" for stat, value in sorted(boosts.items()) if value)


def _conditions(side: SideState) -> str:
    parts = []
    for cond in side.conditions:
        if cond.turns is None:
            parts.append(f"{cond.name} x{cond.layers}" if cond.layers > 1 else cond.name)
        else:
            parts.append(f"{cond.name} ({_turns(cond.turns)})")
    return ", ".join(parts) if parts else "none"


def _field_line(state: BattleState) -> str:
    parts = []
    if state.weather:
        parts.append(f"weather {state.weather} ({_turns(state.weather_turns)})")
    for name, turns in sorted(state.fields.items()):
        parts.append(f"{name} ({_turns(turns)})")
    return "Field: " + ("; ".join(parts) if parts else "clear")


def _tera_line(state: BattleState) -> str:
    active = state.player.active
    if state.can_tera and active is not None and active.tera_type:
        ours = f"you can terastallize ({active.species} to {active.tera_type})"
    elif state.used_tera:
        ours = "you already used it"
    else:
        ours = "not available to you now"
    theirs = "opponent already used it" if state.opponent_used_tera else "opponent has not"
    return f"Tera: {ours}; {theirs}"


def _has_items(gen: int) -> bool:
    return gen >= 2  # held items came with gen 2


def _has_abilities(gen: int) -> bool:
    return gen >= 3  # abilities came with gen 3 (Showdown still names one in gens 1-2)


def _has_tera(gen: int) -> bool:
    return gen >= 9


def _ability(mon: PokemonState) -> str:
    if mon.ability:
        return f"ability {mon.ability}"
    if mon.possible_abilities:
        return f"ability {'/'.join(mon.possible_abilities)}?"
    return "ability ?"


def _item(mon: PokemonState) -> str:
    return "item " + ("?" if mon.item is None else mon.item or "none")


def _set_parts(mon: PokemonState, gen: int) -> list[str]:
    """Ability and item, as far as the generation has them."""
    parts = []
    if _has_abilities(gen):
        parts.append(_ability(mon))
    if _has_items(gen):
        parts.append(_item(mon))
    return parts


def _active_line(mon: PokemonState | None, who: str, own: bool, gen: int = 9) -> str:
    if mon is None:
        return f"{who}: none"
    parts = [f"{who}: {mon.species} L{mon.level}"]
    if mon.terastallized:
        parts.append(f"{_types(mon.types)} (terastallized)")
    else:
        parts.append(_types(mon.types))
    if mon.fainted:
        parts.append("fainted")
    else:
        parts.append(f"HP {_pct(mon.hp_fraction)}" + (f" {mon.status}" if mon.status else ""))
    boosts = _boosts(mon.boosts)
    if boosts:
        parts.append(f"boosts {boosts}")
    parts.extend(_set_parts(mon, gen))
    if not own and not mon.terastallized and _has_tera(gen):
        parts.append(f"tera {mon.tera_type or '?'}")
    if mon.effects:
        parts.append(f"effects {' '.join(mon.effects)}")
    if not own:
        parts.append("moves seen " + (" ".join(m.id for m in mon.moves) if mon.moves else "none"))
    return " | ".join(parts)


def _bench_mon(mon: PokemonState, own: bool) -> str:
    if mon.fainted:
        return f"{mon.species} fainted"
    text = f"{mon.species} {_pct(mon.hp_fraction)}"
    if mon.status:
        text += f" {mon.status}"
    if own:
        text += f" {_types(mon.types)}"
    return text


def _own_bench_lines(side: SideState, gen: int) -> list[str]:
    """ "Your bench:" then one line per Pokémon with its set (the request shows it all)."""
    if not side.bench:
        return ["Your bench: none"]
    lines = ["Your bench:"]
    for mon in side.bench:
        parts = [_bench_mon(mon, own=True)]
        if not mon.fainted:
            parts.extend(_set_parts(mon, gen))
            parts.append("moves " + (" ".join(m.id for m in mon.moves) or "?"))
        lines.append("- " + " | ".join(parts))
    return lines


def _opponent_bench_line(side: SideState) -> str:
    mons = ", ".join(_bench_mon(m, own=False) for m in side.bench) or "none"
    seen = len(side.pokemon)
    size = f"{seen} of {side.team_size} seen" if side.team_size else f"{seen} seen"
    return f"Opponent bench ({size}): {mons}"


def _seen_in_preview(preview: Sequence[str], seen: Sequence[str]) -> list[bool]:
    """Which previewed species have been seen in battle. Team preview hides some formes
    ("Urshifu-*" is "urshifu"; "urshifurapidstrike" once it is sent out): the same id
    matches first, then a seen forme of a previewed base species, one to one."""
    left = list(seen)
    hits = [False] * len(preview)
    for i, species in enumerate(preview):
        if species in left:
            left.remove(species)
            hits[i] = True
    for i, species in enumerate(preview):
        if not hits[i]:
            forme = next((s for s in left if s.startswith(species)), None)
            if forme is not None:
                left.remove(forme)
                hits[i] = True
    return hits


def _preview_line(side: SideState) -> str | None:
    """The opponent's whole team as team preview showed it, marking the ones seen."""
    if not side.preview:
        return None
    hits = _seen_in_preview(side.preview, [mon.species for mon in side.pokemon])
    marked = zip(side.preview, hits, strict=True)
    mons = ", ".join(f"{species} (seen)" if hit else species for species, hit in marked)
    return f"Opponent's team (team preview): {mons}"


def _move_details(option: ActionOption, foe: str | None, tera_type: str | None) -> str:
    parts = []
    if option.tera:
        parts.append(f"tera to {tera_type or '?'}")
    category = option.category or "?"
    damaging = category != "status"
    head = f"{option.type} {category}"
    if damaging:
        head += f" power {option.base_power}" if option.base_power else " power varies"
    parts.append(head)
    parts.append("never misses" if option.accuracy is None else f"acc {_pct(option.accuracy)}")
    parts.append(f"PP {option.pp}/{option.max_pp}")
    if option.priority:
        parts.append(f"priority {option.priority:+d}")
    if damaging and option.effectiveness is not None and foe:
        parts.append(f"{_mult(option.effectiveness)} vs {foe}")
    if damaging and option.stab:
        parts.append("STAB")
    return ", ".join(parts)


def _switch_details(option: ActionOption, foe: str | None) -> str:
    parts = [f"HP {_pct(option.hp_fraction)}"]
    if option.status:
        parts.append(option.status)
    parts.append(_types(option.types or ()))
    if foe and option.incoming_effectiveness is not None:
        parts.append(f"{foe} hits it {_mult(option.incoming_effectiveness)}")
    if foe and option.outgoing_effectiveness is not None:
        parts.append(f"it hits {foe} {_mult(option.outgoing_effectiveness)}")
    return ", ".join(parts)


_PLACEHOLDER_DETAILS = {
    "recharge": "recharge after last turn's attack (no other move this turn)",
    "fight": "the only move choice while asleep, frozen or partially trapped",
}


def _action_line(option: ActionOption, foe: str | None, tera_type: str | None) -> str:
    if option.kind == "move" and option.id in _PLACEHOLDER_DETAILS:
        return f"{option.label}: {_PLACEHOLDER_DETAILS[option.id]}"
    if option.kind == "move":
        return f"{option.label}: {_move_details(option, foe, tera_type)}"
    if option.kind == "switch":
        return f"{option.label}: {_switch_details(option, foe)}"
    return f"{option.label}: let the server choose"


def render_state(state: BattleState) -> str:
    """The user prompt for one decision: a compact, readable text rendering of the state.

    Depends on `state` only (the same text serves live play and fine-tuning data), and is
    deterministic: the same state always gives the same text. Every legal label starts a
    line of its own under "Legal actions:", followed by ": " and its details.
    """
    me, foe_side = state.player, state.opponent
    foe = foe_side.active.species if foe_side.active is not None else None
    tera_type = me.active.tera_type if me.active is not None else None
    head = f"Turn {state.turn}"
    if state.force_switch:
        head += ". You must switch in a Pokémon"
    elif state.trapped:
        head += ". You are trapped and cannot switch"
    lines = [head]
    if state.format:
        lines.append(f"Format: {state.format}")
    lines += [
        _field_line(state),
        f"Your side: {_conditions(me)}",
        f"Opponent side: {_conditions(foe_side)}",
    ]
    if _has_tera(state.gen):
        lines.append(_tera_line(state))
    lines += [
        _active_line(me.active, "You", own=True, gen=state.gen),
        _active_line(foe_side.active, "Opponent", own=False, gen=state.gen),
        *_own_bench_lines(me, state.gen),
        _opponent_bench_line(foe_side),
    ]
    preview = _preview_line(foe_side)
    if preview is not None:
        lines.append(preview)
    lines.append("Legal actions:")
    lines.extend(_action_line(option, foe, tera_type) for option in state.actions)
    if not state.actions:
        lines.append("(none)")
    lines.append(ANSWER_INSTRUCTION)
    return "\n".join(lines)


def build_prompt(battle: AbstractBattle) -> tuple[BattleState, str]:
    """The state of `battle` (this player's view) and its rendered prompt."""
    state = BattleState.from_battle(battle)
    return state, render_state(state)


# --------------------------------------------------------------------------- schema


def action_schema(state: BattleState) -> dict[str, Any]:
    """JSON schema of an answer: reasoning first (think, then choose), action one label."""
    return {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string"},
            "action": {"type": "string", "enum": list(state.labels)},
        },
        "required": ["reasoning", "action"],
        "additionalProperties": False,
    }


def response_format(state: BattleState) -> dict[str, Any]:
    """Mistral structured output (`response_format=`) for this decision's answer."""
    return {
        "type": "json_schema",
        "json_schema": {
            "name": "battle_action",
            "schema": action_schema(state),
            "strict": True,
        },
    }

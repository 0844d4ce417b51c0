"""agents/llm.py: prompts, answer schema, answer parsing and per-battle memory (offline)."""

from __future__ import annotations

import dataclasses
import json
import statistics
from functools import cache
from typing import Any

import pytest
from fixture_battles import decision_points, fixture_paths

from agents.llm import Conversation, ParsedAnswer, parse_answer
from battle.prompts import (
    ANSWER_INSTRUCTION,
    SYSTEM_PROMPT,
    action_schema,
    build_prompt,
    render_state,
    response_format,
)
from battle.state import BattleState, SideConditionState

FIXTURES = fixture_paths()
PROMPT_MAX_CHARS = 2500
PROMPT_MEDIAN_MAX_CHARS = 1600


def _ids(path: Any) -> str:
    return path.name.removesuffix(".json.gz")


@cache
def _all_states() -> tuple[BattleState, ...]:
    return tuple(
        BattleState.from_battle(battle) for path in FIXTURES for battle, _ in decision_points(path)
    )


def _first_state(predicate: Any) -> BattleState:
    return next(s for s in _all_states() if predicate(s))


def _action_lines(prompt: str) -> list[str]:
    lines = prompt.splitlines()
    start = lines.index("Legal actions:") + 1
    return lines[start:-1]


# --------------------------------------------------------------------------- rendering


def test_fixtures_exist() -> None:
    assert len(FIXTURES) >= 6


@pytest.mark.parametrize("path", FIXTURES, ids=_ids)
def test_prompt_at_every_decision_point(path: Any) -> None:
    n = 0
    for battle, _request in decision_points(path):
        n += 1
        where = f"{path.name} turn {battle.turn}"
        state, prompt = build_prompt(battle)
        assert state == BattleState.from_battle(battle), where

        # Deterministic, and a function of the state alone (a state read back from JSON,
        # as fine-tuning data will be, renders to the very same text).
        assert render_state(state) == prompt, where
        again = BattleState.from_dict(json.loads(json.dumps(state.to_dict())))
        assert render_state(again) == prompt, where

        # Every legal label starts its own line, exactly as given, in state order.
        labels = state.labels
        assert labels, where
        lines = _action_lines(prompt)
        assert [line.split(": ", 1)[0] for line in lines] == labels, where
        for label in labels:
            assert f"\n{label}: " in prompt, (where, label)

        assert prompt.startswith(f"Turn {state.turn}"), where
        assert prompt.endswith(ANSWER_INSTRUCTION), where
        assert "None" not in prompt, where
        assert len(prompt) <= PROMPT_MAX_CHARS, (where, len(prompt))
        assert state.opponent.active is not None
        assert f"Opponent: {state.opponent.active.species} " in prompt, where

        # The schema offers exactly the legal labels, in order; it is plain JSON.
        schema = action_schema(state)
        assert schema["properties"]["action"]["enum"] == labels, where
        fmt = response_format(state)
        assert json.loads(json.dumps(fmt)) == fmt
        assert fmt["json_schema"]["schema"] == schema

        # Every label reads back from a clean answer, and from a bare label.
        for label in labels:
            answer = json.dumps({"reasoning": "It is the best option.", "action": label})
            assert parse_answer(answer, labels) == ParsedAnswer(
                label, "It is the best option.", None
            ), (where, label)
            assert parse_answer(label, labels).action == label, (where, label)
    assert n > 0


def test_prompt_length_stays_compact() -> None:
    lengths = sorted(len(render_state(s)) for s in _all_states())
    assert len(lengths) > 100
    assert lengths[-1] <= PROMPT_MAX_CHARS, lengths[-1]
    assert statistics.median(lengths) <= PROMPT_MEDIAN_MAX_CHARS, statistics.median(lengths)


def test_move_lines_say_what_a_player_needs() -> None:
    state = _first_state(lambda s: s.can_tera and any(a.kind == "switch" for a in s.actions))
    prompt = render_state(state)
    foe = state.opponent.active.species
    me = state.player.active
    lines = dict(line.split(": ", 1) for line in _action_lines(prompt))
    for option in state.actions:
        line = lines[option.label]
        if option.kind == "move":
            assert f"{option.type} {option.category}" in line
            assert f"PP {option.pp}/{option.max_pp}" in line
            if option.accuracy is None:
                assert "never misses" in line
            else:
                assert f"acc {round(option.accuracy * 100)}%" in line
            if option.category != "status":
                assert f"x{option.effectiveness:g} vs {foe}" in line
                assert ("STAB" in line) == bool(option.stab)
                if option.base_power:
                    assert f"power {option.base_power}" in line
            assert line.startswith(f"tera to {me.tera_type}, ") == option.tera
        else:
            assert option.kind == "switch"
            assert f"{foe} hits it x{option.incoming_effectiveness:g}" in line
            assert "/".join(option.types) in line
    assert f"you can terastallize ({me.species} to {me.tera_type})" in prompt


def test_render_field_sides_and_actives() -> None:
    """Weather, fields, layered hazards, boosts, status and the opponent's tera."""
    base = _first_state(lambda s: s.can_tera and s.opponent.bench)
    opp = dataclasses.replace(
        base.opponent.active,
        types=("fairy",),
        tera_type="fairy",
        terastallized=True,
        status="par",
        boosts={**base.opponent.active.boosts, "atk": 2, "spe": -1},
        item="",
        ability="intimidate",
    )
    fainted = dataclasses.replace(base.opponent.bench[0], fainted=True, status="fnt")
    state = dataclasses.replace(
        base,
        weather="raindance",
        weather_turns=2,
        terrain="electricterrain",
        fields={"electricterrain": 1, "trickroom": 3},
        player=dataclasses.replace(
            base.player,
            conditions=(
                SideConditionState("spikes", layers=2),
                SideConditionState("stealthrock", turns=4),
            ),
        ),
        opponent=dataclasses.replace(
            base.opponent,
            active=opp,
            bench=(fainted, *base.opponent.bench[1:]),
            conditions=(SideConditionState("reflect", turns=1),),
        ),
        opponent_used_tera=True,
    )
    prompt = render_state(state)
    assert "Field: weather raindance (2 turns); electricterrain (1 turn); trickroom (3 turns)" in (
        prompt
    )
    assert "Your side: spikes x2, stealthrock (4 turns)" in prompt
    assert "Opponent side: reflect (1 turn)" in prompt
    assert f"Opponent: {opp.species} L{opp.level} | fairy (terastallized) | HP" in prompt
    assert " par | boosts atk+2 spe-1 | ability intimidate | item none |" in prompt
    assert "opponent already used it" in prompt
    assert f"{fainted.species} fainted" in prompt
    assert render_state(state) == prompt


def test_force_switch_prompt() -> None:
    state = _first_state(lambda s: s.force_switch)
    prompt = render_state(state)
    assert "You must switch in a Pokémon" in prompt.splitlines()[0]
    assert all(line.startswith("switch ") for line in _action_lines(prompt))


def test_system_prompt_names_the_answer_format() -> None:
    assert "Pokémon Showdown" in SYSTEM_PROMPT
    assert '{"reasoning": "<one or two sentences>", "action": "<one of the listed labels>"}' in (
        SYSTEM_PROMPT
    )
    assert "JSON" in ANSWER_INSTRUCTION


def test_schema_puts_reasoning_first() -> None:
    state = _all_states()[0]
    schema = action_schema(state)
    assert list(schema["properties"]) == ["reasoning", "action"]
    assert schema["required"] == ["reasoning", "action"]
    assert schema["additionalProperties"] is False
    fmt = response_format(state)
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "battle_action"
    assert fmt["json_schema"]["strict"] is True


# --------------------------------------------------------------------------- parsing

LEGAL = [
    "move thunderbolt",
    "move closecombat",
    "move terablast",
    "move willowisp",
    "move thunderbolt tera",
    "move closecombat tera",
    "move terablast tera",
    "move willowisp tera",
    "switch pikachu",
    "switch ursalunabloodmoon",
    "switch mrmime",
]


def _parse(text: str | None, legal: list[str] = LEGAL) -> ParsedAnswer:
    return parse_answer(text, legal)


def test_clean_json() -> None:
    answer = _parse('{"reasoning": "Gyarados is weak to it.", "action": "move thunderbolt"}')
    assert answer == ParsedAnswer("move thunderbolt", "Gyarados is weak to it.", None)
    assert answer.ok


def test_fenced_json_and_prose_around() -> None:
    fenced = '```json\n{"reasoning": "Safe.", "action": "switch pikachu"}\n```'
    assert _parse(fenced) == ParsedAnswer("switch pikachu", "Safe.", None)
    prose = (
        'Let me think {briefly}. Here is my answer: {"action": "move closecombat tera", '
        '"reasoning": "Tera {fighting} hits hard."} Good luck!'
    )
    expected = ParsedAnswer("move closecombat tera", "Tera {fighting} hits hard.", None)
    assert _parse(prose) == expected


def test_json_keys_in_any_case() -> None:
    answer = _parse('{"Reasoning": "r", "ACTION": "move thunderbolt"}')
    assert answer == ParsedAnswer("move thunderbolt", "r", None)


def test_json_without_reasoning() -> None:
    assert _parse('{"action": "move thunderbolt"}') == ParsedAnswer("move thunderbolt", None, None)
    assert _parse('{"action": "move thunderbolt", "reasoning": 3}').reasoning is None


@pytest.mark.parametrize(
    ("action", "label"),
    [
        ("Move  Thunderbolt", "move thunderbolt"),
        ("move thunderbolt.", "move thunderbolt"),
        ("Thunderbolt", "move thunderbolt"),
        ("thunderbolt", "move thunderbolt"),
        ("Close Combat", "move closecombat"),
        ("use Close Combat", "move closecombat"),
        ("Will-O-Wisp", "move willowisp"),
        ("Tera Blast", "move terablast"),
        ("Tera Blast with tera", "move terablast tera"),
        ("terastallize and use Thunderbolt", "move thunderbolt tera"),
        ("Thunderbolt (Tera)", "move thunderbolt tera"),
        ("move thunderbolt tera: electric special power 90", "move thunderbolt tera"),
        ("switch to Pikachu", "switch pikachu"),
        ("Pikachu", "switch pikachu"),
        ("Ursaluna-Bloodmoon", "switch ursalunabloodmoon"),
        ("Switch to Mr. Mime", "switch mrmime"),
        ("I'd use Thunderbolt", "move thunderbolt"),
        ("Thunderbolt (no tera)", "move thunderbolt"),
        ("Thunderbolt without terastallizing", "move thunderbolt"),
        ("action: move willowisp", "move willowisp"),
    ],
)
def test_display_names_and_bare_ids(action: str, label: str) -> None:
    answer = _parse(json.dumps({"reasoning": "r", "action": action}))
    assert answer == ParsedAnswer(label, "r", None), action


def test_tera_only_when_asked() -> None:
    assert _parse('{"action": "Thunderbolt"}').action == "move thunderbolt"
    assert _parse('{"action": "Thunderbolt tera"}').action == "move thunderbolt tera"
    no_tera = [label for label in LEGAL if not label.endswith(" tera")]
    answer = _parse('{"action": "Thunderbolt tera", "reasoning": "r"}', no_tera)
    assert answer == ParsedAnswer(None, "r", "illegal_action", raw_action="Thunderbolt tera")
    assert _parse("I will use Thunderbolt now.").action == "move thunderbolt"
    assert _parse("Thunderbolt with tera is best.").action == "move thunderbolt tera"
    assert _parse("Thunderbolt, no tera yet.").action == "move thunderbolt"


@pytest.mark.parametrize(
    "action", ["move splash", "Splash", "switch gyarados", "thunderbolt or pikachu", "not sure"]
)
def test_illegal_action(action: str) -> None:
    answer = _parse(json.dumps({"reasoning": "because", "action": action}))
    assert answer == ParsedAnswer(None, "because", "illegal_action", raw_action=action)
    assert not answer.ok


def test_label_from_another_state_is_illegal() -> None:
    states = _all_states()
    here = states[0]
    other = next(
        label for s in states for label in s.labels if label not in here.labels and " " in label
    )
    answer = parse_answer(json.dumps({"reasoning": "x", "action": other}), here.labels)
    assert answer.failure == "illegal_action"
    assert answer.action is None and answer.raw_action == other


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t "])
def test_empty(text: str | None) -> None:
    assert _parse(text) == ParsedAnswer(None, None, "empty")


@pytest.mark.parametrize(
    "text",
    [
        "asdf qwer zxcv",
        "I am not sure what to do here.",
        "{not json at all}",
        '{"reasoning": "no action given"}',
        '{"action": 3}',
        '{"action": ""}',
        "[1, 2, 3]",
    ],
)
def test_unparseable(text: str) -> None:
    answer = _parse(text)
    assert answer.failure == "unparseable", text
    assert answer.action is None


def test_unparseable_json_keeps_reasoning() -> None:
    answer = _parse('{"reasoning": "no action given"}')
    assert answer == ParsedAnswer(None, "no action given", "unparseable")


def test_prose_naming_one_label() -> None:
    text = "Gyarados is weak to electric, so I choose move thunderbolt this turn."
    assert _parse(text) == ParsedAnswer("move thunderbolt", text, None)
    assert _parse("  switch ursalunabloodmoon  ").action == "switch ursalunabloodmoon"
    assert _parse("Go with move closecombat tera!").action == "move closecombat tera"
    assert _parse("Switching to Ursaluna-Bloodmoon keeps momentum.").action == (
        "switch ursalunabloodmoon"
    )


def test_prose_naming_several_labels_is_unparseable() -> None:
    text = "Either move thunderbolt or switch pikachu would work."
    assert _parse(text) == ParsedAnswer(None, text, "unparseable")
    assert _parse("Thunderbolt is fine but Close Combat hits harder.").failure == "unparseable"


def test_prose_reasoning_is_trimmed() -> None:
    text = "move thunderbolt " + "because " * 500
    answer = _parse(text)
    assert answer.action == "move thunderbolt"
    assert answer.reasoning is not None and len(answer.reasoning) == 1000


def test_truncated_json_still_reads_the_action() -> None:
    text = '{"reasoning": "Electric beats \\"water\\".", "action": "move thunderbolt"'
    assert _parse(text) == ParsedAnswer("move thunderbolt", 'Electric beats "water".', None)
    assert _parse('{"action": "move splash", ').failure == "illegal_action"


def test_parse_against_a_real_state() -> None:
    state = _first_state(lambda s: s.can_tera and any(a.kind == "switch" for a in s.actions))
    labels = state.labels
    move = next(a for a in state.actions if a.kind == "move" and not a.tera)
    switch = next(a for a in state.actions if a.kind == "switch")
    assert parse_answer(json.dumps({"action": move.name}), labels).action == move.label
    assert parse_answer(json.dumps({"action": f"{move.name} tera"}), labels).action == (
        f"{move.label} tera"
    )
    assert parse_answer(f"switch to {switch.species}", labels).action == switch.label
    assert parse_answer('{"action": "move splash"}', labels).failure == "illegal_action"


def test_default_label() -> None:
    assert parse_answer('{"action": "default"}', ["default"]).action == "default"
    assert parse_answer('{"action": "move splash"}', ["default"]).failure == "illegal_action"
    assert parse_answer('{"action": "move splash"}', []).failure == "illegal_action"


# --------------------------------------------------------------------------- memory


def test_conversation_without_history() -> None:
    conv = Conversation()
    assert conv.history == 1
    assert conv.messages("b1", "p1") == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "p1"},
    ]
    none = Conversation(history=0)
    none.record("b1", "p1", "a1")
    assert none.messages("b1", "p2") == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "p2"},
    ]


def test_conversation_keeps_last_exchanges_per_battle() -> None:
    conv = Conversation(history=2)
    for i in range(1, 4):
        conv.record("b1", f"p{i}", f"a{i}")
    conv.record("b2", "q1", "c1")
    assert conv.messages("b1", "p4") == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": "p2"},
        {"role": "assistant", "content": "a2"},
        {"role": "user", "content": "p3"},
        {"role": "assistant", "content": "a3"},
        {"role": "user", "content": "p4"},
    ]
    assert [m["content"] for m in conv.messages("b2", "q2")] == [SYSTEM_PROMPT, "q1", "c1", "q2"]
    assert [m["content"] for m in conv.messages("b3", "r1")] == [SYSTEM_PROMPT, "r1"]

    conv.forget("b1")
    assert [m["content"] for m in conv.messages("b1", "p5")] == [SYSTEM_PROMPT, "p5"]
    assert len(conv.messages("b2", "q2")) == 4
    conv.forget("never-seen")


def test_conversation_default_keeps_one_exchange() -> None:
    conv = Conversation()
    conv.record("b1", "p1", "a1")
    conv.record("b1", "p2", "a2")
    roles = [m["role"] for m in conv.messages("b1", "p3")]
    assert roles == ["system", "user", "assistant", "user"]
    assert conv.messages("b1", "p3")[1]["content"] == "p2"


def test_conversation_bounds_battles_and_checks_arguments() -> None:
    conv = Conversation(max_battles=2)
    conv.record("b1", "p", "a")
    conv.record("b2", "p", "a")
    conv.record("b1", "p", "a")  # b1 used most recently: b2 goes first
    conv.record("b3", "p", "a")
    assert len(conv.messages("b1", "x")) == 4
    assert len(conv.messages("b2", "x")) == 2
    assert len(conv.messages("b3", "x")) == 4
    with pytest.raises(ValueError, match="history"):
        Conversation(history=-1)

"""`--trajectory-format metamon`: our states and actions in Metamon's own conventions.

Hand-built poke-env battles (protocol lines and requests as Showdown sends them) and the
recorded fixture battles, converted by `battle.metamon_convention` and checked against the
reader's rules as `tests/metamon_rules.py` writes them out from the reference.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import Any

import pytest
from fixture_battles import decision_points, fixture_paths
from metamon_rules import metamon_file_violations, state_violations, trajectory_violations
from poke_env.battle.battle import Battle
from poke_env.battle.move import Move
from poke_env.player.battle_order import SingleBattleOrder

from arena.trajectories import TrajectoryRecorder
from battle.metamon import blank_move, blank_pokemon, metamon_state
from battle.metamon_actions import action_index
from battle.metamon_convention import (
    BLANK_MOVE,
    BattleFacts,
    SideFacts,
    metamon_move,
    metamon_step,
    metamon_types,
)
from battle.trajectory import read_trajectory

log = logging.getLogger("tests.metamon_convention")
FIXTURES = fixture_paths()

# --------------------------------------------------------------------------- words


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("psychic", "notype psychic"),
        ("normal flying", "flying normal"),
        ("fire flying", "fire flying"),
        ("ghost", "ghost notype"),  # a terastallized pokemon: its tera type alone
        ("???", "notype notype"),
        ("notype", "notype notype"),
    ],
)
def test_types_are_two_sorted_names_padded_with_notype(ours: str, theirs: str) -> None:
    assert metamon_types(ours) == theirs


def test_moves_have_upper_case_enums_the_blank_move_and_one_hidden_power() -> None:
    move = {"name": "thunderbolt", "move_type": "electric", "category": "special",
            "base_power": 90, "accuracy": 1.0, "priority": 0, "current_pp": 15,
            "max_pp": 24}  # fmt: skip
    assert metamon_move(move) == {**move, "move_type": "ELECTRIC", "category": "SPECIAL"}
    assert metamon_move(blank_move()) == BLANK_MOVE
    assert BLANK_MOVE == {"name": "nomove", "move_type": "nomove", "category": "nomove",
                          "base_power": 0, "accuracy": 1.0, "priority": 0, "current_pp": 0,
                          "max_pp": 0}  # fmt: skip
    for name in ("hiddenpower", "hiddenpowerfire", "hiddenpowerfire60"):
        assert metamon_move({**move, "name": name})["name"] == "hiddenpower"
    assert metamon_move({**move, "name": "return102"})["name"] == "return"
    curse = metamon_move({**move, "name": "curse", "move_type": "???", "category": "status"})
    assert (curse["move_type"], curse["category"]) == ("THREE_QUESTION_MARKS", "STATUS")


# --------------------------------------------------------------------------- states


def _fixture_state() -> dict[str, Any]:
    """A real state with a full bench, from the first recorded battle."""
    for battle, _request in decision_points(FIXTURES[0]):
        state = metamon_state(battle)
        if len(state["available_switches"]) >= 3 and state["player_active_pokemon"]["moves"]:
            return state
    raise AssertionError("no state with three switches")


def test_a_state_has_metamons_fields_and_spellings_only() -> None:
    state = _fixture_state()
    state["opponent_active_pokemon"]["moves"] = [
        {**blank_move(), "name": "hiddenpowerice60", "move_type": "ice", "category": "special"},
        {**blank_move(), "name": "hiddenpowerfire", "move_type": "fire", "category": "special"},
        {**blank_move(), "name": "earthquake", "move_type": "ground", "category": "physical"},
    ]
    state["player_active_pokemon"]["effect"] = "confusion perish3"
    state["player_conditions"] = "spikes spikes stealthrock"
    step = metamon_step(state)
    converted = step.state
    assert not state_violations(converted, "converted")
    assert "can_tera" not in converted and "opponent_bench" not in converted
    assert all("tera_type" not in mon for mon in [converted["player_active_pokemon"],
                                                  *converted["available_switches"]])  # fmt: skip
    moves = [m["name"] for m in converted["opponent_active_pokemon"]["moves"]]
    assert moves == ["earthquake", "hiddenpower", "hiddenpower"]
    # without the battle, recency is unknown: the last word listed, digits removed
    assert converted["player_active_pokemon"]["effect"] == "perish"
    assert converted["player_conditions"] == "stealthrock"
    assert metamon_step({**state, "battle_field": "nofield"}).state["battle_field"] == "nofield"
    blank = metamon_step({**state, "opponent_active_pokemon": blank_pokemon()}).state
    assert blank["opponent_active_pokemon"]["types"] == "notype notype"


def test_tera_moves_are_the_moves_and_renamed_switches_are_sorted_again() -> None:
    state = _fixture_state()
    bench = [mon["name"] for mon in state["available_switches"]]
    moves = [move["name"] for move in state["player_active_pokemon"]["moves"]]
    # No real forme change moves a name past another species (a forme's id starts with its
    # base species'), so the re-sorting is checked with made-up first names.
    names = {bench[0]: "zzz", bench[-1]: "aaa"}
    step = metamon_step(state, BattleFacts(player=SideFacts(names=names)))
    written = [mon["name"] for mon in step.state["available_switches"]]
    assert written == sorted(written) and written[0] == "aaa" and written[-1] == "zzz"
    for i, name in enumerate(bench):
        assert written[step.action(4 + i) - 4] == names.get(name, name)
    for i in range(len(moves)):
        assert step.action(i) == step.action(9 + i) == i  # sorted already: same places
    assert step.action(-1) == -1
    two = metamon_step({**state, "available_switches": state["available_switches"][:2]})
    assert two.action(6) == -1  # no such switch


# --------------------------------------------------------------------------- a battle


def _feed(battle: Battle, lines: list[str]) -> None:
    for line in lines:
        split = line.split("|")
        if split[1] == "request":
            battle.parse_request(json.loads(split[2]))
        elif split[1] == "win":
            battle.won_by(split[2])
        else:
            battle.parse_message(split)


TEAM = {  # ident name: moves
    "Eiscue": ["iciclecrash", "bellydrum", "liquidation", "substitute"],
    "Corviknight": ["bravebird", "roost", "uturn", "defog"],
    "Palafin": ["jetpunch", "wavecrash", "closecombat", "bulkup"],
}


def _request(rqid: int, active: str, details: dict[str, str], tera: str | None) -> str:
    """A move request with `active` out; `details`: each Pokémon's details now."""
    side = [
        {"ident": f"p1: {name}", "details": details[name], "condition": "300/300",
         "active": name == active, "stats": {"atk": 200, "def": 200, "spa": 200, "spd": 200,
         "spe": 200}, "moves": moves, "baseAbility": "", "item": "leftovers",
         "pokeball": "pokeball", "ability": "", "teraType": "Ghost", "terastallized": ""}
        for name, moves in TEAM.items()
    ]  # fmt: skip
    side.insert(0, side.pop([p["active"] for p in side].index(True)))
    entry: dict[str, Any] = {"moves": [{"move": m, "id": m, "pp": 8, "maxpp": 8,
                                        "target": "normal", "disabled": False}
                                       for m in TEAM[active]]}  # fmt: skip
    if tera:
        entry["canTerastallize"] = tera
    request = {"active": [entry], "side": {"name": "alice", "id": "p1", "pokemon": side},
               "rqid": rqid}  # fmt: skip
    return "|request|" + json.dumps(request)


DETAILS = {"Eiscue": "Eiscue, L86, M", "Corviknight": "Corviknight, L80, F",
           "Palafin": "Palafin, L80, M"}  # fmt: skip
CHANGED = {**DETAILS, "Eiscue": "Eiscue-Noice, L86, M"}
HERO = {**CHANGED, "Palafin": "Palafin-Hero, L80, M"}
TURNS = [
    ["|init|battle", "|gametype|singles", "|player|p1|alice||", "|player|p2|bob||", "|gen|9",
     "|tier|[Gen 9] OU", "|teamsize|p1|3", "|teamsize|p2|3", "|start",
     "|switch|p1a: Eiscue|Eiscue, L86, M|100/100",
     "|switch|p2a: Mimikyu|Mimikyu, L80, F|100/100", "|turn|1",
     _request(1, "Eiscue", DETAILS, "Ghost")],
    ["|-terastallize|p1a: Eiscue|Ghost",
     "|move|p2a: Mimikyu|Play Rough|p1a: Eiscue", "|-activate|p1a: Eiscue|ability: Ice Face",
     "|detailschange|p1a: Eiscue|Eiscue-Noice, L86, M, tera:Ghost",
     "|move|p1a: Eiscue|Icicle Crash|p2a: Mimikyu",
     "|-activate|p2a: Mimikyu|ability: Disguise",
     "|detailschange|p2a: Mimikyu|Mimikyu-Busted, L80, F",
     "|-start|p1a: Eiscue|Substitute", "|-start|p1a: Eiscue|confusion",
     "|-start|p2a: Mimikyu|perish3",
     "|-sidestart|p1: alice|move: Stealth Rock", "|-sidestart|p1: alice|Spikes",
     "|-sidestart|p2: bob|Reflect",
     "|-fieldstart|move: Trick Room", "|-fieldstart|move: Grassy Terrain", "|turn|2",
     _request(2, "Eiscue", CHANGED, None)],
    ["|switch|p1a: Palafin|Palafin, L80, M|100/100", "|turn|3",
     _request(3, "Palafin", CHANGED, None)],
    ["|switch|p1a: Eiscue|Eiscue-Noice, L86, M, tera:Ghost|100/100", "|turn|4",
     _request(4, "Eiscue", HERO, None)],
    ["|win|alice"],
]  # fmt: skip


def _order(battle: Battle, target: str, tera: bool = False) -> SingleBattleOrder:
    """The valid order that uses move `target` (or switches to species `target`)."""
    for order in battle.valid_orders:
        what = order.order
        name = Move.retrieve_id(what.id) if isinstance(what, Move) else getattr(what, "species", "")
        if name == target and bool(getattr(order, "terastallize", False)) == tera:
            return order
    raise AssertionError(f"no order {target} (tera {tera}) in {battle.valid_orders}")


def test_formes_keep_their_first_names_and_recency_comes_from_the_battle(tmp_path: Path) -> None:
    battle = Battle("battle-gen9ou-1", "alice", log, gen=9)
    metamon = TrajectoryRecorder(tmp_path / "metamon", file_format="metamon")
    lz4 = TrajectoryRecorder(tmp_path / "lz4")
    chosen = [("iciclecrash", True), ("palafin", False), ("eiscuenoice", False),
              ("palafinhero", False)]  # fmt: skip
    ours = []
    for lines, (target, tera) in zip(TURNS, chosen, strict=False):
        _feed(battle, lines)
        order = _order(battle, target, tera)
        ours.append(action_index(order, battle))
        for recorder in (metamon, lz4):
            recorder.record(battle, order)
    _feed(battle, TURNS[-1])
    path, lz4_path = metamon.finish(battle), lz4.finish(battle)
    assert path is not None and lz4_path is not None and path.suffix == ".json"
    assert metamon_file_violations(path) == []
    data = read_trajectory(path)
    states, old = data["states"], read_trajectory(lz4_path)["states"]
    # tera Icicle Crash (10) is Icicle Crash (1); the switches keep their places here
    assert ours == [10, 5, 5, 5] and data["actions"] == [1, 5, 5, 5]
    actives = [s["player_active_pokemon"]["name"] for s in states]
    assert actives == ["eiscue", "eiscue", "palafin", "eiscue", "eiscue"]
    assert [s["player_active_pokemon"]["name"] for s in old][1] == "eiscuenoice"
    assert trajectory_violations({"states": old, "actions": ours})  # the lz4 names break it
    assert {s["opponent_active_pokemon"]["name"] for s in states} == {"mimikyu"}
    assert [m["name"] for m in states[4]["available_switches"]] == ["corviknight", "palafin"]
    assert old[4]["available_switches"][1]["name"] == "palafinhero"
    after = states[1]
    assert after["player_active_pokemon"]["types"] == "ghost notype"  # terastallized
    assert after["player_active_pokemon"]["effect"] == "confusion"  # the most recent
    assert old[1]["player_active_pokemon"]["effect"] == "confusion iceface substitute"
    assert after["opponent_active_pokemon"]["effect"] == "perish"
    assert (after["player_conditions"], after["opponent_conditions"]) == ("spikes", "reflect")
    assert after["battle_field"] == "grassyterrain"
    assert old[1]["battle_field"] == "grassyterrain trickroom"
    assert after["player_prev_move"]["move_type"] == "ICE"
    assert states[-1]["battle_won"] and not any(s["battle_won"] for s in states[:-1])


# --------------------------------------------------------------------------- recorded battles


@pytest.mark.parametrize("path", FIXTURES[:4], ids=lambda p: p.name.split("--")[0][-3:])
def test_recorded_battles_convert_to_files_metamons_reader_takes(tmp_path: Path, path) -> None:
    rng = random.Random(3)
    metamon = TrajectoryRecorder(tmp_path, file_format="metamon")
    ours = []
    battle = None
    for battle, _request in decision_points(path):
        order = rng.choice(battle.valid_orders)
        ours.append(action_index(order, battle))
        metamon.record(battle, order)
    assert battle is not None
    written = metamon.finish(battle)
    assert written is not None and written.name.endswith(".json")
    assert metamon_file_violations(written) == []
    actions = read_trajectory(written)["actions"]
    # no forme changes in these battles: only tera moves change index
    assert actions == [a - 9 if a >= 9 else a for a in ours]

"""Metamon trajectories from the recorded battles: states, action indices, file names, files."""

from __future__ import annotations

import copy
import json
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lz4.frame
import pytest
from fixture_battles import decision_points, fixture_paths, load_recording, replay_to_end
from poke_env.battle.move import Move
from poke_env.data import to_id_str
from poke_env.player.battle_order import DefaultBattleOrder, SingleBattleOrder

from agents.baselines import MaxDamageAgent
from arena.trajectories import TrajectoryRecorder
from battle.metamon import (
    EXTENSION_POKEMON_FIELDS,
    EXTENSION_STATE_FIELDS,
    MOVE_FIELDS,
    POKEMON_FIELDS,
    STATE_FIELDS,
    metamon_state,
)
from battle.metamon_actions import N_ACTIONS, action_index, legal_indices, order_for_index
from battle.state import BattleState
from battle.trajectory import TrajectoryFile, read_trajectory, trajectory_name, write_trajectory
from training.names import parse_name

FIXTURES = fixture_paths()
ID = re.compile(r"[a-z0-9]+")
WORDS = re.compile(r"[a-z0-9]+( [a-z0-9]+)*")  # space-joined ids
TYPES = re.compile(r"([a-z]+|\?\?\?)( ([a-z]+|\?\?\?))?")
# The documented scheme, written out independently of the module's own parser.
NAME = re.compile(
    r"(?P<id>[a-z0-9-]+)_(?P<rating>Unrated|\d+)_(?P<p1>[a-z0-9]+)_vs_(?P<p2>[a-z0-9]+)_"
    r"(?P<date>\d\d-\d\d-\d{4}-\d\d:\d\d:\d\d)_(?P<result>WIN|LOSS)"
)


def _ids(path: Path) -> str:
    return path.name.removesuffix(".json.gz")


def _check_move(move: dict[str, Any], where: str) -> None:
    assert tuple(move) == MOVE_FIELDS, where
    assert ID.fullmatch(move["name"]), (where, move)
    assert ID.fullmatch(move["move_type"]) or move["move_type"] == "???", (where, move)
    assert move["category"] in {"physical", "special", "status", "nocategory"}, (where, move)
    for key in ("base_power", "priority", "current_pp", "max_pp"):
        assert type(move[key]) is int, (where, key, move)
    assert type(move["accuracy"]) is float and 0.0 <= move["accuracy"] <= 1.0, (where, move)
    assert 0 <= move["current_pp"] <= move["max_pp"] or move["name"] == "nomove", (where, move)


def _check_pokemon(mon: dict[str, Any], where: str) -> None:
    assert tuple(mon) == POKEMON_FIELDS + EXTENSION_POKEMON_FIELDS, where
    assert ID.fullmatch(mon["tera_type"]), (where, mon["tera_type"])
    assert ID.fullmatch(mon["name"]), (where, mon["name"])
    assert type(mon["hp_pct"]) is float and 0.0 <= mon["hp_pct"] <= 1.0, (where, mon)
    assert TYPES.fullmatch(mon["types"]), (where, mon["types"])
    for key in ("item", "ability", "status"):
        assert ID.fullmatch(mon[key]), (where, key, mon[key])
    assert WORDS.fullmatch(mon["effect"]), (where, mon["effect"])
    assert type(mon["lvl"]) is int and 1 <= mon["lvl"] <= 100, (where, mon)
    for key in POKEMON_FIELDS[9:]:
        assert type(mon[key]) is int, (where, key)
    for key in POKEMON_FIELDS[9:16]:
        assert -6 <= mon[key] <= 6, (where, key)
    assert all(mon[key] > 0 for key in POKEMON_FIELDS[16:]), (where, mon["name"])
    assert isinstance(mon["moves"], list)
    assert [m["name"] for m in mon["moves"]] == sorted(m["name"] for m in mon["moves"])
    for move in mon["moves"]:
        _check_move(move, where)


def check_state(state: dict[str, Any], where: str) -> None:
    """Every field, with the documented types and textual conventions."""
    assert tuple(state) == STATE_FIELDS + EXTENSION_STATE_FIELDS, where
    assert type(state["can_tera"]) is bool, where
    for mon in state["opponent_bench"]:
        _check_pokemon(mon, where)
    assert json.loads(json.dumps(state)) == state, where
    assert state["format"] == "gen9randombattle"
    _check_pokemon(state["player_active_pokemon"], where)
    _check_pokemon(state["opponent_active_pokemon"], where)
    assert isinstance(state["available_switches"], list) and len(state["available_switches"]) <= 5
    for mon in state["available_switches"]:
        _check_pokemon(mon, where)
    names = [m["name"] for m in state["available_switches"]]
    assert names == sorted(names), where
    _check_move(state["player_prev_move"], where)
    _check_move(state["opponent_prev_move"], where)
    assert type(state["opponents_remaining"]) is int and 0 <= state["opponents_remaining"] <= 6
    for key in ("player_conditions", "opponent_conditions", "weather", "battle_field"):
        assert isinstance(state[key], str) and WORDS.fullmatch(state[key]), (where, key)
    for key in ("forced_switch", "battle_won", "battle_lost"):
        assert type(state[key]) is bool, (where, key)
    assert not (state["battle_won"] and state["battle_lost"])


def _request_active(request: dict[str, Any]) -> dict[str, Any]:
    (active,) = [p for p in request["side"]["pokemon"] if p["active"]]
    return active


def _species(entry: dict[str, Any]) -> str:
    return to_id_str(entry["details"].split(", ")[0])


def test_fixtures_exist() -> None:
    assert len(FIXTURES) >= 6


@pytest.mark.parametrize("path", FIXTURES, ids=_ids)
def test_state_at_every_decision_point(path: Path) -> None:
    n = 0
    for battle, request in decision_points(path):
        n += 1
        where = f"{path.name} turn {battle.turn}"
        state = metamon_state(battle)
        check_state(state, where)
        assert not state["battle_won"] and not state["battle_lost"], where
        # The fast path (only the pokemon it needs) is the full BattleState's result.
        assert metamon_state(battle, BattleState.from_battle(battle)) == state, where

        # The player's own view, as the request has it.
        active = _request_active(request)
        mine = state["player_active_pokemon"]
        assert mine["name"] == _species(active), where
        assert [m["name"] for m in mine["moves"]] == sorted(active["moves"]), where
        assert mine["item"] == (active["item"] or "noitem"), where
        assert mine["ability"] != "unknownability", where
        request_pp = {
            m["id"]: (m["pp"], m["maxpp"])
            for m in request.get("active", [{}])[0].get("moves", [])
            if "pp" in m
        }
        for move in mine["moves"]:
            if move["name"] in request_pp:
                assert (move["current_pp"], move["max_pp"]) == request_pp[move["name"]], where
        bench = [
            _species(p)
            for p in request["side"]["pokemon"]
            if not p["active"] and not p["condition"].endswith("fnt")
        ]
        assert [m["name"] for m in state["available_switches"]] == sorted(bench), where
        legal = sorted(mon.species for mon in battle.available_switches)
        assert legal == ([] if battle.trapped else sorted(bench)), where
        assert state["forced_switch"] == bool(request.get("forceSwitch", [False])[0]), where
        fainted = sum(m.fainted for m in battle.opponent_team.values())
        assert state["opponents_remaining"] == 6 - fainted, where
        opponent = battle.opponent_active_pokemon
        assert state["opponent_active_pokemon"]["name"] == opponent.species, where

        # The arena's extensions: tera still available, tera types, the revealed bench.
        active_request = request.get("active", [{}])[0]
        assert state["can_tera"] == bool(active_request.get("canTerastallize")), where
        own = next(p for p in request["side"]["pokemon"] if p["active"])
        assert mine["tera_type"] == own["teraType"].lower(), where
        revealed = sorted(
            m.species for m in battle.opponent_team.values() if m.revealed and m is not opponent
        )
        assert [m["name"] for m in state["opponent_bench"]] == revealed, where
    assert n > 0


@pytest.mark.parametrize("path", FIXTURES, ids=_ids)
def test_can_tera_turns_off_after_terastallizing(path: Path) -> None:
    seen_tera = False
    for battle, _request in decision_points(path):
        state = metamon_state(battle)
        if battle.used_tera:
            seen_tera = True
            assert state["can_tera"] is False, battle.turn
            assert state["player_active_pokemon"]["tera_type"] != "notype"
    if not seen_tera:
        pytest.skip("this recording's player never terastallized")


@pytest.mark.parametrize("path", FIXTURES, ids=_ids)
def test_action_index_round_trips_for_every_legal_order(path: Path) -> None:
    for battle, _request in decision_points(path):
        where = f"{path.name} turn {battle.turn}"
        state = metamon_state(battle)
        moves = [m["name"] for m in state["player_active_pokemon"]["moves"]]
        switches = [m["name"] for m in state["available_switches"]]
        used: dict[int, str] = {}
        for order in battle.valid_orders:
            index = action_index(order, battle)
            # No Struggle, Recharge or default in these recordings: all representable.
            assert 0 <= index < N_ACTIONS, (where, order.message)
            assert index not in used, (where, order.message, used[index])
            used[index] = order.message
            back = order_for_index(index, battle)
            assert back is not None and back.message == order.message, (where, index)
            # The index points at the state's own lists.
            target = order.order
            if isinstance(target, Move):
                slot = index - 9 if order.terastallize else index
                assert (index >= 9) == bool(order.terastallize), where
                assert moves[slot] == target.id, (where, index, moves)
            else:
                assert 4 <= index <= 8 and switches[index - 4] == target.species, where
        assert sorted(used) == legal_indices(battle), where
        for index in range(-2, N_ACTIONS + 2):
            if index not in used:
                assert order_for_index(index, battle) is None, (where, index)


def test_disabled_and_trapped_slots_are_illegal() -> None:
    seen = set()
    for path in FIXTURES:
        for battle, request in decision_points(path):
            state = metamon_state(battle)
            moves = [m["name"] for m in state["player_active_pokemon"]["moves"]]
            for entry in request.get("active", [{}])[0].get("moves", []):
                if entry.get("disabled"):
                    seen.add("disabled")
                    slot = moves.index(entry["id"])
                    assert order_for_index(slot, battle) is None
                    assert order_for_index(slot + 9, battle) is None
            if battle.trapped:
                seen.add("trapped")
                assert all(order_for_index(i, battle) is None for i in range(4, 9))
    assert seen == {"disabled", "trapped"}


def _battle_with_request(edit) -> tuple[Any, dict[str, Any]]:
    """The first move decision of a recording, re-parsed with an edited request."""
    for battle, request in decision_points(FIXTURES[0]):
        if request.get("active") and not request.get("forceSwitch"):
            edited = copy.deepcopy(request)
            edit(edited)
            battle.parse_request(edited)
            return battle, edited
    raise AssertionError("no move decision")


def test_struggle_recharge_and_default_are_not_actions() -> None:
    def struggle(request: dict[str, Any]) -> None:
        request["active"][0]["moves"] = [{"move": "Struggle", "id": "struggle", "pp": 1,
                                          "maxpp": 1, "target": "randomNormal",
                                          "disabled": False}]  # fmt: skip
        request["active"][0].pop("canTerastallize", None)

    battle, _ = _battle_with_request(struggle)
    orders = battle.valid_orders
    struggles = [o for o in orders if isinstance(o.order, Move)]
    assert [o.order.id for o in struggles] == ["struggle"]
    assert action_index(struggles[0], battle) == -1
    assert all(order_for_index(i, battle) is None for i in [*range(4), *range(9, 13)])
    assert len(metamon_state(battle)["player_active_pokemon"]["moves"]) == 4  # its moveset
    switches = [o for o in orders if not isinstance(o.order, Move)]
    assert sorted(action_index(o, battle) for o in switches) == legal_indices(battle)

    def recharge(request: dict[str, Any]) -> None:
        request["active"][0] = {"moves": [{"move": "Recharge", "id": "recharge"}],
                                "trapped": True}  # fmt: skip

    battle, _ = _battle_with_request(recharge)
    (order,) = battle.valid_orders
    assert order.message == "/choose move 1"
    assert action_index(order, battle) == -1
    assert legal_indices(battle) == []
    assert all(order_for_index(i, battle) is None for i in range(N_ACTIONS))
    assert action_index(DefaultBattleOrder(), battle) == -1
    check_state(metamon_state(battle), "recharge")


def test_orders_outside_the_space_or_illegal_give_minus_one() -> None:
    battle, _ = next(iter(decision_points(FIXTURES[0])))
    assert action_index(SingleBattleOrder(Move("splash", gen=9)), battle) == -1
    fainted_or_active = [m for m in battle.team.values() if m not in battle.available_switches]
    for mon in fainted_or_active:
        assert action_index(SingleBattleOrder(mon), battle) == -1


@pytest.mark.parametrize("path", FIXTURES, ids=_ids)
def test_terminal_state_says_who_won(path: Path) -> None:
    battle = replay_to_end(path)
    state = metamon_state(battle)
    check_state(state, path.name)
    assert metamon_state(battle, BattleState.from_battle(battle)) == state
    assert state["battle_won"] == (battle.won is True)
    assert state["battle_lost"] == (battle.lost is True)
    assert state["battle_won"] != state["battle_lost"]  # no tie in these recordings
    if state["battle_lost"]:
        assert state["player_active_pokemon"]["status"] == "fnt"


def test_previous_moves_come_from_the_last_turn() -> None:
    found = {"player": 0, "opponent": 0}
    for path in FIXTURES:
        for battle, _request in decision_points(path):
            state = metamon_state(battle)
            if battle.turn <= 1 and not state["forced_switch"]:  # nothing moved yet
                assert state["player_prev_move"]["name"] == "nomove"
                assert state["opponent_prev_move"]["name"] == "nomove"
            for side in found:
                move = state[f"{side}_prev_move"]
                if move["name"] != "nomove":
                    found[side] += 1
                    assert move["category"] in {"physical", "special", "status"}
    assert found["player"] > 10 and found["opponent"] > 10


# --------------------------------------------------------------------------- names


def _parse(stem: str) -> dict[str, str]:
    match = NAME.fullmatch(stem)
    assert match, stem
    return match.groupdict()


WHEN = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def test_name_follows_the_scheme_and_round_trips() -> None:
    stem = trajectory_name("gen9randombattle", "battle-gen9randombattle-42", None,
                           "heuristic p1 ab12", "Random_P2/x", WHEN, True)  # fmt: skip
    assert stem == (
        "gen9randombattle-42_Unrated_heuristicp1ab12_vs_randomp2x_03-04-2026-05:06:07_WIN"
    )
    fields = _parse(stem)
    assert fields["result"] == "WIN" and fields["rating"] == "Unrated"
    lost = trajectory_name("gen9randombattle", "xyz_1", 1350, "a", "b", WHEN, False)
    fields = _parse(lost)
    assert fields["id"] == "gen9randombattle-xyz-1" and fields["rating"] == "1350"
    assert fields["result"] == "LOSS"

    name = TrajectoryFile("gen9randombattle", "battle-gen9randombattle-42", None, "al_ice",
                          "bob", WHEN, False)  # fmt: skip
    path = name.path("/data")
    assert path.parent == Path("/data/gen9randombattle") and path.name.endswith(".json.lz4")
    back = parse_name(path)  # the loader's reader
    assert back.format == "gen9randombattle" and back.battle_id == "gen9randombattle-42"
    assert (back.rating, back.p1, back.p2, back.won) == (1000, "alice", "bob", False)
    assert back.date == WHEN.date()
    older = parse_name("gen1ou-99_1500_x_vs_y_01-02-2024_WIN.json")
    assert (older.format, older.rating, older.won) == ("gen1ou", 1500, True)
    assert parse_name("a_b_c.json.lz4") is None


def test_file_round_trip_and_no_overwrite(tmp_path: Path) -> None:
    states = [{"format": "gen9randombattle", "n": i} for i in range(3)]
    name = TrajectoryFile("gen9randombattle", "battle-gen9randombattle-7", None, "a", "b",
                          WHEN, True)  # fmt: skip
    path = write_trajectory(tmp_path, name, states, [4, -1])
    assert path == tmp_path / "gen9randombattle" / f"{name.stem}.json.lz4"
    data = json.loads(lz4.frame.decompress(path.read_bytes()))
    assert data == {"states": states, "actions": [4, -1]}
    assert read_trajectory(path) == data
    again = write_trajectory(tmp_path, name, states[:1], [])
    assert again != path and read_trajectory(path) == data
    assert _parse(again.name.removesuffix(".json.lz4"))["id"] == "gen9randombattle-7-2"
    assert sorted(p.name for p in path.parent.iterdir()) == sorted([path.name, again.name])


# --------------------------------------------------------------------------- recorder


@pytest.mark.parametrize("path", FIXTURES[:4], ids=_ids)
def test_recorder_writes_one_file_from_the_players_view(tmp_path: Path, path: Path) -> None:
    rng = random.Random(0)
    recorder = TrajectoryRecorder(tmp_path)
    battle = None
    chosen = []
    for battle, _request in decision_points(path):
        order = rng.choice(battle.valid_orders)
        chosen.append(action_index(order, battle))
        recorder.record(battle, order)
        recorder.record(battle, order)  # the same request again: replaces the step
    assert battle is not None and battle.finished
    written = recorder.finish(battle)
    assert written is not None and recorder.written == 1
    data = read_trajectory(written)
    assert data["actions"] == chosen
    assert len(data["states"]) == len(data["actions"]) + 1
    for state in data["states"]:
        check_state(state, written.name)
    assert data["states"][-1]["battle_won"] == (battle.won is True)
    fields = _parse(written.name.removesuffix(".json.lz4"))
    assert fields["p1"] == to_id_str(load_recording(path).username)
    assert fields["result"] == ("WIN" if battle.won else "LOSS")
    assert recorder.finish(battle) is None  # once per battle


@pytest.mark.parametrize("path", FIXTURES[:2], ids=_ids)
async def test_a_labelled_recorder_writes_the_teachers_actions(tmp_path: Path, path: Path) -> None:
    rng = random.Random(1)
    teacher = MaxDamageAgent(seed=2)
    recorder = TrajectoryRecorder(tmp_path, labelled=True)
    labels, played = [], []
    battle = None
    for step, (battle, _request) in enumerate(decision_points(path)):
        order = rng.choice(battle.valid_orders)
        label = None if step % 7 == 3 else (await teacher.decide(battle)).order
        labels.append(-1 if label is None else action_index(label, battle))
        played.append(action_index(order, battle))
        assert labels[-1] == -1 or labels[-1] in legal_indices(battle)
        recorder.record(battle, order, label)
        recorder.record(battle, order, label)  # the same request again: replaces the step
    assert battle is not None
    written = recorder.finish(battle)
    assert written is not None
    data = read_trajectory(written)
    assert list(data) == ["states", "actions", "played_actions"]
    assert (data["actions"], data["played_actions"]) == (labels, played)
    assert len(data["states"]) == len(labels) + 1
    assert -1 in labels and labels != played


def test_played_actions_are_as_long_as_the_actions(tmp_path: Path) -> None:
    name = TrajectoryFile("gen9randombattle", "b-1", None, "a", "b", WHEN, False)
    path = write_trajectory(tmp_path, name, [{}, {}, {}], [4, -1], played_actions=[4, 0])
    assert read_trajectory(path) == {"states": [{}, {}, {}], "actions": [4, -1],
                                     "played_actions": [4, 0]}  # fmt: skip
    with pytest.raises(ValueError, match="played_actions has 1 entries for 2 actions"):
        write_trajectory(tmp_path, name, [{}, {}, {}], [4, -1], played_actions=[4])


def test_recorder_never_raises(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    recorder = TrajectoryRecorder(blocked)
    battle = None
    for battle, _request in decision_points(FIXTURES[0]):
        recorder.record(battle, battle.valid_orders[0])
    assert recorder.finish(battle) is None
    assert "not written" in caplog.text

    class Broken:
        battle_tag = "battle-gen9randombattle-1"
        last_request: dict[str, Any] = {}  # noqa: RUF012

    recorder = TrajectoryRecorder(tmp_path)
    recorder.record(Broken(), DefaultBattleOrder())  # type: ignore[arg-type]
    assert "dropped" in caplog.text
    assert recorder.finish(Broken()) is None  # type: ignore[arg-type]

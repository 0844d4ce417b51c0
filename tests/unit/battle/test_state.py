"""BattleState at every decision point of the recorded battles (offline)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fixture_battles import decision_points, fixture_paths, load_recording, replay_to_end
from poke_env.data import to_id_str

from agents.base import action_name
from battle.state import (
    ActionOption,
    BattleState,
    PokemonState,
    SideConditionState,
    order_for,
)

FIXTURES = fixture_paths()


def _ids(path: Any) -> str:
    return path.name.removesuffix(".json.gz")


def test_fixtures_exist() -> None:
    assert len(FIXTURES) >= 6, "run tests/fixtures/record_battles.py to record fixtures"


def _request_active_species(request: dict[str, Any]) -> str:
    (active,) = [p for p in request["side"]["pokemon"] if p["active"]]
    return to_id_str(active["details"].split(", ")[0])


def _opponent_species_seen(battle: Any) -> set[str]:
    """Species the opponent has shown so far, read from the raw protocol lines."""
    seen = set()
    role = battle.opponent_role
    for event in battle._replay_data:
        if len(event) > 3 and event[1] in {"switch", "drag", "replace"} and event[2][:2] == role:
            seen.add(to_id_str(event[3].split(", ")[0]))
    return seen


def _all_mons(state: BattleState) -> list[PokemonState]:
    return [*state.player.pokemon, *state.opponent.pokemon]


@pytest.mark.parametrize("path", FIXTURES, ids=_ids)
def test_state_at_every_decision_point(path: Any) -> None:
    n = 0
    for battle, request in decision_points(path):
        n += 1
        where = f"{path.name} turn {battle.turn} (request {request.get('rqid')})"
        state = BattleState.from_battle(battle)

        # Serialisable, and round-trips exactly (directly and through JSON text).
        data = state.to_dict()
        text = json.dumps(data)
        assert json.loads(text) == data, where
        assert BattleState.from_dict(data) == state, where
        assert BattleState.from_dict(json.loads(text)) == state, where

        # Legal actions mirror poke-env's valid orders, in order.
        assert state.labels == [action_name(o) for o in battle.valid_orders], where
        assert len(set(state.labels)) == len(state.labels), where

        # Who we are, where we are.
        assert state.player_role == request["side"]["id"], where
        assert state.turn == battle.turn
        assert state.force_switch == bool(any(request.get("forceSwitch", [False])))
        assert state.player.active is not None, where
        assert state.player.active.species == _request_active_species(request), where
        assert state.player.active.active
        assert len(state.player.pokemon) == len(request["side"]["pokemon"]), where

        # HP fractions are fractions; own HP is known, the opponent's is not.
        for mon in _all_mons(state):
            assert 0.0 <= mon.hp_fraction <= 1.0, (where, mon.species)
            assert mon.fainted == (mon.status == "fnt"), (where, mon.species)
            assert set(mon.boosts) == {"accuracy", "atk", "def", "evasion", "spa", "spd", "spe"}
        for mon in state.player.pokemon:
            assert mon.current_hp is not None and mon.max_hp, (where, mon.species)
            assert mon.tera_type is not None, (where, mon.species)  # gen 9: own tera known
            assert mon.stats is not None
        for mon in state.opponent.pokemon:
            assert mon.current_hp is None and mon.max_hp is None and mon.stats is None

        # The opponent's side only holds Pokémon it has shown.
        shown = _opponent_species_seen(battle)
        assert state.opponent.active is not None, where
        for mon in state.opponent.pokemon:
            assert mon.revealed, (where, mon.species)
            assert mon.species in shown, (where, mon.species, shown)
        assert len(state.opponent.pokemon) <= (state.opponent.team_size or 6)

        # Tera bookkeeping agrees with the request.
        can_tera = bool(request.get("active", [{}])[0].get("canTerastallize"))
        assert state.can_tera == can_tera, where
        tera_labels = [a for a in state.actions if a.tera]
        assert bool(tera_labels) == (can_tera and not state.force_switch), where

        for option in state.actions:
            _check_option(option, state, where)

        # Every label maps back to the very same order; an illegal one raises.
        for order in battle.valid_orders:
            label = action_name(order)
            assert order_for(battle, label).message == order.message, (where, label)
            assert BattleState.order_for(battle, label).message == order.message
        with pytest.raises(KeyError, match="illegal action"):
            order_for(battle, "move notarealmove")
        with pytest.raises(KeyError):
            state.action("switch missingno")
    assert n > 0, f"{path.name} has no decision point"


def _check_option(option: ActionOption, state: BattleState, where: str) -> None:
    assert option is state.action(option.label)
    if option.kind == "move":
        assert option.label.startswith(f"move {option.id}")
        assert option.tera == option.label.endswith(" tera")
        assert option.category in {"physical", "special", "status"}
        assert option.accuracy is None or 0.0 < option.accuracy <= 1.0
        assert option.pp is not None and option.max_pp is not None
        assert 0 <= option.pp <= option.max_pp, (where, option)
        assert option.effectiveness in {0.0, 0.25, 0.5, 1.0, 2.0, 4.0}, (where, option)
        assert option.stab is not None
        if option.id == "terablast" and option.tera:
            assert option.type == state.player.active.tera_type, where
    elif option.kind == "switch":
        assert option.label == f"switch {option.id}"
        assert option.species == option.id
        assert option.hp_fraction is not None and 0.0 < option.hp_fraction <= 1.0
        bench = {m.species: m for m in state.player.bench}
        assert option.id in bench, where
        assert not bench[option.id].fainted
        assert option.incoming_effectiveness is not None
        assert option.outgoing_effectiveness is not None
    else:
        assert option.kind == "default" and option.label == "default"


def test_fixtures_cover_interesting_decisions() -> None:
    """The recordings hold the situations the state and agents must handle."""
    seen: set[str] = set()
    for path in FIXTURES:
        rec = load_recording(path)
        seen |= {"wait"} if any('|request|{"wait":true' in m for m in rec.messages) else set()
        for battle, request in decision_points(rec):
            state = BattleState.from_battle(battle)
            active = request.get("active", [{}])[0]
            if state.force_switch:
                seen.add("force_switch")
            if state.can_tera:
                seen.add("can_tera")
            if any(m.get("disabled") for m in active.get("moves", [])):
                seen.add("disabled_move")
            if state.trapped:
                seen.add("trapped")
            if state.player.active and state.player.active.terastallized:
                seen.add("terastallized")
            if state.player.conditions or state.opponent.conditions:
                seen.add("side_condition")
    missing = {
        "wait",
        "force_switch",
        "can_tera",
        "disabled_move",
        "trapped",
        "terastallized",
        "side_condition",
    } - seen
    assert not missing, f"fixtures lack {sorted(missing)}: record more battles"


def test_side_conditions_have_layers_or_turns() -> None:
    found = []
    for path in FIXTURES:
        for battle, _request in decision_points(path):
            state = BattleState.from_battle(battle)
            for side, raw in (
                (state.player, battle.side_conditions),
                (state.opponent, battle.opponent_side_conditions),
            ):
                assert len(side.conditions) == len(raw)
                for cond in side.conditions:
                    found.append(cond)
                    if cond.name in {"spikes", "toxicspikes"}:
                        assert cond.turns is None and 1 <= cond.layers <= 3
                    else:
                        assert cond.layers == 1 and cond.turns is not None
    assert found, "no side condition in any fixture"
    assert all(isinstance(c, SideConditionState) for c in found)


def test_wait_request_gives_only_default() -> None:
    battle = replay_to_end(FIXTURES[0])
    battle.parse_request({"wait": True, "side": battle.last_request["side"]})
    state = BattleState.from_battle(battle)
    assert state.wait
    assert state.labels == ["default"]
    assert state.actions[0].kind == "default"
    assert order_for(battle, "default").message == "/choose default"
    assert BattleState.from_dict(state.to_dict()) == state


def test_finished_battle_state_round_trips() -> None:
    for path in FIXTURES[:2]:
        battle = replay_to_end(path)
        assert battle.finished
        state = BattleState.from_battle(battle)
        assert BattleState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


def test_doubles_are_rejected() -> None:
    import logging

    from poke_env.battle.double_battle import DoubleBattle

    battle = DoubleBattle("battle-gen9randomdoublesbattle-1", "me", logging.getLogger(), gen=9)
    with pytest.raises(TypeError, match="singles"):
        BattleState.from_battle(battle)


def test_from_dict_rejects_another_version() -> None:
    battle, _request = next(decision_points(FIXTURES[0]))
    data = BattleState.from_battle(battle).to_dict()
    data["version"] = 999
    with pytest.raises(ValueError, match="version 999"):
        BattleState.from_dict(data)


@pytest.mark.parametrize("path", FIXTURES, ids=_ids)
def test_replay_is_faithful(path: Any) -> None:
    """poke-env's strict tracking agrees with every request; every choice is yielded."""
    rec = load_recording(path)
    requests = [m for m in rec.messages if m.startswith("|request|{")]
    choices = [m for m in requests if not m.startswith('|request|{"wait":true')]
    points = [request for _battle, request in decision_points(rec, strict=True)]
    assert len(points) == len(choices)
    assert all(not r.get("wait") and not r.get("teamPreview") for r in points)
    final = replay_to_end(rec)
    assert final.finished and final.won is not None

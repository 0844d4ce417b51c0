"""The `search` agent: its turn model, its choices in set-up positions, its legality over
recorded real battles, and its time budget."""

from __future__ import annotations

import math
import random
import time

import pytest

from agents.base import is_legal
from agents.search import SearchAgent
from agents.search_solver import Searcher, solve
from battle.model import Battle, Mon, Side, compute_stats, move_data, species_data
from battle.sets import SetPool
from battle.state import BattleState
from battle.turn import PASS, Action, TurnModel
from tests.fixture_battles import decision_points, fixture_paths

RANDOM_EVS = dict.fromkeys(("hp", "atk", "def", "spa", "spd", "spe"), 85)


def mon(species: str, level: int, moves: list[str], **kwargs) -> Mon:
    data = species_data(9, species)
    stats = compute_stats(data["baseStats"], level, RANDOM_EVS)
    hp = kwargs.pop("hp_fraction", 1.0)
    return Mon(
        species=species,
        level=level,
        types=tuple(t.lower() for t in data["types"]),
        stats=stats,
        hp=max(1, int(stats["hp"] * hp)) if hp > 0 else 0,
        moves=tuple(move_data(9, m) for m in moves),
        weight=data["weightkg"],
        **kwargs,
    )


def battle(own: list[Mon], foe: list[Mon], **field) -> Battle:
    b = Battle(9, (Side(own), Side(foe)))
    for key, value in field.items():
        setattr(b.field, key, value)
    return b


def labels_for(b: Battle, side: int = 0) -> tuple[list[Action], list[str]]:
    actions = TurnModel(9).legal_actions(b, side)
    labels = []
    for action in actions:
        if action.kind == "move":
            labels.append(f"move {b.sides[side].mon.moves[action.index].id}")
        else:
            labels.append(f"switch {b.sides[side].mons[action.index].species}")
    return actions, labels


# --------------------------------------------------------------------------- turn order


def test_priority_beats_speed_and_trick_room_reverses_speed():
    slow = mon("scizor", 80, ["bulletpunch", "swordsdance"])
    fast = mon("weavile", 80, ["knockoff", "iceshard"])
    b = battle([slow], [fast])
    model = TurnModel(9)
    # plain moves: the faster Weavile first
    assert model.move_order(b, (Action("move", 1), Action("move", 0)), [0, 1]) == [(1.0, [1, 0])]
    # Bullet Punch (+1) beats Knock Off (0) whatever the speeds
    assert model.move_order(b, (Action("move", 0), Action("move", 0)), [0, 1]) == [(1.0, [0, 1])]
    # same priority (+1 each): speed decides again
    assert model.move_order(b, (Action("move", 0), Action("move", 1)), [0, 1]) == [(1.0, [1, 0])]
    b.field.trick_room = 3
    assert model.move_order(b, (Action("move", 1), Action("move", 0)), [0, 1]) == [(1.0, [0, 1])]
    # priority still comes first under Trick Room
    assert model.move_order(b, (Action("move", 1), Action("move", 1)), [0, 1]) == [(1.0, [1, 0])]


def test_paralysis_and_speed_ties():
    a = mon("garchomp", 80, ["earthquake"])
    b_mon = mon("garchomp", 80, ["earthquake"])
    b = battle([a], [b_mon])
    model = TurnModel(9)
    tie = model.move_order(b, (Action("move", 0), Action("move", 0)), [0, 1])
    assert sorted(tie) == [(0.5, [0, 1]), (0.5, [1, 0])]
    b.sides[0].mon.status = "par"
    assert model.move_order(b, (Action("move", 0), Action("move", 0)), [0, 1]) == [(1.0, [1, 0])]


def test_outcomes_are_a_distribution_and_the_input_is_untouched():
    own = mon("garchomp", 80, ["earthquake", "stoneedge", "swordsdance", "stealthrock"])
    foe = mon("heatran", 80, ["magmastorm", "earthpower", "flashcannon", "stealthrock"])
    bench = mon("toxapex", 80, ["toxic", "recover", "haze", "surf"])
    b = battle([own, bench], [foe])
    before = (own.hp, foe.hp, dict(own.boosts), b.sides[1].stealth_rock)
    model = TurnModel(9)
    for action in model.legal_actions(b, 0):
        for reply in model.legal_actions(b, 1):
            outcomes = model.resolve(b, (action, reply))
            assert outcomes and abs(sum(p for p, _ in outcomes) - 1.0) < 1e-9
            for _, outcome in outcomes:
                assert -1.0 <= model.evaluate(outcome) <= 1.0
    assert (own.hp, foe.hp, dict(own.boosts), b.sides[1].stealth_rock) == before
    # Stone Edge misses 20% of the time: a miss branch exists
    edge = model.resolve(b, (Action("move", 1), Action("move", 3)))
    assert any(abs(p - 0.2) < 1e-9 for p, _ in edge)


def test_hazards_and_status_from_moves():
    own = mon("garchomp", 80, ["stealthrock"])
    foe = mon("clefable", 80, ["thunderwave"])
    b = battle([own], [foe, mon("charizard", 80, ["flamethrower"])])
    model = TurnModel(9)
    outcomes = model.resolve(b, (Action("move", 0), Action("move", 0)))
    # Garchomp is a ground type: Thunder Wave cannot paralyse it; the rocks go up
    assert all(o.sides[1].stealth_rock for _, o in outcomes)
    assert all(o.sides[0].mon.status == "" for _, o in outcomes)
    # Charizard switching into the rocks loses half its HP (4x weak to rock)
    b.sides[1].stealth_rock = True
    (_, after), *_ = model.resolve(b, (PASS, Action("switch", 1)))
    zard = after.sides[1].mon
    assert zard.species == "charizard" and zard.hp == zard.max_hp - zard.max_hp // 2


# --------------------------------------------------------------------------- choices


def test_search_takes_the_ko():
    own = mon("garchomp", 80, ["swordsdance", "earthquake", "dragonclaw", "stealthrock"])
    foe = mon("heatran", 80, ["magmastorm", "earthpower", "flashcannon", "taunt"],
              hp_fraction=0.35)  # fmt: skip
    b = battle([own, mon("toxapex", 80, ["toxic", "recover", "haze", "surf"])], [foe])
    actions, labels = labels_for(b)
    result = solve(TurnModel(9), [b], actions, labels)
    assert result.best == "move earthquake", result.reasoning()


def test_second_ply_refines_the_best_actions_and_keeps_the_ko():
    own = mon("garchomp", 80, ["swordsdance", "earthquake", "dragonclaw", "stealthrock"])
    foe = mon("heatran", 80, ["magmastorm", "earthpower", "flashcannon", "taunt"],
              hp_fraction=0.35)  # fmt: skip
    b = battle([own, mon("toxapex", 80, ["toxic", "recover", "haze", "surf"])], [foe])
    actions, labels = labels_for(b)
    result = solve(TurnModel(9), [b], actions, labels, second_ply=math.inf)
    assert result.plies == 2 and "2 plies" in result.reasoning()
    assert result.best == "move earthquake", result.reasoning()
    # no time left: the second ply is skipped, the one-ply values stand
    quick = solve(TurnModel(9), [b], actions, labels, second_ply=0.0, deadline=0.0)
    assert quick.plies == 1 and quick.best == "move earthquake"


def test_search_switches_out_of_a_faster_ko():
    # Iron Bundle outspeeds Garchomp and Ice Beam is 4x: Garchomp cannot KO it first.
    own = mon("garchomp", 80, ["earthquake", "dragonclaw", "stoneedge", "swordsdance"])
    wall = mon("toxapex", 80, ["toxic", "recover", "haze", "surf"])
    foe = mon("ironbundle", 80, ["icebeam", "hydropump", "freezedry", "uturn"])
    b = battle([own, wall], [foe])
    actions, labels = labels_for(b)
    result = solve(TurnModel(9), [b], actions, labels)
    assert result.best == "switch toxapex", result.reasoning()


def test_forced_switch_picks_the_safe_switch_in():
    own = mon("garchomp", 80, ["earthquake"], hp_fraction=0.0)
    weak = mon("dragonite", 80, ["extremespeed", "earthquake"])  # 4x weak to ice
    wall = mon("toxapex", 80, ["toxic", "recover", "haze", "surf"])
    foe = mon("ironbundle", 80, ["icebeam", "hydropump", "freezedry", "uturn"])
    b = battle([own, weak, wall], [foe])
    actions = [Action("switch", 1), Action("switch", 2)]
    labels = ["switch dragonite", "switch toxapex"]
    result = solve(TurnModel(9), [b], actions, labels, force_switch=True)
    assert result.best == "switch toxapex", result.reasoning()


def test_result_reasoning_and_candidates():
    own = mon("garchomp", 80, ["swordsdance", "earthquake"])
    foe = mon("heatran", 80, ["magmastorm"], hp_fraction=0.3)
    b = battle([own], [foe])
    actions, labels = labels_for(b)
    result = solve(TurnModel(9), [b, b.copy()], actions, labels)
    assert result.hypotheses == 2
    candidates = result.candidates()
    assert candidates[0][0] == result.best
    assert abs(sum(p for _, p in candidates) - 1.0) < 1e-5
    assert result.reasoning().startswith(result.best)
    assert "[2 hypotheses]" in result.reasoning()


# --------------------------------------------------------------------------- real states


@pytest.fixture(scope="module")
def pool(bundled_showdown: None) -> SetPool:
    """Showdown's gen9 random-battle sets (generated into the cache on first use)."""
    return SetPool.for_format("gen9randombattle")


def test_search_is_legal_on_every_recorded_decision(pool):
    agent = SearchAgent(seed=1, arg="5")
    seen = 0
    for path in fixture_paths()[:8]:
        for battle_, _request in decision_points(path):
            decision = agent.decide_sync(battle_)
            assert is_legal(decision.order, battle_), (path.name, battle_.turn, decision)
            assert not decision.fallback
            seen += 1
    assert seen > 50


def test_time_budget_is_honoured(pool):
    states = []
    for battle_, _request in decision_points(fixture_paths()[0]):
        if len(battle_.valid_orders) > 4 and not battle_.force_switch:
            states.append(BattleState.from_battle(battle_))
    assert states
    state = states[len(states) // 2]

    def run(budget_s: float) -> tuple[float, int]:
        searcher = Searcher(pool, budget_s, random.Random(0))
        start = time.thread_time()
        result = searcher.search(state)
        return time.thread_time() - start, result.hypotheses

    one_elapsed, one = run(1e-6)
    assert one == 1  # the first hypothesis always completes
    elapsed, many = run(0.25)
    assert many > 1
    # never more than the budget plus about one hypothesis' worth of work
    assert elapsed <= 0.25 + 2 * one_elapsed + 0.05, (elapsed, one_elapsed)


# --------------------------------------------------------------------------- settings


def test_budget_argument_and_tuning_errors_are_one_line(monkeypatch):
    from agents.registry import UnknownAgentError, preflight
    from agents.search import DEFAULT_BUDGET_MS
    from agents.search_game import Tuning

    assert SearchAgent().budget_ms == DEFAULT_BUDGET_MS
    agent = SearchAgent(arg="40")
    assert agent.budget_ms == 40 and agent.resolved == "search:40"
    assert agent.params == {"budget_ms": 40}
    for bad in ("0", "-5", "fast"):
        with pytest.raises(UnknownAgentError, match="milliseconds per decision"):
            preflight(f"search:{bad}")
    monkeypatch.setenv("SEARCH_TUNE", "nash=0.2,damage=0.7")
    assert Tuning.from_env() == Tuning(nash=0.2, damage=0.7)
    assert SearchAgent().params == {
        "budget_ms": DEFAULT_BUDGET_MS,
        "tuning": str(Tuning(nash=0.2, damage=0.7)),
    }
    for bad in ("nash=2", "depth=3", "nash"):
        monkeypatch.setenv("SEARCH_TUNE", bad)
        with pytest.raises(UnknownAgentError, match="SEARCH_TUNE"):
            preflight("search")

"""Team formats in agents/: the team preview order, the preview in the state, and prompts.

Battles are built offline by feeding poke-env's `Battle` the protocol lines and requests
Showdown sends in a team format (as captured from `main.py --format gen9ou --engine sim`):
`|poke|` lines and a `teamPreview` request in gen 9, none of that in gens 1-4.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import warnings
from typing import Any

import pytest
from poke_env.battle.battle import Battle
from poke_env.battle.move import Move
from poke_env.battle.pokemon import Pokemon
from poke_env.data import to_id_str

from agents.base import action_name, complete_team_order, team_preview_message, team_size
from agents.baselines import (
    MATCHUP_LEAD,
    HeuristicAgent,
    MaxDamageAgent,
    RandomAgent,
    matchup_score,
)
from battle.prompts import SYSTEM_PROMPT, render_state
from battle.state import PLACEHOLDER_MOVES, STATE_VERSION, BattleState, SideState

log = logging.getLogger("tests.team_preview")

# (details, moves, item, ability, tera type) of each Pokémon, in the order written.
Mon = tuple[str, tuple[str, ...], str, str, str]

OURS: list[Mon] = [
    ("Tyranitar, F", ("stealthrock", "stoneedge", "knockoff", "thunderwave"), "smoothrock",
     "sandstream", "Ghost"),
    ("Excadrill, F", ("swordsdance", "highhorsepower", "ironhead", "rapidspin"), "leftovers",
     "sandrush", "Ground"),
    ("Rotom-Wash", ("hydropump", "voltswitch", "willowisp", "painsplit"), "leftovers",
     "levitate", "Steel"),
    ("Iron Valiant", ("calmmind", "moonblast", "psyshock", "encore"), "boosterenergy",
     "quarkdrive", "Fairy"),
    ("Landorus-Therian, M", ("earthquake", "stoneedge", "uturn", "stealthrock"), "rockyhelmet",
     "intimidate", "Ground"),
    ("Corviknight, M", ("bravebird", "uturn", "roost", "defog"), "leftovers", "pressure",
     "Dragon"),
]  # fmt: skip
THEIRS = ["Great Tusk", "Kingambit, F", "Gholdengo", "Dragapult, F", "Ogerpon-Wellspring, F",
          "Slowking-Galar, F"]  # fmt: skip


def _species(details: str) -> str:
    return to_id_str(details.split(",")[0])


def _side(team: list[Mon], active: int | None, role: str = "p1") -> dict[str, Any]:
    """The `side` of a request for `team` (`active`: index of the active one, if any)."""
    pokemon = []
    for i, (details, moves, item, ability, tera) in enumerate(team):
        name = details.split(",")[0].split("-")[0]
        pokemon.append({
            "ident": f"{role}: {name}", "details": details, "condition": "300/300",
            "active": i == active, "stats": {"atk": 200, "def": 200, "spa": 200, "spd": 200,
            "spe": 200}, "moves": list(moves), "baseAbility": ability, "item": item,
            "pokeball": "pokeball", "ability": ability, "commanding": False,
            "reviving": False, "teraType": tera, "terastallized": "",
        })  # fmt: skip
    if active is not None:  # the request lists the active first
        pokemon.insert(0, pokemon.pop(active))
    return {"name": "alice", "id": role, "pokemon": pokemon}


def _move_request(team: list[Mon], active: int, gen: int) -> dict[str, Any]:
    # Showdown's active moves name Hidden Power by its plain id ("hiddenpower").
    moves = [
        {"move": m, "id": Move.retrieve_id(m), "pp": 16, "maxpp": 16, "target": "normal",
         "disabled": False}
        for m in team[active][1]
    ]  # fmt: skip
    active_entry: dict[str, Any] = {"moves": moves}
    if gen >= 9:
        active_entry["canTerastallize"] = team[active][4]
    return {"active": [active_entry], "side": _side(team, active), "rqid": 2}


def _feed(battle: Battle, lines: list[str]) -> None:
    """Protocol lines and `|request|` JSON, as poke-env's player hands them to a battle."""
    for line in lines:
        split = line.split("|")
        if split[1] == "request":
            battle.parse_request(json.loads(split[2]))
        else:
            battle.parse_message(split)


def _header(gen: int, tier: str) -> list[str]:
    return ["|init|battle", "|gametype|singles", "|player|p1|alice||", "|player|p2|bob||",
            f"|gen|{gen}", f"|tier|{tier}"]  # fmt: skip


def preview_battle(ours: list[Mon] = OURS, theirs: list[str] = THEIRS) -> Battle:
    """A gen 9 OU battle at team preview, from p1's (alice's) side."""
    battle = Battle("battle-gen9ou-1", "alice", log, gen=9)
    lines = [*_header(9, "[Gen 9] OU"), "|clearpoke"]
    lines += [f"|poke|p1|{mon[0]}|" for mon in ours]
    lines += [f"|poke|p2|{details}|" for details in theirs]
    lines += ["|teampreview"]
    request = {"teamPreview": True, "side": _side(ours, None), "rqid": 1}
    lines += ["|request|" + json.dumps(request)]
    _feed(battle, lines)
    assert battle.teampreview
    return battle


def started_battle(lead: int = 4) -> Battle:
    """The preview battle once both leads are out: ours `OURS[lead]`, theirs Ogerpon."""
    battle = preview_battle()
    name = OURS[lead][0].split(",")[0].split("-")[0]
    lines = ["|", "|teamsize|p1|6", "|teamsize|p2|6", "|start",
             f"|switch|p1a: {name}|{OURS[lead][0]}|300/300",
             "|switch|p2a: Ogerpon|Ogerpon-Wellspring, F|100/100", "|turn|1",
             "|request|" + json.dumps(_move_request(OURS, lead, 9))]  # fmt: skip
    _feed(battle, lines)
    assert not battle.teampreview
    return battle


def _old_team(gen: int) -> list[Mon]:
    fourth = "hiddenpowerghost" if gen >= 2 else "earthquake"  # Hidden Power: gens 2-7
    team: list[Mon] = [
        ("Tauros", ("bodyslam", "hyperbeam", "blizzard", fourth), "", "intimidate", ""),
        ("Snorlax", ("bodyslam", "rest", fourth, "selfdestruct"), "", "immunity", ""),
        ("Exeggutor", ("sleeppowder", "psychic", "explosion", "doubleedge"), "", "chlorophyll",
         ""),
    ]  # fmt: skip
    if gen >= 2:  # Showdown sends "" for no item, and names an ability even in gens 1-2
        team = [(d, m, "leftovers", a, t) for d, m, _item, a, t in team]
    return team


OLD_TEAM_GEN1 = _old_team(1)


def old_gen_battle(gen: int) -> Battle:
    """A battle in a format without team preview (gen 1-4 OU), at its first decision."""
    team = _old_team(gen)
    battle = Battle(f"battle-gen{gen}ou-1", "alice", log, gen=gen)
    lines = [*_header(gen, f"[Gen {gen}] OU"), "|", "|teamsize|p1|3", "|teamsize|p2|3",
             "|start", "|switch|p1a: Tauros|Tauros|300/300",
             "|switch|p2a: Chansey|Chansey, F|100/100", "|turn|1",
             "|request|" + json.dumps(_move_request(team, 0, gen))]  # fmt: skip
    _feed(battle, lines)
    return battle


# --------------------------------------------------------------------------- the message


class Hooked:
    """An agent whose `team_order` returns (or raises) what it is given."""

    name = "hooked"

    def __init__(self, answer: Any):
        self.answer = answer

    def team_order(self, battle: Any) -> Any:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_default_is_the_team_as_written() -> None:
    battle = preview_battle()
    assert team_size(battle) == 6
    for agent in (object(), RandomAgent(seed=1), MaxDamageAgent(seed=1), Hooked(None)):
        assert team_preview_message(agent, battle) == "/team 123456"


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ([3], "/team 312456"),
        ((4, 2), "/team 421356"),
        ([6, 5, 4, 3, 2, 1], "/team 654321"),
        ([], "/team 123456"),
        (iter([2]), "/team 213456"),
    ],
)
def test_a_partial_order_is_completed_as_written(order: Any, message: str) -> None:
    assert team_preview_message(Hooked(order), preview_battle()) == message


@pytest.mark.parametrize(
    "order",
    [[7], [0], [-1], [1, 1], ["1"], [1.0], [True], "12", 3, [1, 2, 3, 4, 5, 6, 1], [None]],
    ids=repr,
)
def test_an_invalid_order_is_logged_and_ignored(
    order: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="agents.base"):
        assert team_preview_message(Hooked(order), preview_battle()) == "/team 123456"
    assert "team_order returned" in caplog.text and "as written" in caplog.text


def test_a_raising_hook_is_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="agents.base"):
        message = team_preview_message(Hooked(RuntimeError("boom")), preview_battle())
    assert message == "/team 123456"
    assert "team_order failed" in caplog.text and "boom" in caplog.text


def test_an_async_hook_is_refused_without_a_never_awaited_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Async:
        name = "async"

        async def team_order(self, battle: Any) -> list[int]:
            return [2]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a "coroutine was never awaited" would raise
        assert team_preview_message(Async(), preview_battle()) == "/team 123456"
    assert "must be sync" in caplog.text


def test_team_size_from_the_request_else_the_teambuilder() -> None:
    small = preview_battle(ours=OURS[:3])
    assert team_preview_message(Hooked([3]), small) == "/team 312"
    built = Battle("battle-gen9ou-2", "alice", log, gen=9)
    assert team_size(built) == 1 and team_preview_message(object(), built) == "/team 1"
    built.teampreview_team = [Pokemon(gen=9, species=_species(m[0])) for m in OURS[:4]]
    assert team_preview_message(Hooked([4]), built) == "/team 4123"


def test_complete_team_order() -> None:
    assert complete_team_order([2], 3) == [2, 1, 3]
    assert complete_team_order([2, 2], 3) is None
    assert complete_team_order(None, 3) is None
    assert complete_team_order(range(3, 0, -1), 3) == [3, 2, 1]


# --------------------------------------------------------------------------- the heuristic


def _team(details: list[str], gen: int = 9) -> list[Mon]:
    return [(d, ("tackle",), "leftovers", "pressure", "Normal") for d in details]


def test_heuristic_leads_with_its_best_type_matchup() -> None:
    # Against an all-Fire preview, the one Water type (written 4th) leads; the rest as written.
    ours = _team(["Scizor", "Ferrothorn", "Abomasnow", "Vaporeon", "Snorlax", "Blissey"])
    theirs = ["Arcanine", "Cinderace", "Heatran", "Volcarona", "Chandelure", "Ninetales"]
    battle = preview_battle(ours, theirs)
    assert HeuristicAgent(seed=1).team_order(battle) is None  # the default: as written
    assert team_preview_message(HeuristicAgent(seed=1), battle) == "/team 123456"
    agent = HeuristicAgent(seed=1, arg=MATCHUP_LEAD)
    assert agent.team_order(battle) == [4]
    assert team_preview_message(agent, battle) == "/team 412356"
    scores = [matchup_score(mon, battle.teampreview_opponent_team) for mon in battle.team.values()]
    assert scores[3] == max(scores) and scores[2] == min(scores)  # Abomasnow: 4x weak to Fire


def test_heuristic_ties_keep_the_written_order() -> None:
    ours = _team(["Snorlax", "Vaporeon", "Blissey", "Milotic", "Chansey", "Kangaskhan"])
    theirs = ["Arcanine", "Cinderace", "Entei", "Flareon", "Magmortar", "Typhlosion"]
    battle = preview_battle(ours, theirs)
    # Vaporeon ties Milotic: the first one leads.
    assert HeuristicAgent(seed=1, arg=MATCHUP_LEAD).team_order(battle) == [2]


def test_heuristic_without_a_preview_brings_the_team_as_written() -> None:
    battle = Battle("battle-gen3ou-1", "alice", log, gen=3)
    agent = HeuristicAgent(seed=1, arg=MATCHUP_LEAD)
    assert agent.team_order(battle) is None
    assert team_preview_message(agent, battle) == "/team 1"


def test_heuristic_order_on_the_captured_gen9ou_preview() -> None:
    battle = preview_battle()
    order = HeuristicAgent(seed=1, arg=MATCHUP_LEAD).team_order(battle)
    assert order is not None and len(order) == 1
    foes = battle.teampreview_opponent_team
    scores = [matchup_score(mon, foes) for mon in battle.team.values()]
    assert order[0] == scores.index(max(scores)) + 1


# --------------------------------------------------------------------------- the state


def test_state_holds_both_previews() -> None:
    battle = preview_battle()
    state = BattleState.from_battle(battle)
    assert state.version == STATE_VERSION == 2
    assert state.player.preview == tuple(_species(m[0]) for m in OURS)
    assert state.opponent.preview == tuple(_species(d) for d in THEIRS)
    assert state.opponent.bench == ()  # previewed is not revealed
    started = BattleState.from_battle(started_battle())
    assert started.player.preview == state.player.preview  # as written, not as sent out
    assert started.opponent.preview == state.opponent.preview
    assert [m.species for m in started.opponent.pokemon] == ["ogerponwellspring"]


def test_own_preview_without_the_log_comes_from_the_team() -> None:
    battle = preview_battle()
    battle._replay_data = []
    assert BattleState.from_battle(battle).player.preview == tuple(_species(m[0]) for m in OURS)


def test_no_preview_before_gen5() -> None:
    for gen in (1, 2, 3, 4):
        state = BattleState.from_battle(old_gen_battle(gen))
        assert state.player.preview == () and state.opponent.preview == ()


def test_preview_round_trips_and_old_dicts_load() -> None:
    state = BattleState.from_battle(started_battle())
    assert BattleState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    side = state.opponent
    assert SideState.from_dict(side.to_dict()) == side
    old = state.to_dict()
    old["version"] = 1
    for key in ("player", "opponent"):
        del old[key]["preview"]
    loaded = BattleState.from_dict(old)
    assert loaded.version == STATE_VERSION
    assert loaded.player.preview == () and loaded.opponent.preview == ()
    assert loaded == dataclasses.replace(
        state,
        player=dataclasses.replace(state.player, preview=()),
        opponent=dataclasses.replace(state.opponent, preview=()),
    )


# --------------------------------------------------------------------------- the prompt


def test_prompt_lists_the_previewed_team_marking_the_seen() -> None:
    state = BattleState.from_battle(started_battle())
    prompt = render_state(state)
    assert (
        "Opponent's team (team preview): greattusk, kingambit, gholdengo, dragapult, "
        "ogerponwellspring (seen), slowkinggalar" in prompt.splitlines()
    )
    assert "Format: gen9ou" in prompt.splitlines()
    assert "Tera: you can terastallize (landorustherian to ground)" in prompt


def test_prompt_matches_a_hidden_forme_to_its_previewed_species() -> None:
    state = BattleState.from_battle(started_battle())
    foe = state.opponent
    shown = dataclasses.replace(foe.active, species="urshifurapidstrike")
    state = dataclasses.replace(
        state,
        opponent=dataclasses.replace(
            foe, active=shown, preview=("urshifu", "urshifurapidstrike", "garchomp")
        ),
    )
    line = next(x for x in render_state(state).splitlines() if x.startswith("Opponent's team"))
    assert line.endswith("urshifu, urshifurapidstrike (seen), garchomp")
    state = dataclasses.replace(
        state, opponent=dataclasses.replace(state.opponent, preview=("urshifu", "garchomp"))
    )
    line = next(x for x in render_state(state).splitlines() if x.startswith("Opponent's team"))
    assert line.endswith("urshifu (seen), garchomp")


def test_prompt_shows_the_own_bench_sets() -> None:
    prompt = render_state(BattleState.from_battle(started_battle()))
    lines = prompt.splitlines()
    assert "Your bench:" in lines
    assert (
        "- excadrill 100% ground/steel | ability sandrush | item leftovers | "
        "moves swordsdance highhorsepower ironhead rapidspin" in lines
    )
    assert sum(line.startswith("- ") for line in lines) == 5


def test_prompt_has_no_preview_line_without_one() -> None:
    for gen in (1, 2, 3, 4):
        prompt = render_state(BattleState.from_battle(old_gen_battle(gen)))
        assert "team preview" not in prompt
        assert f"Format: gen{gen}ou" in prompt


@pytest.mark.parametrize("gen", [1, 2, 3, 4])
def test_prompt_shows_only_what_the_generation_has(gen: int) -> None:
    battle = old_gen_battle(gen)
    state = BattleState.from_battle(battle)
    prompt = render_state(state)
    assert "Tera" not in prompt and "tera" not in prompt  # no tera before gen 9
    assert ("ability" in prompt) == (gen >= 3)  # none in gens 1-2, though Showdown names one
    assert ("item" in prompt) == (gen >= 2)  # no held items in gen 1
    assert "None" not in prompt
    fourth = "hiddenpowerghost" if gen >= 2 else "earthquake"
    bench = next(x for x in prompt.splitlines() if x.startswith("- snorlax"))
    assert bench.endswith(f"| moves bodyslam rest {fourth} selfdestruct")
    assert f"\nmove {fourth}: {'ghost' if gen >= 2 else 'ground'} " in prompt
    assert state.labels == [
        "switch snorlax", "switch exeggutor", "move bodyslam", "move hyperbeam",
        "move blizzard", f"move {fourth}",
    ]  # fmt: skip


@pytest.mark.parametrize(("move", "name"), [("fight", "Fight"), ("recharge", "Recharge")])
def test_placeholder_moves_read_as_what_they_are(move: str, name: str) -> None:
    """Gen 1's "Fight" (asleep, frozen, partially trapped) and "Recharge": no real move."""
    battle = old_gen_battle(1)
    request = _move_request(OLD_TEAM_GEN1, 0, 1)
    request["active"][0]["moves"] = [{"move": name, "id": move}]
    request["rqid"] = 3
    battle.parse_request(request)
    state = BattleState.from_battle(battle)
    option = state.action(f"move {move}")
    assert option.accuracy is None and option.id in PLACEHOLDER_MOVES
    line = next(x for x in render_state(state).splitlines() if x.startswith(f"move {move}: "))
    assert "power" not in line and "acc" not in line and "x1 vs" not in line


def test_system_prompt_names_no_single_format() -> None:
    assert "random battle" not in SYSTEM_PROMPT
    assert "the format is named in each prompt" in SYSTEM_PROMPT


def test_agents_still_decide_in_a_team_format() -> None:
    battle = started_battle()

    async def run() -> None:
        for agent in (RandomAgent(seed=1), MaxDamageAgent(seed=1), HeuristicAgent(seed=1)):
            decision = await agent.decide(battle)
            assert decision.order.message in {o.message for o in battle.valid_orders}

    asyncio.run(run())


# --------------------------------------------------------------------------- metamon features


def test_metamon_sees_and_can_choose_hidden_power() -> None:
    from battle.metamon import metamon_state
    from battle.metamon_actions import action_index, order_for_index

    battle = old_gen_battle(3)
    (order,) = [o for o in battle.valid_orders if action_name(o) == "move hiddenpowerghost"]
    moves = metamon_state(battle)["player_active_pokemon"]["moves"]
    (hidden_power,) = [m for m in moves if m["name"].startswith("hiddenpower")]
    assert hidden_power["move_type"] == "ghost" and hidden_power["base_power"] > 0
    assert action_index(order, battle) != -1
    assert order_for_index(action_index(order, battle), battle).message == order.message


def test_heuristic_arguments_are_checked_before_any_battle() -> None:
    import agents

    assert agents.create("heuristic:matchup-lead", seed=1).resolved == "heuristic:matchup-lead"
    with pytest.raises(agents.UnknownAgentError, match="heuristic takes no argument or"):
        agents.preflight("heuristic:best-lead")

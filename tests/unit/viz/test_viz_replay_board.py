"""The viewer's board (both teams and the field at the end of each turn), its wording of
Showdown's effects, the team preview, and the JSON the page embeds."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest

from battle.record import DecisionRecord
from viz.replay import Board, Replay, SideView, effect_name, parse_replay
from viz.viewer import script_json, viewer_data

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
VIZ = FIXTURES / "viz"
TEAM_LOG = VIZ / "battle-gen9ou-958c701.log"

HEAD = """>battle-gen9randombattle-1
|player|p1|alice|1|
|player|p2|bob|2|
|gen|9
|teamsize|p1|6
|teamsize|p2|6
|start
|switch|p1a: Iron Bundle|Iron Bundle, L80|250/250
|switch|p2a: Gyarados|Gyarados, L80, F|100/100
|turn|1
"""


def last_board(text: str) -> Board:
    board = parse_replay(HEAD + text).turns[-1].board
    assert board is not None
    return board


def side(text: str, name: str = "p2") -> SideView:
    return last_board(text).sides[name]


def mon(view: SideView, name: str):
    return next(m for m in view.mons if m.name == name)


def texts(replay: Replay) -> list[str]:
    return [e.text for turn in replay.turns for e in turn.events]


def all_logs() -> list[tuple[str, str]]:
    """Every real protocol log among the fixtures: the viewer's own, the replays of every
    generation, and the battles recorded message by message."""
    logs = [(p.name, p.read_text()) for p in sorted(VIZ.glob("*.log"))]
    for path in sorted((FIXTURES / "replays").glob("*/*.json.gz")):
        logs.append((path.name, json.loads(gzip.decompress(path.read_bytes()))["log"]))
    for path in sorted((FIXTURES / "battles").glob("*.json.gz")):
        messages = json.loads(gzip.decompress(path.read_bytes()))["messages"]
        logs.append((path.name, "\n".join(m for m in messages if not m.startswith("|request|"))))
    return logs


LOGS = all_logs()


# --- the board ---------------------------------------------------------------------


def test_hp_from_damage_and_heal_lines():
    p2 = side("|-damage|p2a: Gyarados|45/100\n")
    assert mon(p2, "Gyarados").hp == 45
    p1 = side("|-damage|p1a: Iron Bundle|100/250\n|-heal|p1a: Iron Bundle|125/250\n", "p1")
    assert mon(p1, "Iron Bundle").hp == 50  # absolute HP of p1's own Pokémon -> percent


def test_status_from_status_lines_and_hp_strings():
    assert mon(side("|-status|p2a: Gyarados|brn\n"), "Gyarados").status == "brn"
    assert mon(side("|-damage|p2a: Gyarados|80/100 tox|[from] psn\n"), "Gyarados").status == "tox"
    cured = side("|-status|p2a: Gyarados|par\n|-curestatus|p2a: Gyarados|par\n")
    assert mon(cured, "Gyarados").status == ""


def test_faint_and_unknown_slots():
    p2 = side(
        "|-damage|p2a: Gyarados|0 fnt\n|faint|p2a: Gyarados\n"
        "|switch|p2a: Zapdos|Zapdos, L80|100/100\n"
    )
    assert [(m.name, m.hp, m.status) for m in p2.mons] == [
        ("Gyarados", 0, "fnt"),
        ("Zapdos", 100, ""),
    ]
    assert p2.active == 1 and p2.unknown == 4
    assert mon(p2, "Zapdos").types == ("Electric", "Flying")
    assert side("", "p1").unknown == 5


def test_hazards_stack_and_are_removed():
    p2 = side(
        "|-sidestart|p2: bob|move: Stealth Rock\n"
        "|-sidestart|p2: bob|Spikes\n|-sidestart|p2: bob|Spikes\n"
        "|-sidestart|p2: bob|Spikes\n|-sidestart|p2: bob|Spikes\n"
        "|-sidestart|p2: bob|move: Toxic Spikes\n|-sidestart|p2: bob|move: Sticky Web\n"
        "|-sidestart|p2: bob|Reflect\n"
    )
    assert p2.conditions == ("Stealth Rock", "Spikes ×3", "Toxic Spikes", "Sticky Web", "Reflect")
    cleared = side(
        "|-sidestart|p2: bob|move: Stealth Rock\n|-sidestart|p2: bob|Spikes\n"
        "|-sideend|p2: bob|Stealth Rock|[from] move: Rapid Spin|[of] p2a: Gyarados\n"
    )
    assert cleared.conditions == ("Spikes",)
    assert side("|-sidestart|p2: bob|move: Stealth Rock\n", "p1").conditions == ()


def test_weather_terrain_and_trick_room():
    board = last_board(
        "|-weather|RainDance|[from] ability: Drizzle|[of] p2a: Gyarados\n"
        "|-fieldstart|move: Grassy Terrain|[from] ability: Grassy Surge\n"
        "|-fieldstart|move: Electric Terrain\n|-fieldstart|move: Trick Room\n"
    )
    assert board.weather == "Rain"
    assert board.field == ("Electric Terrain", "Trick Room")  # one terrain at a time
    board = last_board(
        "|-weather|SunnyDay\n|-weather|none\n"
        "|-fieldstart|move: Trick Room\n|-fieldend|move: Trick Room\n"
    )
    assert board.weather is None and board.field == ()


def test_boosts_and_volatiles_belong_to_the_active_pokemon():
    p2 = side(
        "|-boost|p2a: Gyarados|atk|1\n|-boost|p2a: Gyarados|atk|1\n|-unboost|p2a: Gyarados|spe|1\n"
        "|-start|p2a: Gyarados|Substitute\n"
    )
    assert p2.boosts == (("atk", 2), ("spe", -1))
    assert p2.volatiles == ("Substitute",)
    p2 = side(
        "|-boost|p2a: Gyarados|atk|1\n|-start|p2a: Gyarados|move: Taunt\n"
        "|switch|p2a: Zapdos|Zapdos, L80|100/100\n"
    )
    assert p2.boosts == () and p2.volatiles == ()


def test_quark_drive_and_supreme_overlord():
    lines = (
        "|-activate|p1a: Iron Bundle|ability: Quark Drive|[fromitem]\n"
        "|-start|p1a: Iron Bundle|quarkdrivespe\n"
        "|-start|p2a: Gyarados|fallen2|[silent]\n"
    )
    replay = parse_replay(HEAD + lines)
    assert "Iron Bundle (p1): Quark Drive (Speed) started" in texts(replay)
    board = replay.turns[-1].board
    assert board is not None
    assert board.sides["p1"].volatiles == ("Quark Drive (Speed)",)
    assert board.sides["p2"].volatiles == ("Supreme Overlord (2 fainted)",)
    ended = parse_replay(
        HEAD + lines + "|-end|p1a: Iron Bundle|Quark Drive|[silent]\n"
        "|-end|p2a: Gyarados|fallenundefined|[silent]\n"
    )
    board = ended.turns[-1].board
    assert board is not None
    assert board.sides["p1"].volatiles == () and board.sides["p2"].volatiles == ()
    assert not any("undefined" in t or "fallen" in t for t in texts(ended))


def test_tera_and_forme_change():
    p2 = side(
        "|-terastallize|p2a: Gyarados|Water\n|detailschange|p2a: Gyarados|Gyarados-Mega, L80, F\n"
    )
    gyarados = mon(p2, "Gyarados")
    assert gyarados.tera == "Water"
    assert gyarados.species == "Gyarados-Mega" and gyarados.types == ("Water", "Dark")


def test_illusion_is_taken_back():
    p2 = side(
        "|switch|p2a: Zapdos|Zapdos, L80|100/100\n|-damage|p2a: Zapdos|60/100\n"
        "|replace|p2a: Zoroark|Zoroark, L80, M\n"
        "|-end|p2a: Zoroark|Illusion\n"
    )
    assert [(m.name, m.hp) for m in p2.mons] == [("Gyarados", 100), ("Zoroark", 60)]
    assert p2.active == 1


def test_illusion_of_a_previewed_pokemon_is_taken_back():
    replay = parse_replay(
        ">battle-gen9ou-2\n|player|p1|alice|1|\n|player|p2|bob|2|\n|clearpoke\n"
        "|poke|p1|Garchomp, M|\n|poke|p2|Zoroark-Hisui, M|\n|poke|p2|Gengar, M|\n"
        "|teampreview\n|teamsize|p1|1\n|teamsize|p2|2\n|start\n"
        "|switch|p1a: Garchomp|Garchomp, M|357/357\n|switch|p2a: Gengar|Gengar, M|100/100\n"
        "|turn|1\n|-damage|p2a: Gengar|60/100\n"
        "|replace|p2a: Zoroark|Zoroark-Hisui, M\n|-end|p2a: Zoroark|Illusion\n"
    )
    assert "p2's Pokémon was really Zoroark (Illusion)" in texts(replay)
    board = replay.turns[-1].board
    assert board is not None
    p2 = board.sides["p2"]
    assert [(m.name, m.species, m.hp) for m in p2.mons] == [
        ("Zoroark", "Zoroark-Hisui", 60),
        ("Gengar", "Gengar", None),  # previewed, still not seen in the battle
    ]
    assert p2.active == 0


def test_team_preview_of_a_synthetic_log():
    replay = parse_replay(
        ">battle-gen9ou-1\n|player|p1|alice|1|\n|player|p2|bob|2|\n|gen|9\n|clearpoke\n"
        "|poke|p1|Garchomp, M|item\n|poke|p1|Urshifu-*, F|item\n"
        "|poke|p2|Kingambit, F|\n|poke|p2|Gholdengo|\n|teampreview\n|\n"
        "|teamsize|p1|2\n|teamsize|p2|2\n|start\n"
        "|switch|p1a: Chompy|Garchomp, L100, M|357/357\n"
        "|switch|p2a: Gholdengo|Gholdengo|100/100\n|turn|1\n"
        "|switch|p1a: Fishy|Urshifu-Rapid-Strike, F|341/341\n"
    )
    preview, leads, turn1 = replay.turns
    assert (preview.number, preview.label, leads.label, turn1.label) == (
        -1,
        "Team preview",
        "Leads",
        "Turn 1",
    )
    assert "p1 (alice) brought: Garchomp, Urshifu-*" in texts(replay)
    assert preview.board is not None
    p1 = preview.board.sides["p1"]
    assert [(m.name, m.hp) for m in p1.mons] == [("Garchomp", None), ("Urshifu-*", None)]
    assert p1.active is None and p1.unknown == 0
    assert preview.board.sides["p2"].mons[1].types == ("Steel", "Ghost")
    assert turn1.board is not None
    p1 = turn1.board.sides["p1"]
    assert [(m.name, m.species, m.hp) for m in p1.mons] == [
        ("Chompy", "Garchomp", 100),
        ("Fishy", "Urshifu-Rapid-Strike", 100),
    ]
    assert p1.mons[1].types == ("Fighting", "Water") and p1.active == 1
    p2 = turn1.board.sides["p2"]
    assert [(m.name, m.hp) for m in p2.mons] == [("Kingambit", None), ("Gholdengo", 100)]


def test_team_preview_of_a_real_log():
    replay = parse_replay(TEAM_LOG.read_text())
    preview = replay.turns[0]
    assert preview.label == "Team preview" and preview.board is not None
    for name in ("p1", "p2"):
        view = preview.board.sides[name]
        assert len(view.mons) == 6 and view.unknown == 0
        assert all(m.hp is None and m.types for m in view.mons)
    last = replay.turns[-1].board
    assert last is not None
    assert all(len(last.sides[s].mons) == 6 for s in ("p1", "p2"))
    # Stealth Rock on p2's side, cleared by Defog on turn 12 and set again
    by_turn = {t.number: t for t in replay.turns}
    assert by_turn[1].board.sides["p2"].conditions == ("Stealth Rock",)
    assert "Stealth Rock ended on p2's side (Defog)" in [e.text for e in by_turn[12].events]
    assert by_turn[12].board.sides["p2"].conditions == ("Stealth Rock",)
    gliscor = mon(by_turn[12].board.sides["p2"], "Gliscor")
    assert gliscor.status == "tox"  # Toxic Orb


@pytest.mark.parametrize(("name", "text"), LOGS, ids=[n for n, _ in LOGS])
def test_boards_of_every_fixture_log_are_consistent(name: str, text: str):
    replay = parse_replay(text)
    assert replay.turns
    fainted = {"p1": 0, "p2": 0}
    for turn in replay.turns:
        board = turn.board
        assert board is not None, turn.label
        for s, view in board.sides.items():
            assert view.active is None or 0 <= view.active < len(view.mons)
            assert len(view.mons) + view.unknown <= 6
            for m in view.mons:
                assert m.hp is None or 0 <= m.hp <= 100
                assert (m.status == "fnt") == (m.hp == 0), (turn.label, m)
                assert m.types, m.species  # every species is in the pokedex
            count = sum(m.status == "fnt" for m in view.mons)
            assert count >= fainted[s]  # nobody comes back
            fainted[s] = count
    if replay.winner in ("p1", "p2"):
        loser = "p2" if replay.winner == "p1" else "p1"
        final = replay.turns[-1].board
        assert final is not None
        assert all(m.status == "fnt" for m in final.sides[loser].mons)


# --- words, not ids ----------------------------------------------------------------

RAW = re.compile(r"undefined|\[(from|of|silent|still|upkeep)\]|\bp[12][ab]:|quarkdrive|fallen\d")


@pytest.mark.parametrize(("name", "text"), LOGS, ids=[n for n, _ in LOGS])
def test_no_event_text_with_raw_ids(name: str, text: str):
    replay = parse_replay(text)
    for line in texts(replay):
        assert not RAW.search(line), line
    for turn in replay.turns:
        for e in turn.events:
            if e.kind == "effect" and ": " in e.text:  # "X (p1): Taunt started"
                effect = e.text.split(": ", 1)[1]
                assert effect[:1].isupper(), e.text


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("move: Taunt", "Taunt"),
        ("Substitute", "Substitute"),
        ("confusion", "Confusion"),
        ("quarkdrivespe", "Quark Drive (Speed)"),
        ("protosynthesisatk", "Protosynthesis (Attack)"),
        ("ability: Quark Drive", "Quark Drive"),
        ("fallen3", "Supreme Overlord (3 fainted)"),
        ("fallenundefined", None),
        ("perish2", "Perish count 2"),
        ("stockpile1", "Stockpile 1"),
        ("leechseed", "Leech Seed"),  # an id of a move: its name
        ("gmaxsteelsurge", "G-Max Steelsurge"),
        ("somethingunknown", None),  # an id with no readable form is left out
        ("", None),
    ],
)
def test_effect_names(raw: str, name: str | None):
    assert effect_name(raw) == name


def test_readable_wording_of_other_lines():
    replay = parse_replay(
        HEAD + "|-enditem|p2a: Gyarados|Sitrus Berry|[eat]\n"
        "|-enditem|p2a: Gyarados|Leftovers|[from] move: Knock Off|[of] p1a: Iron Bundle\n"
        "|-enditem|p2a: Gyarados|Sitrus Berry|[from] stealeat|[move] Bug Bite|[of] p1a: X\n"
        "|-heal|p2a: Gyarados|100/100|[from] drain|[of] p1a: Iron Bundle\n"
        "|cant|p2a: Gyarados|recharge\n|cant|p1a: Iron Bundle|move: Taunt|Protect\n"
        "|-activate|p2a: Gyarados|move: Protect\n|-activate|p2a: Gyarados|Orichalcum Pulse\n"
        "|-start|p2a: Gyarados|typechange|Fire/Water|[from] ability: Protean\n"
    )
    lines = texts(replay)
    assert "Gyarados (p2) ate its Sitrus Berry" in lines
    assert "Gyarados (p2) lost its Leftovers (Knock Off)" in lines
    assert "Gyarados (p2) lost its Sitrus Berry" in lines  # no "(stealeat)"
    assert "Gyarados (p2) healed: 100% → 100%" in lines  # no "(drain)"
    assert "Gyarados (p2) could not move (must recharge)" in lines
    assert "Iron Bundle (p1) could not move (Taunt)" in lines
    assert "Gyarados (p2) protected itself" in lines
    assert "Gyarados (p2)'s type changed to Fire/Water (Protean)" in lines
    assert not any("Orichalcum" in line for line in lines)


# --- the page's JSON ---------------------------------------------------------------


def decision(turn: int, side: str, action: str, **extra) -> DecisionRecord:
    return DecisionRecord("battle-gen9randombattle-52", turn, side, action, 12.5, **extra)


def test_viewer_data_has_steps_boards_and_decisions():
    replay = parse_replay((VIZ / "battle-gen9randombattle-52.log").read_text())
    decisions = [
        decision(1, "p1", "move stealthrock", candidates=[("move stealthrock", 0.7)] * 12),
        decision(1, "p2", "move psyshock", fallback=True, fallback_reason="timeout"),
        decision(4, "p2", "switch grumpig", reasoning="x" * 5000),
    ]
    data = viewer_data(replay, decisions, {"p1": "llm:mini", "p2": "random"})
    assert [s["label"] for s in data["steps"][:2]] == ["Leads", "Turn 1"]
    assert data["players"] == {"p1": "vizrec1", "p2": "vizrec2"}
    turn1 = data["steps"][1]
    assert ["move", "p2", "Grumpig (p2) used Psyshock → Tyranitar (p1): 100% → 69%"] in turn1["ev"]
    board = turn1["b"]
    assert board["w"] == "Sandstorm"
    assert board["p2"]["c"] == ["Stealth Rock"] and board["p2"]["u"] == 5
    index, hp, status, tera = board["p1"]["m"][0]
    assert data["mons"]["p1"][index] == ["Tyranitar", "Tyranitar", ["Rock", "Dark"]]
    assert (hp, status, tera) == (69, "", "Ghost")
    assert [d["s"] for d in data["dec"]["1"]] == ["p1", "p2"]
    assert len(data["dec"]["1"][0]["c"]) == 8 and data["dec"]["1"][0]["cn"] == 12
    assert data["dec"]["1"][1]["fb"] == "timeout"
    assert len(data["dec"]["4"][0]["r"]) < 1100
    assert data["result"] == "vizrec1 (p1) won"


def test_viewer_data_without_a_replay():
    data = viewer_data(None, [decision(3, "p1", "move tackle")])
    assert data["steps"] == [] and list(data["dec"]) == ["3"]


def test_script_json_cannot_end_its_script_element():
    data = {"r": "</script><script>alert(1)</script> & <!-- \u2028"}
    text = str(script_json(data))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == data

"""The protocol-log parser of the battle viewer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from viz.replay import Replay, load_replay, parse_hp, parse_replay

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "viz"
LOGS = sorted(FIXTURES.glob("*.log"))
PCT = re.compile(r"(\d+)% → (\d+)%")


def events(replay: Replay) -> list[str]:
    return [e.text for turn in replay.turns for e in turn.events]


def test_fixture_logs_exist():
    assert len(LOGS) >= 2


@pytest.mark.parametrize("log_path", LOGS, ids=lambda p: p.stem)
def test_real_log_has_turns_hp_and_winner(log_path: Path):
    text = log_path.read_text()
    replay = parse_replay(text)
    assert replay.battle_tag == log_path.stem
    assert set(replay.players) == {"p1", "p2"}
    assert replay.winner in ("p1", "p2", "draw")
    numbers = [t.number for t in replay.turns]
    if "\n|poke|" in text:  # a team format: the team preview comes first
        assert numbers.pop(0) == -1
    assert numbers[0] == 0
    assert numbers[1:] == list(range(1, text.count("\n|turn|") + 1))
    changes = [m for line in events(replay) for m in PCT.findall(line)]
    assert changes, "no HP change was read"
    assert all(0 <= int(a) <= 100 and 0 <= int(b) <= 100 for a, b in changes)
    for turn in replay.turns:
        for _name, hp in turn.active.values():
            assert 0 <= hp <= 100
    assert events(replay)[-1].endswith("won the battle")


def test_winners_match_the_run_record():
    record = json.loads((FIXTURES / "vizfixture.json").read_text())
    for battle in record["battles"]:
        path = FIXTURES / (battle["replay"] or "missing")
        if path.exists():
            assert parse_replay(path.read_text()).winner == battle["winner"]


def test_known_lines_of_a_real_log():
    replay = parse_replay((FIXTURES / "battle-gen9randombattle-52.log").read_text())
    lines = events(replay)
    # p1's own HP is absolute in the log (197/284), the opponent's is a percentage
    assert "Grumpig (p2) used Psyshock → Tyranitar (p1): 100% → 69%" in lines
    assert "Tyranitar (p1) used Knock Off → Lunala (p2): 88% → 0% (super effective)" in lines
    assert "Lunala (p2) fainted" in lines
    assert "Tyranitar (p1) terastallized into the Ghost type" in lines
    assert "Weather: Sandstorm (Sand Stream)" in lines
    assert replay.winner == "p1"
    assert replay.winner_text == "vizrec1 (p1) won"


SYNTHETIC = """>battle-gen9randombattle-7
|j|☆alice
|c|☆alice|<b>hello</b>
|raw|<div>room html</div>
|t:|1700000000
|inactive|Time left: 150 sec.
|html|<p>x</p>
|player|p1|alice|1|
|player|p2|bob|2|
|
|start
|switch|p1a: Pikachu|Pikachu, L88, M|250/250
|switch|p2a: Gyarados|Gyarados, L80, F|100/100
|turn|1
|-terastallize|p1a: Pikachu|Electric
|move|p1a: Pikachu|Thunderbolt|p2a: Gyarados
|-supereffective|p2a: Gyarados
|-crit|p2a: Gyarados
|-damage|p2a: Gyarados|35/100
|move|p2a: Gyarados|Dragon Dance|p2a: Gyarados
|-boost|p2a: Gyarados|atk|1
|-weather|RainDance
|upkeep
|turn|2
|move|p2a: Gyarados|Waterfall|p1a: Pikachu|[miss]
|-miss|p2a: Gyarados|p1a: Pikachu
|move|p1a: Pikachu|Nuzzle|p2a: Gyarados
|-damage|p2a: Gyarados|30/100 par
|-status|p2a: Gyarados|par
|-damage|p1a: Pikachu|120/250 par|[from] item: Life Orb
|-weather|RainDance|[upkeep]
|somethingnew|p1a: Pikachu|??
|move
|-damage|p1a: Pikachu|garbage
|switch|nonsense
|turn|x
|move|p2a: Gyarados|Bullet Seed|p1a: Pikachu
|-damage|p1a: Pikachu|100/250
|-damage|p1a: Pikachu|50/250
|-hitcount|p1a: Pikachu|2
|-unboost|p1a: Pikachu|spe|1
|move|p1a: Pikachu|Thunder|p2a: Gyarados
|-damage|p2a: Gyarados|0 fnt
|faint|p2a: Gyarados
|
|win|alice
"""


def test_synthetic_log_every_kind_of_line():
    replay = parse_replay(SYNTHETIC)
    lines = events(replay)
    assert replay.battle_tag == "battle-gen9randombattle-7"
    assert replay.players == {"p1": "alice", "p2": "bob"}
    assert lines[:2] == ["p1 sent out Pikachu (100%)", "p2 sent out Gyarados (100%)"]
    assert "Pikachu (p1) terastallized into the Electric type" in lines
    assert (
        "Pikachu (p1) used Thunderbolt → Gyarados (p2): 100% → 35% (super effective, critical hit)"
    ) in lines
    assert "Gyarados (p2) used Dragon Dance" in lines
    assert "Gyarados (p2): Attack +1" in lines
    assert "Weather: Rain" in lines
    assert lines.count("Weather: Rain") == 1  # the [upkeep] reminder is not news
    assert "Gyarados (p2) used Waterfall → Pikachu (p1) (missed)" in lines
    assert "Pikachu (p1) used Nuzzle → Gyarados (p2): 35% → 30%" in lines
    assert "Gyarados (p2) is paralyzed" in lines
    assert "Pikachu (p1) lost HP: 100% → 48% (Life Orb)" in lines
    assert "Gyarados (p2) used Bullet Seed → Pikachu (p1): 48% → 20% (hit 2 times)" in lines
    assert "Pikachu (p1): Speed -1" in lines
    assert "Gyarados (p2) fainted" in lines
    assert lines[-1] == "alice (p1) won the battle"
    assert replay.winner == "p1"
    assert not any("hello" in line or "room html" in line for line in lines)
    assert [t.number for t in replay.turns] == [0, 1, 2, 3]  # "|turn|x" counts on
    assert replay.turns[1].active == {"p1": ("Pikachu", 100), "p2": ("Gyarados", 35)}


def test_tie_and_no_result():
    assert parse_replay(">battle-x\n|player|p1|a|\n|player|p2|b|\n|turn|1\n|tie").winner == "draw"
    empty = parse_replay("")
    assert empty.winner is None and empty.turns == []
    assert empty.winner_text == "The log has no result"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("250/300", 83),
        ("35/100", 35),
        ("120/300 par", 40),
        ("0 fnt", 0),
        ("1/400", 1),  # alive is never 0%
        ("300/300", 100),
        ("garbage", None),
        ("5/0", None),
    ],
)
def test_parse_hp(value: str, expected: int | None):
    assert parse_hp(value) == expected


def test_load_replay_missing_and_unsafe(tmp_path: Path):
    assert isinstance(load_replay(tmp_path, None), str)
    assert "not available" in str(load_replay(tmp_path, "run/replays/none.log"))
    assert "outside" in str(load_replay(tmp_path, "../../etc/passwd"))
    assert "outside" in str(load_replay(tmp_path, "/etc/passwd"))
    (tmp_path / "run" / "replays").mkdir(parents=True)
    (tmp_path / "run" / "replays" / "b.log").write_bytes(b">b\n|turn|1\n|c|x|\xff\xfe\n|tie\n")
    replay = load_replay(tmp_path, "run/replays/b.log")
    assert isinstance(replay, Replay) and replay.winner == "draw"

"""battle.finetune_prompt and finetune.dataset on real replays recorded from the bundled simulator.

Fixtures: tests/fixtures/replays/ (re-create with tests/fixtures/make_replays.py). One Node
re-run process serves the whole session (the `rerunner` fixture).
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from poke_env.battle.battle import Battle
from poke_env.battle.move import Move

from battle.finetune_prompt import (
    Option,
    _unique,
    legal_options,
    render_move,
    render_prompt,
    render_switch,
)
from finetune import build, dataset, pairs, protocol, rerun

REPO = Path(__file__).resolve().parents[3]
REPLAYS = REPO / "tests" / "fixtures" / "replays"
PATHS = sorted(REPLAYS.rglob("*.json.gz"))
WITH_INPUTLOG = [p for p in PATHS if not p.name.endswith("s.json.gz")]
SPECTATOR_ONLY = [p for p in PATHS if p.name.endswith("s.json.gz")]
# A gen9 battle with an input log that also has a copy without it.
GEN9 = next(
    p
    for p in WITH_INPUTLOG
    if p.parent.name == "gen9randombattle"
    and p.with_name(p.name.replace(".json", "s.json")).exists()
)

# node re-runs input logs in the bundled simulator: installed on first use, never skipped
pytestmark = pytest.mark.usefixtures("bundled_showdown")


def _load(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


@pytest.fixture(scope="module")
def rerunner():
    with rerun.Rerunner() as r:
        yield r


@pytest.fixture(scope="module")
def results(rerunner) -> dict[str, pairs.ReplayResult]:
    """Every fixture read both sides' way, with and without re-running."""
    out = {}
    for path in PATHS:
        replay = _load(path)
        out[replay["id"]] = pairs.process_replay(replay, sides="both", rerunner=rerunner)
        out[replay["id"] + "/spectator"] = pairs.process_replay(replay, sides="both")
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory, rerunner) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("dataset")
    config = dataset.Config(replays=REPLAYS, out=out, sides="both", val_fraction=0.3)
    return out, dataset.build(config)


def _records(folder: Path) -> dict[str, list[dict]]:
    return {
        name: [json.loads(line) for line in (folder / f"{name}.jsonl").read_text().splitlines()]
        for name in ("train", "val")
    }


# --------------------------------------------------------------------------- prompt


def _battle(lines: list[str], username: str = "alice", gen: int = 9) -> Battle:
    battle = Battle("battle-gen9ou-1", username, logging.getLogger("test"), gen=gen)
    for line in lines:
        battle.parse_message(line.split("|"))
    return battle


SEED_LINES = [
    "|player|p1|alice||",
    "|player|p2|bob||",
    "|switch|p1a: Magnezone|Magnezone|99/100",
    "|switch|p2a: Raging Bolt|Raging Bolt|100/100",
    "|move|p2a: Raging Bolt|Air Slash|p1a: Magnezone",
    "|turn|3",
]


def test_prompt_matches_the_seed_example():
    assert render_prompt(_battle(SEED_LINES)) == (
        "Turn 3. Weather: none. Your pokemon: Magnezone (99/100 HP, healthy) | Type: "
        "electric/steel | Atk: 70 SpA: 130 Spe: 60. Opponent: Raging Bolt (100/100 HP, "
        "healthy) | Type: electric/dragon | Def: 91 SpD: 89 Spe: 75 | Moves seen: Air Slash "
        "(flying, 75pw, special). What move do you use?"
    )
    assert render_move(Move("flashcannon", 9)) == "Flash Cannon (steel, 80pw, special)"


def test_prompt_weather_status_tera_and_no_moves_seen():
    battle = _battle(
        [
            *SEED_LINES[:4],
            "|-weather|RainDance",
            "|-status|p1a: Magnezone|par",
            "|-terastallize|p2a: Raging Bolt|Fairy",
            "|turn|4",
        ]
    )
    prompt = render_prompt(battle)
    assert prompt.startswith("Turn 4. Weather: RainDance. ")
    assert "Magnezone (99/100 HP, par)" in prompt
    assert "Type: fairy (tera) | Def: 91" in prompt
    assert "Moves seen" not in prompt
    assert prompt.endswith("Spe: 75. What move do you use?")


def test_move_without_base_power_and_switch_text():
    assert render_move(Move("toxic", 9)) == "Toxic (poison, 0pw, status)"
    assert render_move(Move("seismictoss", 9)) == "Seismic Toss (fighting, 0pw, physical)"
    assert render_move(Move("crunch", 3)) == "Crunch (dark, 80pw, special)"  # by type
    battle = _battle(["|player|p1|alice||", "|switch|p1a: Chompy|Garchomp, L80, F|100/100"])
    assert render_switch(battle.active_pokemon) == "Switch to Garchomp"


def test_options_are_unique_in_legal_order(rerunner):
    replay = _load(GEN9)
    out = rerunner.rerun(replay["id"], replay["inputlog"])
    battle = protocol.new_battle(replay["id"], out["names"]["p1"], 9)
    seen_forced = seen_move = False
    for line in out["p1"]:
        if line.startswith(">"):
            continue
        protocol.feed(battle, line)
        if not line.startswith("|request|") or battle.wait or battle.teampreview:
            continue
        plain, full = legal_options(battle), legal_options(battle, switches=True)
        for options in (plain, full):
            assert len({o.text for o in options}) == len(options)
            assert all(isinstance(o, Option) and o.kind in ("move", "switch") for o in options)
        if battle.force_switch:
            seen_forced = True
            assert plain and all(o.kind == "switch" for o in plain)
            assert render_prompt(battle).endswith("Which pokemon do you switch in?")
        else:
            seen_move = True
            assert [o.id for o in plain] == [m.id for m in battle.available_moves]
            assert [o.id for o in full[len(plain) :]] == [
                m.species for m in battle.available_switches
            ]
            if battle.available_switches:
                assert "Your bench: " in render_prompt(battle, switches=True)
    assert seen_forced and seen_move


def test_duplicate_texts_get_a_number():
    options = _unique(
        [Option("A (x)", "move", "a"), Option("A (x)", "move", "b"), Option("B", "move", "c")]
    )
    assert [o.text for o in options] == ["A (x)", "A (x) #2", "B"]
    assert options[1].id == "b"


# --------------------------------------------------------------------------- replays


def test_fixtures_cover_every_generation():
    formats = {_load(p)["format"] for p in PATHS}
    assert {f"gen{g}randombattle" for g in range(1, 10)} <= formats
    assert SPECTATOR_ONLY and all("inputlog" not in _load(p) for p in SPECTATOR_ONLY)
    assert sum(p.stat().st_size for p in PATHS) < 1_000_000


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name.removesuffix(".json.gz"))
def test_every_fixture_parses_both_ways(path, results):
    replay = _load(path)
    exact, spectator = results[replay["id"]], results[replay["id"] + "/spectator"]
    assert spectator.method == "spectator" and spectator.pairs, spectator
    if "inputlog" in replay:
        assert exact.method == "rerun" and exact.fallback is None, exact
        assert exact.pairs
    else:
        assert exact.method == "spectator"
    for result in (exact, spectator):
        assert {p.side for p in result.pairs} == {"p1", "p2"}
        for pair in result.pairs:
            assert pair.completion in pair.options
            assert len(set(pair.options)) == len(pair.options)
            assert pair.prompt.endswith("What move do you use?")
            assert pair.prompt.startswith(f"Turn {pair.turn}. Weather: ")
            assert pair.format == replay["format"] and pair.battle_id == replay["id"]


def test_no_question_marks_but_the_question(results):
    for result in results.values():
        for pair in result.pairs:
            assert "?" not in pair.prompt[:-1]
            assert "?" not in "".join(pair.options)


def test_rerun_shows_exact_hp_spectator_shows_percent(results):
    replay_id = _load(GEN9)["id"]
    exact, spectator = results[replay_id], results[replay_id + "/spectator"]
    own = [p.prompt.split("Your pokemon: ")[1].split(" HP")[0] for p in exact.pairs]
    assert any(not hp.endswith("/100") for hp in own)  # e.g. "Diancie (216/216"
    for pair in spectator.pairs:
        assert pair.prompt.split("Your pokemon: ")[1].split(" HP")[0].endswith("/100")
    # The exact view knows every legal move; the spectator only the revealed ones.
    assert max(len(p.options) for p in exact.pairs) == 4
    assert len(exact.pairs) > len(spectator.pairs) * 0.8


def test_rerun_ends_as_the_replay_did(rerunner):
    for path in WITH_INPUTLOG:
        replay = _load(path)
        out = rerunner.rerun(replay["id"], replay["inputlog"])
        lines = replay["log"].split("\n")
        assert pairs._rerun_check(out, lines) is None
        winner, turns = protocol.log_result(lines)
        assert out["turns"] == turns
        assert winner in ("p1", "p2", "tie")


def test_corrupted_inputlog_falls_back_and_is_counted(rerunner, tmp_path):
    replay = _load(GEN9)
    lines = replay["inputlog"].split("\n")
    # Another seed: the same choices no longer make the same battle.
    lines[0] = lines[0].replace(
        lines[0].split('"seed":')[1], '"sodium,00112233445566778899aabbccddeeff"}'
    )
    broken = {**replay, "id": replay["id"] + "x", "inputlog": "\n".join(lines)}
    result = pairs.process_replay(broken, sides="both", rerunner=rerunner)
    assert result.method == "spectator" and result.fallback is not None and result.pairs
    garbage = {**replay, "id": replay["id"] + "y", "inputlog": ">start {not json"}
    result = pairs.process_replay(garbage, sides="both", rerunner=rerunner)
    assert result.method == "spectator" and result.fallback == "re-run failed"
    folder = tmp_path / "replays"
    folder.mkdir()
    (folder / "broken.json").write_text(json.dumps(broken))
    (folder / "garbage.json").write_text(json.dumps(garbage))
    (folder / "notareplay.json").write_text("[1, 2]")
    stats = dataset.build(dataset.Config(replays=folder, out=tmp_path / "out"))
    assert stats["parsed_spectator"] == 2 and stats["parsed_rerun"] == 0
    assert sum(stats["rerun_fallbacks"].values()) == 2
    assert stats["skipped"] == {"unreadable file": 1}


def test_sides_winner_keeps_only_the_winner(rerunner):
    for path in PATHS:
        replay = _load(path)
        winner, _ = protocol.log_result(replay["log"].split("\n"))
        result = pairs.process_replay(replay, sides="winner", rerunner=rerunner)
        if winner in ("p1", "p2"):
            assert result.pairs and {p.side for p in result.pairs} == {winner}
        else:
            assert result.skipped == "no winner"


def test_switches_become_pairs_with_the_option(rerunner):
    replay = _load(GEN9)
    result = pairs.process_replay(replay, sides="both", switches=True, rerunner=rerunner)
    switches = [p for p in result.pairs if p.completion.startswith("Switch to ")]
    assert switches
    forced = [p for p in switches if p.prompt.endswith("Which pokemon do you switch in?")]
    chosen = [p for p in switches if p.prompt.endswith("or which pokemon do you switch to?")]
    assert forced and chosen
    for pair in result.pairs:
        assert pair.completion in pair.options
        assert "Your bench: " in pair.prompt or "What move do you use?" in pair.prompt
    plain = pairs.process_replay(replay, sides="both", rerunner=rerunner)
    assert not any(p.completion.startswith("Switch to ") for p in plain.pairs)


# --------------------------------------------------------------------------- build


def test_build_writes_split_by_battle(built):
    out, stats = built
    records = _records(out)
    train_ids = {r["battle_id"] for r in records["train"]}
    val_ids = {r["battle_id"] for r in records["val"]}
    assert train_ids and val_ids and not train_ids & val_ids
    assert stats["pairs"] == {"train": len(records["train"]), "val": len(records["val"])}
    assert stats["replays_read"] == len(PATHS) and not stats["skipped"]
    assert stats["parsed_rerun"] == len(WITH_INPUTLOG)
    assert stats["parsed_spectator"] == len(SPECTATOR_ONLY)
    assert set(stats["per_format"]) >= {f"gen{g}randombattle" for g in range(1, 10)}
    keys = {"prompt", "completion", "options", "battle_id", "turn", "side", "format", "rating"}
    for record in records["train"] + records["val"]:
        assert set(record) == keys
        assert record["completion"] in record["options"]
        assert record["rating"] is None or isinstance(record["rating"], int)


def test_split_is_deterministic_and_about_right():
    ids = [f"gen9randombattle-{i}" for i in range(4000)]
    first = [build.split_of(i, 7, 0.05) for i in ids]
    assert first == [build.split_of(i, 7, 0.05) for i in ids]
    assert 0.04 < first.count("val") / len(ids) < 0.06
    assert first != [build.split_of(i, 8, 0.05) for i in ids]


def test_min_rating_filters(tmp_path, rerunner):
    stats = dataset.build(
        dataset.Config(replays=REPLAYS, out=tmp_path, sides="both", min_rating=1500)
    )
    ratings = [_load(p)["rating"] for p in PATHS]
    kept = sum(1 for r in ratings if r is not None and r >= 1500)
    assert stats["parsed_rerun"] + stats["parsed_spectator"] == kept
    assert stats["skipped"]["below --min-rating (or unrated)"] == len(PATHS) - kept
    for record in _records(tmp_path)["train"]:
        assert record["rating"] >= 1500


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replays", "/nonexistent/replays"], "does not exist"),
        (["--replays", "EMPTY"], "no replays"),
        (["--replays", "FIXTURES", "--val-fraction", "1.5"], "--val-fraction"),
        (["--replays", "FIXTURES", "--sides", "loser"], "--sides"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(args, message, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    args = [str(empty) if a == "EMPTY" else str(REPLAYS) if a == "FIXTURES" else a for a in args]
    assert dataset.main([*args, "--out", str(tmp_path / "out")]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_cli_end_to_end(tmp_path):
    """The command line as a user runs it: progress on stderr, a summary, exit 0."""
    folder = tmp_path / "replays"
    shutil.copytree(REPLAYS / "gen9randombattle", folder)
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "finetune.dataset", "--replays", str(folder), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    stats = json.loads((out / "stats.json").read_text())
    assert stats["pairs"]["train"] + stats["pairs"]["val"] > 0
    proc = subprocess.run(
        [sys.executable, "-m", "finetune.dataset", "--replays", str(tmp_path / "no"), "--out", "o"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("error: ")
    assert len(proc.stderr.strip().splitlines()) == 1

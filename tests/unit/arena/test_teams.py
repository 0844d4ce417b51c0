"""Teams: the bundled pool, team files, and the bundled Showdown's validator (real node).

The bundled package is installed first if missing, as for the integration tests. All the
bundled teams are validated in one node process (a few seconds).
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest
from fixture_teams import KORAIDON

from arena import server as showdown
from arena import teams as T

FORMATS = ["gen9ou", "gen1ou", "gen2ou", "gen3ou", "gen4ou"]

KINGAMBIT = """Kingambit @ Leftovers
Ability: Supreme Overlord
Tera Type: Dark
EVs: 252 HP / 252 Atk / 4 SpD
Adamant Nature
- Swords Dance
- Kowtow Cleave
- Sucker Punch
- Iron Head
"""
SPORE_KINGAMBIT = KINGAMBIT.replace("- Iron Head", "- Spore")
# Two reasons from Showdown, one of them over two lines.
GEN4_TWO_REASONS = """Roserade @ Black Sludge
Ability: Natural Cure
EVs: 252 HP / 4 SpA / 252 SpD
Calm Nature
- Spikes
- Toxic Spikes
- Leaf Storm
- Rest

Gliscor @ Life Orb
Ability: Sand Veil
EVs: 4 HP / 252 Atk / 252 Spe
Jolly Nature
- Swords Dance
- Earthquake
- Stone Edge
- Ice Fang
"""


pytestmark = pytest.mark.usefixtures("bundled_showdown")  # node runs its validator


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def blocks(text: str) -> list[str]:
    return [block for block in text.strip().split("\n\n") if block.strip()]


def test_each_format_has_at_least_ten_distinct_six_pokemon_teams() -> None:
    readme = (T.TEAMS_DIR / "README.md").read_text()
    for format in FORMATS:
        pool = T.bundled_pool(format)
        assert len(pool) >= 10, format
        assert len({team.text for team in pool}) == len(pool), f"{format}: identical teams"
        for team in pool:
            assert team.format == format and team.name == team.path.stem
            mons = blocks(team.text)
            assert len(mons) == 6, team.label
            species = [mon.splitlines()[0].split(" @ ")[0] for mon in mons]
            assert len(set(species)) == 6, f"{team.label}: species clause"
            assert not team.text.lstrip().startswith(("#", "//")), team.label
            assert f"`{team.path.name}`" in readme, f"{team.label} missing from teams/README.md"


def test_every_bundled_team_is_legal_one_node_process() -> None:
    pool = [(format, team) for format in FORMATS for team in T.bundled_pool(format)]
    answers = T._run_validator(
        [{"op": "validate", "format": f, "text": team.text} for f, team in pool]
    )
    illegal = [
        f"{team.label}: {' '.join(answer['errors'])}"
        for (_, team), answer in zip(pool, answers, strict=True)
        if not answer["ok"]
    ]
    assert not illegal, "\n".join(illegal)
    assert len(pool) >= 50


def test_validate_teams_accepts_a_bundled_pool() -> None:
    T.validate_teams(T.bundled_pool("gen1ou"), "gen1ou")


def test_a_banned_pokemon_is_refused_with_showdowns_reason(tmp_path: Path) -> None:
    bad = write(tmp_path, "koraidon.txt", KINGAMBIT + "\n" + KORAIDON)
    good = write(tmp_path, "kingambit.txt", KINGAMBIT)
    with pytest.raises(T.TeamError) as caught:
        T.validate_teams([T.Team.load(good, "gen9ou"), T.Team.load(bad, "gen9ou")], "gen9ou")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{T.display_path(bad)} is not legal in gen9ou: ")
    assert "Koraidon is tagged Uber, which is banned." in message


def test_an_illegal_move_is_refused(tmp_path: Path) -> None:
    bad = write(tmp_path, "spore.team", SPORE_KINGAMBIT)
    with pytest.raises(T.TeamError, match=r"spore\.team is not legal in gen9ou: .*Spore"):
        T.validate_teams(T.resolve_teams(str(bad), "gen9ou"), "gen9ou")


def test_several_reasons_and_several_bad_files_stay_on_one_line(tmp_path: Path) -> None:
    first = write(tmp_path, "a.txt", GEN4_TWO_REASONS)
    second = write(tmp_path, "b.txt", GEN4_TWO_REASONS)
    with pytest.raises(T.TeamError) as caught:
        T.validate_teams(T.resolve_teams(str(tmp_path), "gen4ou"), "gen4ou")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{T.display_path(first)} is not legal in gen4ou: ")
    assert "Sand Veil is banned by Evasion Abilities Clause." in message
    assert "egg move" in message
    assert message.endswith(f"(also illegal: {T.display_path(second)})")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "is empty"),
        (b"  \n\n ", "is empty"),
        (b"\xff\xfe\x00garbage", "not UTF-8 text"),
        (b"this is not a team\nat all", "is not legal in gen9ou: "),
    ],
)
def test_unusable_files_are_one_line_errors(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(content)
    with pytest.raises(T.TeamError) as caught:
        T.validate_teams(T.resolve_teams(str(path), "gen9ou"), "gen9ou")
    assert reason in str(caught.value) and "\n" not in str(caught.value)
    assert T.display_path(path) in str(caught.value)


def test_resolution_of_a_file_a_folder_and_none(tmp_path: Path) -> None:
    one = write(tmp_path, "b.txt", KINGAMBIT)
    write(tmp_path, "a.team", KINGAMBIT.replace("Iron Head", "Low Kick"))
    write(tmp_path, "notes.md", "not a team")
    (tmp_path / "sub").mkdir()
    assert [t.name for t in T.resolve_teams(str(one), "gen9ou")] == ["b"]
    folder = T.resolve_teams(str(tmp_path), "gen9ou")
    assert [t.path.name for t in folder] == ["a.team", "b.txt"]
    assert all(t.format == "gen9ou" for t in folder)
    assert T.resolve_teams(None, "gen9ou") == T.bundled_pool("gen9ou")
    with pytest.raises(T.TeamError, match="does not exist"):
        T.resolve_teams(str(tmp_path / "missing"), "gen9ou")
    with pytest.raises(T.TeamError, match=r"has no team files \(\.txt or \.team"):
        T.resolve_teams(str(tmp_path / "sub"), "gen9ou")


def test_pick_is_reproducible_with_a_seeded_rng() -> None:
    pool = T.bundled_pool("gen3ou")
    first = [T.pick(pool, random.Random(7)).name for _ in range(3)]
    assert first == [T.pick(pool, random.Random(7)).name for _ in range(3)]
    assert len({T.pick(pool, random.Random(seed)).name for seed in range(40)}) > 3
    with pytest.raises(T.TeamError):
        T.pick([], random.Random(0))


def test_random_formats_need_no_team() -> None:
    for format in ["gen9randombattle", "gen4randombattle", "gen9challengecup1v1"]:
        assert not T.is_team_format(format)
        assert T.resolve_teams(None, format) == []
        T.validate_teams([], format)
    for format in [*FORMATS, "gen5ou", "gen9ubers"]:
        assert T.is_team_format(format)
    with pytest.raises(T.TeamError, match="not a format"):
        T.is_team_format("gen9nosuchformat")


def test_name_rule_without_node(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_node(alternative: str = "") -> str:
        raise showdown.ServerError("node is needed")

    T._format_info.cache_clear()
    monkeypatch.setattr(showdown, "node_for_bundled", no_node)
    try:
        assert not T.is_team_format("gen9randombattle")
        assert not T.is_team_format("gen8battlefactory")
        assert T.is_team_format("gen9ou")
    finally:
        T._format_info.cache_clear()


def test_a_team_format_without_teams_says_how_to_add_them() -> None:
    expected = (
        "gen5ou needs teams: none are bundled for it; pass --teams FILE_OR_DIR "
        "(Showdown's export format), add files under teams/gen5ou/, or pass --teams "
        "generated for teams built from Showdown's random-battle sets"
    )
    with pytest.raises(T.TeamError) as caught:
        T.resolve_teams(None, "gen5ou")
    assert str(caught.value) == expected
    with pytest.raises(T.TeamError) as caught:
        T.validate_teams([], "gen5ou")
    assert str(caught.value) == expected


def test_a_team_file_in_a_random_format_is_refused() -> None:
    with pytest.raises(T.TeamError, match="generates its own teams"):
        T.validate_teams(T.bundled_pool("gen9ou")[:1], "gen9randombattle")


def test_poke_env_packs_export_text_as_showdown_does() -> None:
    from poke_env.teambuilder import ConstantTeambuilder

    for format in ["gen9ou", "gen1ou"]:
        team = T.bundled_pool(format)[0]
        by_poke_env = ConstantTeambuilder(team.text).yield_team()
        assert T.pack(by_poke_env, format) == T.pack(team.text, format)
    with pytest.raises(T.TeamError, match="Koraidon is tagged Uber, which is banned"):
        T.pack(KORAIDON, "gen9ou")


def cli_validate(format: str, text: str, stub: Path) -> tuple[int, str]:
    """Showdown's own `validate-team` (its optional source-map-support stubbed out).

    Run from the package folder: from anywhere else it rebuilds `dist/` first (it looks
    for `./dist` relative to the working directory).
    """
    node = showdown.node_for_bundled()
    result = subprocess.run(
        [node, "pokemon-showdown", "validate-team", format],
        cwd=showdown.PACKAGE_DIR,
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NODE_PATH": str(stub)},
        check=False,
    )
    return result.returncode, result.stderr.strip()


def test_the_fast_validator_agrees_with_showdowns_command_line(tmp_path: Path) -> None:
    stub = tmp_path / "stub"
    (stub / "source-map-support").mkdir(parents=True)
    (stub / "source-map-support" / "register.js").write_text("")
    cases = [
        ("gen9ou", T.bundled_pool("gen9ou")[0].text),
        ("gen2ou", T.bundled_pool("gen2ou")[0].text),
        ("gen9ou", KINGAMBIT + "\n" + KORAIDON),
        ("gen4ou", GEN4_TWO_REASONS),
    ]
    answers = T._run_validator([{"op": "validate", "format": f, "text": t} for f, t in cases])
    for (format, text), answer in zip(cases, answers, strict=True):
        code, stderr = cli_validate(format, text, stub)
        assert (code == 0) == answer["ok"], (format, stderr, answer)
        assert stderr == "\n".join(answer["errors"])
    assert [answer["ok"] for answer in answers] == [True, True, False, False]


def test_an_unknown_format_names_the_closest_ones() -> None:
    with pytest.raises(T.TeamError) as caught:
        T.is_team_format("gen4randombatle")
    message = str(caught.value)
    assert message.startswith("gen4randombatle is not a format of the bundled Showdown server")
    assert "(closest: gen4randombattle" in message

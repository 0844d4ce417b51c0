"""Run records: statistics, the journal, the atomic final file, and bad input."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from battle.journal import Journal, battle_phase_wall_s, build_record, read_journal
from battle.record import (
    SCHEMA_VERSION,
    AgentSpec,
    BattleRecord,
    DecisionRecord,
    RunPaths,
    RunRecord,
    RunRecordError,
    RunSpec,
    load_record,
    write_record,
)
from battle.summary import percentile, summarize, wilson_interval


def test_wilson_interval_matches_known_values():
    # Reference values computed from the Wilson score formula with z = 1.96.
    low, high = wilson_interval(5, 10)
    assert low == pytest.approx(0.2366, abs=1e-4) and high == pytest.approx(0.7634, abs=1e-4)
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.7225, abs=1e-4) and high == pytest.approx(1.0)
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    # Narrows with more battles, always contains the observed rate.
    for n in (10, 100, 1000):
        lo, hi = wilson_interval(0.7 * n, n)
        assert lo < 0.7 < hi
    assert (wilson_interval(700, 1000)[1] - wilson_interval(700, 1000)[0]) < (
        wilson_interval(7, 10)[1] - wilson_interval(7, 10)[0]
    )


def test_percentile_interpolates():
    assert percentile([], 50) is None
    assert percentile([3.0], 95) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([10.0, 0.0], 100) == 10.0


def spec(run_id: str = "r1", started_at: float = 100.0) -> RunSpec:
    return RunSpec(
        run_id=run_id,
        p1=AgentSpec("heuristic", "heuristic"),
        p2=AgentSpec("mistral-large", "mistral-large-latest", {"temperature": 0.2}),
        format="gen9randombattle",
        n=4,
        seed=1,
        concurrency=2,
        move_delay=0.0,
        battle_timeout_s=600.0,
        server="ws://127.0.0.1:8000/showdown/websocket",
        versions={"arena": "0.1.0"},
        started_at=started_at,
    )


def battle(tag: str, winner, finished_at: float, session: int = 0, error=None) -> BattleRecord:
    return BattleRecord(tag, winner, 20, 1.5, f"r1/replays/{tag}.log", error, finished_at, session)


def decision(tag: str, side: str, latency: float, fallback: bool = False) -> DecisionRecord:
    return DecisionRecord(
        tag, 1, side, "move thunderbolt", latency, fallback, "timeout" if fallback else None,
        reasoning="<b>why</b>", tokens=12, effectiveness=2.0,
    )  # fmt: skip


def test_summarize_counts_draws_half_and_skips_errors():
    battles = [
        battle("b1", "p1", 110),
        battle("b2", "p2", 111),
        battle("b3", "draw", 112),
        battle("b4", None, 113, error="timed out after 600s"),
    ]
    decisions = [decision("b1", "p1", 10), decision("b1", "p2", 30, fallback=True)]
    s = summarize(battles, decisions, wall_s=13.0)
    assert (s.battles, s.errors, s.p1_wins, s.p2_wins, s.draws) == (3, 1, 1, 1, 1)
    assert s.p1_win_rate == pytest.approx(0.5)
    assert s.p1_win_rate_ci95 == pytest.approx(list(wilson_interval(1.5, 3)))
    assert s.mean_turns == 20
    assert s.battles_per_s == pytest.approx(4 / 13)
    assert s.sides["p1"].fallback_rate == 0 and s.sides["p2"].fallback_rate == 1
    assert s.sides["p2"].latency_p50_ms == 30


def test_summarize_with_nothing_played():
    s = summarize([], [], wall_s=0.0)
    assert s.battles == 0 and s.p1_win_rate is None and s.p1_win_rate_ci95 is None
    assert s.battles_per_s is None and s.sides["p1"].latency_p50_ms is None


def test_journal_round_trip_resume_and_torn_line(tmp_path: Path):
    paths = RunPaths(tmp_path, "r1")
    journal = Journal(paths.journal)
    journal.write_spec(spec(started_at=100.0))
    journal.write_battle(battle("b1", "p1", 110.0), [decision("b1", "p1", 5.0)])
    journal.close()
    journal = Journal(paths.journal)  # a resumed session appends
    journal.write_spec(spec(started_at=200.0))
    journal.write_battle(battle("b2", "p2", 204.0, session=1), [])
    journal.close()
    with open(paths.journal, "a") as fh:
        fh.write('{"type":"battle","battle":{"battle_ta')  # a crash mid-write

    contents = read_journal(paths.journal)
    assert len(contents.specs) == 2 and [b.battle_tag for b in contents.battles] == ["b1", "b2"]
    # each session from its first battle's start (end - 1.5 s) to its last battle's end
    assert battle_phase_wall_s(contents) == pytest.approx(1.5 + 1.5)

    record = build_record(contents, finished_at=250.0)
    assert record.spec.started_at == 100.0 and record.spec.finished_at == 250.0
    write_record(record, paths.record)
    loaded = load_record(paths.record)
    assert loaded == record
    assert loaded.spec.p2.params == {"temperature": 0.2}
    assert not list(tmp_path.glob("*.tmp"))  # the atomic write left nothing behind


def test_resuming_after_a_torn_line_sets_it_aside_and_appends_on_a_new_line(tmp_path: Path, caplog):
    """A crash mid-append leaves the last line cut short: the next session keeps every
    complete line, moves the torn tail to <journal>.torn, and its own lines stay whole."""
    paths = RunPaths(tmp_path, "r1")
    journal = Journal(paths.journal)
    journal.write_spec(spec(started_at=100.0))
    journal.write_battle(battle("b1", "p1", 110.0), [decision("b1", "p1", 5.0)])
    journal.close()
    whole = paths.journal.read_bytes()
    torn_text = '{"type":"battle","battle":{"battle_tag":"b2","wi' + "x" * 100_000  # long
    with open(paths.journal, "a") as fh:
        fh.write(torn_text)

    with caplog.at_level("WARNING", logger="battle.journal"):
        journal = Journal(paths.journal)  # the resumed session
    assert journal.torn == paths.journal.with_name("r1.jsonl.torn")
    assert paths.journal.read_bytes() == whole  # every complete line, nothing else
    assert journal.torn.read_text() == torn_text + "\n"
    [message] = [r.getMessage() for r in caplog.records]
    assert "\n" not in message and "set aside in" in message and str(journal.torn) in message
    journal.write_spec(spec(started_at=200.0))
    journal.write_battle(battle("b3", "p2", 204.0, session=1), [])
    journal.close()
    contents = read_journal(paths.journal)  # every line parses: no line glued to the tear
    assert [b.battle_tag for b in contents.battles] == ["b1", "b3"]
    assert len(contents.specs) == 2

    assert Journal(paths.journal).torn is None  # a whole journal is left as it is
    assert paths.journal.read_bytes().endswith(b"\n")


def test_a_journal_that_is_one_torn_line(tmp_path: Path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"type":"sp')
    journal = Journal(path)
    assert path.read_text() == "" and journal.torn is not None
    journal.close()


def test_a_battle_line_written_twice_counts_once(tmp_path: Path, caplog):
    paths = RunPaths(tmp_path, "r1")
    journal = Journal(paths.journal)
    journal.write_spec(spec())
    journal.write_battle(battle("b1", "p1", 110.0), [decision("b1", "p1", 5.0)])
    journal.write_battle(battle("b1", "p1", 110.0), [decision("b1", "p1", 5.0)])  # again
    journal.write_battle(battle("b2", "p2", 111.0), [])
    journal.close()
    with caplog.at_level("WARNING", logger="battle.journal"):
        contents = read_journal(paths.journal)
    assert [b.battle_tag for b in contents.battles] == ["b1", "b2"]
    assert len(contents.decisions) == 1
    assert ["repeats battle b1" in r.getMessage() for r in caplog.records] == [True]


def test_resume_n_never_below_what_was_played_and_lowering_is_said(caplog):
    from arena.plan import check_resumed_n

    played = [battle(f"b{i}", "p1", 100.0 + i) for i in range(8)]
    old = replace(spec(), n=10)
    with pytest.raises(ValueError, match="--n 2 is fewer than the 8 battles"):
        check_resumed_n(2, old, played)
    with caplog.at_level("WARNING", logger="arena.plan"):
        check_resumed_n(9, old, played)
    assert ["lowers this run's n from 10" in r.getMessage() for r in caplog.records] == [True]
    check_resumed_n(None, old, played)
    check_resumed_n(12, old, played)  # more: a longer run


def test_record_dict_has_the_contract_fields(tmp_path: Path):
    contents_spec = spec()
    record = RunRecord(contents_spec, [battle("b1", "p1", 101)], [decision("b1", "p1", 1)],
                       summarize([battle("b1", "p1", 101)], [], 1.0))  # fmt: skip
    data = record.to_dict()
    assert data["schema_version"] == SCHEMA_VERSION
    assert set(data) == {"schema_version", "spec", "battles", "decisions", "summary"}
    for key in ("p1_wins", "p2_wins", "draws", "p1_win_rate", "p1_win_rate_ci95",
                "mean_turns", "wall_s", "battles_per_s", "sides"):  # fmt: skip
        assert key in data["summary"]
    assert set(asdict(record.decisions[0])) >= {
        "battle_tag", "turn", "side", "action", "latency_ms", "fallback",
        "fallback_reason", "reasoning", "tokens", "effectiveness",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "does not exist"),
        ('{"schema_version": 1, "spec": {', "not valid JSON"),
        ('{"hello": "world"}', "not a run record"),
        ('{"schema_version": 99}', "newer than this version"),
        ('{"schema_version": 1, "spec": {}}', "not a valid run record"),
        ("[1, 2]", "not a run record"),
    ],
)
def test_load_record_rejects_bad_input_with_one_line(tmp_path: Path, content, expected):
    path = tmp_path / "x.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RunRecordError) as info:
        load_record(path)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_read_journal_errors(tmp_path: Path):
    with pytest.raises(RunRecordError, match="no journal"):
        read_journal(tmp_path / "missing.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text(json.dumps({"type": "note"}) + "\n")
    with pytest.raises(RunRecordError, match="no run spec"):
        read_journal(empty)
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps({"type": "battle"}) + "\n" + json.dumps({"type": "x"}) + "\n")
    with pytest.raises(RunRecordError, match="not an arena journal event"):
        read_journal(broken)


def test_team_fields_are_written_only_when_set() -> None:
    plain = BattleRecord("b1", "p1", 10, 1.0, "r/b1.log")
    assert "p1_team" not in plain.to_dict() and "p2_team" not in plain.to_dict()
    assert "team1" not in spec().to_dict() and "team2" not in spec().to_dict()
    teams = BattleRecord("b1", "p1", 10, 1.0, "r/b1.log", p1_team="gen9ou/a", p2_team="gen9ou/b")
    data = teams.to_dict()
    assert (data["p1_team"], data["p2_team"]) == ("gen9ou/a", "gen9ou/b")
    assert BattleRecord(**json.loads(json.dumps(data))) == teams
    with_file = RunSpec(**{**spec().__dict__, "team1": "my/team.txt"})
    assert with_file.to_dict()["team1"] == "my/team.txt"
    assert RunSpec.from_dict(with_file.to_dict()).team1 == "my/team.txt"


def test_teacher_is_written_only_when_set_and_old_specs_load() -> None:
    data = spec().to_dict()
    assert "teacher" not in data
    assert RunSpec.from_dict(data).teacher is None  # a record from before --teacher
    teacher = AgentSpec("search:50", "search", {"budget_ms": 50})
    taught = RunSpec(**{**spec().__dict__, "save_trajectories": "/tmp/t", "teacher": teacher})
    data = json.loads(json.dumps(taught.to_dict()))
    assert data["teacher"] == {"given": "search:50", "resolved": "search",
                               "params": {"budget_ms": 50}}  # fmt: skip
    assert RunSpec.from_dict(data) == taught

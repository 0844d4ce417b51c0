"""`python -m viz leaderboard runs/`: every battle of a folder of run records, rated per
format (synthetic records written through the journal, as a run writes them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arena.ratings import Game, Leaderboard, games_of, rate
from arena.run import finalize
from battle.journal import Journal
from battle.record import AgentSpec, BattleRecord, RunPaths, RunSpec, load_record
from viz import render_report
from viz.__main__ import main
from viz.leaderboard import (
    LeaderboardError,
    _progress_line,
    rate_pool,
    read_pool,
    render_leaderboard,
    write_leaderboard,
)

EVIL = "<script>alert(1)</script>"


def spec(run_id: str, fmt: str, *, agents: list[str] | None = None,
         p1: AgentSpec | None = None, p2: AgentSpec | None = None,
         started_at: float = 100.0) -> RunSpec:  # fmt: skip
    if agents is not None:
        p1 = p2 = AgentSpec(",".join(agents), ",".join(agents))
    assert p1 is not None and p2 is not None
    return RunSpec(
        run_id=run_id, p1=p1, p2=p2, format=fmt, n=10, seed=1, concurrency=1,
        move_delay=0.0, battle_timeout_s=600.0, server="sim", versions={"arena": "0"},
        started_at=started_at,
        agents=None if agents is None else [AgentSpec(a, a) for a in agents],
    )  # fmt: skip


def write_run(folder: Path, run_spec: RunSpec, battles: list[BattleRecord]) -> Path:
    paths = RunPaths(folder, run_spec.run_id)
    journal = Journal(paths.journal)
    journal.write_spec(run_spec)
    for b in battles:
        journal.write_battle(b, [])
    journal.close()
    finalize(paths, finished=True)
    return paths.record


def tb(tag: str, p1: str, p2: str, winner: str | None) -> BattleRecord:
    """A tournament's battle: it names its two agents."""
    error = None if winner else "the server closed the room"
    return BattleRecord(tag, winner, 10, 1.0, None, error, p1_agent=p1, p2_agent=p2)  # type: ignore[arg-type]


def mb(tag: str, winner: str | None) -> BattleRecord:
    """A match's battle: its spec names the agents."""
    error = None if winner else "timed out"
    return BattleRecord(tag, winner, 10, 1.0, None, error)  # type: ignore[arg-type]


def tournament_battles(prefix: str) -> list[BattleRecord]:
    """heuristic beats random 9-1, max-damage beats random 7-3, heuristic vs max-damage 6-4;
    plus one error."""
    out = []
    for a, b, wins in (("heuristic", "random", 9), ("max-damage", "random", 7),
                       ("heuristic", "max-damage", 6)):  # fmt: skip
        for k in range(10):
            p1, p2 = (a, b) if k % 2 == 0 else (b, a)
            out.append(
                tb(f"{prefix}-{a}-{b}-{k}", p1, p2, "p1" if (p1 == a) == (k < wins) else "p2")
            )
    out.append(tb(f"{prefix}-err", "heuristic", "random", None))
    return out


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A gen9randombattle tournament and match, a gen4ou match, and files that are not
    run records."""
    folder = tmp_path / "runs"
    folder.mkdir()
    t = spec("t1", "gen9randombattle", agents=["random", "heuristic", "max-damage"])
    write_run(folder, t, tournament_battles("t"))
    m = spec("m1", "gen9randombattle", p1=AgentSpec("heuristic", "heuristic"),
             p2=AgentSpec("search:300", "search:300"), started_at=200.0)  # fmt: skip
    # search:300 (p2) wins 5, heuristic 2, 2 draws, 1 error
    winners = ["p2"] * 5 + ["p1"] * 2 + ["draw"] * 2 + [None]
    write_run(folder, m, [mb(f"m-{i}", w) for i, w in enumerate(winners)])
    ou = spec("o1", "gen4ou", p1=AgentSpec("heuristic", "heuristic"),
              p2=AgentSpec("random", "random"), started_at=50.0)  # fmt: skip
    write_run(folder, ou, [mb(f"o-{i}", "p1" if i < 4 else "p2") for i in range(5)])
    (folder / "notes.json").write_text(json.dumps({"hello": "world"}))
    (folder / "broken.json").write_text('{"schema_version": 1, "spec": ')
    (folder / "lost.jsonl").write_text("")  # a journal whose record was never written
    (folder / "t1" / "replays").mkdir(parents=True)  # a run's folder: not looked into
    return folder


def test_two_formats_are_two_separate_tables(runs: Path):
    pool = rate_pool(read_pool(runs), resamples=300, seed=1)
    assert [f.format for f in pool.formats] == ["gen4ou", "gen9randombattle"]  # first played
    ou, rb = pool.formats
    assert ou.board is not None and rb.board is not None
    assert {r.agent for r in ou.board.ratings} == {"heuristic", "random"}
    assert {r.agent for r in rb.board.ratings} == {
        "heuristic",
        "random",
        "max-damage",
        "search:300",
    }
    ou_h = next(r for r in ou.board.ratings if r.agent == "heuristic")
    assert (ou_h.wins, ou_h.losses, ou_h.draws, ou_h.battles) == (4, 1, 0, 5)
    assert pool.runs == 3 and pool.battles == 5 + 30 + 9
    page = render_leaderboard(pool)
    assert page.count('<table class="leaderboard">') == 2
    assert 'id="format-0"' in page and 'id="format-1"' in page
    for key in ("ratings-0", "head-to-head-0", "ratings-1", "head-to-head-1"):
        assert f'id="chart-{key}"' in page


def test_a_match_and_a_tournament_of_one_format_are_pooled(runs: Path):
    pool = rate_pool(read_pool(runs), resamples=300, seed=1)
    rb = next(f for f in pool.formats if f.format == "gen9randombattle")
    assert rb.board is not None
    by = {r.agent: r for r in rb.board.ratings}
    # heuristic: 20 tournament battles (15-5) + 9 of the match (2-5-2); errors left out
    assert (by["heuristic"].wins, by["heuristic"].losses, by["heuristic"].draws) == (17, 10, 2)
    assert by["heuristic"].battles == 29 and rb.errors == 2
    assert by["search:300"].battles == 9 and by["search:300"].wins == 5
    pair = next(p for p in rb.board.pairs if {p.a, p.b} == {"heuristic", "search:300"})
    assert pair.battles == 9
    # the same fit as rating both records' games by hand, through the one conversion
    games: list[Game] = []
    for name in ("t1.json", "m1.json"):
        record = load_record(runs / name)
        games += games_of(record.battles, record.spec)
    names = [r.agent for r in rb.board.ratings]
    expected = rate(games, ["random", "heuristic", "max-damage", "search:300"],
                    resamples=300, seed=1)  # fmt: skip
    assert [r.agent for r in expected.ratings] == names
    assert rb.board.to_dict() == expected.to_dict()
    assert [(r.file, r.kind, r.games, r.errors) for r in rb.runs] == [
        ("t1.json", "tournament", 30, 1),
        ("m1.json", "match", 9, 1),
    ]
    # every agent carries its expected score against the rest of its format's pool
    for r in rb.board.ratings:
        assert r.gxe is not None and r.gxe_ci95 is not None
        assert r.gxe_ci95[0] <= r.gxe <= r.gxe_ci95[1]
    assert sum(r.gxe for r in rb.board.ratings) == pytest.approx(2.0)  # 4 agents: mean 1/2


def test_files_that_are_not_records_are_listed_with_the_reason(runs: Path):
    pool = rate_pool(read_pool(runs), resamples=100)
    skipped = {s.file: s.reason for s in pool.skipped}
    assert set(skipped) == {"notes.json", "broken.json", "lost.jsonl"}
    assert "not a run record (no schema_version field)" in skipped["notes.json"]
    assert "not valid JSON" in skipped["broken.json"]
    assert "journal without its record" in skipped["lost.jsonl"]
    page = render_leaderboard(pool)
    assert 'id="skipped"' in page
    for name in skipped:
        assert f"<code>{name}</code>" in page


def test_the_page_says_what_the_pool_is(runs: Path, tmp_path: Path):
    pool = rate_pool(read_pool(runs), resamples=100)
    page = write_leaderboard(pool, tmp_path / "out" / "lb.html").read_text()
    assert "<dt>runs counted</dt><dd>3</dd>" in page
    assert "<dt>battles rated</dt><dd>44</dd>" in page
    assert "4 agents" in page and "2 formats" in page
    assert "GXE" in page and "expected score against the rest of this pool" in page
    # adjacent comparisons, and how many battles would settle an inconclusive one
    rb = next(f for f in pool.formats if f.format == "gen9randombattle")
    assert rb.board is not None
    for c in rb.board.comparisons:
        if not c.conclusive and c.battles_needed is not None:
            assert f"about {c.battles_needed} more battles between {c.higher}" in page
    assert "<script src=" not in page and page.count("window.PlotlyConfig") == 1


def test_a_name_that_resolved_to_different_things_is_split(tmp_path: Path):
    folder = tmp_path / "runs"
    folder.mkdir()
    for i, ckpt in enumerate(("/ckpt/a.pt", "/ckpt/b.pt")):
        run = spec(f"m{i}", "gen4ou", p1=AgentSpec("metamon", ckpt),
                   p2=AgentSpec(EVIL, EVIL), started_at=float(i))  # fmt: skip
        write_run(folder, run, [mb(f"b{i}-{k}", "p1" if k < 3 + i else "p2") for k in range(5)])
    pool = rate_pool(read_pool(folder), resamples=100)
    (ou,) = pool.formats
    assert ou.splits == {"metamon": ["/ckpt/a.pt", "/ckpt/b.pt"]}
    assert ou.board is not None
    assert {r.agent for r in ou.board.ratings} == {
        "metamon (/ckpt/a.pt)", "metamon (/ckpt/b.pt)", EVIL,
    }  # fmt: skip
    page = render_leaderboard(pool)
    assert "resolved to different things" in page and "rated apart" in page
    assert EVIL not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page

    merged = rate_pool(read_pool(folder, merge_resolved=True), resamples=100)
    assert merged.formats[0].board is not None
    assert {r.agent for r in merged.formats[0].board.ratings} == {"metamon", EVIL}
    assert "rated as one agent" in render_leaderboard(merged)


def test_anchor_is_used_where_it_plays(runs: Path):
    pool = rate_pool(read_pool(runs), resamples=100, anchor="max-damage")
    ou, rb = pool.formats
    assert rb.board is not None and rb.board.anchor == "max-damage"
    assert ou.board is not None and ou.board.anchor == "random"
    assert ou.anchor_note == "max-damage has no rated battle in gen4ou"
    with pytest.raises(LeaderboardError, match="no rated battle of that agent"):
        rate_pool(read_pool(runs), resamples=10, anchor="nobody")


def test_a_format_without_a_result_renders_a_note(tmp_path: Path):
    folder = tmp_path / "runs"
    folder.mkdir()
    run = spec("m", "gen1ou", p1=AgentSpec("a", "a"), p2=AgentSpec("b", "b"))
    write_run(folder, run, [mb("x", None)])
    pool = rate_pool(read_pool(folder), resamples=10)
    assert pool.formats[0].board is None and pool.formats[0].errors == 1
    assert "nothing to rate" in render_leaderboard(pool)


def test_tournament_page_shows_gxe_and_old_records_render_without_it(runs: Path):
    record = load_record(runs / "t1.json")
    assert record.leaderboard is not None
    assert "GXE" in render_report(record, runs)
    for r in record.leaderboard["ratings"]:  # a record written before the field
        del r["gxe"], r["gxe_ci95"]
    board = Leaderboard.from_dict(record.leaderboard)
    assert board.ratings[0].gxe is None
    page = render_report(record, runs)
    assert "GXE" not in page and '<table class="leaderboard">' in page


# --- the command line --------------------------------------------------------------------


def test_cli_writes_the_page(runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]):  # fmt: skip
    monkeypatch.chdir(tmp_path)
    assert main(["leaderboard", str(runs), "--resamples", "200", "--seed", "3"]) == 0
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert lines[-1] == str(Path("reports") / "leaderboard.html")
    assert lines[0] == (
        f"leaderboard of 3 run(s) in {runs}: 2 format(s), 4 agent(s), 44 battle(s) rated; "
        "3 file(s) skipped, listed on the page"
    )
    assert out.err == ""
    page = (tmp_path / "reports" / "leaderboard.html").read_text()
    assert "200 bootstrap resamples of the battles (seed 3)" in page

    custom = tmp_path / "deep" / "lb.html"
    assert main(["leaderboard", str(runs), "-o", str(custom), "--anchor", "heuristic",
                 "--resamples", "50"]) == 0  # fmt: skip
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(custom)
    assert "with heuristic at 1000" in custom.read_text()


def test_cli_single_report_is_unchanged(runs: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]):  # fmt: skip
    out = tmp_path / "m1.html"
    assert main([str(runs / "m1.json"), "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert 'id="verdict"' in out.read_text()


def bad_inputs(runs: Path, tmp: Path) -> dict[str, list[str]]:
    (tmp / "empty").mkdir()
    (tmp / "only-notes").mkdir()
    (tmp / "only-notes" / "a.json").write_text("[1, 2]")
    (tmp / "a-file").write_text("not a folder")
    (tmp / "a-folder.html").mkdir()
    return {
        "missing": [str(tmp / "nope")],
        "not-a-folder": [str(tmp / "a-file")],
        "no-records": [str(tmp / "empty")],
        "no-run-record": [str(tmp / "only-notes")],
        "output-under-a-file": [str(runs), "-o", str(tmp / "a-file" / "lb.html")],
        "output-is-a-folder": [str(runs), "-o", str(tmp / "a-folder.html")],
        "unknown-anchor": [str(runs), "--anchor", "nobody"],
        "no-resamples": [str(runs), "--resamples", "0"],
    }


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("missing", "does not exist"),
        ("not-a-folder", "is not a folder"),
        ("no-records", "no run records"),
        ("no-run-record", "none a run record"),
        ("output-under-a-file", "part of that path is a file"),
        ("output-is-a-folder", "it is a folder"),
        ("unknown-anchor", "--anchor nobody"),
        ("no-resamples", "--resamples 0"),
    ],
)
def test_cli_bad_input_is_one_line(case: str, words: str, runs: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]):  # fmt: skip
    argv = bad_inputs(runs, tmp_path)[case]
    assert main(["leaderboard", *argv]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ") and words in lines[0], lines[0]
    assert "Traceback" not in captured.err
    assert not list(tmp_path.rglob(".*.tmp"))  # no temporary file left behind
    assert not (tmp_path / "reports").exists()


def test_progress_is_reported_while_reading(runs: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]):  # fmt: skip
    calls: list[tuple[int, int]] = []
    read_pool(runs, progress=lambda done, total: calls.append((done, total)))
    total = len(list(runs.glob("*.json")))  # t1, m1, o1, notes, broken
    assert calls == [(i, total) for i in range(total + 1)]

    class Terminal:  # stderr as a terminal: the line is drawn from PROGRESS_FROM records
        def __init__(self) -> None:
            self.text = ""

        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> int:
            self.text += text
            return len(text)

        def flush(self) -> None:
            pass

    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    _progress_line(3, 10)
    assert terminal.text == ""  # a few records: no progress line
    _progress_line(120, 400)
    _progress_line(400, 400)
    assert terminal.text == "\rreading run records: 120/400\rreading run records: 400/400\n"

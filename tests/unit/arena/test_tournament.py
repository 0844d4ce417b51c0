"""Round robins: the schedule, the shared slot pool, the record, resume, --include, the
CLI's checks and the console leaderboard (no server, no battles)."""

from __future__ import annotations

import asyncio
import io
import json
import types
from collections import Counter
from pathlib import Path

import pytest
from rich.console import Console

import main
from arena.cli import print_leaderboard
from arena.engines import Lane, ServerEngine
from arena.match import round_robin_pairs, schedule
from arena.plan import RunRequest, plan_run
from arena.ratings import Leaderboard
from arena.run import finalize, leaderboard
from battle.journal import Journal, build_record, read_journal
from battle.record import (
    AgentSpec,
    BattleRecord,
    RunPaths,
    RunRecord,
    RunSpec,
    load_record,
    write_record,
)
from battle.summary import summarize

AGENTS = ["random", "max-damage", "heuristic"]


def test_schedule_gives_every_pair_n_battles_sides_swapped_in_half():
    for n in (1, 4, 7):
        order = schedule(round_robin_pairs(AGENTS), n)
        counts = Counter(order)
        assert len(order) == 3 * n
        for i, a in enumerate(AGENTS):
            for b in AGENTS[i + 1 :]:
                assert counts[(a, b)] + counts[(b, a)] == n
                assert counts[(a, b)] == (n + 1) // 2 and counts[(b, a)] == n // 2


def test_schedule_interleaves_pairs_and_alternates_sides():
    order = schedule(round_robin_pairs(["a", "b", "c", "d"]), 6)
    pairs = [frozenset(p) for p in order]
    # every one of the 6 pairs starts a battle before any pair starts its second
    assert len(set(pairs[:6])) == 6
    ab = [p for p in order if set(p) == {"a", "b"}]
    assert ab == [("a", "b"), ("b", "a")] * 3


def test_schedule_after_a_resume_plays_only_the_rest():
    done = {("random", "max-damage"): 2, ("max-damage", "random"): 1, ("heuristic", "random"): 2}
    counts = Counter(schedule(round_robin_pairs(AGENTS), 4, done))
    assert counts[("random", "max-damage")] == 0 and counts[("max-damage", "random")] == 1
    assert counts[("random", "heuristic")] == 2 and counts[("heuristic", "random")] == 0
    assert counts[("max-damage", "heuristic")] == 2 and counts[("heuristic", "max-damage")] == 2


def test_a_match_is_a_round_robin_of_one_pair_with_its_sides_fixed():
    assert schedule([("p1", "p2")], 5, swap_sides=False) == [("p1", "p2")] * 5
    assert schedule([("p1", "p2")], 5, {("p1", "p2"): 3}, swap_sides=False) == [("p1", "p2")] * 2


def test_a_resumed_match_plays_what_its_journal_misses(tmp_path: Path):
    from arena.plan import done_of, order_of

    spec = tournament_spec(n=5)
    spec.agents = None
    battles = [types.SimpleNamespace(p1_agent=None, p2_agent=None)] * 3
    assert done_of(spec, battles) == {("p1", "p2"): 3}  # type: ignore[arg-type]
    assert order_of(spec, battles) == [("p1", "p2")] * 2  # type: ignore[arg-type]


class FakePlayer:
    """Stands in for a poke-env player: a battle takes a few ms and is counted."""

    def __init__(self, stats: dict, pairing: tuple[str, str]):
        self.stats, self.pairing = stats, pairing

    async def battle_against(self, opponent: FakePlayer, n_battles: int) -> None:
        stats = self.stats
        stats["live"] += 1
        stats["peak"] = max(stats["peak"], stats["live"])
        stats["started"].append(self.pairing)
        await asyncio.sleep(0.01)
        stats["live"] -= 1


async def test_server_engine_shares_one_pool_of_slots_between_all_pairs():
    stats = {"live": 0, "peak": 0, "started": []}
    lanes: list[Lane] = []

    def lane_for(pairing):
        lane = Lane(pairing, {s: FakePlayer(stats, pairing) for s in ("p1", "p2")})  # type: ignore[misc]
        lanes.append(lane)
        return lane

    engine = ServerEngine(types.SimpleNamespace(url="ws://x"))  # type: ignore[arg-type]
    order = schedule(round_robin_pairs(["a", "b", "c", "d"]), 10)
    config = types.SimpleNamespace(concurrency=5)
    await engine.run_schedule(order, lane_for, config)  # type: ignore[arg-type]
    assert stats["started"] == order  # started in schedule order: pairs interleaved
    assert stats["peak"] == 5  # the cap holds over all pairs, and is used
    assert len(lanes) <= 5 + 12  # lanes are reused, not one per battle


def tournament_spec(n: int = 4, include: list[str] | None = None) -> RunSpec:
    everyone = AgentSpec(",".join(AGENTS), ",".join(AGENTS))
    return RunSpec(
        run_id="t1", p1=everyone, p2=everyone, format="gen9randombattle", n=n, seed=7,
        concurrency=4, move_delay=0.0, battle_timeout_s=600.0, server="sim",
        versions={"arena": "0"}, started_at=100.0,
        agents=[AgentSpec(a, a) for a in AGENTS], include=include,
    )  # fmt: skip


def tb(tag: str, p1: str, p2: str, winner: str | None, session: int = 0) -> BattleRecord:
    return BattleRecord(tag, winner, 20, 1.0, None, None if winner else "timed out", 101.0,
                        session, p1_agent=p1, p2_agent=p2)  # fmt: skip


def journal_with(path: Path, spec: RunSpec, battles: list[BattleRecord]) -> None:
    journal = Journal(path)
    journal.write_spec(spec)
    for b in battles:
        journal.write_battle(b, [])
    journal.close()


STRONG = [  # heuristic > max-damage > random, clearly
    *[tb(f"a{i}", "heuristic", "random", "p1") for i in range(6)],
    *[tb(f"b{i}", "random", "heuristic", "p2") for i in range(6)],
    *[tb(f"c{i}", "max-damage", "random", "p1" if i < 5 else "p2") for i in range(6)],
    *[tb(f"d{i}", "heuristic", "max-damage", "p1" if i < 4 else "draw") for i in range(6)],
    tb("e0", "max-damage", "heuristic", None),  # an error: not rated
]


def test_tournament_record_round_trip_and_match_records_unchanged(tmp_path: Path):
    paths = RunPaths(tmp_path, "t1")
    journal_with(paths.journal, tournament_spec(), STRONG)
    record = finalize(paths, finished=True)
    assert record is not None and record.leaderboard is not None
    data = json.loads(paths.record.read_text())
    assert data["schema_version"] == 1
    assert [r["agent"] for r in data["ratings"]] == ["heuristic", "max-damage", "random"]
    first = data["ratings"][0]
    assert set(first) == {"agent", "rating", "ci95", "wins", "losses", "draws", "battles",
                          "gxe", "gxe_ci95"}  # fmt: skip
    assert first["ci95"][0] <= first["rating"] <= first["ci95"][1]
    assert {"pairs", "comparisons", "anchor", "resamples", "seed"} <= set(data)
    assert data["anchor"] == "random" and data["seed"] == 7 and data["resamples"] >= 1000
    assert data["battles"][0]["p1_agent"] == "heuristic"
    assert [a["given"] for a in data["spec"]["agents"]] == AGENTS
    loaded = load_record(paths.record)
    assert loaded == record
    assert Leaderboard.from_dict(loaded.leaderboard).ratings[2].agent == "random"

    # A match record has none of the new fields.
    match_spec = RunSpec(**{**tournament_spec().__dict__, "agents": None, "include": None})
    match = RunRecord(match_spec, [BattleRecord("m1", "p1", 3, 1.0, None)], [],
                      summarize([], [], 0.0))  # fmt: skip
    plain = match.to_dict()
    assert "agents" not in plain["spec"] and "include" not in plain["spec"]
    assert "p1_agent" not in plain["battles"][0] and "ratings" not in plain
    write_record(match, tmp_path / "m.json")
    assert load_record(tmp_path / "m.json").leaderboard is None


def test_include_adds_earlier_battles_under_their_recorded_names(tmp_path: Path):
    # an earlier match: heuristic (p1) vs metamon (p2), and an earlier tournament
    match_spec = RunSpec(**{**tournament_spec().__dict__, "run_id": "m", "agents": None,
                            "p1": AgentSpec("heuristic", "heuristic"),
                            "p2": AgentSpec("metamon", "metamon")})  # fmt: skip
    match_battles = [BattleRecord(f"m{i}", "p2" if i < 3 else "p1", 9, 1.0, None) for i in range(4)]
    write_record(build_record(_contents(tmp_path, "m", match_spec, match_battles), None),
                 tmp_path / "m.json")  # fmt: skip
    earlier = RunPaths(tmp_path, "old")
    journal_with(earlier.journal, tournament_spec(), STRONG[:6])
    finalize(earlier, finished=True)

    spec = tournament_spec(include=[str(tmp_path / "m.json"), str(earlier.record)])
    board = leaderboard(_contents(tmp_path, "t1", spec, STRONG[6:12]))
    by_agent = {r.agent: r for r in board.ratings}
    assert set(by_agent) == {*AGENTS, "metamon"}
    assert by_agent["metamon"].battles == 4 and by_agent["metamon"].wins == 3
    # heuristic: 6 + 6 (this run, the earlier tournament) + 4 (the match)
    assert by_agent["heuristic"].battles == 16
    pair = next(p for p in board.pairs if {p.a, p.b} == {"heuristic", "random"})
    assert pair.battles == 12


def _contents(tmp_path: Path, run_id: str, spec: RunSpec, battles: list[BattleRecord]):
    path = tmp_path / f"{run_id}.jsonl"
    journal_with(path, spec, battles)
    return read_journal(path)


def test_resume_of_an_interrupted_tournament_plans_only_the_missing_battles(tmp_path: Path):
    plan = plan_run(RunRequest(agents=AGENTS, n=4, output_dir=tmp_path, engine="sim", seed=3))
    assert plan.remaining == 12 and plan.total == 12
    played = [
        tb("x1", "random", "max-damage", "p2"),
        tb("x2", "max-damage", "random", "p1"),
        tb("x3", "random", "max-damage", "p2"),
        tb("x4", "heuristic", "random", "p1"),
    ]
    journal_with(plan.paths.journal, plan.spec, played)  # interrupted after 4 battles

    resumed = plan_run(RunRequest(resume=str(plan.paths.record), output_dir=tmp_path,
                                  engine="sim"))  # fmt: skip
    assert resumed.done == 4 and resumed.remaining == 8 and resumed.session == 1
    counts = Counter(resumed.order)
    assert counts[("random", "max-damage")] == 0 and counts[("max-damage", "random")] == 1
    assert counts[("random", "heuristic")] == 2 and counts[("heuristic", "random")] == 1
    assert resumed.spec.agents == plan.spec.agents and resumed.spec.seed == 3
    more = plan_run(RunRequest(resume=str(plan.paths.record), n=6, output_dir=tmp_path))
    assert more.remaining == 18 - 4 and more.total == 18


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--agents", "random,heuristic", "--p1", "random"], "mutually exclusive"),
        (["--agents", "random,heuristic,random"], "'random' twice"),
        (["--agents", "heuristic"], "two or more agents"),
        (["--agents", "random,heuristc"], "did you mean 'heuristic'"),
        (["--agents", "random,,heuristic"], "empty name"),
        (["--agents", "random,heuristic", "--include", "nope.json"], "does not exist"),
        (["--p1", "random", "--include", "nope.json"], "use it with --agents"),
    ],
)
def test_cli_checks_are_one_line_before_any_battle(args, expected, tmp_path, capsys):
    code = main.main(["--output", str(tmp_path), "--log-level", "WARNING", *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and expected in err, err
    assert not list(tmp_path.iterdir())  # nothing was started or written


def test_console_leaderboard(tmp_path: Path):
    paths = RunPaths(tmp_path, "t1")
    battles = [*STRONG[:12], *[tb(f"f{i}", "max-damage", "heuristic", "p1" if i % 2 else "p2")
                               for i in range(3)]]  # fmt: skip
    journal_with(paths.journal, tournament_spec(), battles)
    record = finalize(paths, finished=True)
    out = io.StringIO()
    print_leaderboard(record, Console(file=out, width=160, color_system=None))
    text = out.getvalue()
    lines = [line for line in text.splitlines() if "│" in line]
    assert "heuristic" in lines[0] and "14-1-0" in lines[0] and "random" in lines[-1]
    assert "1000 [1000, 1000]" in lines[-1] and "0-12-0" in lines[-1]
    assert "random = 1000" in text
    board = Leaderboard.from_dict(record.leaderboard)
    close = next(c for c in board.comparisons if not c.conclusive)
    assert (f"about {close.battles_needed} more battles between {close.higher} and "
            f"{close.lower} would likely separate them") in text  # fmt: skip
    assert "conclusive: " in text

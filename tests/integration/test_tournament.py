"""A real round robin of the three baselines on the sim engine: the ranking is right, and
a resume plays only the battles still missing."""

from __future__ import annotations

from collections import Counter

from arena.engines import SimEngine
from arena.plan import RunRequest, plan_run
from arena.ratings import Leaderboard
from arena.run import finalize, play_session

AGENTS = ["random", "max-damage", "heuristic"]


async def test_round_robin_ranks_heuristic_over_max_damage_over_random(tmp_path):
    # 40 a pair: heuristic beats max-damage ~75% of the time (the battles' own seeds are
    # Showdown's), and at 24 a pair the ranking once came out flipped; more battles make
    # that much rarer for under a second more
    plan = plan_run(RunRequest(agents=AGENTS, n=40, concurrency=8, output_dir=tmp_path,
                               engine="sim", seed=11))  # fmt: skip
    await play_session(plan, SimEngine(processes=2))
    record = finalize(plan.paths, finished=True)
    assert record is not None and len(record.battles) == 120
    pairings = Counter((b.p1_agent, b.p2_agent) for b in record.battles)
    for i, a in enumerate(AGENTS):
        for b in AGENTS[i + 1 :]:
            assert pairings[(a, b)] == 20 and pairings[(b, a)] == 20  # sides swapped in half
    for b in record.battles[:6]:  # every battle's decisions come from both of its sides
        assert {d.side for d in record.decisions if d.battle_tag == b.battle_tag} == {"p1", "p2"}
    assert not any(d.fallback for d in record.decisions)

    # Resume with a larger n: only the 2 extra battles per pair are played.
    more = plan_run(RunRequest(resume=str(plan.paths.record), n=42, output_dir=tmp_path,
                               engine="sim"))  # fmt: skip
    assert more.remaining == 6
    await play_session(more, SimEngine(processes=2))
    record = finalize(plan.paths, finished=True)
    assert len(record.battles) == 126 and {b.session for b in record.battles} == {0, 1}

    board = Leaderboard.from_dict(record.leaderboard)
    assert [r.agent for r in board.ratings] == ["heuristic", "max-damage", "random"]
    assert board.anchor == "random" and board.ratings[2].rating == 1000
    assert sum(r.battles for r in board.ratings) == 2 * sum(b.winner is not None
                                                            for b in record.battles)  # fmt: skip

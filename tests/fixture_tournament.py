"""A small hand-built tournament record with decisions, for the report's tests.

Three agents, each pair playing `per_pair` battles with the sides swapped every other
battle. Each agent decides the same way whichever side it plays, so a chart per agent
has known values: `LATENCY_MS` (turn 1, turn 2), the actions of `ACTIONS` and the
effectiveness of `EFFECTIVENESS` (None for a switch or a default order). One agent's
name is markup, to check it is escaped.
"""

from __future__ import annotations

from pathlib import Path

from arena.run import finalize
from battle.journal import Journal
from battle.record import AgentSpec, BattleRecord, DecisionRecord, RunPaths, RunSpec

EVIL = "<i>evil</i>"
AGENTS = ("heuristic", "random", EVIL)
LATENCY_MS = {"heuristic": (101.0, 102.0), "random": (1.0, 2.0), EVIL: (10.0, 30.0)}
ACTIONS = {
    "heuristic": ("move surf", "move surf tera"),
    "random": ("switch pikachu", "move tackle"),
    EVIL: ("move ember", "default"),
}
EFFECTIVENESS = {
    "heuristic": (2.0, 2.0),
    "random": (None, 0.5),
    EVIL: (1.0, None),
}


def decisions_of(tag: str, agents: dict[str, str]) -> list[DecisionRecord]:
    """Two turns of one battle: each side decides as its agent does."""
    out = []
    for turn in (1, 2):
        for side, agent in agents.items():
            i = turn - 1
            out.append(
                DecisionRecord(
                    tag,
                    turn,
                    side,  # type: ignore[arg-type]
                    ACTIONS[agent][i],
                    LATENCY_MS[agent][i],
                    effectiveness=EFFECTIVENESS[agent][i],
                )
            )
    return out


def tournament_record(folder: Path, per_pair: int = 2, run_id: str = "tour") -> Path:
    """Write the tournament's journal and record under `folder`; the record's path."""
    everyone = AgentSpec(",".join(AGENTS), ",".join(AGENTS))
    spec = RunSpec(
        run_id=run_id, p1=everyone, p2=everyone, format="gen9randombattle", n=per_pair,
        seed=1, concurrency=2, move_delay=0.0, battle_timeout_s=600.0, server="sim",
        versions={"arena": "0"}, started_at=100.0, agents=[AgentSpec(a, a) for a in AGENTS],
    )  # fmt: skip
    paths = RunPaths(folder, run_id)
    journal = Journal(paths.journal)
    journal.write_spec(spec)
    i = 0
    for a, b in (("heuristic", "random"), ("random", EVIL), ("heuristic", EVIL)):
        for k in range(per_pair):
            p1, p2 = (a, b) if k % 2 == 0 else (b, a)
            tag = f"battle-gen9randombattle-{i}"
            battle = BattleRecord(tag, "p1" if k % 3 else "p2", 2, 1.0, None, None, 101.0 + i,
                                  p1_agent=p1, p2_agent=p2)  # fmt: skip
            journal.write_battle(battle, decisions_of(tag, {"p1": p1, "p2": p2}))
            i += 1
    journal.close()
    finalize(paths, finished=True)
    return paths.record

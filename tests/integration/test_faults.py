"""Agents that misbehave cannot break a battle or hang a run."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from poke_env.player.battle_order import SingleBattleOrder

from agents import BaseAgent, Decision, registry
from arena.match import DirectEngine, ServerEngine
from arena.record import load_record
from arena.run import RunRequest, finalize, plan_run, play_session


class SlowAgent(BaseAgent):
    name = "test-slow"

    def __init__(self, seed=None, delay: float = 0.3):
        super().__init__(seed)
        self.delay = delay

    async def decide(self, battle):
        await asyncio.sleep(self.delay)
        return Decision(order=self.random_order(battle))


class IllegalAgent(BaseAgent):
    """Always asks for Splash, which no gen 9 random-battle set has."""

    name = "test-illegal"

    async def decide(self, battle):
        from poke_env.battle.move import Move

        return Decision(order=SingleBattleOrder(Move("splash", gen=9)))


class CrashingAgent(BaseAgent):
    name = "test-crash"

    async def decide(self, battle):
        raise RuntimeError("boom")


@pytest.fixture
def test_agents() -> Iterator[None]:
    registry._load_builtins()
    agents = {"test-slow": SlowAgent, "test-illegal": IllegalAgent, "test-crash": CrashingAgent}
    for name, cls in agents.items():
        registry.register(name)(cls)
    yield
    for name in agents:
        registry._REGISTRY.pop(name, None)


async def run(server, tmp_path, p1: str, p2: str = "random", n: int = 1, engine="server", **kw):
    decision_timeout = kw.pop("decision_timeout_s", 60.0)
    request = RunRequest(
        p1=p1, p2=p2, n=n, output_dir=tmp_path, decision_timeout_s=decision_timeout, **kw
    )
    plan = plan_run(request)
    play_on = ServerEngine(server) if engine == "server" else DirectEngine(processes=1)
    await play_session(plan, play_on)
    return finalize(plan.paths, finished=True)


@pytest.mark.parametrize(
    ("agent", "reason"), [("test-illegal", "illegal_action"), ("test-crash", "agent_error")]
)
async def test_bad_decisions_fall_back_to_legal_ones(
    showdown_server, tmp_path, test_agents, agent, reason
):
    record = await run(showdown_server, tmp_path, agent)
    battle = record.battles[0]
    assert battle.error is None and battle.winner in {"p1", "p2", "draw"}
    mine = [d for d in record.decisions if d.side == "p1"]
    assert mine and all(d.fallback and d.fallback_reason == reason for d in mine)
    assert record.summary.sides["p1"].fallback_rate == 1.0
    assert record.summary.sides["p2"].fallback_rate == 0.0


async def test_slow_decision_times_out_to_a_fallback(showdown_server, tmp_path, test_agents):
    registry._REGISTRY["test-slow"] = registry.Registration(
        "test-slow", lambda seed=None: SlowAgent(seed, delay=5.0), "", takes_arg=False
    )
    record = await run(showdown_server, tmp_path, "test-slow", decision_timeout_s=0.05)
    mine = [d for d in record.decisions if d.side == "p1"]
    assert mine and all(d.fallback_reason == "timeout" for d in mine)
    assert all(d.latency_ms < 1000 for d in mine)
    assert record.battles[0].winner is not None


@pytest.mark.parametrize("engine", ["server", "sim"])
async def test_stuck_battle_is_ended_by_the_battle_timeout(
    showdown_server, tmp_path, test_agents, engine
):
    # 0.3 s per decision: well inside the decision deadline, but the battle overruns 1 s.
    record = await run(
        showdown_server, tmp_path, "test-slow", n=2, concurrency=2, battle_timeout_s=1.0,
        engine=engine,
    )  # fmt: skip
    assert len(record.battles) == 2
    for battle in record.battles:
        assert battle.winner is None and battle.error == "timed out after 1s"
    assert record.summary.errors == 2 and record.summary.battles == 0


# --------------------------------------------------------------------------------------
# runs that survive crashes (issue 14): each case as a user meets it, through main.py

REPO = Path(__file__).resolve().parents[2]


def main_py(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "main.py", "--engine", "sim", "--concurrency", "2",
         "--output", str(tmp_path / "runs"), "--reports", str(tmp_path / "reports"),
         "--log-level", "WARNING", *args],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_resume_after_a_torn_journal_line_keeps_every_battle(tmp_path):
    """Case 1: the last journal line was cut mid-write (kill -9, power loss). The resume
    sets the torn tail aside in one line, plays on, and every battle is counted once."""
    first = main_py(tmp_path, "--p1", "random", "--p2", "max-damage", "--n", "2", "--seed", "5")
    assert first.returncode == 0, first.stderr
    journal = next((tmp_path / "runs").glob("*.jsonl"))
    lines = journal.read_text().splitlines()
    battle_line = next(line for line in lines if '"type":"battle"' in line)
    torn = battle_line[: len(battle_line) // 2]
    with open(journal, "a") as fh:
        fh.write(torn)  # a third battle's line, cut short

    resumed = main_py(tmp_path, "--resume", str(journal), "--n", "4")
    assert resumed.returncode == 0, (resumed.stdout, resumed.stderr)
    said = resumed.stdout + resumed.stderr
    assert "Traceback" not in said
    assert "cut short" in " ".join(said.split()) and "set aside in" in " ".join(said.split())
    assert journal.with_name(journal.name + ".torn").read_text() == torn + "\n"
    record = load_record(journal.with_suffix(".json"))
    assert len(record.battles) == 4 and len({b.battle_tag for b in record.battles}) == 4
    again = main_py(tmp_path, "--resume", str(journal))  # the journal reads whole
    assert again.returncode == 0 and "already played" in again.stdout, again.stderr

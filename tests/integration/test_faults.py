"""Agents that misbehave cannot break a battle or hang a run."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from poke_env.player.battle_order import SingleBattleOrder

from agents import BaseAgent, Decision, registry
from arena.match import DirectEngine, ServerEngine
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

"""Mistral agents: the real `mistralai` SDK against a local stand-in HTTP server.

Battles come from recorded real games (offline); every call goes over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator

import pytest
from fixture_battles import decision_points, fixture_paths
from mistral_standin import Reply, StandIn, running_standin

from agents import registry
from agents.base import action_name, is_legal
from agents.mistral import _LIMITERS, MODELS, MissingKeyError, MistralAgent, MistralConfig

pytestmark = pytest.mark.slow  # a local HTTP stand-in, with real timeouts and retries

KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def standin(monkeypatch) -> Iterator[StandIn]:
    with running_standin() as server:
        monkeypatch.setenv("MISTRAL_API_KEY", KEY)
        monkeypatch.setenv("MISTRAL_SERVER_URL", server.url)
        _LIMITERS.clear()
        yield server


def battles(limit: int = 6):
    """A few real decision points (each battle object is a snapshot at a decision)."""
    points = itertools.islice(decision_points(fixture_paths()[0]), 5, None)
    for battle, _request in itertools.islice(points, limit):
        yield battle


def make_agent(**config) -> MistralAgent:
    defaults = {"rps": 1000.0, "backoff_s": 0.01, "backoff_max_s": 0.05, "deadline_s": 10.0}
    return MistralAgent("mistral-small-latest", "mistral-small", seed=1,
                        config=MistralConfig(**{**defaults, **config}))  # fmt: skip


async def decide_one(agent: MistralAgent):
    battle = next(battles())
    decision = await agent.decide(battle)
    assert is_legal(decision.order, battle)  # whatever happened, the order is legal
    return battle, decision


async def test_normal_answer_is_a_legal_action_with_reasoning_and_tokens(standin):
    standin.default = Reply(choose=1)
    agent = make_agent()
    battle, decision = await decide_one(agent)
    assert not decision.fallback and decision.fallback_reason is None
    assert decision.tokens == 150
    assert decision.reasoning.startswith("stand-in picks")
    request = standin.received[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.body["model"] == "mistral-small-latest"
    fmt = request.body["response_format"]
    assert fmt["type"] == "json_schema"
    labels = StandIn.legal_actions(request.body)
    assert labels == [action_name(o) for o in battle.valid_orders]
    assert action_name(decision.order) == labels[1]
    assert request.body["messages"][0]["role"] == "system"
    await agent.close()


async def test_429_with_retry_after_then_success(standin):
    standin.script.extend([Reply(status=429, headers={"Retry-After": "0.3"}), Reply()])
    agent = make_agent()
    start = time.monotonic()
    _, decision = await decide_one(agent)
    assert not decision.fallback
    assert len(standin.received) == 2
    assert standin.received[1].at - standin.received[0].at >= 0.3
    assert time.monotonic() - start >= 0.3
    await agent.close()


async def test_server_errors_until_retries_run_out_fall_back(standin):
    standin.default = Reply(status=500)
    agent = make_agent(max_retries=3)
    _, decision = await decide_one(agent)
    assert decision.fallback and decision.fallback_reason == "server_error"
    assert len(standin.received) == 4  # one call and three retries
    await agent.close()


async def test_503_then_success_is_not_a_fallback(standin):
    standin.script.extend([Reply(status=503), Reply(status=502), Reply()])
    agent = make_agent()
    _, decision = await decide_one(agent)
    assert not decision.fallback and len(standin.received) == 3
    await agent.close()


async def test_slow_answer_past_the_call_timeout(standin):
    standin.default = Reply(delay_s=1.0)
    agent = make_agent(call_timeout_s=0.2, max_retries=1)
    start = time.monotonic()
    _, decision = await decide_one(agent)
    assert decision.fallback and decision.fallback_reason == "timeout"
    assert time.monotonic() - start < 0.9  # never waited for the slow answer
    await agent.close()


async def test_decision_deadline_bounds_every_retry(standin):
    standin.default = Reply(status=500)
    agent = make_agent(deadline_s=0.5, max_retries=100, backoff_s=0.1, backoff_max_s=0.2)
    start = time.monotonic()
    _, decision = await decide_one(agent)
    # the last failure names the fallback: a 500, or (on a loaded machine) the deadline
    # passing while a retry was still in flight
    assert decision.fallback and decision.fallback_reason in ("server_error", "timeout")
    assert time.monotonic() - start < 0.8
    await agent.close()


@pytest.mark.parametrize(
    ("content", "fallback", "reason"),
    [
        ("I think I will attack!!", True, "unparseable"),
        ("{not json", True, "unparseable"),
        ("", True, "empty"),
        ('{"reasoning": "splash!", "action": "move splash"}', True, "illegal_action"),
    ],
)
async def test_unusable_answers_are_counted_fallbacks(standin, content, fallback, reason):
    standin.default = Reply(content=content)
    agent = make_agent()
    _, decision = await decide_one(agent)
    assert decision.fallback is fallback and decision.fallback_reason == reason
    assert decision.tokens == 150  # the call was made and paid for
    await agent.close()


async def test_fenced_answer_is_parsed(standin):
    battle = next(battles())
    label = action_name(battle.valid_orders[0])
    answer = json.dumps({"reasoning": "fenced", "action": label})
    standin.default = Reply(content=f"Here you go:\n```json\n{answer}\n```")
    agent = make_agent()
    decision = await agent.decide(battle)
    assert not decision.fallback and action_name(decision.order) == label
    await agent.close()


async def test_connection_refused_is_a_server_error_fallback(monkeypatch):
    monkeypatch.setenv("MISTRAL_API_KEY", KEY)
    monkeypatch.setenv("MISTRAL_SERVER_URL", "http://127.0.0.1:9")  # nothing listens
    _LIMITERS.clear()
    agent = make_agent(max_retries=1)
    _, decision = await decide_one(agent)
    assert decision.fallback and decision.fallback_reason == "server_error"
    await agent.close()


async def test_rate_limit_is_shared_by_agents_of_one_model(standin):
    agents = [make_agent(rps=5.0), make_agent(rps=5.0)]
    await asyncio.gather(*(agent.decide(b) for agent in agents for b in battles(3)))
    starts = sorted(r.at for r in standin.received)
    assert len(starts) == 6
    # 5 requests per second across both agents: six requests span at least a second
    # (two separate limiters would have let them through in 0.4 s).
    assert starts[-1] - starts[0] >= 1.0 - 0.05, starts
    for agent in agents:
        await agent.close()


async def test_last_exchange_of_the_battle_is_kept_as_context(standin):
    agent = make_agent(history=1)
    snapshots = list(battles(2))
    for battle in snapshots:
        await agent.decide(battle)
    first, second = (r.body["messages"] for r in standin.received)
    assert [m["role"] for m in first] == ["system", "user"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    await agent.close()


async def test_fallback_agent_is_configurable(standin):
    standin.default = Reply(status=500)
    agent = make_agent(max_retries=0, fallback="max-damage")
    # A decision with a damaging move, where max-damage is deterministic.
    battle = next(
        b for b in battles(60)
        if not b.force_switch and any(m.base_power > 0 for m in b.available_moves)
    )  # fmt: skip
    decision = await agent.decide(battle)
    expected = await registry.create("max-damage").decide(battle)
    assert decision.fallback and decision.order.message == expected.order.message
    await agent.close()


def test_registry_names_resolve_to_latest_ids(monkeypatch):
    monkeypatch.setenv("MISTRAL_API_KEY", KEY)
    for name, model in MODELS.items():
        agent = registry.create(name)
        assert agent.resolved == model and agent.name == name
        assert KEY not in json.dumps(agent.params)
    custom = registry.create("mistral:ft:open-mistral-7b:abc123:20260101:xyz")
    assert custom.resolved == "ft:open-mistral-7b:abc123:20260101:xyz"


def test_missing_key_is_a_clear_error_before_anything_runs(monkeypatch):
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="MISTRAL_API_KEY"):
        registry.preflight("mistral-large")
    with pytest.raises(ValueError, match="needs a model id"):
        registry.preflight("mistral:")


def test_bad_config_values_are_one_line_errors(monkeypatch):
    monkeypatch.setenv("MISTRAL_RPS", "fast")
    with pytest.raises(ValueError, match="MISTRAL_RPS='fast'"):
        MistralConfig.from_env()
    monkeypatch.setenv("MISTRAL_RPS", "0")
    with pytest.raises(ValueError, match="above 0"):
        MistralConfig.from_env()

"""The agent registry: names, `kind:arg`, and errors that say how to fix them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agents import registry
from agents.base import Agent, BaseAgent, Decision
from agents.baselines import HeuristicAgent, MaxDamageAgent, RandomAgent
from agents.registry import UnknownAgentError, create, parse, register, registered


@pytest.fixture
def scratch_names() -> Iterator[list[str]]:
    """Names registered by a test; removed from the registry afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        registry._REGISTRY.pop(name, None)


def test_builtins_registered() -> None:
    regs = registered()
    assert {"random", "max-damage", "heuristic"} <= set(regs)
    assert regs["random"].factory is RandomAgent
    assert regs["max-damage"].factory is MaxDamageAgent
    assert regs["heuristic"].factory is HeuristicAgent
    for reg in regs.values():
        assert reg.help, f"{reg.name} has no help text"
        # Only `kind:arg` agents take an argument (mistral:<model-id>, metamon:PATH,
        # alphastral:DIR_OR_HUB_ID, heuristic:matchup-lead, search:MS, user:NAME).
        takers = {"mistral", "metamon", "alphastral", "heuristic", "search", "user"}
        assert reg.takes_arg == (reg.name in takers), reg.name
        assert reg.outside == (reg.name == "user"), reg.name  # only user:NAME is challenged
    assert list(regs) == sorted(regs)


@pytest.mark.parametrize("name", ["random", "max-damage", "heuristic"])
def test_create_builtins(name: str) -> None:
    agent = create(name, seed=1)
    assert isinstance(agent, Agent)
    assert agent.name == name


def test_unknown_name_lists_names_and_closest_match() -> None:
    with pytest.raises(UnknownAgentError) as err:
        create("heuristc")
    message = str(err.value)
    assert "'heuristc'" in message
    assert "did you mean 'heuristic'?" in message
    for name in ("random", "max-damage", "heuristic"):
        assert name in message


def test_unknown_name_without_close_match_still_lists_names() -> None:
    with pytest.raises(UnknownAgentError) as err:
        parse("zzzzzzzz")
    assert "did you mean" not in str(err.value)
    assert "registered agents:" in str(err.value)
    assert "random" in str(err.value)


def test_unknown_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        create("nope")


def test_kind_arg_parsing() -> None:
    parsed = parse("random")
    assert (parsed.given, parsed.kind, parsed.arg) == ("random", "random", None)
    assert parse("  heuristic ").kind == "heuristic"


def test_arg_is_split_at_the_first_colon(scratch_names: list[str]) -> None:
    @register("scratch-arg", help="test agent with an argument")
    class ArgAgent(BaseAgent):
        name = "scratch-arg"

        def __init__(self, seed: int | None = None, arg: str | None = None):
            super().__init__(seed)
            self.arg = arg

        async def decide(self, battle):  # pragma: no cover - never played
            return Decision(order=self.random_order(battle))

    scratch_names.append("scratch-arg")
    parsed = parse("scratch-arg:ft:model-id")
    assert (parsed.kind, parsed.arg) == ("scratch-arg", "ft:model-id")
    assert create("scratch-arg:ft:model-id").arg == "ft:model-id"
    assert create("scratch-arg").arg is None
    assert create("scratch-arg:").arg == ""
    assert registered()["scratch-arg"].takes_arg


def test_register_makes_create_work(scratch_names: list[str]) -> None:
    calls = []

    @register("scratch-fn", help="a factory function")
    def make(seed: int | None = None) -> Agent:
        calls.append(seed)
        return RandomAgent(seed=seed)

    scratch_names.append("scratch-fn")
    agent = create("scratch-fn", seed=42)
    assert isinstance(agent, RandomAgent)
    assert calls == [42]
    assert "scratch-fn" in registered()
    # Registering the same factory again is harmless; another one under the name is not.
    register("scratch-fn")(make)
    with pytest.raises(ValueError, match="registered twice"):
        register("scratch-fn")(lambda seed=None: RandomAgent(seed))


def test_cleanup_removed_scratch_agents() -> None:
    assert not any(name.startswith("scratch-") for name in registered())


@pytest.mark.parametrize("name", ["random:foo", "max-damage:x"])
def test_agent_without_arg_rejects_one(name: str) -> None:
    kind = name.split(":")[0]
    with pytest.raises(UnknownAgentError) as err:
        create(name)
    message = str(err.value)
    assert "takes no argument" in message
    assert repr(name) in message
    assert f"use {kind!r}" in message


def test_seed_reaches_the_agent() -> None:
    a, b = create("random", seed=5), create("random", seed=5)
    assert a.rng.random() == b.rng.random()

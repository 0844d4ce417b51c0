"""The `alphastral` agent with a tiny locally built model, over the recorded real battles:
legal decisions with their candidates, one load per process, one-line load errors, an
adapter folder with its training settings, and the decision record's `candidates`."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from fixture_battles import decision_points, fixture_paths  # noqa: E402

from agents import alphastral, hub, registry  # noqa: E402
from agents.alphastral import AlphastralAgent, AlphastralLoadError  # noqa: E402
from agents.base import action_name, is_legal, legal_orders  # noqa: E402
from battle.finetune_prompt import legal_options, render_prompt  # noqa: E402
from battle.record import DecisionRecord  # noqa: E402
from finetune.tiny import build_tiny_model  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, torch_one_thread) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("alphastral") / "tiny", seed=0)


def play(agent: AlphastralAgent, path: Path) -> list[tuple]:
    """(turn, order sent, candidates) at every decision of a recording; checks each one."""

    async def run() -> list[tuple]:
        out = []
        for battle, _request in decision_points(path):
            decision = await agent.decide(battle)
            assert is_legal(decision.order, battle), (path.name, battle.turn, decision)
            assert not decision.fallback, decision
            out.append((battle.turn, decision.order.message, decision.candidates))
            cands = decision.candidates
            assert cands, decision
            probs = [p for _, p in cands]
            assert probs == sorted(probs, reverse=True)
            assert math.isclose(sum(probs), 1.0, abs_tol=1e-4)
            legal = {action_name(o) for o in legal_orders(battle)}
            assert {name for name, _ in cands} <= legal
            if agent.temperature == 0:
                assert cands[0][0] == action_name(decision.order)  # argmax
            assert decision.reasoning and 1 <= decision.reasoning.count("%") <= 3
        return out

    return asyncio.run(run())


def test_every_decision_is_legal_with_sorted_candidates(tiny):
    agent = AlphastralAgent(seed=1, arg=str(tiny))
    assert agent.params["switches"] is False and agent.params["max_length"] is None
    played = [play(agent, p) for p in fixture_paths()[:4]]
    assert sum(len(p) for p in played) > 50
    # moves only, except where a switch is forced: then the options are the switches
    kinds = {c[0][0].split()[0] for p in played for _, _, c in p}
    assert kinds == {"move", "switch"}
    asyncio.run(agent.close())


def test_loaded_once_shared_and_concurrent_decisions_agree(tiny, monkeypatch):
    monkeypatch.chdir(tiny.parent)
    a = AlphastralAgent(seed=1, arg=str(tiny))
    b = AlphastralAgent(seed=2, arg="tiny")  # the same folder, named relatively
    assert a._loaded is b._loaded and a.resolved == b.resolved == str(tiny.resolve())
    paths = fixture_paths()[:2]
    sequential = [play(a, p) for p in paths]

    async def both() -> list[list]:
        async def one(agent, path):
            return [
                (b.turn, (await agent.decide(b)).order.message) for b, _ in decision_points(path)
            ]

        return await asyncio.gather(one(a, paths[0]), one(b, paths[1]))

    together = asyncio.run(both())
    assert together == [[(t, m) for t, m, _ in s] for s in sequential]


def test_unbatched_scoring_makes_the_same_choices(tiny):
    path = fixture_paths()[2]
    batched = play(AlphastralAgent(seed=1, arg=str(tiny)), path)
    single = play(AlphastralAgent(seed=1, arg=str(tiny), batched=False), path)
    assert [m for _, m, _ in single] == [m for _, m, _ in batched]
    for (_, _, c1), (_, _, c2) in zip(batched, single, strict=True):
        assert [n for n, _ in c1] == [n for n, _ in c2]
        assert all(abs(p - q) < 1e-3 for (_, p), (_, q) in zip(c1, c2, strict=True))


def test_temperature_samples_reproducibly(tiny):
    paths = fixture_paths()[:3]
    greedy = [m for p in paths for _, m, _ in play(AlphastralAgent(seed=1, arg=str(tiny)), p)]
    hot = [AlphastralAgent(seed=s, arg=str(tiny), temperature=20.0) for s in (1, 2, 1)]
    runs = [[m for p in paths for _, m, _ in play(agent, p)] for agent in hot]
    assert runs[0] != greedy and runs[0] != runs[1] and runs[0] == runs[2]


def test_agent_renders_the_dataset_prompt_and_options(tiny):
    """The prompt and options scored are `battle.finetune_prompt`'s for the same battle state."""
    agent = AlphastralAgent(seed=1, arg=str(tiny))
    seen = 0

    async def run() -> None:
        nonlocal seen
        for battle, _ in decision_points(fixture_paths()[5]):
            choice = await agent.choose(battle)
            assert choice is not None
            no_option = not legal_options(battle)  # then the switches, as the agent does
            assert choice.prompt == render_prompt(battle, switches=no_option)
            assert choice.options == legal_options(battle, switches=no_option)
            seen += 1

    asyncio.run(run())
    assert seen > 10


def test_a_scoring_failure_raises_for_the_arena_fallback(tiny, monkeypatch):
    agent = AlphastralAgent(seed=1, arg=str(tiny))

    def broken(*_args):
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(agent, "_score", broken)
    battle = next(b for b, _ in decision_points(fixture_paths()[0]) if len(b.available_moves) > 1)
    with pytest.raises(RuntimeError, match="out of memory"):  # ArenaPlayer: agent_error
        asyncio.run(agent.decide(battle))


# -- load errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda tmp: "/no/such/dir", "no such folder"),
        (lambda tmp: str(tmp), "neither config.json"),
        (lambda tmp: str(tmp / "file.txt"), "a file"),
        (lambda tmp: "", "needs a model"),
    ],
)
def test_preflight_of_bad_weights_is_one_line_that_says_what_to_do(tmp_path, make, expected):
    (tmp_path / "file.txt").write_text("not a model")
    with pytest.raises(AlphastralLoadError) as info:
        registry.preflight(f"alphastral:{make(tmp_path)}")
    message = str(info.value)
    assert "\n" not in message and message.startswith("alphastral: ")
    assert expected in message and "finetune.train" in message
    assert isinstance(info.value, ValueError)  # the CLI's one-line `error:` path


def test_published_model_offline_is_one_line(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(AlphastralLoadError) as info:
        registry.preflight("alphastral")
    message = str(info.value)
    assert "\n" not in message and alphastral.HUB_MODEL in message
    assert "alphastral:DIR" in message


def test_temperature_env_is_checked_before_loading(tiny, monkeypatch):
    monkeypatch.setenv(alphastral.TEMPERATURE_ENV, "hot")
    with pytest.raises(ValueError, match="ALPHASTRAL_TEMPERATURE='hot' is not a number"):
        registry.preflight(f"alphastral:{tiny}")


# -- an adapter folder, trained with switches ----------------------------------------------


@pytest.fixture(scope="module")
def adapter_run(tmp_path_factory, tiny, torch_one_thread) -> Path:
    """A few LoRA steps over the tiny base, adapter only, on pairs with switches."""
    from finetune import train as ft

    data = tmp_path_factory.mktemp("pairs")
    records = []
    for battle, _ in decision_points(fixture_paths()[0]):
        options = legal_options(battle, switches=True)
        if len(options) > 1:
            records.append(
                {
                    "prompt": render_prompt(battle, switches=True),
                    "completion": options[-1].text,
                    "options": [o.text for o in options],
                }
            )
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (data / "stats.json").write_text(json.dumps({"config": {"switches": True}}))
    out = tmp_path_factory.mktemp("run") / "adapter"
    args = ["--config", "finetune/configs/tiny_cpu.yaml", "--train.progress", "false"]
    args += ["--data", str(data), "--out", str(out), "--model", str(tiny), "--adapter-only"]
    args += ["--max_steps", "3"]
    assert ft.main(ft.make_parser().parse_args(args)) == 0
    assert (out / "adapter_config.json").is_file() and not (out / "config.json").exists()
    return out


def test_adapter_folder_plays_with_its_training_settings(adapter_run, tiny):
    agent = AlphastralAgent(seed=1, arg=str(adapter_run))
    assert agent.params["switches"] is True and agent.params["max_length"] == 256
    assert agent._loaded is not AlphastralAgent(seed=1, arg=str(tiny))._loaded
    played = play(agent, fixture_paths()[1])
    # with switches, the options of an unforced decision hold moves and switches
    assert any({n.split()[0] for n, _ in c} == {"move", "switch"} for _, _, c in played if c), (
        played
    )
    moves_only = AlphastralAgent(seed=1, arg=str(adapter_run), switches=False)
    assert moves_only.params["switches"] is False and moves_only._loaded is agent._loaded


# -- the decision record -------------------------------------------------------------------


def test_candidates_round_trip_in_the_record_and_are_omitted_when_unset():
    plain = DecisionRecord("battle-x-1", 3, "p1", "move tackle", 1.5)
    assert "candidates" not in plain.to_dict()
    scored = DecisionRecord(
        "battle-x-1", 3, "p1", "move surf", 9.0, candidates=[("move surf", 0.7), ("move x", 0.3)]
    )
    data = json.loads(json.dumps(scored.to_dict()))
    assert data["candidates"] == [["move surf", 0.7], ["move x", 0.3]]
    assert DecisionRecord(**data) == scored
    assert DecisionRecord(**json.loads(json.dumps(plain.to_dict()))) == plain


def test_unreachable_hub_is_one_line_within_seconds(monkeypatch, tmp_path):
    """Offline without HF_HUB_OFFLINE: the hub is probed for a second or two, not retried
    for half a minute, and the error says how to get the weights onto the machine."""
    import socket
    import time

    import huggingface_hub.constants

    with socket.socket() as sock:  # a local port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    hub.hub_reachable_or_cached.cache_clear()  # an earlier test may have asked
    start = time.monotonic()
    with pytest.raises(AlphastralLoadError) as info:
        registry.preflight("alphastral:someone/some-model")
    assert time.monotonic() - start < hub.HUB_PROBE_S + 3
    message = str(info.value)
    assert "\n" not in message and "someone/some-model" in message
    assert "cannot be reached" in message and "hf download" in message
    assert "alphastral:DIR" in message

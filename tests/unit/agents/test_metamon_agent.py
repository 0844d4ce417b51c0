"""The `metamon` agent with a tiny random checkpoint, over the recorded real battles."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest
import torch
from fixture_battles import decision_points, fixture_paths, load_recording

from agents import metamon, registry
from agents.base import is_legal
from agents.metamon import MetamonAgent
from battle.metamon_actions import N_ACTIONS, action_index, legal_indices
from training.checkpoint import save_checkpoint
from training.model import ModelConfig, PolicyModel
from training.tokenizer import Vocabulary


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    vocab = Vocabulary.build()
    config = ModelConfig.preset("tiny", len(vocab))
    path = tmp_path_factory.mktemp("metamon") / "tiny.safetensors"
    save_checkpoint(path, PolicyModel(config), config, {"vocabulary": vocab.to_dict(), "step": 3})
    return path


def play(agent: MetamonAgent, path: Path) -> list[tuple[str, int, list[int]]]:
    """(order sent, history length after, legal indices) at every decision of a recording."""

    async def run() -> list[tuple[str, int, list[int]]]:
        out = []
        for battle, _request in decision_points(path):
            decision = await agent.decide(battle)
            assert is_legal(decision.order, battle), (path.name, battle.turn, decision)
            assert not decision.fallback, decision
            history = agent.history(battle.battle_tag)
            assert history is not None
            out.append((decision.order.message, len(history), legal_indices(battle)))
        return out

    return asyncio.run(run())


def test_always_legal_and_history_grows_per_battle(checkpoint: Path) -> None:
    agent = MetamonAgent(seed=1, arg=str(checkpoint))
    for path in fixture_paths():
        choices = play(agent, path)
        lengths = [n for _, n, _ in choices]
        assert lengths == list(range(1, len(choices) + 1)), path.name  # a new battle: from 1
        history = agent.history(load_recording(path).battle_tag)
        assert history is not None
        assert history.prev_actions[0] == -1 and history.prev_rewards[0] == 0.0
        assert history.prev_actions[1:] == history.actions[:-1]
        assert all(-1 <= a < N_ACTIONS for a in history.actions)
        c = agent._loaded.config
        assert all(v.shape == (c.d_model,) for v in history.vectors)
        window = min(len(history), c.max_turns)  # each turn's cache while in the window
        entries = history.cache[:window]
        assert all(e is not None and e.shape == (c.n_layers, 2, c.d_model) for e in entries)
    asyncio.run(agent.close())


def test_argmax_is_deterministic_and_models_are_shared(checkpoint: Path) -> None:
    paths = fixture_paths()[:3]
    a = MetamonAgent(seed=1, arg=str(checkpoint))
    b = MetamonAgent(seed=99, arg=str(checkpoint))
    assert a._loaded is b._loaded  # loaded once per process
    assert [play(a, p) for p in paths] == [play(b, p) for p in paths]


def test_temperature_samples(checkpoint: Path) -> None:
    paths = fixture_paths()[:4]
    greedy = [c for p in paths for c, _, _ in play(MetamonAgent(seed=1, arg=str(checkpoint)), p)]
    hot = [MetamonAgent(seed=s, arg=str(checkpoint), temperature=5.0) for s in (1, 2)]
    runs = [[c for p in paths for c, _, _ in play(agent, p)] for agent in hot]
    assert runs[0] != greedy and runs[0] != runs[1]
    # the same seed samples the same choices
    again = MetamonAgent(seed=1, arg=str(checkpoint), temperature=5.0)
    assert [c for p in paths for c, _, _ in play(again, p)] == runs[0]
    assert again.params["temperature"] == 5.0


def test_temperature_from_env(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METAMON_TEMPERATURE", "0.7")
    assert MetamonAgent(arg=str(checkpoint)).temperature == 0.7
    monkeypatch.setenv("METAMON_TEMPERATURE", "hot")
    with pytest.raises(ValueError, match="METAMON_TEMPERATURE"):
        registry.preflight(f"metamon:{checkpoint}")


def test_finished_battles_are_forgotten_and_replays_restart(checkpoint: Path) -> None:
    agent = MetamonAgent(seed=1, arg=str(checkpoint))
    first = fixture_paths()[0]
    tag = load_recording(first).battle_tag
    second = next(p for p in fixture_paths() if load_recording(p).battle_tag != tag)

    async def run() -> None:
        battle = None
        for battle, _ in decision_points(first):
            await agent.decide(battle)
        assert battle is not None and agent.history(tag) is not None
        # the same tag in a new Battle object is a new battle
        for battle2, _ in decision_points(first):
            await agent.decide(battle2)
            assert len(agent.history(tag)) == 1
            break
        battle2.won_by(battle2.player_username)  # finish it
        assert battle2.finished
        for other, _ in decision_points(second):
            await agent.decide(other)
            break
        assert agent.history(tag) is None  # pruned at the next decision

    asyncio.run(run())


def test_same_request_again_replaces_the_turn(checkpoint: Path) -> None:
    agent = MetamonAgent(seed=1, arg=str(checkpoint))

    async def run() -> None:
        for battle, _ in decision_points(fixture_paths()[0]):
            await agent.decide(battle)
            n = len(agent.history(battle.battle_tag))
            await agent.decide(battle)  # asked again (same rqid)
            assert len(agent.history(battle.battle_tag)) == n

    asyncio.run(run())


def test_no_action_index_falls_back(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import battle.metamon_actions as mf

    agent = MetamonAgent(seed=1, arg=str(checkpoint))
    monkeypatch.setattr(mf, "legal_indices", lambda battle: [])

    async def run() -> None:
        for battle, _ in decision_points(fixture_paths()[0]):
            decision = await agent.decide(battle)
            assert is_legal(decision.order, battle)
            if len(battle.valid_orders) == 1:  # forced (Recharge, Struggle...): no fallback
                assert not decision.fallback and decision.reasoning == "the only legal action"
            else:
                assert decision.fallback and decision.fallback_reason == "no_action_index"
            history = agent.history(battle.battle_tag)
            assert history.actions[-1] == action_index(decision.order, battle)

    asyncio.run(run())


# --------------------------------------------------------------------------- registry


def test_registry_metamon_path_resolves(checkpoint: Path) -> None:
    parsed = registry.preflight(f"metamon:{checkpoint}")
    assert parsed.kind == "metamon" and parsed.arg == str(checkpoint)
    agent = registry.create(f"metamon:{checkpoint}", seed=3)
    assert isinstance(agent, MetamonAgent)
    assert agent.name == f"metamon:{checkpoint}"
    assert agent.resolved == str(checkpoint.resolve())
    params = agent.params
    assert params["size"] == "tiny" and params["step"] == 3 and params["temperature"] == 0.0
    assert params["parameters"] == sum(p.numel() for p in agent._loaded.model.parameters())
    assert not agent._loaded.model.training


def test_registry_without_shipped_checkpoint(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    missing = tmp_path / "metamon-small.safetensors"
    monkeypatch.setattr(metamon, "SHIPPED_CHECKPOINT", missing)
    with pytest.raises(ValueError) as err:
        registry.preflight("metamon")
    message = str(err.value)
    assert "\n" not in message
    assert f"no shipped metamon checkpoint at {missing} yet" in message
    assert "training/README.md" in message and "metamon:PATH" in message
    with pytest.raises(ValueError, match="no shipped metamon checkpoint"):
        registry.create("metamon")


def test_registry_shipped_checkpoint(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metamon, "SHIPPED_CHECKPOINT", checkpoint)
    registry.preflight("metamon")
    agent = registry.create("metamon", seed=1)
    assert agent.name == "metamon" and agent.resolved == str(checkpoint.resolve())


@pytest.mark.parametrize("kind", ["missing", "garbage", "not-a-model"])
def test_registry_bad_path_names_it(kind: str, tmp_path: Path) -> None:
    if kind == "missing":
        path = Path("/nope")
    else:
        path = tmp_path / f"{kind}.safetensors"
        if kind == "garbage":
            path.write_bytes(b"not a checkpoint\n" * 10)
        else:
            from safetensors.torch import save_file

            save_file({"x": torch.zeros(2)}, str(path))
    with pytest.raises(ValueError) as err:
        registry.preflight(f"metamon:{path}")
    message = str(err.value)
    assert "\n" not in message and str(path) in message, message


def test_registry_empty_path() -> None:
    with pytest.raises(ValueError, match="needs a checkpoint path"):
        registry.preflight("metamon:")


def test_a_batched_forward_pass_gives_each_battle_its_own_logits(checkpoint: Path) -> None:
    """The batcher's one pass over several battles (caches of different lengths,
    right-padded) gives each the logits a pass over it alone gives, and decoding from the
    cache gives the logits of recomputing the whole history."""
    from agents.metamon_model import Batcher, Job, load_model
    from battle.metamon import metamon_state

    loaded = load_model(checkpoint)
    batcher = Batcher(loaded)
    jobs = []
    for n, path in enumerate(fixture_paths()[:4]):
        vectors, cache, actions = [], [], []
        for battle, _request in list(decision_points(path))[: 2 + 2 * n]:
            job = Job(vectors[:], cache[:], [*actions, 0], [0.0] * (len(actions) + 1),
                      metamon_state(battle), True)  # fmt: skip
            ((_, encoded, _),) = batcher._answer([job])
            assert encoded.cache is not None
            vectors.append(encoded.vector)
            cache.append(encoded.cache)
            actions.append(0)
        jobs.append(job)
    alone = [batcher._answer([job])[0][2] for job in jobs]
    together = [logits for _, _, logits in batcher._answer(jobs)]
    recomputed = [batcher._answer([dataclasses.replace(job, cache=None)])[0][2] for job in jobs]
    for a, b, c in zip(alone, together, recomputed, strict=True):
        legal = [i for i, x in enumerate(a) if x > -1e30]
        assert max(abs(a[i] - b[i]) for i in legal) < 1e-5
        assert max(abs(a[i] - c[i]) for i in legal) < 1e-5


def test_past_the_window_the_history_is_recomputed(checkpoint: Path, monkeypatch) -> None:
    """A battle longer than the model's window: each decision past it reads the last
    max_turns turns (positions from 0 again), recomputed, and stays legal."""
    path = fixture_paths()[0]
    points = list(decision_points(path))
    agent = MetamonAgent(seed=1, arg=str(checkpoint))
    window = 3
    monkeypatch.setattr(agent._loaded.config, "max_turns", window)
    choices = play(agent, path)
    history = agent.history(load_recording(path).battle_tag)
    assert history is not None and len(history) == len(points) > window
    assert all(e is not None for e in history.cache[:window])
    assert all(e is None for e in history.cache[window:])
    assert [n for _, n, _ in choices] == list(range(1, len(points) + 1))
    asyncio.run(agent.close())


def test_concurrent_battles_share_forward_passes(checkpoint: Path) -> None:
    """Battles played at once have their decisions answered in batches, all legal."""
    paths = fixture_paths()[:4]
    agent = MetamonAgent(seed=1, arg=str(checkpoint))

    async def one(path: Path) -> int:
        n = 0
        for battle, _request in decision_points(path):
            decision = await agent.decide(battle)
            assert is_legal(decision.order, battle) and not decision.fallback
            if decision.candidates is not None:  # the policy's probabilities, best first
                probs = [p for _, p in decision.candidates]
                assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-6
            n += 1
        return n

    async def run() -> list[int]:
        return await asyncio.gather(*(one(p) for p in paths))

    batcher = agent._loaded.batcher
    before = (batcher.batches, batcher.decisions) if batcher else (0, 0)
    played = sum(asyncio.run(run()))
    batcher = agent._loaded.batcher
    batches, decisions = batcher.batches - before[0], batcher.decisions - before[1]
    assert decisions == played
    assert batches < decisions  # several battles' decisions went through one pass

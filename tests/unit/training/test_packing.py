"""training.packing: windows packed end to end in rows give the model, the loss and the
gradients of the padded batch, with (almost) no turn encoded for nothing; and the whole
step traces into one torch.compile graph."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
import torch

from training.dataset import TrajectoryDataset, collate, make_loader
from training.entities import EntityEncoder
from training.features import StateEncoder
from training.index_scan import build_index
from training.model import ModelConfig, PolicyModel
from training.offline_rl import OfflineRL, StepBatch, model_inputs
from training.packing import TURN_MULTIPLE, collate_packed, first_fit_decreasing, padding_stats
from training.synthetic import write_dataset
from training.tokenizer import Vocabulary

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.build()


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("packing")
    write_dataset(root, 12, seed=5, turns=(4, 30))
    return build_index(root, use_cache=False)


def _samples(index, encoder, max_seq_len: int, seed: int = 0) -> list:
    ds = TrajectoryDataset(index, max_seq_len=max_seq_len, encode=encoder, window_seed=seed)
    return [ds[i] for i in range(len(ds))]


def test_first_fit_decreasing_places_every_window_without_overlap() -> None:
    rng = random.Random(1)
    for _ in range(50):
        sizes = [rng.randint(1, 40) for _ in range(rng.randint(1, 30))]
        placement = first_fit_decreasing(sizes, 40)
        rows: dict[int, list[tuple[int, int]]] = {}
        for size, (row, start) in zip(sizes, placement, strict=True):
            rows.setdefault(row, []).append((start, start + size))
        assert sorted(rows) == list(range(len(rows)))
        for spans in rows.values():
            spans.sort()
            assert spans[-1][1] <= 40
            assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
        # never worse than one row per two half-full rows: FFD's rows are > half full but one
        assert len(rows) <= 2 * sum(sizes) / 40 + 1
    with pytest.raises(ValueError, match="does not fit"):
        first_fit_decreasing([41], 40)


def test_packed_rows_keep_each_windows_transitions(index, vocab) -> None:
    samples = _samples(index, EntityEncoder(vocab), max_seq_len=32)
    batch = collate_packed(samples, 33)
    assert batch.actions.shape[1] == 32 and batch.segments.shape[1] == 33
    assert batch.states["tokens"].dtype == torch.int32
    n_real = sum(len(s.actions) + 1 for s in samples)
    assert n_real <= batch.turn_index.numel() < n_real + TURN_MULTIPLE
    flat_tokens = torch.zeros(batch.segments.numel() + 1, batch.states["tokens"].shape[1])
    flat_tokens[batch.turn_index] = batch.states["tokens"].float()
    for w, s in enumerate(samples):
        row, start = batch.placement[w].tolist()
        t = len(s.actions)
        assert torch.equal(batch.actions[row, start : start + t], s.actions)
        assert torch.equal(batch.rewards[row, start : start + t], s.rewards)
        assert torch.equal(batch.dones[row, start : start + t], s.dones)
        assert batch.valid[row, start : start + t].all()
        assert torch.equal(batch.positions[row, start : start + t + 1], torch.arange(t + 1))
        assert (batch.segments[row, start : start + t + 1] == w).all()
        here = flat_tokens[row * 33 + start : row * 33 + start + t + 1]
        assert torch.equal(here, s.states["tokens"].float())
        if start + t < 32:  # the window's last state: no action, nothing crosses into the next
            assert batch.actions[row, start + t] == -1 and not batch.valid[row, start + t]
            assert batch.rewards[row, start + t] == 0
    stats = padding_stats(batch)
    assert stats.real_turns == n_real
    assert stats.encoder_padding < TURN_MULTIPLE / n_real
    padded = padding_stats(collate(samples))
    assert padded.real_turns == n_real and padded.encoder_padding == padded.history_padding
    assert stats.history_padding < padded.history_padding


@pytest.mark.parametrize("observation", ["entities", "text"])
def test_packed_batch_gives_the_padded_batchs_outputs_loss_and_gradients(
    index, vocab, observation
) -> None:
    encoder = EntityEncoder(vocab) if observation == "entities" else StateEncoder(vocab)
    samples = _samples(index, encoder, max_seq_len=24)
    padded, packed = collate(samples), collate_packed(samples, 25)
    torch.manual_seed(0)
    config = ModelConfig.preset(
        "tiny", vocab_size=len(vocab), observation=observation, gammas=(0.9, 0.99)
    )
    model = PolicyModel(config).eval()
    rl = OfflineRL(model, actor_filter="binary", filter_gamma=0.99, bc_coef=0.5)

    out_padded = model(**model_inputs(padded))
    out_packed = model(**model_inputs(packed))
    for w, s in enumerate(samples):
        row, start = packed.placement[w].tolist()
        n = len(s.actions) + 1
        a = out_padded.logits[w, :n]
        b = out_packed.logits[row, start : start + n]
        assert torch.allclose(a, b, atol=1e-5), (w, (a - b).abs().max())
        assert torch.allclose(out_padded.q[w, :n], out_packed.q[row, start : start + n], atol=1e-5)

    grads = []
    for batch in (padded, packed):
        model.zero_grad()
        loss, stats = rl.loss(batch)
        loss.backward()
        grads.append([p.grad.clone() for p in model.parameters() if p.grad is not None])
        grads[-1].append(torch.stack([stats[k] for k in sorted(stats)]))
    for g_padded, g_packed in zip(*grads, strict=True):
        assert torch.allclose(g_padded, g_packed, atol=1e-5, rtol=1e-4)


def test_the_whole_step_is_one_graph(index, vocab) -> None:
    """torch.compile sees the model, the target head and the losses without a break (traced
    with dynamo only: no compiler needed), for packed and padded batches."""
    import torch._dynamo

    samples = _samples(index, EntityEncoder(vocab), max_seq_len=24)
    torch.manual_seed(0)
    config = ModelConfig.preset("tiny", vocab_size=len(vocab), gammas=(0.9, 0.99))
    rl = OfflineRL(PolicyModel(config), actor_filter="binary", filter_gamma=0.99)
    for batch in (collate_packed(samples, 25), collate(samples)):
        torch._dynamo.reset()
        explained = torch._dynamo.explain(rl.step_loss)(StepBatch.of(batch))
        assert explained.graph_break_count == 0, explained.break_reasons
        assert explained.graph_count == 1
    # under bf16 autocast too (the residual streams cast to it inside the graph)
    torch._dynamo.reset()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        explained = torch._dynamo.explain(rl.step_loss)(StepBatch.of(collate_packed(samples, 25)))
    assert explained.graph_break_count == 0 and explained.graph_count == 1


def test_compiled_step_matches_the_eager_step(index, vocab) -> None:
    """`OfflineRL.compile` (here with the eager backend: no C++ compiler in the loop) gives
    the eager loss, and varying rows and turn counts reuse one graph."""
    import torch._dynamo

    torch._dynamo.reset()
    torch.manual_seed(0)
    config = ModelConfig.preset("tiny", vocab_size=len(vocab), gammas=(0.9, 0.99))
    rl = OfflineRL(PolicyModel(config), actor_filter="none", filter_gamma=0.99)
    rl.compile(backend="aot_eager")
    counters = torch._dynamo.utils.counters
    counters.clear()
    for seed in range(3):
        samples = _samples(index, EntityEncoder(vocab), max_seq_len=24, seed=seed)[seed:]
        batch = collate_packed(samples, 25)
        compiled, _ = rl.loss(batch)
        eager, _ = rl.loss(batch, compiled=False)
        assert torch.allclose(compiled, eager, atol=1e-5)
    assert counters["stats"]["unique_graphs"] == 1


def test_window_seed_fixes_each_rows_window_across_workers(tmp_path: Path, vocab) -> None:
    root = tmp_path / "data"
    write_dataset(root, 6, seed=2, turns=(30, 40))
    index = build_index(root, use_cache=False)
    first = [
        make_loader(index, batch_size=3, max_seq_len=10, num_workers=workers, shuffle=False,
                    window_seed=7, encode=EntityEncoder(vocab), pack=True)
        for workers in (0, 2)
    ]  # fmt: skip
    starts = [[b.actions.clone() for b in loader] for loader in first]
    again = [b.actions for b in first[1]]  # a second pass of the persistent workers
    for a, b, c in zip(starts[0], starts[1], again, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)


def test_the_residual_streams_run_in_the_autocast_dtype(vocab) -> None:
    """Both transformers' blocks see bf16 under bf16 autocast (fp32 without it); the
    heads' outputs stay fp32."""
    torch.manual_seed(0)
    model = PolicyModel(ModelConfig.preset("tiny", vocab_size=len(vocab), gammas=(0.9,)))
    seen: list[torch.dtype] = []
    for stack in (model.turn_encoder.transformer, model.history):
        stack.blocks[0].register_forward_pre_hook(lambda _m, args: seen.append(args[0].dtype))
    c = model.config
    inputs = dict(
        tokens=torch.randint(0, len(vocab), (2, 3, c.n_tokens), dtype=torch.int32),
        numbers=torch.randn(2, 3, c.n_numbers),
        prev_action=torch.full((2, 3), -1),
        prev_reward=torch.zeros(2, 3),
    )
    model(**inputs)
    assert seen == [torch.float32, torch.float32]
    seen.clear()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(**inputs)
    assert seen == [torch.bfloat16, torch.bfloat16]
    assert out.logits.dtype == out.q.dtype == torch.float32

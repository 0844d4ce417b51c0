"""training.model: shapes, masking, causality, overfitting a tiny batch, checkpoints,
gradient checkpointing, attention implementations, presets, accelerator detection."""

from __future__ import annotations

import json
import logging

import pytest
import torch
import torch.nn.functional as F

from training import accel
from training.checkpoint import load_checkpoint, save_checkpoint
from training.entity_layout import MOVES, N_FEATURES, N_WORDS, OUR_BENCH
from training.model import (
    PRESETS,
    ModelConfig,
    ModelOutput,
    PolicyModel,
    Turns,
    check_inputs,
)

VOCAB = 50


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def tiny_config(**overrides) -> ModelConfig:
    return ModelConfig.preset("tiny", vocab_size=VOCAB, **overrides)


def make_model(seed: int = 0, **overrides) -> PolicyModel:
    torch.manual_seed(seed)
    return PolicyModel(tiny_config(**overrides))


def make_batch(config: ModelConfig, B: int = 3, T: int = 7, seed: int = 0) -> dict:
    """Random inputs in the shapes and dtypes features.py produces, with a few legal actions
    per turn and prev_action -1 at the first turn."""
    g = torch.Generator().manual_seed(seed)
    legal = torch.rand(B, T, config.n_actions, generator=g) < 0.5
    legal[..., 0] = True  # at least one legal action per turn
    prev_action = torch.randint(0, config.n_actions, (B, T), generator=g)
    prev_action[:, 0] = -1
    return dict(
        tokens=torch.randint(0, config.vocab_size, (B, T, config.n_tokens), generator=g),
        numbers=torch.randn(B, T, config.n_numbers, generator=g),
        prev_action=prev_action,
        prev_reward=torch.randn(B, T, generator=g),
        legal=legal,
    )


def bc_loss(out: ModelOutput, actions: torch.Tensor) -> torch.Tensor:
    """Behaviour-cloning cross-entropy, turns with action -1 masked out."""
    return F.cross_entropy(out.logits.flatten(0, 1), actions.flatten(), ignore_index=-1)


# --------------------------------------------------------------------------------------
# shapes, masking, causality


@pytest.mark.parametrize("observation", ["entities", "text"])
def test_shapes_and_dtypes(observation):
    model = make_model(observation=observation)
    n_tokens, n_numbers = (152, 475) if observation == "entities" else (87, 48)
    assert (model.config.n_tokens, model.config.n_numbers) == (n_tokens, n_numbers)
    batch = make_batch(model.config, B=3, T=7)
    out = model(**batch)
    assert isinstance(out, ModelOutput)
    assert out.logits.shape == (3, 7, 13)
    assert out.q.shape == (3, 7, 13, 4)  # Q(s, a) per discount
    assert out.features.h.shape == (3, 7, 32) and out.features.keys.shape == (3, 7, 13, 32)
    assert out.logits.dtype == out.q.dtype == torch.float32
    assert torch.isfinite(out.q).all()
    # legal is optional
    out2 = model(**{**batch, "legal": None})
    assert out2.logits.shape == (3, 7, 13) and torch.isfinite(out2.logits).all()


def test_illegal_actions_get_no_probability():
    model = make_model()
    batch = make_batch(model.config, B=4, T=9, seed=1)
    # make the illegal actions tempting: unmasked logits argmax is often illegal
    legal = batch["legal"]
    out = model(**batch)
    probs = out.logits.softmax(-1)
    assert probs[~legal].max() < 1e-30
    assert torch.allclose(probs.sum(-1), torch.ones(4, 9))
    assert legal.gather(-1, out.logits.argmax(-1, keepdim=True)).all()
    assert out.logits[~legal].eq(torch.finfo(torch.float32).min).all()


def test_all_illegal_turn_gives_no_nan():
    """Padded turns (no legal action) must not poison a batch with NaN."""
    model = make_model()
    batch = make_batch(model.config)
    batch["legal"][:, -1] = False
    out = model(**batch)
    assert not torch.isnan(out.logits.softmax(-1)).any()


def test_causal_over_turns():
    model = make_model().eval()
    B, T, t = 2, 8, 3
    a = make_batch(model.config, B, T, seed=2)
    b = make_batch(model.config, B, T, seed=3)
    for key in a:  # turns <= t identical, turns > t different in every input
        b[key][:, : t + 1] = a[key][:, : t + 1]
    out_a, out_b = model(**a), model(**b)
    assert torch.allclose(out_a.logits[:, : t + 1], out_b.logits[:, : t + 1], atol=1e-6)
    assert torch.allclose(out_a.q[:, : t + 1], out_b.q[:, : t + 1], atol=1e-6)
    assert not torch.allclose(out_a.q[:, t + 1 :], out_b.q[:, t + 1 :])


def test_cached_turn_vectors_match_full_forward():
    """The turn encoder works turn by turn, so a player may cache past turns."""
    model = make_model().eval()
    batch = make_batch(model.config, B=1, T=5)
    full = model(**batch)
    parts = [
        model.encode_turns(batch["tokens"][:, i : i + 1], batch["numbers"][:, i : i + 1])
        for i in range(5)
    ]
    turns = Turns(*(torch.cat(t, dim=1) for t in zip(*parts, strict=True)))
    cached = model.forward_turns(turns, batch["prev_action"], batch["prev_reward"], batch["legal"])
    assert torch.allclose(full.logits, cached.logits, atol=1e-5)
    assert torch.allclose(full.q, cached.q, atol=1e-5)


def test_act_gives_the_logits_at_each_rows_last_turn():
    """The heads at one turn per row (rows right-padded), the history recomputed."""
    model = make_model().eval()
    batch = make_batch(model.config, B=3, T=6, seed=11)
    turns = model.encode_turns(batch["tokens"], batch["numbers"])
    full = model.forward_turns(turns, batch["prev_action"], batch["prev_reward"])
    last = torch.tensor([5, 2, 0])
    rows = torch.arange(3)
    logits = model.act(
        turns.vectors, turns.keys[rows, last], batch["prev_action"], batch["prev_reward"], last
    )
    assert logits.shape == (3, 13)
    assert torch.allclose(logits, full.logits[rows, last], atol=1e-5)


def test_decoding_turn_by_turn_from_the_cache_equals_the_full_history():
    """What a player runs: each new turn against the keys and values its battle's earlier
    turns left, batched over battles of different lengths (caches right-padded); every
    turn's logits equal the full forward pass's at that turn."""
    model = make_model().eval()
    B, T = 3, 7
    batch = make_batch(model.config, B=B, T=T, seed=12)
    turns = model.encode_turns(batch["tokens"], batch["numbers"])
    full = model.forward_turns(turns, batch["prev_action"], batch["prev_reward"])
    starts = [0, 2, 4]  # the battles are at different turns: row r decodes turns start_r..
    caches: list[list[torch.Tensor]] = [[] for _ in range(B)]
    for r in range(B):  # bring each row to its start turn alone, one turn at a time
        for t in range(starts[r]):
            past = torch.stack(caches[r]).unsqueeze(0) if caches[r] else None
            lengths = torch.tensor([t])
            logits, new = model.decode(
                turns.vectors[r : r + 1, t], turns.keys[r : r + 1, t],
                batch["prev_action"][r : r + 1, t], batch["prev_reward"][r : r + 1, t],
                past, lengths,
            )  # fmt: skip
            assert torch.allclose(logits[0], full.logits[r, t], atol=1e-5), (r, t)
            caches[r].append(new[0])
    for step in range(T - max(starts)):  # then all rows together, right-padded
        ts = [s + step for s in starts]
        P = max(ts)
        past = torch.zeros(B, P, *caches[-1][0].shape)
        for r, t in enumerate(ts):
            if t:
                past[r, :t] = torch.stack(caches[r])
        rows = torch.arange(B)
        at = torch.tensor(ts)
        logits, new = model.decode(
            turns.vectors[rows, at], turns.keys[rows, at],
            batch["prev_action"][rows, at], batch["prev_reward"][rows, at], past, at,
        )  # fmt: skip
        assert torch.allclose(logits, full.logits[rows, at], atol=1e-5), step
        for r in range(B):
            caches[r].append(new[r])


def test_decode_refuses_a_turn_past_the_models_window():
    model = make_model().eval()
    c = model.config
    with pytest.raises(ValueError, match="max_turns"):
        model.decode(
            torch.zeros(1, c.d_model), torch.zeros(1, c.n_actions, c.d_model),
            torch.zeros(1, dtype=torch.long), torch.zeros(1),
            torch.zeros(1, c.max_turns, c.n_layers, 2, c.d_model),
            torch.tensor([c.max_turns]),
        )  # fmt: skip


def test_the_action_scorer_is_shared_across_slots():
    """Two move slots (or two switch targets) holding the same entity get the same logit
    and the same Q: no slot has weights of its own, whatever its alphabetical place."""
    model = make_model().eval()
    batch = make_batch(model.config, B=2, T=3, seed=9)
    batch["legal"][:] = True
    tokens = batch["tokens"].view(2, 3, -1, N_WORDS)
    numbers = batch["numbers"].view(2, 3, -1, N_FEATURES)
    for first, second in ((MOVES, MOVES + 2), (OUR_BENCH + 1, OUR_BENCH + 3)):
        tokens[:, :, second] = tokens[:, :, first]
        numbers[:, :, second] = numbers[:, :, first]
    out = model(**batch)
    for a, b in ((0, 2), (9, 11), (5, 7)):  # moves, moves with tera, switches
        assert torch.allclose(out.logits[..., a], out.logits[..., b], atol=1e-5)
        assert torch.allclose(out.q[..., a, :], out.q[..., b, :], atol=1e-5)
    # tera is a shared modifier: a move and the same move with tera differ
    assert not torch.allclose(out.logits[..., 0], out.logits[..., 9])


def test_prev_action_none_and_every_action():
    model = make_model().eval()
    batch = make_batch(model.config, B=1, T=14)
    batch["prev_action"] = torch.arange(-1, 13).view(1, 14)  # none, then every action
    out = model(**batch)
    assert torch.isfinite(out.q).all()
    check_inputs(model.config, batch["tokens"], batch["prev_action"], batch["legal"])
    # -1 (none) is its own embedding, not action 0
    none = model(**{**batch, "prev_action": torch.full((1, 14), -1)})
    zero = model(**{**batch, "prev_action": torch.zeros(1, 14, dtype=torch.long)})
    assert not torch.allclose(none.q, zero.q)


def test_out_of_range_ids_are_errors_not_clamped():
    model = make_model()
    batch = make_batch(model.config)
    bad_tokens = batch["tokens"].clone()
    bad_tokens[0, 0, 0] = VOCAB
    with pytest.raises(ValueError, match="vocab_size"):
        check_inputs(model.config, bad_tokens, batch["prev_action"])
    with pytest.raises(IndexError):
        model(**{**batch, "tokens": bad_tokens})
    for bad in (-2, 13):
        with pytest.raises(ValueError, match="prev_action"):
            check_inputs(model.config, batch["tokens"], torch.full((3, 7), bad))
    with pytest.raises(ValueError, match="int64"):
        check_inputs(model.config, batch["tokens"].short(), batch["prev_action"])
    with pytest.raises(ValueError, match="bool"):
        check_inputs(model.config, batch["tokens"], batch["prev_action"], batch["legal"].float())


def test_wrong_shapes_say_what_is_wrong():
    model = make_model()
    batch = make_batch(model.config, T=5)
    with pytest.raises(ValueError, match="152 tokens and 475 numbers"):
        model(**{**batch, "tokens": batch["tokens"][..., :80]})
    long = make_batch(model.config, B=1, T=model.config.max_turns + 1)
    with pytest.raises(ValueError, match="max_turns"):
        model(**long)


# --------------------------------------------------------------------------------------
# learning


def test_tiny_model_overfits_a_tiny_batch():
    model = make_model(seed=0)
    batch = make_batch(model.config, B=4, T=8, seed=4)
    g = torch.Generator().manual_seed(5)
    # a legal target action for every turn; some turns hidden (-1) and masked out
    scores = torch.rand(4, 8, 13, generator=g).masked_fill(~batch["legal"], -1.0)
    actions = scores.argmax(-1)
    actions[:, 2] = -1
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(100):
        loss = bc_loss(model(**batch), actions)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses[::10]


def test_masked_turns_do_not_contribute():
    """action -1 (hidden) turns give no gradient through the BC loss."""
    model = make_model()
    batch = make_batch(model.config, B=1, T=4)
    actions = torch.full((1, 4), -1)
    actions[0, 1] = 0
    out = model(**batch)
    out.logits.retain_grad()
    bc_loss(out, actions).backward()
    grad = out.logits.grad
    assert grad[0, [0, 2, 3]].abs().sum() == 0
    assert grad[0, 1].abs().sum() > 0


def test_gradient_checkpointing_matches():
    base = make_model(seed=0)
    ckpt = make_model(seed=1, gradient_checkpointing=True)
    ckpt.load_state_dict(base.state_dict())
    batch = make_batch(base.config, seed=6)
    actions = batch["prev_action"].roll(-1, dims=1)
    losses = []
    for model in (base, ckpt):
        model.train()
        out = model(**batch)
        loss = bc_loss(out, actions) + out.q.square().mean()
        loss.backward()
        losses.append(loss)
    assert torch.allclose(losses[0], losses[1])
    for (name, p), q in zip(base.named_parameters(), ckpt.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, atol=1e-6), name


@pytest.mark.parametrize("mode", ["sdpa", "auto"])
def test_attention_implementations_agree(mode):
    math_model = make_model(attention="math").eval()
    other = make_model(attention=mode).eval()
    other.load_state_dict(math_model.state_dict())
    batch = make_batch(math_model.config, seed=7)
    a, b = math_model(**batch), other(**batch)
    assert torch.allclose(a.logits, b.logits, atol=1e-5)
    assert torch.allclose(a.q, b.q, atol=1e-5)


def test_dropout_trains_and_eval_is_deterministic():
    model = make_model(dropout=0.2)
    batch = make_batch(model.config)
    model.train()
    assert not torch.allclose(model(**batch).q, model(**batch).q)
    model.eval()
    assert torch.equal(model(**batch).q, model(**batch).q)


def test_compiles_without_graph_breaks():
    model = make_model().eval()
    batch = make_batch(model.config)
    compiled = torch.compile(model, backend="eager", fullgraph=True)
    assert torch.allclose(compiled(**batch).logits, model(**batch).logits, atol=1e-6)


# --------------------------------------------------------------------------------------
# checkpoints


def test_checkpoint_round_trip(tmp_path):
    model = make_model(seed=3).eval()
    vocab = ["<pad>", "<unk>", "pikachu", "thunderbolt"]
    extra = {"vocab": vocab, "step": 123, "train_config": {"lr": 3e-4}}
    path = tmp_path / "ckpt" / "model.safetensors"
    save_checkpoint(path, torch.compile(model), model.config, extra)  # the wrapper is unwrapped
    assert [p.name for p in path.parent.iterdir()] == ["model.safetensors"]  # no temp file left

    loaded, config, extra2 = load_checkpoint(path)
    assert config == model.config
    assert extra2 == extra
    assert not loaded.training
    batch = make_batch(model.config, seed=8)
    a, b = model(**batch), loaded(**batch)
    # the same weights; float sums may be ordered differently on the loaded tensors' layout
    assert torch.allclose(a.logits, b.logits, atol=1e-6, rtol=0)
    assert torch.allclose(a.q, b.q, atol=1e-6, rtol=0)


def test_checkpoint_errors(tmp_path):
    model = make_model()
    with pytest.raises(TypeError, match="JSON"):
        save_checkpoint(tmp_path / "m.safetensors", model, model.config, {"bad": object()})
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="model_config"):
        load_checkpoint(tmp_path / "other.safetensors")
    # a metamon v1 checkpoint (no version, or "1") says what it is and how to fix it
    metadata = {"format": "pt", "model_config": json.dumps(model.config.to_dict())}
    for version in (None, "1"):
        if version:
            metadata["checkpoint_version"] = version
        save_file({"x": torch.zeros(1)}, str(tmp_path / "v1.safetensors"), metadata=metadata)
        with pytest.raises(ValueError, match=r"version 1 checkpoint.*retrain") as err:
            load_checkpoint(tmp_path / "v1.safetensors")
        assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"d_model": 8192, "d_ff": 32768, "n_heads": 8}, "its config says (8192, 64)"),
        ({"n_layers": 40}, "40 blocks under history.blocks"),
        ({"turn_d_model": 4096}, "turn_encoder.token_emb.weight"),
        ({"vocab_size": 10_000_000}, "turn_encoder.token_emb.weight"),
        ({"max_turns": 1_000_000}, "pos_emb.weight"),
    ],
)
def test_a_checkpoint_whose_config_was_enlarged_is_refused_before_building(
    tmp_path, change, expected
):
    """The shapes come from the file's header: a config that asks for more than its tensors
    hold is refused at once (built first, the first case would ask for ~30 GB)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    model = make_model()
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, model, model.config, {})
    with safe_open(str(path), framework="pt") as f:
        metadata = dict(f.metadata())
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    config = {**json.loads(metadata["model_config"]), **change}
    metadata["model_config"] = json.dumps(config)
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(ValueError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert expected in message and "edited or is damaged" in message and "\n" not in message


# --------------------------------------------------------------------------------------
# config and presets


def test_config_dict_round_trip():
    config = ModelConfig.preset("small", vocab_size=1234, dropout=0.1)
    d = json.loads(json.dumps(config.to_dict()))
    assert ModelConfig.from_dict(d) == config
    assert isinstance(ModelConfig.from_dict(d).gammas, tuple)
    with pytest.raises(ValueError, match="unknown ModelConfig fields"):
        ModelConfig.from_dict({**d, "n_layer": 3})


def test_config_validation():
    with pytest.raises(ValueError, match="attention"):
        tiny_config(attention="fast")
    with pytest.raises(ValueError, match="heads"):
        tiny_config(d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="unknown model size"):
        ModelConfig.preset("huge", vocab_size=10)


@pytest.mark.skipif(accel.flash_attn_func is not None, reason="flash-attn is installed")
def test_flash_without_flash_attn_says_how_to_fix():
    with pytest.raises(ImportError, match="attention='auto'"):
        make_model(attention="flash")


@pytest.mark.parametrize(
    ("size", "low", "high"),
    [("tiny", 0.01e6, 1e6), ("small", 2e6, 8e6), ("base", 170e6, 230e6), ("large", 300e6, 600e6)],
)
def test_presets(size, low, high):
    config = ModelConfig.preset(size, vocab_size=8192)
    assert set(PRESETS) == {"tiny", "small", "base", "large"}
    with torch.device("meta"):  # no memory, no init cost
        model = PolicyModel(config)
    assert low < model.num_parameters() < high
    if size == "base":  # the seed's model
        assert (config.d_model, config.n_layers, config.n_heads, config.d_ff) == (1280, 9, 20, 5120)
        assert (config.turn_d_model, config.turn_layers) == (160, 5)


def test_small_preset_runs():
    config = ModelConfig.preset("small", vocab_size=VOCAB)
    model = PolicyModel(config)
    out = model(**make_batch(config, B=1, T=3))
    assert out.logits.shape == (1, 3, 13)


# --------------------------------------------------------------------------------------
# accelerator


def test_detect_accelerator_once_with_logged_fallback(caplog):
    accel.detect_accelerator.cache_clear()
    with caplog.at_level(logging.INFO, logger="training.accel"):
        first = accel.detect_accelerator()
        second = accel.detect_accelerator()
    assert first is second
    assert len(caplog.records) == 1
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert first == accel.Accel(torch.device("cpu"), torch.float32, False)
        assert "no CUDA: running on CPU with torch SDPA" in caplog.text
        with accel.autocast(first):
            assert not torch.is_autocast_enabled("cpu")

"""Checkpoints: one .safetensors file holding the weights, the model config and `extra`.

    from training.checkpoint import load_checkpoint, save_checkpoint
    save_checkpoint(path, model, config, {"vocabulary": vocab.to_dict(), "step": step})
    model, config, extra = load_checkpoint(path, device)   # in eval mode

The file's metadata holds the model config, the checkpoint version and an `extra` dict
(the vocabulary, the step...) as JSON strings, so `load_checkpoint` needs nothing else.
A checkpoint of another version is refused with a one-line error, and a file whose tensors
do not fit its config (edited or damaged) before any model is built. `unwrap` finds the
`PolicyModel` inside torch.compile's and DDP's wrappers.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import torch
import torch.nn as nn
from safetensors import safe_open
from safetensors.torch import save_file

from training.model import ModelConfig, PolicyModel

log = logging.getLogger("training.model")  # the logger it had in training.model

CHECKPOINT_VERSION = "2"  # 2: metamon v2 (entity observation, shared heads, Q critics)


def unwrap(model: nn.Module) -> nn.Module:
    """The PolicyModel inside torch.compile's and DDP's wrappers."""
    while True:
        if hasattr(model, "_orig_mod"):  # torch.compile
            model = model._orig_mod
        elif isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        else:
            return model


def save_checkpoint(path: Path, model: nn.Module, config: ModelConfig, extra: dict) -> None:
    """Write the weights and `config` and `extra` (JSON-serialisable) to `path`, atomically."""
    path = Path(path)
    model = unwrap(model)
    if isinstance(model, PolicyModel) and model.config != config:
        log.warning("save_checkpoint: config differs from model.config; saving the given one")
    try:
        extra_json = json.dumps(extra)
    except TypeError as e:
        raise TypeError(f"save_checkpoint: `extra` must be JSON-serialisable: {e}") from e
    metadata = {
        "format": "pt",
        "checkpoint_version": CHECKPOINT_VERSION,
        "model_config": json.dumps(config.to_dict()),
        "extra": extra_json,
    }
    state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata=metadata)
    os.replace(tmp, path)


def expected_shapes(c: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The shapes of the tensors that every size field of a config decides (widths, depths,
    vocabulary, window, actions, discounts), without building the model."""
    D, T = c.d_model, c.turn_d_model
    shapes: dict[str, tuple[int, ...]] = {
        "turn_encoder.token_emb.weight": (c.vocab_size, T),
        "turn_encoder.scratch": (c.n_scratch, T),
        "turn_encoder.pool.weight": (D, c.n_scratch * T),
        "pos_emb.weight": (c.max_turns, D),
        "action_emb.weight": (c.n_actions + 1, D),
        "critic_head.out.weight": (len(c.gammas), D),
        "actor_head.out.weight": (1, D),
    }
    for i in range(c.n_layers):
        shapes[f"history.blocks.{i}.attn.c_attn.weight"] = (3 * D, D)
        shapes[f"history.blocks.{i}.mlp.c_fc.weight"] = (c.d_ff, D)
    for i in range(c.turn_layers):
        shapes[f"turn_encoder.transformer.blocks.{i}.attn.c_attn.weight"] = (3 * T, T)
        shapes[f"turn_encoder.transformer.blocks.{i}.mlp.c_fc.weight"] = (4 * T, T)
    if c.observation == "entities":
        shapes["turn_encoder.words_proj.weight"] = (T, c.n_words * T)
    else:
        shapes["turn_encoder.numbers_proj.weight"] = (c.n_number_tokens * T, c.n_numbers)
    return shapes


def check_shapes(config: ModelConfig, shapes: dict[str, tuple[int, ...]], path: Path) -> None:
    """Refuse, before any model is built, a file whose tensors do not fit its config (an
    edited or damaged checkpoint could otherwise ask for tens of GB)."""
    depth = {
        "history.blocks.": config.n_layers,
        "turn_encoder.transformer.blocks.": config.turn_layers,
    }
    for prefix, n in depth.items():
        found = {int(k[len(prefix) :].split(".")[0]) for k in shapes if k.startswith(prefix)}
        if found != set(range(n)):
            raise ValueError(
                f"{path}: its config says {n} blocks under {prefix.rstrip('.')}, its tensors "
                f"hold {len(found)}: the file was edited or is damaged"
            )
    for name, shape in expected_shapes(config).items():
        if shapes.get(name) != shape:
            raise ValueError(
                f"{path}: tensor {name} is {shapes.get(name)}, its config says {shape}: "
                "the file was edited or is damaged"
            )


def load_checkpoint(
    path: Path, device: str | torch.device = "cpu"
) -> tuple[PolicyModel, ModelConfig, dict]:
    """The model (in eval mode, on `device`), its config and the `extra` dict."""
    path = Path(path)
    with safe_open(str(path), framework="pt", device="cpu") as f:
        metadata = f.metadata() or {}
        if "model_config" not in metadata:
            raise ValueError(f"{path}: no model_config in its metadata (not a model checkpoint)")
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}  # noqa: SIM118
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is no dict)
    version = metadata.get("checkpoint_version", "1")
    if version != CHECKPOINT_VERSION:
        raise ValueError(
            f"{path}: a version {version} checkpoint (metamon v{version}); this code reads "
            f"version {CHECKPOINT_VERSION}: retrain it with `python -m training.train`"
        )
    config = ModelConfig.from_dict(json.loads(metadata["model_config"]))
    check_shapes(config, shapes, path)
    extra = json.loads(metadata.get("extra", "{}"))
    # Built on the CPU: a random init costs ~0.1 s at the small size, while the first use of
    # the "meta" device (to skip it) costs ~5 s of one-time torch imports per process.
    model = PolicyModel(config)
    model.load_state_dict(state, strict=True, assign=True)
    return model.to(device).eval(), config, extra

"""The policy's own FLOP count: what a training step of real turns costs, for MFU.

Counted the usual way (PaLM's appendix, nanoGPT's `estimate_mfu`): the multiply-adds of
every matrix product (2 FLOPs each), nothing for norms, activations and softmax; the
backward pass costs twice the forward, so a trained turn costs 3x its forward pass; the
target critic head runs forward only. Attention counts every key of the turn's window
(not half of them for the causal mask), as PaLM does. Only real turns count: padding is
work the model does not need, so it lowers the utilisation instead of raising it.

    flops = step_flops(config, window_states)   # states (T + 1) of each window in a batch
    mfu = flops.train / seconds / peak_flops    # peak: training.flops.device_peak_flops

`tests/unit/training/test_flops.py` checks these counts against torch's own FlopCounterMode.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from training.model import ModelConfig


@dataclass(frozen=True)
class StepFlops:
    """Forward FLOPs of a batch's real turns, by part, and what a training step costs."""

    turn_encoder: float
    history: float
    heads: float  # actor and critic
    target: float  # the target critic head (forward only)

    @property
    def forward(self) -> float:
        return self.turn_encoder + self.history + self.heads

    @property
    def train(self) -> float:
        """Forward and backward (3x the forward) plus the target head."""
        return 3 * self.forward + self.target


def _stack_per_token(d: int, d_ff: int, layers: int) -> float:
    """A transformer stack's projections and MLP, per token (attention scores apart)."""
    return layers * 2 * (4 * d * d + 2 * d * d_ff)


def turn_encoder_flops(c: ModelConfig) -> float:
    """Forward FLOPs of one turn through the turn encoder."""
    D, C = c.turn_d_model, c.d_model
    if c.observation == "entities":
        n = c.n_scratch + c.n_entities
        inputs = 2 * c.n_entities * (c.n_words * D * D + c.n_features * D)
        outputs = 2 * (c.n_scratch * D * C + c.n_actions * D * C)  # pooling, action keys
    else:
        n = c.n_scratch + c.n_tokens + c.n_number_tokens
        inputs = 2 * c.n_numbers * c.n_number_tokens * D
        outputs = 2 * c.n_scratch * D * C
    attention = c.turn_layers * 4 * n * n * D  # scores and weighted values, both ways
    return inputs + n * _stack_per_token(D, 4 * D, c.turn_layers) + attention + outputs


def head_flops(c: ModelConfig, n_out: int) -> float:
    """Forward FLOPs of one action head at one turn (its query, then every action)."""
    return 2 * c.d_model * c.d_model + c.n_actions * 2 * c.d_model * n_out


def step_flops(c: ModelConfig, window_states: Sequence[int]) -> StepFlops:
    """The FLOPs of windows of `window_states` states each (T_i + 1: every state is a turn
    the model reads), padding excluded."""
    turns = sum(window_states)
    per_turn_history = 2 * c.d_model + _stack_per_token(c.d_model, c.d_ff, c.n_layers)
    attention = sum(c.n_layers * 4 * n * n * c.d_model for n in window_states)
    G = len(c.gammas)
    return StepFlops(
        turn_encoder=turns * turn_encoder_flops(c),
        history=turns * per_turn_history + attention,
        heads=turns * (head_flops(c, 1) + head_flops(c, G)),
        target=turns * head_flops(c, G),
    )


# --------------------------------------------------------------------------------------
# the device's peak

# Dense bf16 tensor-core peaks (no sparsity), FLOP/s, from the vendors' data sheets.
GPU_PEAKS_BF16: tuple[tuple[str, float], ...] = (
    ("H200", 989e12),
    ("H100 PCIe", 756e12),
    ("H100", 989e12),  # SXM
    ("GH200", 989e12),
    ("A100", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10", 125e12),
    ("RTX 4090", 165e12),
    ("RTX 3090", 71e12),
)


@dataclass(frozen=True)
class Peak:
    flops: float  # FLOP/s
    source: str  # how it was found, for the report


def device_peak_flops(device: torch.device, dtype: torch.dtype) -> Peak | None:
    """The device's peak FLOP/s for `dtype`, or None when it is not known (then pass
    --peak-tflops). A CPU's is an estimate: cores x clock x FLOPs per cycle."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, peak in GPU_PEAKS_BF16:
            if key in name:
                if dtype == torch.float32:  # TF32 tensor cores: half the bf16 rate
                    return Peak(peak / 2, f"{name}: data-sheet TF32 dense")
                return Peak(peak, f"{name}: data-sheet bf16 dense")
        return None
    if device.type == "cpu":
        return cpu_peak_flops()
    return None


def cpu_peak_flops() -> Peak | None:
    """threads x clock x fp32 FLOPs per cycle (two FMA units: 32 with AVX2, 64 with AVX-512)."""
    try:
        info = open("/proc/cpuinfo", encoding="utf-8").read()  # noqa: SIM115
    except OSError:
        return None
    mhz = re.search(r"cpu MHz\s*:\s*([\d.]+)", info)
    if mhz is None:
        return None
    flags = re.search(r"flags\s*:(.*)", info)
    words = set(flags.group(1).split()) if flags else set()
    per_cycle = 64 if "avx512f" in words else 32 if "avx2" in words else 8
    threads = min(torch.get_num_threads(), os.cpu_count() or 1)
    ghz = float(mhz.group(1)) / 1000
    return Peak(
        threads * ghz * 1e9 * per_cycle,
        f"estimate: {threads} cores x {ghz:.2f} GHz x {per_cycle} fp32 FLOPs/cycle",
    )

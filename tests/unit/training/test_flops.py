"""training.flops: the policy's own FLOP count equals what torch's FlopCounterMode counts
for a forward pass, and a training step costs three forward passes plus the target head."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from training.flops import cpu_peak_flops, device_peak_flops, step_flops
from training.model import ModelConfig, PolicyModel

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.mark.parametrize("observation", ["entities", "text"])
def test_forward_flops_match_torchs_counter(observation: str) -> None:
    torch.manual_seed(0)
    c = ModelConfig.preset("tiny", vocab_size=300, observation=observation, gammas=(0.9, 0.99))
    model = PolicyModel(c)
    B, T = 3, 11  # windows of equal length: no padding to tell apart
    tokens = torch.randint(0, 300, (B, T, c.n_tokens))
    numbers = torch.randn(B, T, c.n_numbers)
    prev = torch.full((B, T), -1)
    with FlopCounterMode(display=False) as counter:
        model(tokens, numbers, prev, torch.zeros(B, T))
    flops = step_flops(c, [T] * B)
    assert flops.forward == counter.get_total_flops()
    assert flops.train == 3 * flops.forward + flops.target


def test_peaks() -> None:
    assert device_peak_flops(torch.device("meta"), torch.bfloat16) is None
    cpu = cpu_peak_flops()
    if cpu is not None:  # Linux: threads x clock x FLOPs per cycle
        assert cpu.flops > 1e9 and "estimate" in cpu.source

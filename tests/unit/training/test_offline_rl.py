"""The advantage filter on a tiny synthetic MDP: from data of a policy that mixes one good
action with bad ones, filtered BC learns the good action (through a bootstrapped value)
and plain behaviour cloning does not."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from training.model import ModelConfig, PolicyModel
from training.offline_rl import OfflineRL, model_inputs

pytestmark = pytest.mark.usefixtures("torch_one_thread")

LEGAL = (0, 1, 2, 3)  # the decision states' legal actions
GOOD_FIRST, GOOD_SECOND = 0, 2


def _states(config: ModelConfig) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Fixed random (tokens, numbers) of the four states: s0, s1 good, s1 bad, terminal."""
    g = torch.Generator().manual_seed(1)
    return {
        name: (
            torch.randint(2, config.vocab_size, (config.n_tokens,), generator=g),
            torch.randn(config.n_numbers, generator=g).clamp(-2, 2),
        )
        for name in ("s0", "good", "bad", "end")
    }


def episodes(config: ModelConfig, n: int, seed: int) -> SimpleNamespace:
    """n two-step episodes of a data policy uniform over actions 0-3.

    s0 --0--> s1 good, --1/2/3--> s1 bad; in s1 good action 2 wins (+100), anything else
    loses (-100); in s1 bad everything loses. The only winning line is 0 then 2, played by
    1/16 of the data; every action is in the data about equally often.
    """
    g = torch.Generator().manual_seed(seed)
    states = _states(config)
    a0 = torch.randint(0, 4, (n,), generator=g)
    a1 = torch.randint(0, 4, (n,), generator=g)
    won = (a0 == GOOD_FIRST) & (a1 == GOOD_SECOND)
    rows = [[states["s0"], states["good" if a == GOOD_FIRST else "bad"], states["end"]]
            for a in a0.tolist()]  # fmt: skip
    legal = torch.zeros(n, 3, 13, dtype=torch.bool)
    legal[:, :2, list(LEGAL)] = True
    legal[:, 2] = True  # the terminal state: the encoder's all-True mask
    return SimpleNamespace(
        states={
            "tokens": torch.stack([torch.stack([t for t, _ in r]) for r in rows]),
            "numbers": torch.stack([torch.stack([x for _, x in r]) for r in rows]),
            "legal": legal,
        },
        actions=torch.stack([a0, a1], dim=1),
        mask=torch.ones(n, 2, dtype=torch.bool),
        valid=torch.ones(n, 2, dtype=torch.bool),
        rewards=torch.stack([torch.zeros(n), won.float() * 200 - 100], dim=1),
        dones=torch.tensor([[False, True]]).expand(n, 2),
    )


def train(actor_filter: str, steps: int = 60) -> tuple[torch.Tensor, torch.Tensor]:
    """Train a tiny model offline on the episodes; the policy at s0 and at s1 good."""
    torch.manual_seed(0)
    config = ModelConfig.preset("tiny", vocab_size=40)
    model = PolicyModel(config)
    rl = OfflineRL(model, actor_filter=actor_filter, filter_gamma=0.99, target_tau=0.05)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(steps):
        loss, _ = rl.loss(episodes(config, 64, seed=step))
        opt.zero_grad()
        loss.backward()
        opt.step()
        rl.update_target()
    model.eval()
    probe = episodes(config, 64, seed=10_000)
    row = int((probe.actions[:, 0] == GOOD_FIRST).nonzero()[0])  # an episode through s1 good
    with torch.no_grad():
        out = model(**{k: v[row : row + 1] for k, v in model_inputs(probe).items()})
    pi = out.logits.softmax(-1)[0]  # (3, 13)
    return pi[0], pi[1]


def test_the_binary_filter_keeps_the_good_actions_and_bc_does_not():
    s0, good = train("binary")
    assert int(s0.argmax()) == GOOD_FIRST and s0[GOOD_FIRST] > 0.6, s0[:4]
    assert int(good.argmax()) == GOOD_SECOND and good[GOOD_SECOND] > 0.6, good[:4]

    s0_bc, good_bc = train("none")
    # behaviour cloning copies the data: about a quarter on each action
    assert s0_bc[GOOD_FIRST] < 0.4 and good_bc[GOOD_SECOND] < 0.4, (s0_bc[:4], good_bc[:4])

"""The policy's heads: one scorer shared over actions, for the actor and for the Q critic.

Each action's hidden vector is GELU(LN(key_a + W h_t + tera if a is a terastallizing
move)): key_a is the action's key from the turn encoder (its move slot's or switch
target's entity), h_t the history transformer's output at the turn, and tera one learned
modifier shared by the four tera actions. Two move slots holding the same move thus score
the same. The actor's head gives one logit per action, the critic's one Q value per
discount factor; each has its own projections, so the critic's can be copied as a target
network on its own (`PolicyModel.critic_head`, `training.offline_rl`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn as nn
import torch.nn.functional as F

from training.entity_layout import ACTION_IS_TERA

if TYPE_CHECKING:
    from training.model import ModelConfig


class ActionHead(nn.Module):
    """Shared over actions: hidden_a = GELU(key_a + W h + tera_a) -> `n_out` numbers."""

    def __init__(self, c: ModelConfig, n_out: int):
        super().__init__()
        self.query = nn.Linear(c.d_model, c.d_model)
        self.tera = nn.Parameter(torch.zeros(c.d_model))  # the shared tera modifier
        self.register_buffer(
            "is_tera", torch.tensor(ACTION_IS_TERA[: c.n_actions]).float(), persistent=False
        )
        self.ln = nn.LayerNorm(c.d_model)
        self.out = nn.Linear(c.d_model, n_out)

    def forward(self, h: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        # h (B, T, C), keys (B, T, A, C) -> (B, T, A, n_out)
        tera = self.is_tera.to(keys.dtype).unsqueeze(-1) * self.tera  # (A, C)
        x = keys + self.query(h).unsqueeze(-2) + tera
        return self.out(F.gelu(self.ln(x)))

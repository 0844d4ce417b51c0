"""The turn encoder: one turn's observation -> a turn vector and one key per action.

Each turn is encoded on its own (a bidirectional `Transformer` over that turn's tokens), so
a player can cache past turns and encode only the new one. Two observations
(`ModelConfig.observation`, the encoder of `training.entities.make_encoder`):
- "entities" (default, metamon v2): a turn is 19 entities (global, both sides, every
  Pokémon, each move slot; `training/entity_layout.py`), each its 8 words (embedded,
  concatenated, projected) plus its own numbers (projected by a layer of its kind:
  global, side, Pokémon, move) plus a learned embedding of its role (slots of one group,
  such as the four move slots, share it: their order means nothing). The encoder reads
  [scratch tokens | entities] and gives the turn vector (the pooled scratch tokens) and,
  for each of the 13 actions, the output of its entity (move slot, switch target): the
  action's key.
- "text": Metamon's 87 word tokens and 48 numbers (`training/features.py`), the numbers
  projected into a few generic tokens; the actions' keys are learned embeddings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn as nn

from training.entity_layout import ACTION_ENTITIES, ENTITY_KINDS, ENTITY_ROLES, N_KINDS, N_ROLES
from training.transformer import Transformer

if TYPE_CHECKING:
    from training.model import ModelConfig


class TextTurnEncoder(nn.Module):
    """Metamon's text view of one turn -> (turn vector, action keys)."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        D = c.turn_d_model
        self.n_scratch, self.n_number_tokens = c.n_scratch, c.n_number_tokens
        self.token_emb = nn.Embedding(c.vocab_size, D)
        self.slot_emb = nn.Parameter(torch.zeros(c.n_tokens, D))  # a learned position per slot
        self.numbers_proj = nn.Linear(c.n_numbers, c.n_number_tokens * D)
        self.scratch = nn.Parameter(torch.zeros(c.n_scratch, D))
        self.drop = nn.Dropout(c.dropout)
        self.transformer = _turn_transformer(c)
        self.pool = nn.Linear(c.n_scratch * D, c.d_model)
        self.action_keys = nn.Parameter(torch.zeros(c.n_actions, c.d_model))

    def forward(self, tokens: torch.Tensor, numbers: torch.Tensor) -> tuple[torch.Tensor, ...]:
        N = tokens.size(0)  # B * T turns of L = n_tokens tokens
        tok = self.token_emb(tokens) + self.slot_emb  # (N, L, D)
        num = self.numbers_proj(numbers).view(N, self.n_number_tokens, -1)  # (N, K, D)
        scratch = self.scratch.expand(N, -1, -1)  # (N, S, D)
        x = torch.cat([scratch, tok, num], dim=1)  # (N, S + L + K, D)
        x = self.transformer(self.drop(x))
        vector = self.pool(x[:, : self.n_scratch].reshape(N, -1))  # (N, d_model)
        return vector, self.action_keys.expand(N, -1, -1)  # (N, A, d_model)


class EntityTurnEncoder(nn.Module):
    """One turn's entities (training/entities.py) -> (turn vector, action keys)."""

    def __init__(self, c: ModelConfig):
        super().__init__()
        if c.n_actions != len(ACTION_ENTITIES) or c.n_entities != len(ENTITY_KINDS):
            raise ValueError(
                f"the entity observation has {len(ENTITY_KINDS)} entities and "
                f"{len(ACTION_ENTITIES)} actions; the config says {c.n_entities} and "
                f"{c.n_actions}"
            )
        D = c.turn_d_model
        self.E, self.W, self.F, self.n_scratch = c.n_entities, c.n_words, c.n_features, c.n_scratch
        self.token_emb = nn.Embedding(c.vocab_size, D)
        self.words_proj = nn.Linear(c.n_words * D, D)  # an entity's words, in their slots
        # the numbers of each kind of entity through their own projection
        self.numbers_weight = nn.Parameter(torch.zeros(N_KINDS, c.n_features, D))
        self.numbers_bias = nn.Parameter(torch.zeros(N_KINDS, D))
        self.register_buffer("kinds", torch.tensor(ENTITY_KINDS), persistent=False)
        self.register_buffer("action_entities", torch.tensor(ACTION_ENTITIES), persistent=False)
        self.register_buffer("roles", torch.tensor(ENTITY_ROLES), persistent=False)
        self.role_emb = nn.Parameter(torch.zeros(N_ROLES, D))  # what the entity is (no slot)
        self.scratch = nn.Parameter(torch.zeros(c.n_scratch, D))
        self.drop = nn.Dropout(c.dropout)
        self.transformer = _turn_transformer(c)
        self.pool = nn.Linear(c.n_scratch * D, c.d_model)
        self.key_proj = nn.Linear(D, c.d_model)

    def forward(self, tokens: torch.Tensor, numbers: torch.Tensor) -> tuple[torch.Tensor, ...]:
        N, E = tokens.size(0), self.E
        words = self.token_emb(tokens.view(N, E, self.W))  # (N, E, W, D)
        x = self.words_proj(words.flatten(2))  # (N, E, D)
        nums = numbers.view(N, E, self.F)  # (N, E, F)
        w = self.numbers_weight[self.kinds]  # (E, F, D)
        x = x + torch.einsum("nef,efd->ned", nums, w.to(nums.dtype)) + self.numbers_bias[self.kinds]
        x = x + self.role_emb[self.roles]
        x = torch.cat([self.scratch.expand(N, -1, -1), x], dim=1)  # (N, S + E, D)
        x = self.transformer(self.drop(x))
        vector = self.pool(x[:, : self.n_scratch].reshape(N, -1))  # (N, d_model)
        entities = x[:, self.n_scratch :]  # (N, E, D)
        keys = self.key_proj(entities[:, self.action_entities])  # (N, A, d_model)
        return vector, keys


def _turn_transformer(c: ModelConfig) -> Transformer:
    return Transformer(
        c.turn_d_model,
        c.turn_layers,
        c.turn_heads,
        4 * c.turn_d_model,
        dropout=c.dropout,
        causal=False,
        mode=c.attention,
        gradient_checkpointing=c.gradient_checkpointing,
    )

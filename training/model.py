"""The metamon policy: a per-turn encoder, a causal transformer over turns, shared heads.

    from training.model import ModelConfig, PolicyModel, load_checkpoint, save_checkpoint
    config = ModelConfig.preset("small", vocab_size=len(vocab))     # observation "entities"
    model = PolicyModel(config)
    out = model(tokens, numbers, prev_action, prev_reward, legal)    # out.logits, out.q

Observation (`ModelConfig.observation`, the encoder of `training.entities.make_encoder`):
- "entities" (default, metamon v2): a turn is 19 entities (global, both sides, every
  Pokémon, each move slot; `training/entities.py`), each its 8 words (embedded,
  concatenated, projected) plus its own numbers (projected by a layer of its kind:
  global, side, Pokémon, move) plus a learned embedding of its role (slots of one group,
  such as the four move slots, share it: their order means nothing). The turn encoder reads
  [scratch tokens | entities] and gives the turn vector (the pooled scratch tokens) and,
  for each of the 13 actions, the output of its entity (move slot, switch target): the
  action's key.
- "text": Metamon's 87 word tokens and 48 numbers (`training/features.py`), the numbers
  projected into a few generic tokens; the actions' keys are learned embeddings.

To the turn vector we add embeddings of the previous action (-1 = none) and reward and a
learned turn position; a causal pre-LN transformer reads the turns (h_t). The heads are
shared across actions: each action's hidden vector is GELU(key_a + W h_t + tera if a is a
terastallizing move), from which the actor gives one logit (illegal actions masked) and
the critic one Q value per discount factor (`gammas`). Actor and critic have their own
projections (the critic's can be copied as a target network on its own:
`critic_head`). V(s) = sum_a pi(a|s) Q(s, a) is the offline learner's business.

Attention (`ModelConfig.attention`):
- "sdpa": torch's scaled_dot_product_attention (on CUDA it picks its own flash kernel).
- "flash": flash-attn's flash_attn_func; needs flash-attn, CUDA, and bf16/fp16 inputs.
- "auto" (default): flash_attn_func when flash-attn is installed and q/k/v are CUDA bf16/fp16
  tensors, else SDPA. Under torch.autocast, q/k/v come out of nn.Linear already in the
  autocast dtype, so flash-attn gets bf16 with no casts; fp32 tensors simply go to SDPA.
- "math": the explicit softmax(QK^T / sqrt(d)) V, a reference for tests.

A player can cache turns: `encode_turns` works on each turn alone (a `Turns` of vectors and
action keys), so per decision it encodes only the new turn and runs `forward_turns` over
the cached history. Checkpoints are one .safetensors file whose metadata holds the model
config, the checkpoint version and an `extra` dict (the vocabulary, the step...), so
`load_checkpoint` needs nothing else; a checkpoint of another version is refused with a
one-line error. Ids are never clamped: `check_inputs` says what is out of range, and
nn.Embedding raises on it anyway.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import save_file
from torch.utils.checkpoint import checkpoint

from training import accel

log = logging.getLogger(__name__)

ATTENTION_MODES = ("auto", "sdpa", "flash", "math")
CHECKPOINT_VERSION = "2"  # 2: metamon v2 (entity observation, shared heads, Q critics)
OBSERVATIONS = ("entities", "text")

# Sizes. "small" trains on a 2-core CPU in under an hour; "base" is the seed's ~200M model
# (Metamon's "large": 9 layers, d_model 1280, 20 heads, d_ff 5120; turn encoder 160 x 5).
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        turn_d_model=32, turn_layers=1, turn_heads=2, n_number_tokens=2, n_scratch=2,
        d_model=32, n_layers=2, n_heads=2, d_ff=64, max_turns=64,
    ),
    "small": dict(
        turn_d_model=64, turn_layers=2, turn_heads=4,
        d_model=256, n_layers=4, n_heads=4, d_ff=1024,
    ),
    "base": dict(
        turn_d_model=160, turn_layers=5, turn_heads=5,
        d_model=1280, n_layers=9, n_heads=20, d_ff=5120,
    ),
    "large": dict(
        turn_d_model=256, turn_layers=6, turn_heads=8,
        d_model=1536, n_layers=14, n_heads=24, d_ff=6144,
    ),
}  # fmt: skip


@dataclass(kw_only=True)
class ModelConfig:
    vocab_size: int
    observation: str = "entities"  # "entities" (metamon v2) | "text" (Metamon's 87 + 48)
    n_entities: int = 19  # entities per turn ("entities")
    n_words: int = 8  # word slots per entity
    n_features: int = 25  # numbers per entity
    n_tokens: int = 87  # text tokens per turn ("text"; entities: n_entities * n_words)
    n_numbers: int = 48  # numeric features per turn ("text"; n_entities * n_features)
    n_actions: int = 13  # 0-3 moves, 4-8 switches, 9-12 moves with tera
    # turn encoder (bidirectional, over one turn)
    turn_d_model: int
    turn_layers: int
    turn_heads: int
    n_scratch: int = 4  # learned scratch tokens, pooled into the turn vector
    n_number_tokens: int = 4  # tokens the 48 numbers are projected into ("text")
    # history transformer (causal, over turns)
    d_model: int
    n_layers: int
    n_heads: int
    d_ff: int
    max_turns: int = 200
    dropout: float = 0.0
    gammas: tuple[float, ...] = (0.9, 0.99, 0.999, 0.9999)
    attention: str = "auto"  # "auto" | "sdpa" | "flash" | "math"
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        self.gammas = tuple(float(g) for g in self.gammas)
        if self.observation not in OBSERVATIONS:
            raise ValueError(f"observation={self.observation!r}: choose one of {OBSERVATIONS}")
        if self.observation == "entities":
            self.n_tokens = self.n_entities * self.n_words
            self.n_numbers = self.n_entities * self.n_features
        if self.attention not in ATTENTION_MODES:
            raise ValueError(f"attention={self.attention!r}: choose one of {ATTENTION_MODES}")
        for d, h, what in [
            (self.turn_d_model, self.turn_heads, "turn_d_model/turn_heads"),
            (self.d_model, self.n_heads, "d_model/n_heads"),
        ]:
            if d % h:
                raise ValueError(f"{what} = {d}/{h}: the width must divide into the heads")
        if not self.gammas:
            raise ValueError("gammas: give at least one discount factor")
        if self.vocab_size < 1:
            raise ValueError(f"vocab_size={self.vocab_size}")

    @classmethod
    def preset(cls, size: str, vocab_size: int, **overrides: Any) -> ModelConfig:
        """A named size ("tiny", "small", "base", "large"), with optional field overrides."""
        if size not in PRESETS:
            raise ValueError(f"unknown model size {size!r}: choose one of {list(PRESETS)}")
        return cls(vocab_size=vocab_size, **{**PRESETS[size], **overrides})

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["gammas"] = list(self.gammas)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown ModelConfig fields {unknown}; known: {sorted(known)}")
        return cls(**d)


class Turns(NamedTuple):
    vectors: torch.Tensor  # (B, T, d_model): one vector per turn
    keys: torch.Tensor  # (B, T, n_actions, d_model): each action's key in its turn


class HeadInputs(NamedTuple):
    h: torch.Tensor  # (B, T, d_model): the history transformer's output
    keys: torch.Tensor  # (B, T, n_actions, d_model)


class ModelOutput(NamedTuple):
    logits: torch.Tensor  # (B, T, n_actions) float32, illegal actions at finfo.min
    q: torch.Tensor  # (B, T, n_actions, len(gammas)) float32: Q(s, a) per discount
    features: HeadInputs  # what the heads read (for a target critic)


# --------------------------------------------------------------------------------------
# attention and blocks


def attend(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool, dropout_p: float, mode: str
) -> torch.Tensor:
    """Multi-head attention. q, k, v: (B, T, H, hs) -> (B, T, H, hs)."""
    if mode == "flash" or (
        mode == "auto"
        and accel.flash_attn_func is not None
        and q.is_cuda
        and q.dtype in accel.HALF_DTYPES
    ):
        if accel.flash_attn_func is None or not q.is_cuda or q.dtype not in accel.HALF_DTYPES:
            raise RuntimeError(
                "attention='flash' needs flash-attn and CUDA bf16/fp16 tensors (run under "
                f"torch.autocast); got {q.device} {q.dtype}. Use attention='auto' or 'sdpa'."
            )
        return accel.flash_attn_func(q, k, v, dropout_p=dropout_p, causal=causal)

    q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H, T, hs)
    if mode == "math":
        T = q.size(-2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))  # (B, H, T, T)
        if causal:
            future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
            att = att.masked_fill(future, float("-inf"))
        att = F.softmax(att, dim=-1)
        att = F.dropout(att, p=dropout_p)
        y = att @ v  # (B, H, T, hs)
    else:
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=causal)
    return y.transpose(1, 2)  # (B, T, H, hs)


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float, causal: bool, mode: str):
        super().__init__()
        self.n_heads, self.causal, self.mode, self.dropout = n_heads, causal, mode, dropout
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).view(B, T, 3, self.n_heads, C // self.n_heads).unbind(2)
        y = attend(  # (B, T, H, hs)
            q,
            k,
            v,
            causal=self.causal,
            dropout_p=self.dropout if self.training else 0.0,
            mode=self.mode,
        )
        return self.resid_dropout(self.c_proj(y.reshape(B, T, C)))  # (B, T, C)

    def step(
        self, x: torch.Tensor, past: torch.Tensor | None, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One new position per row against cached keys and values (causal decoding).

        x (B, 1, C); past (B, P, 2, C): each row's earlier keys and values, right-padded;
        mask (B, P + 1) bool: which of the P + 1 positions each row attends to (its real
        past and the new one). -> (output (B, 1, C), this position's keys/values (B, 2, C))."""
        B, _, C = x.shape
        H = self.n_heads
        q, k, v = self.c_attn(x).split(C, dim=-1)  # (B, 1, C) each
        new = torch.cat([k, v], dim=1)  # (B, 2, C)
        kv = new.unsqueeze(1) if past is None else torch.cat([past, new.unsqueeze(1)], dim=1)
        P1 = kv.size(1)  # (B, P + 1, 2, C)
        keys = kv[:, :, 0].view(B, P1, H, C // H).transpose(1, 2)  # (B, H, P + 1, hs)
        values = kv[:, :, 1].view(B, P1, H, C // H).transpose(1, 2)
        query = q.view(B, 1, H, C // H).transpose(1, 2)  # (B, H, 1, hs)
        attn_mask = None if mask is None else mask[:, None, None, :]  # (B, 1, 1, P + 1)
        y = F.scaled_dot_product_attention(query, keys, values, attn_mask=attn_mask)
        return self.c_proj(y.transpose(1, 2).reshape(B, 1, C)), new


class MLP(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout: float):
        super().__init__()
        self.c_fc = nn.Linear(d_model, d_ff)
        self.c_proj = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.gelu(self.c_fc(x))))


class Block(nn.Module):
    """Pre-LN transformer block."""

    def __init__(
        self, d_model: int, n_heads: int, d_ff: int, dropout: float, causal: bool, mode: str
    ):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model)
        self.attn = SelfAttention(d_model, n_heads, dropout, causal, mode)
        self.ln_2 = nn.LayerNorm(d_model)
        self.mlp = MLP(d_model, d_ff, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))

    def step(
        self, x: torch.Tensor, past: torch.Tensor | None, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`forward` for one new position per row over cached keys/values (see
        SelfAttention.step) -> (x (B, 1, C), this position's keys/values (B, 2, C))."""
        y, new = self.attn.step(self.ln_1(x), past, mask)
        x = x + y
        return x + self.mlp(self.ln_2(x)), new


class Transformer(nn.Module):
    """A stack of blocks and a final LayerNorm; optional gradient checkpointing per block."""

    def __init__(
        self,
        d_model: int,
        n_layers: int,
        n_heads: int,
        d_ff: int,
        *,
        dropout: float,
        causal: bool,
        mode: str,
        gradient_checkpointing: bool,
    ):
        super().__init__()
        self.gradient_checkpointing = gradient_checkpointing
        self.blocks = nn.ModuleList(
            Block(d_model, n_heads, d_ff, dropout, causal, mode) for _ in range(n_layers)
        )
        self.ln_f = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        for block in self.blocks:
            if self.gradient_checkpointing and self.training:
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return self.ln_f(x)

    def step(
        self, x: torch.Tensor, past: torch.Tensor | None, mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A causal stack's output at one new position per row, from the keys and values
        its earlier positions left in each layer: x (B, 1, C), past (B, P, n_layers, 2, C)
        right-padded, mask (B, P + 1) -> (out (B, 1, C), new cache entry (B, n_layers, 2, C)).
        Equals `forward` over the whole sequence at its last position (tested)."""
        news = []
        for layer, block in enumerate(self.blocks):
            x, new = block.step(x, None if past is None else past[:, :, layer], mask)
            news.append(new)
        return self.ln_f(x), torch.stack(news, dim=1)


# --------------------------------------------------------------------------------------
# the model


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
        from training.entities import ACTION_ENTITIES, ENTITY_KINDS, ENTITY_ROLES, N_KINDS, N_ROLES

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


class ActionHead(nn.Module):
    """Shared over actions: hidden_a = GELU(key_a + W h + tera_a) -> `n_out` numbers."""

    def __init__(self, c: ModelConfig, n_out: int):
        super().__init__()
        from training.entities import ACTION_IS_TERA

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


class PolicyModel(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        c = self.config = config
        if c.attention == "flash" and accel.flash_attn_func is None:
            raise ImportError(
                "attention='flash' needs flash-attn (pip install flash-attn, CUDA only): "
                f"{accel.FLASH_ATTN_IMPORT_ERROR}. Use attention='auto' or 'sdpa'."
            )
        encoder = EntityTurnEncoder if c.observation == "entities" else TextTurnEncoder
        self.turn_encoder = encoder(c)
        self.action_emb = nn.Embedding(c.n_actions + 1, c.d_model)  # 0 = none, a + 1 = action a
        self.reward_proj = nn.Linear(1, c.d_model)
        self.pos_emb = nn.Embedding(c.max_turns, c.d_model)
        self.drop = nn.Dropout(c.dropout)
        self.history = Transformer(
            c.d_model,
            c.n_layers,
            c.n_heads,
            c.d_ff,
            dropout=c.dropout,
            causal=True,
            mode=c.attention,
            gradient_checkpointing=c.gradient_checkpointing,
        )
        self.actor_head = ActionHead(c, 1)
        self.critic_head = ActionHead(c, len(c.gammas))

        self.apply(_init_weights)
        for name, p in self.turn_encoder.named_parameters():
            if name in ("slot_emb", "scratch", "role_emb", "action_keys", "numbers_weight"):
                nn.init.normal_(p, std=0.02)
        for head in (self.actor_head, self.critic_head):
            nn.init.normal_(head.tera, std=0.02)
        for stack in (self.turn_encoder.transformer, self.history):  # GPT-2: scaled residuals
            for name, p in stack.named_parameters():
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, std=0.02 / math.sqrt(2 * len(stack.blocks)))

    def forward(
        self,
        tokens: torch.Tensor,  # (B, T, n_tokens) int64
        numbers: torch.Tensor,  # (B, T, n_numbers) float
        prev_action: torch.Tensor,  # (B, T) int64, -1 = none
        prev_reward: torch.Tensor,  # (B, T) float
        legal: torch.Tensor | None = None,  # (B, T, n_actions) bool
    ) -> ModelOutput:
        turns = self.encode_turns(tokens, numbers)
        return self.forward_turns(turns, prev_action, prev_reward, legal)

    def encode_turns(self, tokens: torch.Tensor, numbers: torch.Tensor) -> Turns:
        """(B, T, n_tokens), (B, T, n_numbers) -> Turns. Each turn is encoded on its own, so
        a player can cache past turns and encode only the new one."""
        c = self.config
        B, T, L = tokens.shape
        if tokens.shape[-1] != c.n_tokens or numbers.shape != (B, T, c.n_numbers):
            raise ValueError(
                f"a turn is {c.n_tokens} tokens and {c.n_numbers} numbers "
                f"({c.observation} observation); got tokens {tuple(tokens.shape)}, "
                f"numbers {tuple(numbers.shape)}"
            )
        vectors, keys = self.turn_encoder(tokens.reshape(B * T, L), numbers.reshape(B * T, -1))
        return Turns(vectors.view(B, T, -1), keys.view(B, T, c.n_actions, -1))

    def forward_turns(
        self,
        turns: Turns,  # from encode_turns: vectors (B, T, C), keys (B, T, A, C)
        prev_action: torch.Tensor,  # (B, T) int64, -1 = none
        prev_reward: torch.Tensor,  # (B, T) float
        legal: torch.Tensor | None = None,  # (B, T, n_actions) bool
    ) -> ModelOutput:
        """The history transformer and the heads, over already encoded turns."""
        h = self.read_history(turns.vectors, prev_action, prev_reward)  # (B, T, C)
        keys = turns.keys
        # heads in float32: the losses (and the masking constant) want full precision
        logits = self.actor_head(h, keys).squeeze(-1).float()  # (B, T, A)
        q = self.critic_head(h, keys).float()  # (B, T, A, G)
        if legal is not None:
            logits = logits.masked_fill(~legal, torch.finfo(logits.dtype).min)
        return ModelOutput(logits, q, HeadInputs(h, keys))

    def act(
        self,
        vectors: torch.Tensor,  # (B, T, C): each row's turn vectors, right-padded
        keys: torch.Tensor,  # (B, A, C): the action keys of each row's last turn
        prev_action: torch.Tensor,  # (B, T) int64
        prev_reward: torch.Tensor,  # (B, T) float
        last: torch.Tensor,  # (B,) int64: each row's last real turn
    ) -> torch.Tensor:
        """The actor's logits (B, A) at each row's `last` turn, recomputing the history.

        The history transformer runs over every turn (it is causal, so right padding never
        reaches a row's real turns), the actor head only at the turns asked for, the critic
        not at all. Equals `forward_turns(...).logits[arange(B), last]`. A player that keeps
        each battle's cache uses `decode` instead, which costs one turn, not the history."""
        h = self.read_history(vectors, prev_action, prev_reward)  # (B, T, C)
        h_last = h[torch.arange(h.size(0), device=h.device), last]  # (B, C)
        return self._actor_logits(h_last, keys)

    def decode(
        self,
        vectors: torch.Tensor,  # (B, C): each row's new turn vector
        keys: torch.Tensor,  # (B, A, C): its action keys
        prev_action: torch.Tensor,  # (B,) int64
        prev_reward: torch.Tensor,  # (B,) float
        past: torch.Tensor | None,  # (B, P, n_layers, 2, C): earlier turns' cache, right-padded
        lengths: torch.Tensor | None,  # (B,) int64: each row's real past turns (<= P)
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One new turn per row over the keys and values its battle's earlier turns left
        in the history transformer: (logits (B, A), the new turn's cache entry (B,
        n_layers, 2, C)). The turn's position is its row's length. Equals `act` over the
        whole history (tested), at the cost of one turn instead of all of them."""
        B = vectors.size(0)
        P = 0 if past is None else past.size(1)
        pos = (
            torch.zeros(B, dtype=torch.long, device=vectors.device) if lengths is None else lengths
        )
        if int(pos.max()) >= self.config.max_turns:
            raise ValueError(
                f"turn {int(pos.max()) + 1} > max_turns={self.config.max_turns}: "
                "recompute a window with act()"
            )
        x = (
            vectors
            + self.action_emb(prev_action + 1)
            + self.reward_proj(prev_reward.unsqueeze(-1))
            + self.pos_emb(pos)
        ).unsqueeze(1)  # (B, 1, C)
        mask = None
        if past is not None and lengths is not None:
            span = torch.arange(P + 1, device=vectors.device)  # (P + 1,)
            mask = (span < lengths.unsqueeze(1)) | (span == P)  # (B, P + 1)
        h, new = self.history.step(x, past, mask)  # (B, 1, C), (B, n_layers, 2, C)
        return self._actor_logits(h[:, 0], keys), new

    def _actor_logits(self, h: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        # h (B, C), keys (B, A, C) -> (B, A) float32
        return self.actor_head(h.unsqueeze(1), keys.unsqueeze(1)).squeeze(-1).squeeze(1).float()

    def read_history(
        self, vectors: torch.Tensor, prev_action: torch.Tensor, prev_reward: torch.Tensor
    ) -> torch.Tensor:
        """Turn vectors (B, T, C) plus the previous action, reward and turn position,
        through the causal history transformer: h (B, T, C)."""
        T = vectors.size(1)
        if self.config.max_turns < T:
            raise ValueError(
                f"{T} turns > max_turns={self.config.max_turns}: cut the history to a window"
            )
        pos = torch.arange(T, device=vectors.device)  # (T,)
        x = (
            vectors
            + self.action_emb(prev_action + 1)  # (B, T, C)
            + self.reward_proj(prev_reward.unsqueeze(-1))  # (B, T, C)
            + self.pos_emb(pos)  # (T, C)
        )
        return self.history(self.drop(x))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)


def check_inputs(
    config: ModelConfig,
    tokens: torch.Tensor,
    prev_action: torch.Tensor,
    legal: torch.Tensor | None = None,
) -> None:
    """Raise a ValueError that says what is wrong with a batch (ids out of range, wrong
    dtypes). Not called by forward (it would sync the GPU); call it on CPU batches in tests,
    data code and the agent. Out-of-range ids are a bug upstream: they are never clamped."""
    if tokens.dtype != torch.long or prev_action.dtype != torch.long:
        raise ValueError(
            f"tokens and prev_action must be int64, got {tokens.dtype} and {prev_action.dtype}"
        )
    if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= config.vocab_size):
        raise ValueError(
            f"token ids in [{int(tokens.min())}, {int(tokens.max())}] but vocab_size is "
            f"{config.vocab_size}: the tokenizer and the model disagree on the vocabulary"
        )
    if prev_action.numel() and (
        int(prev_action.min()) < -1 or int(prev_action.max()) >= config.n_actions
    ):
        raise ValueError(f"prev_action outside [-1, {config.n_actions}): {prev_action.unique()}")
    if legal is not None and legal.dtype != torch.bool:
        raise ValueError(f"legal must be a bool mask, got {legal.dtype}")


# --------------------------------------------------------------------------------------
# checkpoints: one .safetensors file; the model config and `extra` (vocabulary, step, ...)
# are JSON strings in its metadata, so a loader needs nothing else.


def _unwrap(model: nn.Module) -> nn.Module:
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
    model = _unwrap(model)
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

"""The metamon policy: a per-turn encoder, a causal transformer over turns, shared heads.

    from training.model import ModelConfig, PolicyModel
    config = ModelConfig.preset("small", vocab_size=len(vocab))     # observation "entities"
    model = PolicyModel(config)
    out = model(tokens, numbers, prev_action, prev_reward, legal)    # out.logits, out.q

The turn encoder (`training.turn_encoder`) gives each turn a vector and each of its 13
actions a key. To the turn vector we add embeddings of the previous action (-1 = none) and
reward and a learned turn position; a causal pre-LN transformer (`training.transformer`)
reads the turns (h_t). The heads (`training.heads`) are shared across actions: the actor
gives one logit per action (illegal actions masked), the critic one Q value per discount
factor (`gammas`). V(s) = sum_a pi(a|s) Q(s, a) is the offline learner's business.

A player can cache turns: `encode_turns` works on each turn alone (a `Turns` of vectors and
action keys), so per decision it encodes only the new turn and runs `forward_turns` over
the cached history (or `decode`, one turn over the history's cached keys and values).
Checkpoints (`training.checkpoint`) store this module's `ModelConfig`. Ids are never
clamped: `check_inputs` says what is out of range, and nn.Embedding raises on it anyway.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
import torch.nn as nn

from training import accel
from training.heads import ActionHead
from training.transformer import Transformer
from training.turn_encoder import EntityTurnEncoder, TextTurnEncoder

ATTENTION_MODES = ("auto", "sdpa", "flash", "math")
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
        tokens: torch.Tensor,  # (B, T, n_tokens) int64/int32, or (N, n_tokens) with turn_index
        numbers: torch.Tensor,  # (B, T, n_numbers) float, or (N, n_numbers)
        prev_action: torch.Tensor,  # (B, T) int64, -1 = none
        prev_reward: torch.Tensor,  # (B, T) float
        legal: torch.Tensor | None = None,  # (B, T, n_actions) bool
        positions: torch.Tensor | None = None,  # (B, T): each turn's place in its window
        segments: torch.Tensor | None = None,  # (B, T): which window of the row it is in
        turn_index: torch.Tensor | None = None,  # (N,): where each given turn goes in B x T
    ) -> ModelOutput:
        """Rows of turns: one window per row (right-padded), or packed windows
        (`training.packing`): several windows per row, told apart by `segments`, each
        counting its turns from 0 in `positions`, with only the real turns given
        (`turn_index` places them; padded turns are never encoded)."""
        if turn_index is None:
            turns = self.encode_turns(tokens, numbers)
        else:
            turns = self.encode_packed_turns(tokens, numbers, turn_index, prev_action.shape)
        return self.forward_turns(turns, prev_action, prev_reward, legal, positions, segments)

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

    def encode_packed_turns(
        self,
        tokens: torch.Tensor,  # (N, n_tokens): the real turns (and a few pads)
        numbers: torch.Tensor,  # (N, n_numbers)
        turn_index: torch.Tensor,  # (N,): each turn's place in the flattened (B, T); B * T: none
        shape: torch.Size,  # (B, T)
    ) -> Turns:
        """Encode only the given turns and place them in (B, T) rows; places no turn fills
        are zeros (padding, masked out of every loss)."""
        c = self.config
        N = tokens.size(0)
        if tokens.shape != (N, c.n_tokens) or numbers.shape != (N, c.n_numbers):
            raise ValueError(
                f"packed turns are (N, {c.n_tokens}) tokens and (N, {c.n_numbers}) numbers "
                f"({c.observation} observation); got tokens {tuple(tokens.shape)}, "
                f"numbers {tuple(numbers.shape)}"
            )
        B, T = shape
        vectors, keys = self.turn_encoder(tokens, numbers)  # (N, C), (N, A, C)
        # one spare place at B * T takes the pads' outputs, then is dropped
        placed_v = vectors.new_zeros(B * T + 1, vectors.size(-1)).index_copy(0, turn_index, vectors)
        placed_k = keys.new_zeros(B * T + 1, *keys.shape[1:]).index_copy(0, turn_index, keys)
        return Turns(placed_v[:-1].view(B, T, -1), placed_k[:-1].view(B, T, c.n_actions, -1))

    def forward_turns(
        self,
        turns: Turns,  # from encode_turns: vectors (B, T, C), keys (B, T, A, C)
        prev_action: torch.Tensor,  # (B, T) int64, -1 = none
        prev_reward: torch.Tensor,  # (B, T) float
        legal: torch.Tensor | None = None,  # (B, T, n_actions) bool
        positions: torch.Tensor | None = None,  # (B, T) packed rows (see forward)
        segments: torch.Tensor | None = None,  # (B, T)
    ) -> ModelOutput:
        """The history transformer and the heads, over already encoded turns."""
        h = self.read_history(turns.vectors, prev_action, prev_reward, positions, segments)
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
        self,
        vectors: torch.Tensor,
        prev_action: torch.Tensor,
        prev_reward: torch.Tensor,
        positions: torch.Tensor | None = None,
        segments: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Turn vectors (B, T, C) plus the previous action, reward and turn position,
        through the causal history transformer: h (B, T, C). Packed rows give each turn's
        `positions` and `segments`: a turn then attends to its own window's turns only."""
        T = vectors.size(1)
        if self.config.max_turns < T and positions is None:
            raise ValueError(
                f"{T} turns > max_turns={self.config.max_turns}: cut the history to a window"
            )
        pos = torch.arange(T, device=vectors.device) if positions is None else positions
        x = (
            vectors
            + self.action_emb(prev_action + 1)  # (B, T, C)
            + self.reward_proj(prev_reward.unsqueeze(-1))  # (B, T, C)
            + self.pos_emb(pos)  # (T, C) or (B, T, C)
        )
        mask = None
        if segments is not None:
            same = segments.unsqueeze(-1) == segments.unsqueeze(-2)  # (B, T, T)
            causal = torch.ones(T, T, dtype=torch.bool, device=vectors.device).tril()
            mask = (same & causal).unsqueeze(1)  # (B, 1, T, T)
        return self.history(self.drop(x), mask)

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
    if tokens.dtype not in (torch.long, torch.int32) or prev_action.dtype != torch.long:
        raise ValueError(
            "tokens must be int64 or int32 and prev_action int64, got "
            f"{tokens.dtype} and {prev_action.dtype}"
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

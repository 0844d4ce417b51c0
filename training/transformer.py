"""Attention and the pre-LN transformer stack that both of the policy's transformers use.

The turn encoder runs one bidirectional stack over the tokens of a single turn, the history
runs one causal stack over the turns (`training.model`); both are a `Transformer` of
`Block`s. `attend` picks the attention kernel by `ModelConfig.attention`:
- "sdpa": torch's scaled_dot_product_attention (on CUDA it picks its own flash kernel).
- "flash": flash-attn's flash_attn_func; needs flash-attn, CUDA, and bf16/fp16 inputs.
- "auto" (default): flash_attn_func when flash-attn is installed and q/k/v are CUDA bf16/fp16
  tensors, else SDPA. Under torch.autocast, q/k/v come out of nn.Linear already in the
  autocast dtype, so flash-attn gets bf16 with no casts; fp32 tensors simply go to SDPA.
- "math": the explicit softmax(QK^T / sqrt(d)) V, a reference for tests.
A causal stack can also `step`: one new position per row against the keys and values its
earlier positions left (a player's per-battle cache), equal to `forward` at that position.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

from training import accel


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool,
    dropout_p: float,
    mode: str,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Multi-head attention. q, k, v: (B, T, H, hs) -> (B, T, H, hs).

    `mask` (B, 1, T, T) bool, True where a position may attend (packed windows: each
    position sees its own window's earlier positions; `causal` is then already in it).
    flash_attn_func takes no mask and breaks a compiled graph, so with a mask, or inside
    `torch.compile`, "auto" goes to SDPA (on CUDA its own fused kernels)."""
    if mode == "flash" or (
        mode == "auto"
        and mask is None
        and not torch.compiler.is_compiling()
        and accel.flash_attn_func is not None
        and q.is_cuda
        and q.dtype in accel.HALF_DTYPES
    ):
        if mask is not None:
            raise RuntimeError(
                "attention='flash' cannot attend within packed windows (flash_attn_func "
                "takes no mask): use attention='auto' or 'sdpa', or data.pack false"
            )
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
        if mask is not None:
            att = att.masked_fill(~mask, float("-inf"))
        elif causal:
            future = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
            att = att.masked_fill(future, float("-inf"))
        att = F.softmax(att, dim=-1)
        att = F.dropout(att, p=dropout_p)
        y = att @ v  # (B, H, T, hs)
    else:
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=causal and mask is None
        )
    return y.transpose(1, 2)  # (B, T, H, hs)


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float, causal: bool, mode: str):
        super().__init__()
        self.n_heads, self.causal, self.mode, self.dropout = n_heads, causal, mode, dropout
        self.c_attn = nn.Linear(d_model, 3 * d_model)
        self.c_proj = nn.Linear(d_model, d_model)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).view(B, T, 3, self.n_heads, C // self.n_heads).unbind(2)
        y = attend(  # (B, T, H, hs)
            q,
            k,
            v,
            causal=self.causal,
            dropout_p=self.dropout if self.training else 0.0,
            mode=self.mode,
            mask=mask,
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

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), mask)
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

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, C) -> (B, T, C); `mask` (B, 1, T, T) as `attend` takes it. The residual
        stream runs in the autocast dtype (bf16 on a GPU), the final LayerNorm in fp32."""
        x = accel.in_autocast_dtype(x)
        for block in self.blocks:
            if self.gradient_checkpointing and self.training:
                x = checkpoint(block, x, mask, use_reentrant=False)
            else:
                x = block(x, mask)
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

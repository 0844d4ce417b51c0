"""Accelerator detection, once per process, with the fallback logged.

    from training.accel import autocast, detect_accelerator
    accel = detect_accelerator()          # Accel(device=cuda, dtype=torch.bfloat16, flash=True)
    model.to(accel.device)
    with autocast(accel):
        out = model(...)

- CUDA with bf16 (Ampere and later): bf16 autocast. CUDA without bf16: fp32 (fp16 would need
  a gradient scaler; the trainer may add one, this module does not pretend it is free).
- Apple MPS: fp32. Otherwise the CPU in fp32.
- `flash` is true only when `flash_attn` imports AND the device is CUDA AND the autocast dtype
  is bf16/fp16: the model then calls `flash_attn_func`; everywhere else it uses torch's
  `scaled_dot_product_attention`, which on CUDA dispatches to its own flash kernels anyway.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)

# flash-attn is optional: never a dependency, imported only if it is there.
flash_attn_func: Callable[..., torch.Tensor] | None
FLASH_ATTN_IMPORT_ERROR: str | None
try:
    from flash_attn import flash_attn_func  # type: ignore[no-redef]

    FLASH_ATTN_IMPORT_ERROR = None
except (ImportError, OSError) as e:  # OSError: a build that does not match this torch/CUDA
    flash_attn_func = None
    FLASH_ATTN_IMPORT_ERROR = f"{type(e).__name__}: {e}"

HALF_DTYPES = (torch.bfloat16, torch.float16)


@dataclass(frozen=True)
class Accel:
    device: torch.device
    dtype: torch.dtype  # the autocast dtype; torch.float32 means autocast off
    flash: bool  # flash_attn_func will be used by attention="auto"


@functools.cache
def detect_accelerator() -> Accel:
    """The best device of this machine, its mixed-precision dtype, and whether flash-attn runs.
    Cached: the decision (and its log line) happens once per process."""
    if torch.cuda.is_available():
        device = torch.device("cuda")
        name = torch.cuda.get_device_name(device)
        if torch.cuda.is_bf16_supported():
            dtype = torch.bfloat16
        else:
            dtype = torch.float32
            log.warning("%s has no bf16: running in fp32 (no autocast)", name)
        flash = flash_attn_func is not None and dtype in HALF_DTYPES
        if flash:
            log.info("running on %s with bf16 autocast and flash-attn", name)
        elif flash_attn_func is None:
            log.info(
                "running on %s (%s); flash-attn not available (%s): using torch SDPA",
                name,
                dtype,
                FLASH_ATTN_IMPORT_ERROR,
            )
        else:
            log.info("running on %s in fp32: using torch SDPA (flash-attn needs bf16/fp16)", name)
        return Accel(device, dtype, flash)
    if torch.backends.mps.is_available():
        log.info("no CUDA: running on Apple MPS in fp32 with torch SDPA")
        return Accel(torch.device("mps"), torch.float32, False)
    log.info("no CUDA: running on CPU with torch SDPA")
    return Accel(torch.device("cpu"), torch.float32, False)


def autocast(accel: Accel) -> contextlib.AbstractContextManager:
    """Mixed precision for `accel` (a no-op context in fp32)."""
    if accel.dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=accel.device.type, dtype=accel.dtype)


def in_autocast_dtype(x: torch.Tensor) -> torch.Tensor:
    """`x` in the autocast dtype when autocast is on for its device (bf16 on a GPU), else as
    it is. Embeddings and the numbers' projections come out of autocast in fp32, and adding
    a bf16 layer output to fp32 keeps a transformer's residual stream in fp32: casting the
    stream once at its start keeps it, and every layer's input, in bf16."""
    device = x.device.type
    if x.is_floating_point() and torch.is_autocast_enabled(device):
        return x.to(torch.get_autocast_dtype(device))
    return x

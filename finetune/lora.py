"""The model a fine-tune trains: `check_hardware` refuses QLoRA and 8-bit optimizers without
a CUDA GPU and bitsandbytes, `detect_runtime` decides the device, the weights' dtype (bf16
on a GPU that has it, else fp32, logged once) and the attention kernel, `load_base` loads
the base (a hub id, a local folder, or `tiny`, built locally; 4-bit NF4 for QLoRA) with its
tokenizer, as one `ConfigError` line when it cannot, and `add_lora` wraps it in peft's LoRA
adapters on the configured projections.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from finetune.train_config import Config
from training.config import ConfigError

log = logging.getLogger("finetune.train")


def check_hardware(cfg: Config) -> None:
    """QLoRA and bitsandbytes optimizers need a CUDA GPU and bitsandbytes."""
    import importlib.util

    needs_bnb = cfg.model.quantization == "nf4" or "8bit" in cfg.train.optimizer
    if not needs_bnb:
        return
    import torch

    if not torch.cuda.is_available() or importlib.util.find_spec("bitsandbytes") is None:
        what = "qlora" if cfg.model.quantization == "nf4" else f"optimizer {cfg.train.optimizer}"
        raise ConfigError(
            f"{what} needs a CUDA GPU and bitsandbytes: use finetune/configs/lora_a100.yaml "
            "or tiny_cpu.yaml on this machine"
        )


@dataclass
class Runtime:
    device: str
    dtype: Any
    bf16: bool
    attention: str


def detect_runtime(cfg: Config) -> Runtime:
    """Device, weight dtype and attention, decided once, the fallback logged."""
    import torch

    from finetune.scoring import attention_implementation

    device = "cuda" if torch.cuda.is_available() else "cpu"
    bf16 = device == "cuda" and torch.cuda.is_bf16_supported()
    if cfg.model.precision == "fp32":
        bf16 = False
    elif cfg.model.precision == "bf16" and not bf16:
        log.warning("model.precision bf16 asked, but %s has no bf16: fp32", device)
    if device == "cpu":
        log.info("no CUDA GPU: training on the CPU in fp32")
    elif not bf16:
        log.info("training on %s in fp32", torch.cuda.get_device_name())
    attention = cfg.model.attention
    if attention == "auto":
        attention = attention_implementation(device)
    log.info("device %s, %s, attention %s", device, "bf16" if bf16 else "fp32", attention)
    return Runtime(device, torch.bfloat16 if bf16 else torch.float32, bf16, attention)


def load_base(cfg: Config, rt: Runtime, out: Path) -> tuple[Any, Any, str]:
    """(model, tokenizer, base name as the adapter records it) for training."""
    from transformers import AutoConfig, AutoTokenizer

    from finetune.scoring import auto_model_class

    name = cfg.model.name
    if name == "tiny":
        from finetune.tiny import build_tiny_model

        name = str(build_tiny_model(out / "base-tiny", seed=cfg.model.tiny_seed).resolve())
    elif Path(name).expanduser().exists():
        name = str(Path(name).expanduser().resolve())  # the adapter must find it from anywhere
    kwargs: dict[str, Any] = {"dtype": rt.dtype, "attn_implementation": rt.attention}
    if cfg.model.quantization == "nf4":
        import torch
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        kwargs["device_map"] = {"": 0}
    try:
        config = AutoConfig.from_pretrained(name)
        model = auto_model_class(config).from_pretrained(name, config=config, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(name)
    except OSError as e:
        text = " ".join(str(e).split())
        local = Path(name).exists()
        if not local and any(w in text.lower() for w in ("offline", "connect", "resolve")):
            raise ConfigError(
                f"cannot load base model {name!r}: not a local folder, and the Hugging Face hub "
                "is unreachable (offline?): pass --model DIR (a downloaded copy), use "
                "finetune/configs/tiny_cpu.yaml, or set HF_HUB_OFFLINE=0 with network"
            ) from None
        raise ConfigError(f"cannot load base model {name!r}: {text[:300]}") from None
    except (ValueError, ImportError) as e:
        raise ConfigError(f"cannot load base model {name!r}: {' '.join(str(e).split())}") from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    if cfg.model.quantization == "none":
        model.to(rt.device)
    return model, tokenizer, name


def add_lora(model: Any, cfg: Config) -> Any:
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    if cfg.model.quantization == "nf4":
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=cfg.model.gradient_checkpointing
        )
    elif cfg.model.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    lora = LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        bias=cfg.lora.bias,
        target_modules=list(cfg.lora.target_modules),
        exclude_modules=cfg.lora.exclude_modules,
        task_type="CAUSAL_LM",
    )
    try:
        model = get_peft_model(model, lora)
    except ValueError as e:  # e.g. target modules not found in the base
        raise ConfigError(f"lora: {' '.join(str(e).split())[:300]}") from None
    trainable, total = model.get_nb_trainable_parameters()
    log.info("LoRA r=%d: %.2fM of %.1fM parameters train", cfg.lora.r, trainable / 1e6, total / 1e6)
    return model

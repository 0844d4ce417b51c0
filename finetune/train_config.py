"""The fine-tuning config (`python -m finetune.train`): six sections of fields, each with its
default and its help (`model`, `lora`, `data`, `train`, `eval`, `output`), resolved from
these defaults, then the `--config` YAML file, then `--SECTION.KEY VALUE` flags and the
script's own shortcuts (`resolve_config`), and checked (`validate`: allowed values, minimums,
and QLoRA with a merged output, which cannot work). The YAML and flag machinery is
`training.config`'s and `training.config_sections`'; the shipped configs are
`finetune/configs/*.yaml`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from training.config import ConfigError, check_at_least, check_choices
from training.config import opt as _opt
from training.config_sections import SectionedConfig

DEFAULT_BASE = "mistralai/Ministral-3-3B-Instruct-2512-BF16"
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class ModelArgs:
    name: str = _opt(
        DEFAULT_BASE,
        "base model: a hub id, a local folder, or 'tiny' (built locally by finetune/tiny.py)",
    )
    quantization: str = _opt("none", "none | nf4 (4-bit QLoRA via bitsandbytes, CUDA only)")
    precision: str = _opt("auto", "auto: bf16 on a GPU that has it, else fp32 | bf16 | fp32")
    attention: str = _opt(
        "auto", "auto: flash_attention_2 when flash-attn is installed on a GPU, else sdpa"
    )
    gradient_checkpointing: bool = _opt(False, "recompute activations in backward: less memory")
    tiny_seed: int = _opt(0, "seed of the tiny model's weights (model.name: tiny)")


@dataclass
class LoraArgs:
    r: int = _opt(16, "LoRA rank")
    alpha: int = _opt(16, "LoRA alpha (the update is scaled by alpha / r)")
    dropout: float = _opt(0.0, "dropout on the LoRA input")
    bias: str = _opt("none", "none | all | lora_only: which biases train")
    target_modules: list[str] = field(
        default_factory=lambda: list(PROJECTIONS),
        metadata={"help": "module names that get adapters (attention and MLP projections)"},
    )
    exclude_modules: str | None = _opt(
        None,
        "regex of module paths left alone, e.g. '.*vision_tower.*' (Ministral 3 ships a "
        "vision encoder whose layers share the projection names)",
    )


@dataclass
class DataArgs:
    max_length: int = _opt(512, "tokens per example; the prompt is cut from the left to fit")
    max_train_records: int | None = _opt(None, "use the first N training pairs only")
    max_val_records: int | None = _opt(None, "use the first N validation pairs for eval loss")


@dataclass
class TrainArgs:
    max_steps: int = _opt(100, "optimizer steps")
    learning_rate: float = _opt(1e-4, "peak learning rate")
    lr_scheduler: str = _opt("linear", "transformers scheduler: linear | cosine | constant ...")
    warmup_steps: int = _opt(10, "linear warmup steps")
    weight_decay: float = _opt(0.0, "AdamW weight decay")
    batch_size: int = _opt(4, "pairs per device per micro-batch")
    grad_accum: int = _opt(4, "micro-batches per optimizer step")
    optimizer: str = _opt(
        "adamw_torch", "transformers optimizer name: adamw_torch | paged_adamw_8bit (needs bnb)"
    )
    max_grad_norm: float = _opt(1.0, "gradient clipping")
    eval_every: int = _opt(50, "steps between validation-loss passes")
    save_every: int = _opt(50, "steps between Trainer checkpoints in OUT/checkpoints")
    save_total_limit: int = _opt(2, "Trainer checkpoints kept")
    logging_steps: int = _opt(10, "steps between loss log lines")
    seed: int = _opt(42, "seed of LoRA init, shuffling and dropout")
    num_workers: int = _opt(0, "DataLoader worker processes (tokenized data is in memory)")
    progress: bool = _opt(True, "show the Trainer's progress bar")


@dataclass
class EvalArgs:
    before: bool = _opt(True, "validation loss once before training (the base's)")
    accuracy_records: int | None = _opt(
        500, "val pairs scored for top-1 accuracy at the end (null: all; 0: skip)"
    )
    batch_size: int = _opt(16, "options scored per forward")


@dataclass
class OutputArgs:
    merge: bool = _opt(True, "merge LoRA into the base and save the full model (else adapter)")
    push_to_hub: str | None = _opt(None, "hub repo id to push the saved folder to")
    hub_private: bool = _opt(True, "create the hub repo private")


@dataclass
class Config(SectionedConfig):
    model: ModelArgs = field(default_factory=ModelArgs)
    lora: LoraArgs = field(default_factory=LoraArgs)
    data: DataArgs = field(default_factory=DataArgs)
    train: TrainArgs = field(default_factory=TrainArgs)
    eval: EvalArgs = field(default_factory=EvalArgs)
    output: OutputArgs = field(default_factory=OutputArgs)


SECTIONS: dict[str, type] = Config.sections()


def validate(cfg: Config) -> None:
    choices = {
        "model.quantization": ("none", "nf4"),
        "model.precision": ("auto", "bf16", "fp32"),
        "model.attention": ("auto", "sdpa", "eager", "flash_attention_2"),
        "lora.bias": ("none", "all", "lora_only"),
    }
    check_choices(cfg, choices)
    at_least = {
        "lora.r": 1,
        "lora.alpha": 1,
        "data.max_length": 8,
        "data.max_train_records": 1,
        "data.max_val_records": 1,
        "train.max_steps": 1,
        "train.warmup_steps": 0,
        "train.batch_size": 1,
        "train.grad_accum": 1,
        "train.eval_every": 1,
        "train.save_every": 1,
        "train.save_total_limit": 1,
        "train.logging_steps": 1,
        "train.num_workers": 0,
        "eval.accuracy_records": 0,
        "eval.batch_size": 1,
    }
    check_at_least(cfg, at_least)
    if not cfg.train.learning_rate > 0:
        raise ConfigError(f"train.learning_rate={cfg.train.learning_rate}: must be positive")
    if not 0 <= cfg.lora.dropout < 1:
        raise ConfigError(f"lora.dropout={cfg.lora.dropout}: must be in [0, 1)")
    if not cfg.lora.target_modules:
        raise ConfigError("lora.target_modules is empty: name the projections to adapt")
    if cfg.model.quantization == "nf4" and cfg.output.merge:
        raise ConfigError(
            "output.merge with model.quantization nf4: LoRA weights cannot be merged cleanly "
            "into a 4-bit base; set output.merge false (or --adapter-only) and merge later "
            "over the bf16 base"
        )


def resolve_config(args: argparse.Namespace) -> Config:
    """Defaults, then --config, then flags; validated."""
    cfg = Config()
    cfg.apply_args(args)
    if args.model is not None:
        cfg.model.name = args.model
    if args.push_to_hub is not None:
        cfg.output.push_to_hub = args.push_to_hub
    if args.adapter_only:
        cfg.output.merge = False
    validate(cfg)
    return cfg

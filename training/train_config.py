"""The trainer's config: five sections of fields, each with its default and its help.

`python -m training.train` (`training.train`) builds a `Config` from these defaults, then
the `--config` YAML file, then `--SECTION.KEY VALUE` flags (`resolve_config`), and checks
it (`validate`); `lr_at` is the learning-rate schedule the `optim` section describes. The
machinery that reads YAML and flags into dataclasses is `training.config`'s, and what every
trainer's `Config` does with its sections is `training.config_sections`'.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from dataclasses import dataclass, field

from training.config import (
    ConfigError,
    check_at_least,
    check_choices,
)
from training.config import opt as _opt
from training.config_sections import SectionedConfig


@dataclass
class ModelArgs:
    size: str = _opt("small", "preset: tiny | small | base (~200M, the seed's) | large")
    observation: str = _opt(
        "entities",
        "entities: one token per Pokémon and move slot with its own numbers (metamon v2); "
        "text: Metamon's 87 word tokens and 48 numbers",
    )
    attention: str = _opt(
        "auto",
        "auto: flash-attn when installed and running on a GPU in bf16, else torch SDPA (which "
        "has its own flash kernel on CUDA); sdpa; flash (fails without flash-attn); math",
    )
    gradient_checkpointing: bool = _opt(False, "recompute activations in backward: less memory")
    dropout: float = _opt(0.0, "dropout in both transformers")
    init_from: str | None = _opt(
        None,
        "start a new run from this checkpoint's weights, size, observation and vocabulary "
        "(fine-tuning, a DAgger round); size, observation and overrides are then ignored",
    )
    overrides: dict = field(
        default_factory=dict,
        metadata={"help": "any other ModelConfig field, e.g. {d_model: 512, n_layers: 6}"},
    )


@dataclass
class DataArgs:
    max_seq_len: int = _opt(200, "turns per training window (the model sees one state more)")
    batch_size: int = _opt(32, "windows per micro-batch, per process")
    grad_accum: int = _opt(1, "micro-batches per optimizer step")
    num_workers: int = _opt(2, "DataLoader worker processes (reading and encoding)")
    pin_memory: bool = _opt(False, "page-locked host batches (CUDA only)")
    prefetch_factor: int = _opt(4, "batches each worker prepares ahead")
    pack: bool = _opt(
        True,
        "pack windows end to end in rows of max_seq_len + 1 states (each window attends to "
        "itself only) and encode only real turns: padding costs (almost) nothing; false: "
        "pad every window to the batch's longest",
    )
    formats: list[str] | None = field(
        default=None, metadata={"help": "keep these formats only, e.g. [gen9ou]"}
    )
    min_rating: int | None = _opt(None, "keep ratings >= this (Unrated counts as 1000)")
    max_rating: int | None = _opt(None, "keep ratings <= this")
    result: str = _opt("both", "keep the point-of-view player's wins, losses or both")
    min_date: str | None = _opt(None, "keep battles on or after this day (YYYY-MM-DD)")
    max_date: str | None = _opt(None, "keep battles on or before this day (YYYY-MM-DD)")
    players: list[str] | None = field(
        default=None,
        metadata={
            "help": "keep files whose point-of-view player's name starts with one of these, "
            "e.g. [heuristic]: the arena's heuristic agent's side only"
        },
    )
    val_fraction: float = _opt(
        0.0, "battles held out for validation (by battle id, both sides together); 0: none"
    )
    index_cache: str | None = _opt(None, "folder of the index cache (default ~/.cache/...)")


@dataclass
class OptimArgs:
    lr: float = _opt(3e-4, "peak learning rate (AdamW)")
    min_lr_ratio: float = _opt(0.1, "the cosine decays to lr x this")
    schedule: str = _opt("cosine", "cosine (after warmup, down to the last step) | constant")
    warmup_steps: int = _opt(500, "linear warmup from 0")
    weight_decay: float = _opt(0.01, "on weight matrices and embeddings, not biases or norms")
    beta1: float = _opt(0.9, "AdamW beta1")
    beta2: float = _opt(0.95, "AdamW beta2")
    grad_clip: float = _opt(1.0, "max gradient norm (0: no clipping)")


@dataclass
class RLArgs:
    actor_filter: str = _opt("binary", "binary: imitate actions with advantage > 0; none: BC")
    filter_gamma: float | None = _opt(
        0.999, "discount whose advantage drives the filter (null: mean over the gammas)"
    )
    critic_coef: float = _opt(10.0, "loss = actor + critic_coef x critic")
    bc_coef: float = _opt(
        0.0,
        "with the binary filter: + bc_coef x plain BC on every known action, which keeps the "
        "policy on the data's actions (where Q was learned) instead of drifting to actions "
        "whose Q no data checks",
    )
    reward_scale: float = _opt(0.01, "critic targets use reward x this (win/loss +-100 -> +-1)")
    target_tau: float = _opt(0.005, "Polyak step of the target network (1: hard copy)")
    target_every: int = _opt(1, "optimizer steps between target updates")


@dataclass
class TrainArgs:
    epochs: int = _opt(1, "passes over the trajectories (ignored when max_steps is set)")
    max_steps: int | None = _opt(None, "optimizer steps to train for (overrides epochs)")
    precision: str = _opt("auto", "auto: bf16 autocast where the GPU has it | bf16 | fp32")
    compile: bool = _opt(
        False, "torch.compile the whole step (model, target critic, losses; SDPA attention)"
    )
    seed: int = _opt(0, "seed of weights, shuffling and windows")
    out: str = _opt("checkpoints/run", "folder for checkpoints and logs")
    log_every: int = _opt(10, "steps between rows of log.csv (and progress stats)")
    save_every: int = _opt(1000, "steps between checkpoints (one is always saved at the end)")
    eval_every: int = _opt(500, "steps between validation passes (and one at the end)")
    eval_batches: int = _opt(50, "validation batches per pass (fewer when the split is small)")
    keep_last: int = _opt(3, "step checkpoints kept (older ones are deleted)")
    progress: bool = _opt(True, "show a progress bar (rank 0)")
    wandb_project: str | None = _opt(
        None,
        "Weights & Biases project; used only when wandb is installed (also if only "
        "WANDB_API_KEY is set: project showdown-arena)",
    )
    wandb_run_name: str | None = _opt(None, "Weights & Biases run name")


@dataclass
class Config(SectionedConfig):
    model: ModelArgs = field(default_factory=ModelArgs)
    data: DataArgs = field(default_factory=DataArgs)
    optim: OptimArgs = field(default_factory=OptimArgs)
    rl: RLArgs = field(default_factory=RLArgs)
    train: TrainArgs = field(default_factory=TrainArgs)


SECTIONS: dict[str, type] = Config.sections()
set_field = Config.set_field  # set_field(cfg, "train.max_steps", 10, source)
load_yaml = Config.load_yaml  # load_yaml(cfg, path)


def validate(cfg: Config) -> None:
    choices = {
        "train.precision": ("auto", "bf16", "fp32"),
        "rl.actor_filter": ("binary", "none"),
        "model.observation": ("entities", "text"),
        "data.result": ("win", "loss", "both"),
        "optim.schedule": ("cosine", "constant"),
    }
    check_choices(cfg, choices)
    at_least = {
        "data.max_seq_len": 1,
        "data.batch_size": 1,
        "data.grad_accum": 1,
        "data.num_workers": 0,
        "data.prefetch_factor": 1,
        "optim.warmup_steps": 0,
        "rl.target_every": 1,
        "train.epochs": 1,
        "train.max_steps": 1,
        "train.log_every": 1,
        "train.save_every": 1,
        "train.keep_last": 1,
    }
    check_at_least(cfg, at_least)
    if not cfg.optim.lr > 0:
        raise ConfigError(f"optim.lr={cfg.optim.lr}: must be positive")
    if not 0 < cfg.rl.target_tau <= 1:
        raise ConfigError(f"rl.target_tau={cfg.rl.target_tau}: must be in (0, 1]")
    if cfg.model.attention == "flash" and (cfg.data.pack or cfg.train.compile):
        raise ConfigError(
            "model.attention flash takes no mask (data.pack) and breaks a compiled graph "
            "(train.compile): use attention auto, which uses flash-attn where it can"
        )
    for key in ("min_date", "max_date"):
        value = getattr(cfg.data, key)
        if value is not None:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                raise ConfigError(f"data.{key}={value!r}: expected YYYY-MM-DD") from None


def resolve_config(args: argparse.Namespace) -> Config:
    """Defaults, then --config, then flags; validated."""
    cfg = Config()
    cfg.apply_args(args)
    if args.out is not None:
        cfg.train.out = str(args.out)
    validate(cfg)
    return cfg


def lr_at(step: int, total: int, o: OptimArgs) -> float:
    """Linear warmup over `warmup_steps`, then constant or cosine down to lr x min_lr_ratio."""
    if step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    if o.schedule == "constant":
        return o.lr
    progress = min(1.0, (step - o.warmup_steps) / max(1, total - o.warmup_steps))
    low = o.lr * o.min_lr_ratio
    return low + 0.5 * (1.0 + math.cos(math.pi * progress)) * (o.lr - low)

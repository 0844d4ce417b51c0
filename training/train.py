"""Train the Metamon-style policy offline on trajectory files (Metamon's or the arena's own).

    uv run python -m training.train --config training/configs/cpu_small.yaml \\
        --data_path data/arena --out checkpoints/cpu_small
    python -m training.train --config training/configs/h100_1gpu.yaml --data_path /dev/shm/data
    torchrun --nproc_per_node 8 -m training.train --config training/configs/h100_1gpu.yaml ...
    ... --resume                                  # continue the run in --out
    ... --optim.lr 1e-4 --data.batch_size 32      # any config field; values are YAML

Config: the dataclasses below (`python -m training.train --help` lists every field), then
the `--config` YAML file, then flags. `--max_steps` and `--out` are `train.max_steps` and
`train.out`. A step is one optimizer update of `data.batch_size x data.grad_accum` windows
(per process); an epoch shows every trajectory once, as one random window of at most
`data.max_seq_len` turns. Without `train.max_steps` a run lasts `train.epochs` epochs.
The model's `max_turns` (its longest history) is `data.max_seq_len + 1`, the states of one
window, unless `model.overrides` sets it. A resumed run keeps the checkpoint's model config
and vocabulary; the rest of the config may change (a longer `max_steps`, another lr).

What lands in `train.out`:
    config.yaml                 the resolved config of the latest start
    vocab.json                  the vocabulary (built once from poke-env's data, then reused)
    log.csv                     one row every `train.log_every` steps: loss terms, lr, speed
    step_0002000.safetensors    checkpoints every `train.save_every` steps (the last
                                `train.keep_last` kept): weights, model config, and in
                                `extra` the vocabulary, step, epoch and this config
    optimizer.pt                what --resume needs besides the weights: optimizer, target
                                network, step, and the checkpoint it belongs to
    model.safetensors           the final model (what `metamon:PATH` plays)

Several GPUs: under torchrun (WORLD_SIZE > 1) each process takes the GPU of its LOCAL_RANK
(NCCL; gloo on CPU) and its share of the data (a DistributedSampler); only rank 0 logs and
saves. Bad input (a missing data folder, no trajectories, an unknown config key) ends the
run with one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import datetime as dt
import itertools
import json
import logging
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from training import config as _config
from training.config import (
    ConfigError,
    OneLineParser,
    add_section_flags,
    apply_overrides,
    check_at_least,
    check_choices,
)
from training.config import opt as _opt

log = logging.getLogger("training.train")


# --------------------------------------------------------------------------------------
# config


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
    reward_scale: float = _opt(0.01, "critic targets use reward x this (win/loss +-100 -> +-1)")
    target_tau: float = _opt(0.005, "Polyak step of the target network (1: hard copy)")
    target_every: int = _opt(1, "optimizer steps between target updates")


@dataclass
class TrainArgs:
    epochs: int = _opt(1, "passes over the trajectories (ignored when max_steps is set)")
    max_steps: int | None = _opt(None, "optimizer steps to train for (overrides epochs)")
    precision: str = _opt("auto", "auto: bf16 autocast where the GPU has it | bf16 | fp32")
    compile: bool = _opt(False, "torch.compile the model")
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


SECTIONS: dict[str, type] = {
    "model": ModelArgs,
    "data": DataArgs,
    "optim": OptimArgs,
    "rl": RLArgs,
    "train": TrainArgs,
}


@dataclass
class Config:
    model: ModelArgs = field(default_factory=ModelArgs)
    data: DataArgs = field(default_factory=DataArgs)
    optim: OptimArgs = field(default_factory=OptimArgs)
    rl: RLArgs = field(default_factory=RLArgs)
    train: TrainArgs = field(default_factory=TrainArgs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def set_field(cfg: Config, dotted: str, value: Any, source: str = "config") -> None:
    """cfg.<section>.<key> = value, checked and coerced to the field's type."""
    _config.set_field(cfg, SECTIONS, dotted, value, source)


def load_yaml(cfg: Config, path: Path) -> None:
    """Apply a YAML file of `section: {key: value}` to `cfg`."""
    _config.load_yaml(cfg, SECTIONS, path)


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
    if args.config is not None:
        load_yaml(cfg, args.config)
    apply_overrides(cfg, SECTIONS, getattr(args, "overrides", None) or [])
    if args.max_steps is not None:
        set_field(cfg, "train.max_steps", args.max_steps, "--max_steps")
    if args.out is not None:
        cfg.train.out = str(args.out)
    validate(cfg)
    return cfg


# --------------------------------------------------------------------------------------
# command line


def make_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m training.train",
        usage="%(prog)s --config FILE --data_path DIR [DIR ...] [--max_steps N] [--out DIR] "
        "[--resume] [--SECTION.KEY VALUE ...]",
        description="Train the Metamon-style policy offline (filtered behaviour cloning and "
        "TD critics) on Metamon-format trajectory files.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--config", type=Path, default=None, help="YAML config (training/configs/)")
    p.add_argument(
        "--data_path",
        type=Path,
        nargs="+",
        default=None,
        metavar="DIR",
        help="folders (or .tar shards) of .json / .json.lz4 trajectories, or folders of "
        "pre-tokenized shards (python -m training.shards)",
    )
    p.add_argument("--max_steps", type=int, default=None, help="train.max_steps")
    p.add_argument("--out", type=Path, default=None, help="train.out")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument(
        "--log_level",
        default=os.environ.get("LOG_LEVEL", "INFO"),
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
    )
    add_section_flags(p, SECTIONS)
    return p


def _fail(message: object) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return 2


def main(args: argparse.Namespace) -> int:
    try:
        cfg = resolve_config(args)
        if not args.data_path:
            raise ConfigError("--data_path is required: folders of trajectory files")
        for path in args.data_path:
            if not path.exists():
                raise ConfigError(f"--data_path {path}: no such file or folder")
    except ConfigError as e:
        return _fail(e)
    try:
        return train(cfg, list(args.data_path), resume=args.resume, log_level=args.log_level)
    except ConfigError as e:
        return _fail(e)


# --------------------------------------------------------------------------------------
# training


class _ResumableSampler:
    """A DistributedSampler's epoch, started `start` samples in (for --resume)."""

    def __init__(self, sampler: Any) -> None:
        self.sampler = sampler
        self.start = 0

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)

    def __iter__(self):
        return itertools.islice(iter(self.sampler), self.start, None)

    def __len__(self) -> int:
        return len(self.sampler) - self.start


def lr_at(step: int, total: int, o: OptimArgs) -> float:
    """Linear warmup over `warmup_steps`, then constant or cosine down to lr x min_lr_ratio."""
    if step < o.warmup_steps:
        return o.lr * (step + 1) / o.warmup_steps
    if o.schedule == "constant":
        return o.lr
    progress = min(1.0, (step - o.warmup_steps) / max(1, total - o.warmup_steps))
    low = o.lr * o.min_lr_ratio
    return low + 0.5 * (1.0 + math.cos(math.pi * progress)) * (o.lr - low)


CSV_FIELDS = (
    "step", "epoch", "lr", "loss", "actor", "critic", "bc", "filtered", "accuracy", "value",
    "advantage", "grad_norm", "samples_per_s", "steps_per_s", "elapsed_s",
    "val_loss", "val_actor", "val_critic", "val_accuracy",
)  # fmt: skip
STAT_KEYS = ("loss", "actor", "critic", "bc", "filtered", "accuracy", "value", "advantage")


def setup_logging(level: str, rank: int) -> Any:
    """Rich logging on stderr (rank 0; other ranks warnings only); returns the console."""
    from rich.console import Console
    from rich.logging import RichHandler

    console = Console(stderr=True)
    logging.basicConfig(
        level=level if rank == 0 else "WARNING",
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=console, show_path=False)],
        force=True,
    )
    return console


def train(cfg: Config, data_paths: list[Path], *, resume: bool, log_level: str = "INFO") -> int:
    import torch
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data.distributed import DistributedSampler

    from training.accel import autocast, detect_accelerator
    from training.data import IndexFilter, build_index, make_loader
    from training.entities import make_encoder
    from training.model import (
        PRESETS,
        ModelConfig,
        PolicyModel,
        load_checkpoint,
        save_checkpoint,
    )
    from training.offline_rl import OfflineRL
    from training.shards import ShardError, check_vocabulary
    from training.tokenizer import Vocabulary

    # -- processes and devices -------------------------------------------------------
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    console = setup_logging(log_level, rank)
    master = rank == 0
    accel = detect_accelerator()
    if world > 1:
        if accel.device.type == "cuda":
            torch.cuda.set_device(local_rank)
            accel = dataclasses.replace(accel, device=torch.device("cuda", local_rank))
        dist.init_process_group("nccl" if accel.device.type == "cuda" else "gloo")
        log.info("DDP: %d processes (%s)", world, dist.get_backend())
    try:
        precision = cfg.train.precision
        if precision == "fp32" and accel.dtype != torch.float32:
            accel = dataclasses.replace(accel, dtype=torch.float32, flash=False)
        elif precision == "bf16" and accel.dtype != torch.bfloat16:
            log.warning("precision bf16 asked, but %s has no bf16 autocast: fp32", accel.device)
        log.info("device %s, autocast %s", accel.device, str(accel.dtype).removeprefix("torch."))

        out = Path(cfg.train.out)
        state_path = out / "optimizer.pt"
        if resume and not state_path.exists():
            raise ConfigError(f"--resume: no run to continue in {out} (no optimizer.pt)")
        if not resume and state_path.exists():
            raise ConfigError(
                f"{out} already holds a run: pass --resume to continue it, or another --out"
            )

        # -- data ----------------------------------------------------------------------
        filters = IndexFilter(
            formats=tuple(cfg.data.formats) if cfg.data.formats else None,
            min_rating=cfg.data.min_rating,
            max_rating=cfg.data.max_rating,
            result=cfg.data.result,  # type: ignore[arg-type]
            min_date=dt.date.fromisoformat(cfg.data.min_date) if cfg.data.min_date else None,
            max_date=dt.date.fromisoformat(cfg.data.max_date) if cfg.data.max_date else None,
            players=tuple(cfg.data.players) if cfg.data.players else None,
        )
        try:
            index = build_index(data_paths, filters, cache_dir=cfg.data.index_cache)
        except (FileNotFoundError, ValueError) as e:
            raise ConfigError(str(e)) from None
        if len(index) == 0:
            raise ConfigError(
                f"no trajectories under {', '.join(map(str, data_paths))} match the filters "
                "(files are named {battle_id}_{rating}_{p1}_vs_{p2}_{date}_{WIN|LOSS}.json[.lz4])"
            )
        val_index = None
        if cfg.data.val_fraction > 0:
            index, val_index = index.split_by_battle(cfg.data.val_fraction, cfg.train.seed)
            if len(val_index) == 0 or len(index) == 0:
                raise ConfigError(
                    f"data.val_fraction={cfg.data.val_fraction} leaves "
                    f"{len(index)} training and {len(val_index)} validation trajectories: "
                    "add data or change the fraction"
                )
        log.info("data: %s", index.summary())
        if val_index is not None:
            log.info("validation: %s", val_index.summary())

        # -- vocabulary, model, resume state ---------------------------------------------
        state: dict[str, Any] | None = None
        size = cfg.model.size
        if resume:
            state = torch.load(state_path, map_location="cpu", weights_only=True)
            ckpt = out / state["checkpoint"]
            model, model_config, extra = load_checkpoint(ckpt, device=accel.device)
            vocab = Vocabulary.from_dict(extra["vocabulary"])
            size = extra.get("size", "custom")
            if extra.get("step") != state["step"]:
                raise ConfigError(
                    f"{ckpt} is at step {extra.get('step')}, optimizer.pt at "
                    f"{state['step']}: the run's files do not match"
                )
            log.info("resuming from %s (step %d)", ckpt, state["step"])
        else:
            if size not in PRESETS:
                raise ConfigError(f"model.size={size!r}: choose one of {', '.join(PRESETS)}")
            vocab_path = out / "vocab.json"
            if master and not vocab_path.exists():
                Vocabulary.build().save(vocab_path)
            if world > 1:
                dist.barrier()
            vocab = Vocabulary.load(vocab_path)
            # the model reads at most the window it was trained on (T + 1 states), so a
            # player's history window is never longer than what training showed it
            overrides = {"max_turns": cfg.data.max_seq_len + 1, **cfg.model.overrides}
            try:
                model_config = ModelConfig.preset(
                    size,
                    len(vocab),
                    observation=cfg.model.observation,
                    attention=cfg.model.attention,
                    gradient_checkpointing=cfg.model.gradient_checkpointing,
                    dropout=cfg.model.dropout,
                    **overrides,
                )
            except (TypeError, ValueError) as e:
                raise ConfigError(f"model: {e}") from None
            torch.manual_seed(cfg.train.seed)
            try:
                model = PolicyModel(model_config)
            except ImportError as e:
                raise ConfigError(str(e)) from None
            model.to(accel.device)
        try:  # pre-tokenized shards hold token ids of the vocabulary they were built with
            for part in (index, val_index):
                if part is not None:
                    check_vocabulary(part, vocab, model_config.observation)
        except ShardError as e:
            raise ConfigError(str(e)) from None
        model.train()
        if model_config.max_turns < cfg.data.max_seq_len + 1:
            raise ConfigError(
                f"data.max_seq_len={cfg.data.max_seq_len} needs a model with max_turns >= "
                f"{cfg.data.max_seq_len + 1} (a window's states), this one has "
                f"{model_config.max_turns}"
            )
        log.info(
            "model: %s%s, %.1fM parameters, %d words, %d turns, attention %s",
            size,
            " (from the checkpoint)" if state is not None else "",
            model.num_parameters() / 1e6,
            len(vocab),
            model_config.max_turns,
            model_config.attention,
        )

        # -- learner, optimizer ------------------------------------------------------------
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        optimizer = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": cfg.optim.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=cfg.optim.lr,
            betas=(cfg.optim.beta1, cfg.optim.beta2),
            fused=accel.device.type == "cuda",
        )
        rl = OfflineRL(model, **dataclasses.asdict(cfg.rl))
        start_step = 0
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
            rl.load_state_dict(state["learner"])
            start_step = int(state["step"])
        forward_model: torch.nn.Module = model
        ddp = None
        if world > 1:
            ids = [local_rank] if accel.device.type == "cuda" else None
            forward_model = ddp = DistributedDataParallel(model, device_ids=ids)
        if cfg.train.compile:
            forward_model = torch.compile(forward_model)
        rl.model = forward_model

        # -- loader --------------------------------------------------------------------
        random_seed = cfg.train.seed + rank
        random.seed(random_seed)
        per_step = cfg.data.batch_size * cfg.data.grad_accum
        dsampler = DistributedSampler(
            range(len(index)),  # only its length is used
            num_replicas=world,
            rank=rank,
            shuffle=True,
            seed=cfg.train.seed,
            drop_last=True,
        )
        sampler = _ResumableSampler(dsampler)
        steps_per_epoch = dsampler.num_samples // per_step
        if steps_per_epoch == 0:
            raise ConfigError(
                f"{len(index)} trajectories are fewer than one step needs "
                f"(batch_size {cfg.data.batch_size} x grad_accum {cfg.data.grad_accum} x "
                f"{world} processes)"
            )
        loader = make_loader(
            index,
            batch_size=cfg.data.batch_size,
            max_seq_len=cfg.data.max_seq_len,
            encode=make_encoder(model_config.observation, vocab),
            num_workers=cfg.data.num_workers,
            pin_memory=cfg.data.pin_memory,
            prefetch_factor=cfg.data.prefetch_factor,
            drop_last=True,
            seed=random_seed,
            sampler=sampler,  # type: ignore[arg-type]
        )
        val_loader = None
        if val_index is not None:
            val_loader = make_loader(
                val_index,
                batch_size=min(cfg.data.batch_size, len(val_index)),
                max_seq_len=cfg.data.max_seq_len,
                encode=make_encoder(model_config.observation, vocab),
                num_workers=0,
                shuffle=False,
            )
        total = cfg.train.max_steps or cfg.train.epochs * steps_per_epoch
        log.info(
            "%d steps (%d per epoch) of %d windows x %d turns, lr %g",
            total,
            steps_per_epoch,
            per_step * world,
            cfg.data.max_seq_len,
            cfg.optim.lr,
        )

        def micro_batches():
            epoch, done = divmod(start_step, steps_per_epoch)
            while True:
                sampler.set_epoch(epoch)
                sampler.start = done * per_step
                it = iter(loader)
                for _ in range((steps_per_epoch - done) * cfg.data.grad_accum):
                    yield epoch, next(it)
                epoch, done = epoch + 1, 0

        # -- outputs (rank 0) ------------------------------------------------------------
        run_log = wandb_run = None
        if master:
            out.mkdir(parents=True, exist_ok=True)
            run = {"data_path": [str(p) for p in data_paths], **cfg.to_dict()}
            (out / "config.yaml").write_text(yaml.safe_dump(run, sort_keys=False))
            run_log = RunLog(out / "log.csv")
            wandb_run = _init_wandb(cfg, out)
    except BaseException:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()
        raise

    def save(step: int, epoch: int, metrics: dict[str, float], final: bool = False) -> None:
        if master:
            extra = {
                "vocabulary": vocab.to_dict(),
                "step": step,
                "epoch": epoch,
                "size": size,
                "train_config": cfg.to_dict(),
                "metrics": metrics,
            }
            name = f"step_{step:07d}.safetensors"
            save_checkpoint(out / name, model, model_config, extra)
            tmp = out / "optimizer.pt.tmp"
            torch.save(
                {
                    "step": step,
                    "epoch": epoch,
                    "checkpoint": name,
                    "optimizer": optimizer.state_dict(),
                    "learner": rl.state_dict(),
                },
                tmp,
            )
            os.replace(tmp, out / "optimizer.pt")
            for old in sorted(out.glob("step_*.safetensors"))[: -cfg.train.keep_last]:
                old.unlink(missing_ok=True)
            if final:
                save_checkpoint(out / "model.safetensors", model, model_config, extra)
            log.info("saved %s%s", out / name, " and model.safetensors" if final else "")
        if world > 1:
            dist.barrier()

    # -- the loop ----------------------------------------------------------------------
    progress = None
    if master and cfg.train.progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        progress = Progress(
            TextColumn("[bold]train"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[stats]}"),
            console=console,
        )
        task = progress.add_task("train", total=total, completed=start_step, stats="")
        progress.start()
    echo = progress is None or not console.is_terminal  # log lines where no live bar shows

    batches = micro_batches()
    step, epoch = start_step, start_step // steps_per_epoch
    sums: dict[str, torch.Tensor] = {}
    n_micro = 0
    metrics: dict[str, float] = {}
    t_start = t_last = time.perf_counter()
    step_last = step
    code = 0
    try:
        while step < total:
            lr = lr_at(step, total, cfg.optim)
            for group in optimizer.param_groups:
                group["lr"] = lr
            for micro in range(cfg.data.grad_accum):
                epoch, batch = next(batches)
                batch = batch.to(accel.device)
                last = micro == cfg.data.grad_accum - 1
                sync = contextlib.nullcontext() if ddp is None or last else ddp.no_sync()
                with sync:
                    with autocast(accel):
                        loss, stats = rl.loss(batch)
                    (loss / cfg.data.grad_accum).backward()
                for k in STAT_KEYS:
                    sums[k] = sums.get(k, 0.0) + stats[k]
                n_micro += 1
            clip = cfg.optim.grad_clip if cfg.optim.grad_clip > 0 else math.inf
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            sums["grad_norm"] = sums.get("grad_norm", 0.0) + grad_norm * cfg.data.grad_accum
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            rl.update_target()
            step += 1

            if step % cfg.train.log_every == 0 or step == total:
                keys = [*STAT_KEYS, "grad_norm"]
                vec = torch.stack([torch.as_tensor(sums[k]).float() for k in keys]) / n_micro
                if world > 1:
                    dist.all_reduce(vec)
                    vec /= world
                now = time.perf_counter()
                steps_per_s = (step - step_last) / max(now - t_last, 1e-9)
                metrics = dict(zip(keys, vec.tolist(), strict=True))
                metrics.update(
                    step=step,
                    epoch=epoch,
                    lr=lr,
                    steps_per_s=steps_per_s,
                    samples_per_s=steps_per_s * per_step * world,
                    elapsed_s=now - t_start,
                )
                sums, n_micro, t_last, step_last = {}, 0, now, step
                if master:
                    assert run_log is not None
                    run_log.write(metrics)
                    if wandb_run is not None:
                        wandb_run.log(metrics, step=step)
                    line = _describe(metrics)
                    if progress is not None:
                        progress.update(task, stats=line)
                    if echo:
                        log.info("step %d/%d %s", step, total, line)
            if progress is not None:
                progress.update(task, completed=step)
            if val_loader is not None and (step % cfg.train.eval_every == 0 or step == total):
                val = evaluate(rl, model, val_loader, cfg.train.eval_batches, accel, cfg.train.seed)
                metrics.update(val)
                if master:
                    assert run_log is not None
                    run_log.write({"step": step, "epoch": epoch, **val})
                    if wandb_run is not None:
                        wandb_run.log(val, step=step)
                    log.info(
                        "step %d validation: actor %.3f, action accuracy %.1f%%",
                        step,
                        val["val_actor"],
                        100 * val["val_accuracy"],
                    )
            if step % cfg.train.save_every == 0 and step < total:
                save(step, epoch, metrics)
        save(step, epoch, metrics, final=True)
    except KeyboardInterrupt:
        log.warning("interrupted at step %d: saving a checkpoint to resume from", step)
        save(step, epoch, metrics, final=False)
        code = 130
    finally:
        if progress is not None:
            progress.stop()
        if run_log is not None:
            run_log.close()
        if wandb_run is not None:
            wandb_run.finish()
        if world > 1:
            dist.destroy_process_group()
    elapsed = time.perf_counter() - t_start
    done = step - start_step
    log.info(
        "%d steps in %.1fs: %.2f steps/s, %.1f samples/s; %s",
        done,
        elapsed,
        done / max(elapsed, 1e-9),
        done * per_step * world / max(elapsed, 1e-9),
        f"final model {out / 'model.safetensors'}" if code == 0 else "resume with --resume",
    )
    return code


def evaluate(rl: Any, model: Any, loader: Any, max_batches: int, accel: Any, seed: int) -> dict:
    """Mean loss terms over up to `max_batches` validation batches, as `val_*` metrics.

    Every process evaluates the same batches with the unwrapped model (no collective
    calls), windows drawn from a fixed seed; the model is put back in training mode.
    """
    import torch

    from training.accel import autocast

    state = random.getstate()
    random.seed(seed)
    wrapped, rl.model = rl.model, model
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    try:
        with torch.no_grad():
            for batch in itertools.islice(loader, max_batches):
                with autocast(accel):
                    _, stats = rl.loss(batch.to(accel.device))
                for k in STAT_KEYS:
                    sums[k] = sums.get(k, 0.0) + float(stats[k])
                n += 1
    finally:
        rl.model = wrapped
        model.train()
        random.setstate(state)
    return {f"val_{k}": v / max(n, 1) for k, v in sums.items()}


def _describe(m: dict[str, float]) -> str:
    return (
        f"loss {m['loss']:.3f} actor {m['actor']:.3f} critic {m['critic']:.4f} "
        f"kept {m['filtered']:.0%} acc {m['accuracy']:.0%} {m['samples_per_s']:.1f} samples/s"
    )


class RunLog:
    """log.csv: a header once, then a row per logging step (appended across resumes)."""

    def __init__(self, path: Path) -> None:
        new = not path.exists() or path.stat().st_size == 0
        self._file = open(path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self._writer = csv.DictWriter(self._file, CSV_FIELDS, extrasaction="ignore")
        if new:
            self._writer.writeheader()

    def write(self, row: dict[str, float]) -> None:
        self._writer.writerow({k: _fmt(row.get(k)) for k in CSV_FIELDS})
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _fmt(x: Any) -> Any:
    return f"{x:.6g}" if isinstance(x, float) else x


def _init_wandb(cfg: Config, out: Path) -> Any:
    """A wandb run when wandb imports and a project (or WANDB_API_KEY) is set; else None."""
    project = cfg.train.wandb_project
    if project is None and not os.environ.get("WANDB_API_KEY"):
        return None
    try:
        import wandb
    except ImportError:
        log.info("wandb is not installed: logging to log.csv only")
        return None
    id_file = out / "wandb_id.txt"
    run_id = id_file.read_text().strip() if id_file.exists() else None
    try:
        run = wandb.init(
            project=project or "showdown-arena",
            name=cfg.train.wandb_run_name,
            id=run_id,
            resume="allow",
            dir=str(out),
            config=json.loads(json.dumps(cfg.to_dict())),
        )
    except Exception as e:  # a network or login problem must not stop training
        log.warning("wandb disabled: %s", " ".join(str(e).split()))
        return None
    id_file.write_text(run.id)
    return run


if __name__ == "__main__":
    sys.exit(main(make_parser().parse_args()))

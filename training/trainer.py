"""One training run, set up step by step, then handed to the loop (`training.train_loop`).

`python -m training.train` resolves the config and calls `train`, which reads as the
run's table of contents:

    setup_processes    torchrun's ranks, this process's device, logging
    choose_precision   bf16 autocast or fp32, as train.precision asks
    run_folder         train.out: a new run, or the one --resume continues
    build_data         the filtered index, and the battles held out for validation
    build_model        vocabulary and model: new, or the checkpoint's when resuming
    build_learner      AdamW, the offline-RL learner, DDP and torch.compile
    make_loaders       a resumable DistributedSampler and the DataLoaders
    open_outputs       config.yaml, log.csv and wandb (rank 0)
    run_loop           optimizer steps; log rows, validation, checkpoints

Every process runs every step; under torchrun (WORLD_SIZE > 1) each takes the GPU of its
LOCAL_RANK and its share of the data, and only rank 0 logs and saves. What lands in
`train.out` is listed in `training.train`'s docstring. Bad input raises `ConfigError`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import random
from pathlib import Path

import torch
import torch.distributed as dist
from rich.console import Console
from rich.logging import RichHandler
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

from training.accel import Accel, detect_accelerator
from training.checkpoint import load_checkpoint
from training.config import ConfigError
from training.dataset import UnreadableData, make_loader
from training.entities import make_encoder
from training.index import IndexFilter, TrajectoryIndex
from training.index_scan import build_index
from training.model import PRESETS, ModelConfig, PolicyModel
from training.offline_rl import OfflineRL
from training.shards import ShardError, check_vocabulary
from training.tokenizer import Vocabulary
from training.train_config import Config, DataArgs
from training.train_loop import (
    Learner,
    Loaders,
    Net,
    Processes,
    ResumableSampler,
    Run,
    open_outputs,
    run_loop,
)

log = logging.getLogger("training.train")


def train(cfg: Config, data_paths: list[Path], *, resume: bool, log_level: str = "INFO") -> int:
    """Train as `cfg` says on `data_paths`: 0 when done, 130 when interrupted (and saved)."""
    procs = setup_processes(log_level)
    try:
        procs.accel = choose_precision(cfg.train.precision, procs.accel)
        out = run_folder(cfg, resume)
        index, val_index = build_data(cfg, data_paths)
        net = build_model(cfg, procs, out, resume, index, val_index)
        learner = build_learner(cfg, procs, net)
        loaders = make_loaders(cfg, procs, net, index, val_index)
        run_log, wandb_run = open_outputs(cfg, procs, out, data_paths)
    except BaseException:
        end_processes(procs)
        raise
    try:
        return run_loop(Run(cfg, procs, out, net, learner, loaders, run_log, wandb_run))
    except UnreadableData as e:  # from a loader worker the message carries its traceback
        last = str(e).strip().splitlines()[-1]
        raise ConfigError(
            last.removeprefix(f"{UnreadableData.__module__}.").removeprefix("UnreadableData: ")
        ) from None


def setup_logging(level: str, rank: int) -> Console:
    """Rich logging on stderr (rank 0; other ranks warnings only); returns the console."""
    console = Console(stderr=True)
    logging.basicConfig(
        level=level if rank == 0 else "WARNING",
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=console, show_path=False)],
        force=True,
    )
    return console


def setup_processes(log_level: str) -> Processes:
    """This process's rank and device; under torchrun, its GPU and the process group (with
    one process too: `torchrun --nproc_per_node 1` runs the DDP path, a smoke check)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    console = setup_logging(log_level, rank)
    accel = detect_accelerator()
    if world > 1 or "TORCHELASTIC_RUN_ID" in os.environ:  # set by torchrun
        if accel.device.type == "cuda":
            torch.cuda.set_device(local_rank)
            accel = dataclasses.replace(accel, device=torch.device("cuda", local_rank))
        dist.init_process_group("nccl" if accel.device.type == "cuda" else "gloo")
        log.info("DDP: %d processes (%s)", world, dist.get_backend())
    return Processes(world, rank, local_rank, accel, console)


def end_processes(procs: Processes) -> None:
    """Leave the process group (under torchrun)."""
    if dist.is_initialized():
        dist.destroy_process_group()


def choose_precision(precision: str, accel: Accel) -> Accel:
    """`accel` with fp32 when asked; bf16 only where the device has it (else a warning)."""
    if precision == "fp32" and accel.dtype != torch.float32:
        accel = dataclasses.replace(accel, dtype=torch.float32, flash=False)
    elif precision == "bf16" and accel.dtype != torch.bfloat16:
        log.warning("precision bf16 asked, but %s has no bf16 autocast: fp32", accel.device)
    log.info("device %s, autocast %s", accel.device, str(accel.dtype).removeprefix("torch."))
    return accel


def run_folder(cfg: Config, resume: bool) -> Path:
    """train.out, which must hold a run to --resume, and no run otherwise."""
    out = Path(cfg.train.out)
    state_path = out / "optimizer.pt"
    if resume and not state_path.exists():
        raise ConfigError(f"--resume: no run to continue in {out} (no optimizer.pt)")
    if not resume and state_path.exists():
        raise ConfigError(
            f"{out} already holds a run: pass --resume to continue it, or another --out"
        )
    return out


# --------------------------------------------------------------------------------------
# data


def index_filter(data: DataArgs) -> IndexFilter:
    """The `IndexFilter` of the data section's formats, ratings, result, dates and players."""
    return IndexFilter(
        formats=tuple(data.formats) if data.formats else None,
        min_rating=data.min_rating,
        max_rating=data.max_rating,
        result=data.result,  # type: ignore[arg-type]
        min_date=dt.date.fromisoformat(data.min_date) if data.min_date else None,
        max_date=dt.date.fromisoformat(data.max_date) if data.max_date else None,
        players=tuple(data.players) if data.players else None,
    )


MIN_BATTLES_TO_HOLD_OUT = 4  # fewer: train on all of them, without validation


def build_data(
    cfg: Config, data_paths: list[Path]
) -> tuple[TrajectoryIndex, TrajectoryIndex | None]:
    """(training index, validation index or None): the filtered trajectories, split by
    battle when data.val_fraction > 0."""
    filters = index_filter(cfg.data)
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
        battles = len(set(index.battle_ids()))
        if battles < MIN_BATTLES_TO_HOLD_OUT:
            log.warning(
                "%d battle(s): too few to hold one out, training without validation "
                "(data.val_fraction applies from %d battles)",
                battles,
                MIN_BATTLES_TO_HOLD_OUT,
            )
        else:
            index, val_index = index.split_by_battle(
                cfg.data.val_fraction, cfg.train.seed, at_least_one=True
            )
            if len(index) == 0:
                raise ConfigError(
                    f"data.val_fraction={cfg.data.val_fraction} leaves "
                    f"{len(index)} training and {len(val_index)} validation trajectories: "
                    "add data or lower the fraction"
                )
    log.info("data: %s", index.summary())
    if val_index is not None:
        log.info("validation: %s", val_index.summary())
    return index, val_index


# --------------------------------------------------------------------------------------
# model and learner


def build_model(
    cfg: Config,
    procs: Processes,
    out: Path,
    resume: bool,
    index: TrajectoryIndex,
    val_index: TrajectoryIndex | None,
) -> Net:
    """The model on this process's device, in training mode, checked against the data."""
    net = resume_model(out, procs.accel) if resume else new_model(cfg, procs, out)
    try:  # pre-tokenized shards hold token ids of the vocabulary they were built with
        for part in (index, val_index):
            if part is not None:
                check_vocabulary(part, net.vocab, net.config.observation)
    except ShardError as e:
        raise ConfigError(str(e)) from None
    net.model.train()
    if net.config.max_turns < cfg.data.max_seq_len + 1:
        raise ConfigError(
            f"data.max_seq_len={cfg.data.max_seq_len} needs a model with max_turns >= "
            f"{cfg.data.max_seq_len + 1} (a window's states), this one has "
            f"{net.config.max_turns}"
        )
    log.info(
        "model: %s%s, %.1fM parameters, %d words, %d turns, attention %s",
        net.size,
        " (from the checkpoint)" if net.resumed is not None else "",
        net.model.num_parameters() / 1e6,
        len(net.vocab),
        net.config.max_turns,
        net.config.attention,
    )
    return net


def resume_model(out: Path, accel: Accel) -> Net:
    """The model, vocabulary and optimizer state of the run saved in `out`."""
    state = torch.load(out / "optimizer.pt", map_location="cpu", weights_only=True)
    ckpt = out / state["checkpoint"]
    model, model_config, extra = load_checkpoint(ckpt, device=accel.device)
    vocab = Vocabulary.from_dict(extra["vocabulary"])
    if extra.get("step") != state["step"]:
        raise ConfigError(
            f"{ckpt} is at step {extra.get('step')}, optimizer.pt at "
            f"{state['step']}: the run's files do not match"
        )
    log.info("resuming from %s (step %d)", ckpt, state["step"])
    return Net(model, model_config, vocab, extra.get("size", "custom"), state)


def new_model(cfg: Config, procs: Processes, out: Path) -> Net:
    """A new model of the model section's preset, over `out`'s vocabulary (made once), or
    the weights of `model.init_from`."""
    if cfg.model.init_from:
        return initial_model(cfg, procs, out, Path(cfg.model.init_from).expanduser())
    size = cfg.model.size
    if size not in PRESETS:
        raise ConfigError(f"model.size={size!r}: choose one of {', '.join(PRESETS)}")
    vocab_path = out / "vocab.json"
    if procs.master and not vocab_path.exists():
        Vocabulary.build().save(vocab_path)
    if procs.world > 1:
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
    model.to(procs.accel.device)
    return Net(model, model_config, vocab, size, None)


def initial_model(cfg: Config, procs: Processes, out: Path, path: Path) -> Net:
    """`path`'s model, config and vocabulary as a new run's start (its step counter at 0);
    the model section's runtime fields (attention, checkpointing, dropout) apply."""
    try:
        loaded, config, extra = load_checkpoint(path)
        vocab = Vocabulary.from_dict(extra["vocabulary"])
    except Exception as e:  # safetensors' own errors too: one line, whatever the cause
        one_line = " ".join(str(e).split())
        raise ConfigError(
            f"model.init_from={path}: not a readable checkpoint: {one_line}"
        ) from None
    if procs.master:
        vocab.save(out / "vocab.json")
    config = dataclasses.replace(
        config,
        attention=cfg.model.attention,
        gradient_checkpointing=cfg.model.gradient_checkpointing,
        dropout=cfg.model.dropout,
    )
    try:
        model = PolicyModel(config)
    except ImportError as e:
        raise ConfigError(str(e)) from None
    model.load_state_dict(loaded.state_dict())
    log.info("model: the weights of %s (step %s)", path, extra.get("step"))
    return Net(model.to(procs.accel.device), config, vocab, extra.get("size", "custom"), None)


def build_learner(cfg: Config, procs: Processes, net: Net) -> Learner:
    """AdamW (no decay on biases and norms) and the offline-RL learner, restored when
    resuming; the forward pass wrapped in DDP (torchrun) and compiled (train.compile)."""
    model = net.model
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": cfg.optim.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=cfg.optim.lr,
        betas=(cfg.optim.beta1, cfg.optim.beta2),
        fused=procs.accel.device.type == "cuda",
    )
    rl = OfflineRL(model, **dataclasses.asdict(cfg.rl))
    start_step = 0
    if net.resumed is not None:
        optimizer.load_state_dict(net.resumed["optimizer"])
        rl.load_state_dict(net.resumed["learner"])
        start_step = int(net.resumed["step"])
    forward_model: torch.nn.Module = model
    ddp = None
    if dist.is_initialized():
        ids = [procs.local_rank] if procs.accel.device.type == "cuda" else None
        forward_model = ddp = DistributedDataParallel(model, device_ids=ids)
    rl.model = forward_model
    if cfg.train.compile:
        rl.compile()
        log.info("torch.compile: the whole step (model, target critic, losses), SDPA attention")
    return Learner(optimizer, rl, ddp, start_step)


# --------------------------------------------------------------------------------------
# loaders


def make_loaders(
    cfg: Config,
    procs: Processes,
    net: Net,
    index: TrajectoryIndex,
    val_index: TrajectoryIndex | None,
) -> Loaders:
    """This process's share of the windows (seeded per rank), and the validation loader."""
    random_seed = cfg.train.seed + procs.rank
    random.seed(random_seed)
    per_process = len(index) // procs.world
    if 0 < per_process < cfg.data.batch_size * cfg.data.grad_accum:
        fitted = per_process // cfg.data.grad_accum
        if fitted >= 1:  # a small folder: smaller batches rather than no training
            log.warning(
                "%d training trajectories are fewer than a step of batch_size %d x "
                "grad_accum %d: batch_size %d instead",
                len(index),
                cfg.data.batch_size,
                cfg.data.grad_accum,
                fitted,
            )
            cfg.data.batch_size = fitted
    per_step = cfg.data.batch_size * cfg.data.grad_accum
    dsampler = DistributedSampler(
        range(len(index)),  # only its length is used
        num_replicas=procs.world,
        rank=procs.rank,
        shuffle=True,
        seed=cfg.train.seed,
        drop_last=True,
    )
    sampler = ResumableSampler(dsampler)
    steps_per_epoch = dsampler.num_samples // per_step
    if steps_per_epoch == 0:
        raise ConfigError(
            f"{len(index)} trajectories are fewer than one step needs "
            f"(batch_size {cfg.data.batch_size} x grad_accum {cfg.data.grad_accum} x "
            f"{procs.world} processes)"
        )
    loader = make_loader(
        index,
        batch_size=cfg.data.batch_size,
        max_seq_len=cfg.data.max_seq_len,
        encode=make_encoder(net.config.observation, net.vocab),
        num_workers=cfg.data.num_workers,
        pin_memory=cfg.data.pin_memory,
        prefetch_factor=cfg.data.prefetch_factor,
        drop_last=True,
        seed=random_seed,
        sampler=sampler,  # type: ignore[arg-type]
        pack=cfg.data.pack,
    )
    val_loader = None
    if val_index is not None:
        # its own workers (at most 2: a pass is eval_batches long), the same windows at
        # every pass whichever worker reads them
        val_loader = make_loader(
            val_index,
            batch_size=min(cfg.data.batch_size, len(val_index)),
            max_seq_len=cfg.data.max_seq_len,
            encode=make_encoder(net.config.observation, net.vocab),
            num_workers=min(cfg.data.num_workers, 2),
            pin_memory=cfg.data.pin_memory,
            shuffle=False,
            pack=cfg.data.pack,
            window_seed=cfg.train.seed,
        )
    total = cfg.train.max_steps or cfg.train.epochs * steps_per_epoch
    log.info(
        "%d steps (%d per epoch) of %d windows x %d turns, lr %g",
        total,
        steps_per_epoch,
        per_step * procs.world,
        cfg.data.max_seq_len,
        cfg.optim.lr,
    )
    return Loaders(loader, val_loader, sampler, per_step, steps_per_epoch, total)

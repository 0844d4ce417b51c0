"""The training loop over a run that `training.trainer` set up.

The run as the set-up steps made it (`Processes`, `Net`, `Learner`, `Loaders`, together a
`Run`), then what the loop does with it:

    MicroBatches       batches from the start step on; a resumed epoch skips what it saw
    train_step         one optimizer update over data.grad_accum micro-batches
    Meter, record      the loss terms averaged over every process: log.csv, wandb, the bar
    run_validation     a pass over the held-out battles (evaluate) every train.eval_every steps
    save               step checkpoints and optimizer.pt (what --resume reads), model.safetensors
    run_loop           all of it from the start step to the last; a Ctrl-C saves and returns 130
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import json
import logging
import math
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import yaml
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from training.accel import Accel, autocast
from training.checkpoint import save_checkpoint
from training.dataset import Batch
from training.model import ModelConfig, PolicyModel
from training.offline_rl import OfflineRL
from training.tokenizer import Vocabulary
from training.train_config import Config, lr_at

log = logging.getLogger("training.train")

CSV_FIELDS = (
    "step", "epoch", "lr", "loss", "actor", "critic", "bc", "filtered", "accuracy", "value",
    "advantage", "grad_norm", "samples_per_s", "steps_per_s", "elapsed_s",
    "val_loss", "val_actor", "val_critic", "val_accuracy",
)  # fmt: skip
STAT_KEYS = ("loss", "actor", "critic", "bc", "filtered", "accuracy", "value", "advantage")


# --------------------------------------------------------------------------------------
# what the steps make


@dataclass
class Processes:
    """This process in the run: torchrun's ranks, its device, and the console."""

    world: int
    rank: int
    local_rank: int
    accel: Accel
    console: Console

    @property
    def master(self) -> bool:
        """Rank 0: the process that logs and saves."""
        return self.rank == 0


@dataclass
class Net:
    """The model, and what it was made from."""

    model: PolicyModel
    config: ModelConfig
    vocab: Vocabulary
    size: str  # the preset's name ("custom" for a checkpoint that names none)
    resumed: dict[str, Any] | None  # optimizer.pt's contents when resuming


@dataclass
class Learner:
    """What updates the model: the optimizer, the learner, the DDP wrapper (if any)."""

    optimizer: torch.optim.Optimizer
    rl: OfflineRL  # rl.model: the model as the forward pass sees it (DDP, compiled)
    ddp: DistributedDataParallel | None
    start_step: int


@dataclass
class Loaders:
    """The training and validation loaders, and the run's length in steps."""

    train: DataLoader
    val: DataLoader | None
    sampler: ResumableSampler
    per_step: int  # windows per optimizer step, per process
    steps_per_epoch: int
    total: int  # the step the run ends at


@dataclass
class Run:
    """Everything the loop needs, as the steps made it."""

    cfg: Config
    procs: Processes
    out: Path
    net: Net
    learner: Learner
    loaders: Loaders
    run_log: RunLog | None  # rank 0 only
    wandb_run: Any


# --------------------------------------------------------------------------------------
# data, step by step


class ResumableSampler:
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


class MicroBatches:
    """Batches without end, from `start_step` on (a resumed epoch skips what it saw);
    `epoch` is the epoch of the batch handed out last."""

    def __init__(self, loaders: Loaders, start_step: int, grad_accum: int) -> None:
        self.epoch = start_step // loaders.steps_per_epoch
        self._batches = self._epochs(loaders, start_step, grad_accum)

    def __iter__(self) -> MicroBatches:
        return self

    def __next__(self) -> Batch:
        self.epoch, batch = next(self._batches)
        return batch

    @staticmethod
    def _epochs(loaders: Loaders, start_step: int, grad_accum: int) -> Iterator[tuple[int, Batch]]:
        epoch, done = divmod(start_step, loaders.steps_per_epoch)
        while True:
            loaders.sampler.set_epoch(epoch)
            loaders.sampler.start = done * loaders.per_step
            it = iter(loaders.train)
            for _ in range((loaders.steps_per_epoch - done) * grad_accum):
                yield epoch, next(it)
            epoch, done = epoch + 1, 0


# --------------------------------------------------------------------------------------
# outputs


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


def open_outputs(
    cfg: Config, procs: Processes, out: Path, data_paths: list[Path]
) -> tuple[RunLog | None, Any]:
    """(log.csv, wandb run or None) after writing config.yaml; (None, None) off rank 0."""
    if not procs.master:
        return None, None
    out.mkdir(parents=True, exist_ok=True)
    run = {"data_path": [str(p) for p in data_paths], **cfg.to_dict()}
    (out / "config.yaml").write_text(yaml.safe_dump(run, sort_keys=False))
    return RunLog(out / "log.csv"), _init_wandb(cfg, out)


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


def save(run: Run, step: int, epoch: int, metrics: dict[str, float], final: bool = False) -> None:
    """A step checkpoint and optimizer.pt (the last train.keep_last kept), and with `final`
    model.safetensors too; rank 0 writes while the others wait."""
    if run.procs.master:
        net, out, cfg = run.net, run.out, run.cfg
        extra = {
            "vocabulary": net.vocab.to_dict(),
            "step": step,
            "epoch": epoch,
            "size": net.size,
            "train_config": cfg.to_dict(),
            "metrics": metrics,
        }
        name = f"step_{step:07d}.safetensors"
        save_checkpoint(out / name, net.model, net.config, extra)
        tmp = out / "optimizer.pt.tmp"
        torch.save(
            {
                "step": step,
                "epoch": epoch,
                "checkpoint": name,
                "optimizer": run.learner.optimizer.state_dict(),
                "learner": run.learner.rl.state_dict(),
            },
            tmp,
        )
        os.replace(tmp, out / "optimizer.pt")
        for old in sorted(out.glob("step_*.safetensors"))[: -cfg.train.keep_last]:
            old.unlink(missing_ok=True)
        if final:
            save_checkpoint(out / "model.safetensors", net.model, net.config, extra)
        log.info("saved %s%s", out / name, " and model.safetensors" if final else "")
    if run.procs.world > 1:
        dist.barrier()


# --------------------------------------------------------------------------------------
# the loop


class Meter:
    """The loss terms summed since the last log row, and the clock."""

    def __init__(self, step: int) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.n_micro = 0
        self.t_start = self.t_last = time.perf_counter()
        self.step_last = step

    def add(self, stats: dict[str, torch.Tensor]) -> None:
        """One micro-batch's loss terms."""
        for k in STAT_KEYS:
            self.sums[k] = self.sums.get(k, 0.0) + stats[k]
        self.n_micro += 1

    def add_grad_norm(self, grad_norm: torch.Tensor, grad_accum: int) -> None:
        self.sums["grad_norm"] = self.sums.get("grad_norm", 0.0) + grad_norm * grad_accum

    def read(self, step: int, epoch: int, lr: float, per_step: int, world: int) -> dict:
        """The means since the last row (over every process), the speed; then start anew."""
        keys = [*STAT_KEYS, "grad_norm"]
        vec = torch.stack([torch.as_tensor(self.sums[k]).float() for k in keys]) / self.n_micro
        if world > 1:
            dist.all_reduce(vec)
            vec /= world
        now = time.perf_counter()
        steps_per_s = (step - self.step_last) / max(now - self.t_last, 1e-9)
        metrics = dict(zip(keys, vec.tolist(), strict=True))
        metrics.update(
            step=step,
            epoch=epoch,
            lr=lr,
            steps_per_s=steps_per_s,
            samples_per_s=steps_per_s * per_step * world,
            elapsed_s=now - self.t_start,
        )
        self.sums, self.n_micro, self.t_last, self.step_last = {}, 0, now, step
        return metrics


def train_step(run: Run, batches: MicroBatches, lr: float, meter: Meter) -> None:
    """One optimizer update at `lr` over data.grad_accum micro-batches."""
    learner, accel, accum = run.learner, run.procs.accel, run.cfg.data.grad_accum
    for group in learner.optimizer.param_groups:
        group["lr"] = lr
    for micro in range(accum):
        batch = next(batches).to(accel.device)
        last = micro == accum - 1
        sync = contextlib.nullcontext() if learner.ddp is None or last else learner.ddp.no_sync()
        with sync:
            with autocast(accel):
                loss, stats = learner.rl.loss(batch)
            (loss / accum).backward()
        meter.add(stats)
    clip = run.cfg.optim.grad_clip if run.cfg.optim.grad_clip > 0 else math.inf
    grad_norm = torch.nn.utils.clip_grad_norm_(run.net.model.parameters(), clip)
    meter.add_grad_norm(grad_norm, accum)
    learner.optimizer.step()
    learner.optimizer.zero_grad(set_to_none=True)
    learner.rl.update_target()


def progress_bar(console: Console, total: int, start_step: int) -> tuple[Progress, TaskID]:
    """A live bar of the steps, with the latest log row's short stats beside it."""
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
    return progress, task


def run_loop(run: Run) -> int:
    """Train from the start step to the last one, logging, evaluating and saving on the way;
    0 when done, 130 when interrupted (after saving a checkpoint to resume from)."""
    cfg, procs, loaders = run.cfg, run.procs, run.loaders
    start_step, total = run.learner.start_step, loaders.total
    progress = task = None
    if procs.master and cfg.train.progress:
        progress, task = progress_bar(procs.console, total, start_step)
    echo = progress is None or not procs.console.is_terminal  # log lines where no bar shows

    batches = MicroBatches(loaders, start_step, cfg.data.grad_accum)
    step = start_step
    meter = Meter(step)
    metrics: dict[str, float] = {}
    code = 0
    try:
        while step < total:
            lr = lr_at(step, total, cfg.optim)
            train_step(run, batches, lr, meter)
            step += 1
            if step % cfg.train.log_every == 0 or step == total:
                metrics = meter.read(step, batches.epoch, lr, loaders.per_step, procs.world)
                if procs.master:
                    line = record(run, metrics)
                    if progress is not None:
                        progress.update(task, stats=line)
                    if echo:
                        log.info("step %d/%d %s", step, total, line)
            if progress is not None:
                progress.update(task, completed=step)
            if loaders.val is not None and (step % cfg.train.eval_every == 0 or step == total):
                metrics.update(run_validation(run, step, batches.epoch))
            if step % cfg.train.save_every == 0 and step < total:
                save(run, step, batches.epoch, metrics)
        save(run, step, batches.epoch, metrics, final=True)
    except KeyboardInterrupt:
        log.warning("interrupted at step %d: saving a checkpoint to resume from", step)
        save(run, step, batches.epoch, metrics, final=False)
        code = 130
    finally:
        if progress is not None:
            progress.stop()
        if run.run_log is not None:
            run.run_log.close()
        if run.wandb_run is not None:
            run.wandb_run.finish()
        if dist.is_initialized():
            dist.destroy_process_group()
    elapsed = time.perf_counter() - meter.t_start
    done = step - start_step
    log.info(
        "%d steps in %.1fs: %.2f steps/s, %.1f samples/s; %s",
        done,
        elapsed,
        done / max(elapsed, 1e-9),
        done * loaders.per_step * procs.world / max(elapsed, 1e-9),
        f"final model {run.out / 'model.safetensors'}" if code == 0 else "resume with --resume",
    )
    return code


def record(run: Run, metrics: dict[str, float]) -> str:
    """A log.csv row (and wandb's) of `metrics`; returns the short line of them."""
    assert run.run_log is not None
    run.run_log.write(metrics)
    if run.wandb_run is not None:
        run.wandb_run.log(metrics, step=metrics["step"])
    return _describe(metrics)


def _describe(m: dict[str, float]) -> str:
    return (
        f"loss {m['loss']:.3f} actor {m['actor']:.3f} critic {m['critic']:.4f} "
        f"kept {m['filtered']:.0%} acc {m['accuracy']:.0%} {m['samples_per_s']:.1f} samples/s"
    )


def run_validation(run: Run, step: int, epoch: int) -> dict[str, float]:
    """A validation pass (`evaluate`), logged by rank 0; returns the `val_*` metrics."""
    cfg, accel = run.cfg, run.procs.accel
    assert run.loaders.val is not None
    val = evaluate(
        run.learner.rl,
        run.net.model,
        run.loaders.val,
        cfg.train.eval_batches,
        accel,
        cfg.train.seed,
    )
    if run.procs.master:
        assert run.run_log is not None
        run.run_log.write({"step": step, "epoch": epoch, **val})
        if run.wandb_run is not None:
            run.wandb_run.log(val, step=step)
        log.info(
            "step %d validation: actor %.3f, action accuracy %.1f%%",
            step,
            val["val_actor"],
            100 * val["val_accuracy"],
        )
    return val


def evaluate(rl: Any, model: Any, loader: Any, max_batches: int, accel: Any, seed: int) -> dict:
    """Mean loss terms over up to `max_batches` validation batches, as `val_*` metrics.

    Every process evaluates the same batches with the unwrapped model (no collective
    calls) and not the compiled step, windows drawn from a fixed seed (the loader's
    `window_seed` with workers); the model is put back in training mode.
    """
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
                    _, stats = rl.loss(batch.to(accel.device), compiled=False)
                for k in STAT_KEYS:
                    sums[k] = sums.get(k, 0.0) + float(stats[k])
                n += 1
    finally:
        rl.model = wrapped
        model.train()
        random.setstate(state)
    return {f"val_{k}": v / max(n, 1) for k, v in sums.items()}

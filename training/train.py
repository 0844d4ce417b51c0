"""Train the Metamon-style policy offline on trajectory files (Metamon's or the arena's own).

    uv run python -m training.train --config training/configs/cpu_small.yaml \\
        --data_path data/arena --out checkpoints/cpu_small
    python -m training.train --config training/configs/h100_1gpu.yaml --data_path /dev/shm/data
    torchrun --nproc_per_node 8 -m training.train --config training/configs/h100_1gpu.yaml ...
    ... --resume                                  # continue the run in --out
    ... --optim.lr 1e-4 --data.batch_size 32      # any config field; values are YAML

Config: the dataclasses of `training.train_config` (`python -m training.train --help` lists
every field), then
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

This module is the command line; the run itself is `training.trainer` (its set-up, step by
step) and `training.train_loop` (the loop), imported when training starts, so `--help` and
a bad flag never wait for torch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.config import ConfigError, OneLineParser, add_log_level, add_section_flags
from training.train_config import (
    SECTIONS,
    Config,
    DataArgs,
    ModelArgs,
    OptimArgs,
    RLArgs,
    TrainArgs,
    load_yaml,
    lr_at,
    resolve_config,
    set_field,
    validate,
)

__all__ = [  # the config's names are re-exported: they were defined here
    "SECTIONS",
    "Config",
    "ConfigError",
    "DataArgs",
    "ModelArgs",
    "OptimArgs",
    "RLArgs",
    "TrainArgs",
    "load_yaml",
    "lr_at",
    "main",
    "make_parser",
    "resolve_config",
    "set_field",
    "train",
    "validate",
]


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
    add_log_level(p, "INFO")
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


def train(cfg: Config, data_paths: list[Path], *, resume: bool, log_level: str = "INFO") -> int:
    """Run `cfg` on `data_paths` (`training.trainer.train`): 0, or 130 when interrupted."""
    from training.trainer import train as run  # torch loads here, not for --help

    return run(cfg, data_paths, resume=resume, log_level=log_level)


if __name__ == "__main__":
    sys.exit(main(make_parser().parse_args()))

"""Training throughput: samples/s, turns/s, tokens/s and model FLOPs utilisation (MFU),
padded batches against packed ones, measured side by side in one run.

    uv run python bench/train_throughput.py                                  # cpu_small
    uv run python bench/train_throughput.py --config training/configs/tiny_test.yaml
    python bench/train_throughput.py --config training/configs/h100_1gpu.yaml \\
        --steps 300 --warmup 30 --compile on                                  # one H100

1. Writes `--trajectories` synthetic Metamon-format trajectories (training.synthetic,
   battles of `--turns` turns) to a temporary folder and draws `--batches` batches of the
   config's `data.batch_size` windows of at most `data.max_seq_len` turns, encoded by the
   config's observation in DataLoader workers, into memory before any timing: the figures
   are the model's (the loader's are `bench/dataloader.py`'s).
2. For each layout (`--layouts`: padded = every window padded to the batch's longest,
   packed = `training.packing`, windows end to end in rows and only real turns encoded)
   and each `--compile` setting, builds the config's model (same seed) and learner, takes
   `--warmup` optimizer steps (compilation happens there), then times `--steps` steps
   cycling over the same batches: the forward pass, the target critic, the losses, the
   backward pass, clipping, AdamW and the target update, under the config's precision,
   each batch copied to the device inside the step. The settings take turns for `--rounds`
   rounds (a fresh model each time) and each reports its median round.
3. Prints, per setting: samples (windows) per second, turns per second (real states: the
   history transformer's tokens), turn-encoder tokens per second (real turns x tokens per
   turn), the share of each transformer's work spent on padding, and MFU: the model's own
   FLOPs for the real turns (`training.flops`, checked against torch's FlopCounterMode)
   per second over the device's peak (data sheet for GPUs; for a CPU an estimate from
   cores, clock and SIMD width, printed with it; `--peak-tflops` overrides). Then the
   ratio of each setting's samples/s to the first one's.
Targets (issue 17): padded turns <= 5% of the turn encoder's work; >= 30% MFU on an H100.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from training.accel import autocast, detect_accelerator  # noqa: E402
from training.config import ConfigError  # noqa: E402
from training.dataset import Batch, TrajectoryDataset, collate  # noqa: E402
from training.entities import make_encoder  # noqa: E402
from training.flops import Peak, device_peak_flops, step_flops  # noqa: E402
from training.index_scan import build_index  # noqa: E402
from training.model import ModelConfig, PolicyModel  # noqa: E402
from training.offline_rl import OfflineRL  # noqa: E402
from training.packing import collate_packed, padding_stats  # noqa: E402
from training.synthetic import write_dataset  # noqa: E402
from training.tokenizer import Vocabulary  # noqa: E402
from training.train_config import Config, load_yaml  # noqa: E402
from training.trainer import choose_precision  # noqa: E402

PAD_TARGET = 0.05
MFU_TARGET = 0.30


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", type=Path, default=ROOT / "training/configs/cpu_small.yaml")
    p.add_argument("--steps", type=int, default=10, help="timed optimizer steps per setting")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (compilation)")
    p.add_argument("--batches", type=int, default=4, help="distinct batches, cycled")
    p.add_argument("--trajectories", type=int, default=256, help="synthetic trajectories")
    p.add_argument(
        "--turns", type=int, nargs=2, default=(15, 90), metavar=("MIN", "MAX"),
        help="battle lengths of the synthetic trajectories",
    )  # fmt: skip
    p.add_argument("--layouts", default="padded,packed", help="padded, packed or both")
    p.add_argument("--compile", choices=("off", "on", "both"), default="off")
    p.add_argument("--batch-size", type=int, default=None, help="override data.batch_size")
    p.add_argument("--max-seq-len", type=int, default=None, help="override data.max_seq_len")
    p.add_argument("--workers", type=int, default=None, help="default: data.num_workers")
    p.add_argument("--peak-tflops", type=float, default=None, help="the device's peak")
    p.add_argument("--rounds", type=int, default=2, help="interleaved rounds (median kept)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    return p


@dataclasses.dataclass
class Result:
    layout: str
    compiled: bool
    seconds: float
    steps: int
    samples_per_s: float
    turns_per_s: float
    tokens_per_s: float
    tflops: float  # model FLOPs per second, in TFLOP/s
    mfu: float | None
    encoder_padding: float
    history_padding: float
    peak_memory_gb: float | None
    rounds: list[float]  # seconds of each round


def prepare(cfg: Config, args: argparse.Namespace, vocab: Vocabulary, folder: Path) -> list:
    """`--batches` lists of samples, encoded in workers (the loader's own machinery)."""
    write_dataset(
        folder, args.trajectories, seed=args.seed, turns=tuple(args.turns),
        pool=min(args.trajectories, 256),
    )  # fmt: skip
    index = build_index(folder, use_cache=False)
    dataset = TrajectoryDataset(
        index,
        cfg.data.max_seq_len,
        encode=make_encoder(cfg.model.observation, vocab),
        window_seed=args.seed,
    )
    workers = cfg.data.num_workers if args.workers is None else args.workers
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=cfg.data.batch_size,
        shuffle=True,
        collate_fn=list,
        num_workers=workers,
        generator=torch.Generator().manual_seed(args.seed),
    )
    lists = []
    for samples in loader:
        if len(samples) == cfg.data.batch_size:
            lists.append(samples)
        if len(lists) == args.batches:
            break
    if not lists:
        raise ConfigError(
            f"{args.trajectories} trajectories make no batch of {cfg.data.batch_size}: "
            "raise --trajectories"
        )
    return lists


def measure(
    cfg: Config,
    args: argparse.Namespace,
    vocab: Vocabulary,
    batches: list[Batch],
    compiled: bool,
    accel: Any,
) -> tuple[float, float | None]:
    """(seconds, peak memory GB) of `--steps` timed steps after `--warmup`."""
    torch._dynamo.reset()  # each setting compiles its own graphs
    torch.manual_seed(args.seed)
    overrides = {"max_turns": cfg.data.max_seq_len + 1, **cfg.model.overrides}
    config = ModelConfig.preset(
        cfg.model.size,
        len(vocab),
        observation=cfg.model.observation,
        attention=cfg.model.attention,
        gradient_checkpointing=cfg.model.gradient_checkpointing,
        **overrides,
    )
    model = PolicyModel(config).to(accel.device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=accel.device.type == "cuda")
    rl = OfflineRL(model, **dataclasses.asdict(cfg.rl))
    if compiled:
        rl.compile()
    cuda = accel.device.type == "cuda"

    def step(i: int) -> None:
        batch = batches[i % len(batches)].to(accel.device)
        with autocast(accel):
            loss, _ = rl.loss(batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        rl.update_target()

    for i in range(args.warmup):
        step(i)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    for i in range(args.steps):
        step(args.warmup + i)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    memory = torch.cuda.max_memory_allocated() / 1e9 if cuda else None
    return seconds, memory


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    cfg = Config()
    try:
        load_yaml(cfg, args.config)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.batch_size:
        cfg.data.batch_size = args.batch_size
    if args.max_seq_len:
        cfg.data.max_seq_len = args.max_seq_len
    layouts = [x.strip() for x in args.layouts.split(",") if x.strip()]
    if not layouts or set(layouts) - {"padded", "packed"}:
        print(f"error: --layouts {args.layouts!r}: give padded, packed or both", file=sys.stderr)
        return 2
    compiles = {"off": [False], "on": [True], "both": [False, True]}[args.compile]
    accel = choose_precision(cfg.train.precision, detect_accelerator())
    peak = (
        Peak(args.peak_tflops * 1e12, "--peak-tflops")
        if args.peak_tflops
        else device_peak_flops(accel.device, accel.dtype)
    )
    vocab = Vocabulary.build()
    with tempfile.TemporaryDirectory(prefix="train-throughput-") as tmp:
        try:
            lists = prepare(cfg, args, vocab, Path(tmp))
        except ConfigError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    config = ModelConfig.preset(cfg.model.size, len(vocab), observation=cfg.model.observation)
    flops = [step_flops(config, [len(s.actions) + 1 for s in samples]) for samples in lists]
    turns = [sum(len(s.actions) + 1 for s in samples) for samples in lists]
    tokens_per_turn = config.n_scratch + (
        config.n_entities
        if config.observation == "entities"
        else config.n_tokens + config.n_number_tokens
    )
    device = str(accel.device) + (
        f" ({torch.cuda.get_device_name(accel.device)})" if accel.device.type == "cuda" else ""
    )
    print(
        f"config {args.config.name}: {cfg.model.size} model "
        f"({PolicyModel(config).num_parameters() / 1e6:.1f}M parameters, "
        f"{cfg.model.observation}), batch {cfg.data.batch_size} windows of <= "
        f"{cfg.data.max_seq_len} turns, {len(lists)} distinct batches of "
        f"{sum(turns) / len(turns):.0f} real turns on average"
    )
    print(
        f"device {device}, autocast {str(accel.dtype).removeprefix('torch.')}, "
        f"{torch.get_num_threads()} threads; peak "
        + (f"{peak.flops / 1e12:.2f} TFLOP/s ({peak.source})" if peak else "unknown")
    )
    settings = []
    for layout in layouts:
        row_len = cfg.data.max_seq_len + 1
        batches = [
            collate_packed(samples, row_len) if layout == "packed" else collate(samples)
            for samples in lists
        ]
        if accel.device.type == "cuda":
            batches = [b.pin_memory() for b in batches]
        settings.extend((layout, compiled, batches) for compiled in compiles)
    # rounds interleave the settings (a later run on a warm process is not favoured or
    # penalised); each setting's median round is reported
    timings: dict[int, list[tuple[float, float | None]]] = {i: [] for i in range(len(settings))}
    for _ in range(args.rounds):
        for i, (_, compiled, batches) in enumerate(settings):
            gc.collect()
            seconds, memory = measure(cfg, args, vocab, batches, compiled, accel)
            timings[i].append((seconds, memory))
    results: list[Result] = []
    for i, (layout, compiled, batches) in enumerate(settings):
        runs = sorted(timings[i], key=lambda run: run[0])
        seconds, memory = runs[(len(runs) - 1) // 2]
        steps = args.steps
        pads = [padding_stats(b) for b in batches]
        cycle = [k % len(batches) for k in range(args.warmup, args.warmup + steps)]
        done_flops = sum(flops[k].train for k in cycle)
        done_turns = sum(turns[k] for k in cycle)
        results.append(
            Result(
                layout=layout,
                compiled=compiled,
                seconds=seconds,
                steps=steps,
                samples_per_s=steps * cfg.data.batch_size / seconds,
                turns_per_s=done_turns / seconds,
                tokens_per_s=done_turns * tokens_per_turn / seconds,
                tflops=done_flops / seconds / 1e12,
                mfu=done_flops / seconds / peak.flops if peak else None,
                encoder_padding=sum(p.encoder_padding for p in pads) / len(pads),
                history_padding=sum(p.history_padding for p in pads) / len(pads),
                peak_memory_gb=memory,
                rounds=[round(run[0], 3) for run in timings[i]],
            )
        )
        report(results[-1])
    base = results[0]
    for r in results[1:]:
        print(
            f"ratio {name(r)} / {name(base)}: {r.samples_per_s / base.samples_per_s:.2f}x samples/s"
        )
    for r in results:
        verdict = "met" if r.encoder_padding <= PAD_TARGET else "NOT met"
        print(
            f"{name(r)}: turn-encoder padding {r.encoder_padding:.1%} "
            f"(target <= {PAD_TARGET:.0%}: {verdict})"
            + (
                f"; MFU {r.mfu:.1%} (target on an H100 >= {MFU_TARGET:.0%})"
                if r.mfu is not None
                else ""
            )
        )
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=2))
    return 0


def name(r: Result) -> str:
    return r.layout + (" compiled" if r.compiled else "")


def report(r: Result) -> None:
    mfu = "n/a" if r.mfu is None else f"{r.mfu:.1%}"
    memory = "" if r.peak_memory_gb is None else f", peak memory {r.peak_memory_gb:.1f} GB"
    print(
        f"{name(r):>16}: {r.samples_per_s:8.1f} samples/s  {r.turns_per_s:9.0f} turns/s  "
        f"{r.tokens_per_s:10.0f} tokens/s  {r.tflops:7.3f} TFLOP/s  MFU {mfu:>6}  "
        f"padding: encoder {r.encoder_padding:.1%}, history {r.history_padding:.1%} "
        f"({r.steps} steps in {r.seconds:.1f} s, median of rounds "
        f"{', '.join(f'{x:.1f}' for x in r.rounds)} s{memory})"
    )


if __name__ == "__main__":
    sys.exit(main())

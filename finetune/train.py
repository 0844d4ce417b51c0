"""LoRA fine-tuning of a causal LM on (prompt, completion) pairs, with transformers' Trainer.

    uv run python -m finetune.train --config finetune/configs/tiny_cpu.yaml \\
        --data data/pairs --out runs/alphastral-tiny              # seconds, on a CPU
    python -m finetune.train --config finetune/configs/lora_a100.yaml \\
        --data data/pairs --out runs/alphastral --push-to-hub USER/ministral-3b-pokemon
    python -m finetune.train --config finetune/configs/qlora_t4.yaml --data data/pairs \\
        --out runs/alphastral-qlora                                # adapter only (4-bit base)
    ... --model DIR_OR_ID --max_steps 50 --adapter-only --lora.r 8 --train.learning_rate 2e-4

Config: the dataclasses below (`--help` lists every field), then the `--config` YAML file,
then flags (`--section.key value`, values are YAML). `--model`, `--max_steps`,
`--push-to-hub` and `--adapter-only` set `model.name`, `train.max_steps`,
`output.push_to_hub` and `output.merge: false`.

`--data DIR` holds train.jsonl (and val.jsonl) from `python -m finetune.dataset`. Each
pair becomes tokens through `finetune.scoring.format_example` (the model's chat template
when it has one), the prompt cut from the left to `data.max_length`, never the completion;
only the completion's tokens (EOS included) carry labels. Validation loss is computed by the
Trainer every `train.eval_every` steps (and before the first step when `eval.before`); at
the end, top-1 move accuracy on val.jsonl ranks each decision's legal options by likelihood
(`finetune.evaluate.evaluate_records`).

What lands in `--out`:
    config.json, model.safetensors,   the merged model (base + LoRA), what `load_model` and
    tokenizer files                   `alphastral:DIR` read; with `--adapter-only` (or a 4-bit
                                      base) the adapter instead: adapter_config.json,
                                      adapter_model.safetensors, tokenizer files
    adapter/                          the adapter alone, next to a merged model
    finetune_config.yaml              the resolved config (data.max_length: what scoring cuts to)
    eval.json                         eval loss before/after, train loss, top-1 accuracy
    checkpoints/                      the Trainer's checkpoints (every `train.save_every` steps)
    base-tiny/                        the locally built base, with `model.name: tiny`

Several GPUs: `torchrun --nproc_per_node N -m finetune.train ...` (the Trainer runs DDP;
rank 0 saves, scores accuracy and pushes). A 4-bit (QLoRA) base cannot take merged LoRA
weights cleanly (they would be rounded into NF4 blocks), so QLoRA runs save the adapter;
merge it later over the bf16 base if needed.

Bad input (a missing data folder, no train.jsonl, an unknown config key, QLoRA without a
CUDA GPU, a base that cannot be loaded) ends the run with one line on stderr and exit
status 2; a failed push to the hub, after everything is saved, with one line and exit
status 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
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
    add_log_level,
    add_section_flags,
    apply_overrides,
    check_at_least,
    check_choices,
)
from training.config import opt as _opt

log = logging.getLogger("finetune.train")

DEFAULT_BASE = "mistralai/Ministral-3-3B-Instruct-2512-BF16"
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


# --------------------------------------------------------------------------------------
# config


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


SECTIONS: dict[str, type] = {
    "model": ModelArgs,
    "lora": LoraArgs,
    "data": DataArgs,
    "train": TrainArgs,
    "eval": EvalArgs,
    "output": OutputArgs,
}


@dataclass
class Config:
    model: ModelArgs = field(default_factory=ModelArgs)
    lora: LoraArgs = field(default_factory=LoraArgs)
    data: DataArgs = field(default_factory=DataArgs)
    train: TrainArgs = field(default_factory=TrainArgs)
    eval: EvalArgs = field(default_factory=EvalArgs)
    output: OutputArgs = field(default_factory=OutputArgs)

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
    if args.config is not None:
        load_yaml(cfg, args.config)
    apply_overrides(cfg, SECTIONS, getattr(args, "overrides", None) or [])
    if args.model is not None:
        cfg.model.name = args.model
    if args.max_steps is not None:
        set_field(cfg, "train.max_steps", args.max_steps, "--max_steps")
    if args.push_to_hub is not None:
        cfg.output.push_to_hub = args.push_to_hub
    if args.adapter_only:
        cfg.output.merge = False
    validate(cfg)
    return cfg


# --------------------------------------------------------------------------------------
# command line


def make_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="python -m finetune.train",
        allow_abbrev=False,
        usage="%(prog)s --config FILE --data DIR --out DIR [--model ID_OR_DIR] [--max_steps N] "
        "[--push-to-hub ID] [--adapter-only] [--SECTION.KEY VALUE ...]",
        description="LoRA fine-tuning on (prompt, completion) pairs from finetune.dataset.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--config", type=Path, default=None, help="YAML config (finetune/configs/)")
    p.add_argument("--data", type=Path, default=None, help="folder with train.jsonl, val.jsonl")
    p.add_argument("--out", type=Path, default=None, help="output folder (required)")
    p.add_argument("--model", default=None, help="model.name: hub id, local folder or 'tiny'")
    p.add_argument("--max_steps", type=int, default=None, help="train.max_steps")
    p.add_argument("--push-to-hub", default=None, metavar="ID", help="output.push_to_hub")
    p.add_argument(
        "--adapter-only", action="store_true", help="save the adapter, not the merged model"
    )
    add_log_level(p, "INFO")
    add_section_flags(p, SECTIONS)
    return p


def _fail(message: object, code: int = 2) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from finetune.evaluate import DataError

    try:
        cfg = resolve_config(args)
        if args.out is None:
            raise ConfigError("--out is required: the folder the model is saved to")
        if args.data is None:
            raise ConfigError("--data is required: a folder with train.jsonl (finetune.dataset)")
        train_path, val_path = find_data(args.data)
        check_hardware(cfg)
        return train(cfg, train_path, val_path, args.out)
    except (ConfigError, DataError) as e:
        return _fail(e)
    except PushError as e:
        return _fail(e, code=1)


def find_data(data: Path) -> tuple[Path, Path | None]:
    """train.jsonl (required, not empty) and val.jsonl (optional) in `data`."""
    if not data.exists():
        raise ConfigError(f"--data {data}: no such folder")
    if not data.is_dir():
        raise ConfigError(f"--data {data}: expected a folder with train.jsonl and val.jsonl")
    train_path, val_path = data / "train.jsonl", data / "val.jsonl"
    if not train_path.is_file() or train_path.stat().st_size == 0:
        raise ConfigError(
            f"--data {data}: no train.jsonl (or it is empty): build it with "
            "python -m finetune.dataset --replays DIR --out DIR"
        )
    return train_path, val_path if val_path.is_file() and val_path.stat().st_size else None


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


class PushError(RuntimeError):
    """The hub push failed after everything was saved locally (exit status 1)."""


# --------------------------------------------------------------------------------------
# data: pairs -> token ids -> padded batches


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]  # -100 on prompt tokens: the loss is on the completion only


def tokenize_pairs(tokenizer: Any, records: list[Any], max_length: int) -> list[Example]:
    """Each pair as prompt + completion ids, the prompt cut from the left to fit."""
    from finetune.scoring import encode_example

    examples = []
    too_long = 0
    for rec in records:
        try:
            p, c = encode_example(tokenizer, rec.prompt, rec.completion, max_length)
        except ValueError:
            too_long += 1
            continue
        examples.append(Example(input_ids=p + c, labels=[-100] * len(p) + c))
    if too_long:
        log.warning("skipped %d pairs whose completion alone exceeds max_length", too_long)
    return examples


class PairDataset:
    """A map-style dataset of tokenized pairs (what Trainer's DataLoader indexes)."""

    def __init__(self, examples: list[Example]) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        ex = self.examples[i]
        return {"input_ids": ex.input_ids, "labels": ex.labels}


@dataclass
class CompletionCollator:
    """Pads a batch on the right to its longest example: pad id, labels -100, mask 0."""

    pad_token_id: int

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(f["input_ids"]) for f in features)
        n = len(features)
        ids = torch.full((n, width), self.pad_token_id, dtype=torch.long)  # (B, T)
        labels = torch.full((n, width), -100, dtype=torch.long)  # (B, T)
        mask = torch.zeros((n, width), dtype=torch.long)  # (B, T)
        for i, f in enumerate(features):
            k = len(f["input_ids"])
            ids[i, :k] = torch.tensor(f["input_ids"])
            labels[i, :k] = torch.tensor(f["labels"])
            mask[i, :k] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}


# --------------------------------------------------------------------------------------
# training


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


def _dataset_config(folder: Path) -> dict[str, Any] | None:
    """The `config` of the dataset's stats.json (`finetune.dataset`), None if unreadable."""
    try:
        config = json.loads((folder / "stats.json").read_text(encoding="utf-8"))["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return config if isinstance(config, dict) else None


def train(cfg: Config, train_path: Path, val_path: Path | None, out: Path) -> int:
    import torch
    from transformers import Trainer, TrainingArguments

    from finetune.evaluate import evaluate_records, read_records

    train_records = read_records(train_path, cfg.data.max_train_records)
    val_records = read_records(val_path) if val_path is not None else []
    if not train_records:
        raise ConfigError(f"{train_path} holds no pairs")
    if not val_records:
        log.warning("no val.jsonl next to train.jsonl: no eval loss, no accuracy")
    log.info("data: %d training pairs, %d validation pairs", len(train_records), len(val_records))

    rt = detect_runtime(cfg)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.train.seed)
    model, tokenizer, base_name = load_base(cfg, rt, out)
    model = add_lora(model, cfg)

    train_set = PairDataset(tokenize_pairs(tokenizer, train_records, cfg.data.max_length))
    loss_records = (
        val_records[: cfg.data.max_val_records] if cfg.data.max_val_records else val_records
    )
    val_set = PairDataset(tokenize_pairs(tokenizer, loss_records, cfg.data.max_length))
    if len(train_set) == 0:
        raise ConfigError(f"no pair of {train_path} fits in data.max_length {cfg.data.max_length}")
    has_val = len(val_set) > 0
    # `dataset` (not `data`: the config's own `data` section would overwrite it) and the
    # dataset's settings (`--switches`...), so a player knows how the prompts were built.
    (out / "finetune_config.yaml").write_text(
        yaml.safe_dump(
            {
                "dataset": str(train_path.parent),
                "dataset_config": _dataset_config(train_path.parent),
                "base": base_name,
                **cfg.to_dict(),
            },
            sort_keys=False,
        ),
        encoding="utf-8",
    )

    args = TrainingArguments(
        output_dir=str(out / "checkpoints"),
        max_steps=cfg.train.max_steps,
        learning_rate=cfg.train.learning_rate,
        lr_scheduler_type=cfg.train.lr_scheduler,
        warmup_steps=cfg.train.warmup_steps,
        weight_decay=cfg.train.weight_decay,
        per_device_train_batch_size=cfg.train.batch_size,
        per_device_eval_batch_size=cfg.train.batch_size,
        gradient_accumulation_steps=cfg.train.grad_accum,
        optim=cfg.train.optimizer,
        max_grad_norm=cfg.train.max_grad_norm,
        eval_strategy="steps" if has_val else "no",
        eval_steps=cfg.train.eval_every,
        save_strategy="steps",
        save_steps=cfg.train.save_every,
        save_total_limit=cfg.train.save_total_limit,
        logging_steps=cfg.train.logging_steps,
        bf16=rt.bf16,
        use_cpu=rt.device == "cpu",
        seed=cfg.train.seed,
        dataloader_num_workers=cfg.train.num_workers,
        remove_unused_columns=False,
        report_to="none",
        disable_tqdm=not cfg.train.progress,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=val_set if has_val else None,
        data_collator=CompletionCollator(tokenizer.pad_token_id),
        processing_class=tokenizer,
    )
    report: dict[str, Any] = {"base": base_name, "train_pairs": len(train_set)}
    report["val_pairs"] = len(val_set)
    if has_val and cfg.eval.before:
        report["eval_loss_before"] = trainer.evaluate()["eval_loss"]
        log.info("validation loss before training: %.4f", report["eval_loss_before"])
    start = time.perf_counter()
    result = trainer.train()
    report["train_seconds"] = time.perf_counter() - start
    report["train_loss"] = result.training_loss
    report["steps"] = result.global_step
    if has_val:  # the Trainer's own pass at the last step, else one more
        last = [
            h["eval_loss"]
            for h in trainer.state.log_history
            if "eval_loss" in h and h.get("step") == result.global_step
        ]
        report["eval_loss"] = last[-1] if last else trainer.evaluate()["eval_loss"]
        log.info("validation loss after training: %.4f", report["eval_loss"])

    if not trainer.is_world_process_zero():  # under torchrun, rank 0 alone saves
        return 0

    # -- save ----------------------------------------------------------------------------
    model.eval()
    if cfg.output.merge:
        model.save_pretrained(out / "adapter")
        tokenizer.save_pretrained(out / "adapter")
        final = model.merge_and_unload()
        final.save_pretrained(out)
        report["saved"] = "merged"
    else:
        final = model
        model.save_pretrained(out)
        report["saved"] = "adapter"
    tokenizer.save_pretrained(out)
    log.info("saved the %s model to %s", report["saved"], out)

    # -- top-1 accuracy --------------------------------------------------------------------
    n_acc = cfg.eval.accuracy_records
    if val_records and n_acc != 0:
        acc = evaluate_records(
            final,
            tokenizer,
            val_records[:n_acc] if n_acc else val_records,
            batch_size=cfg.eval.batch_size,
            max_length=cfg.data.max_length,
            progress=cfg.train.progress,
        )
        report["accuracy"] = acc.to_dict()
    (out / "eval.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(summary_line(report, out))

    if cfg.output.push_to_hub:
        push(out, cfg.output.push_to_hub, cfg.output.hub_private)
    return 0


def summary_line(report: dict[str, Any], out: Path) -> str:
    parts = [f"{report['steps']} steps in {report['train_seconds']:.1f}s"]
    if "eval_loss" in report:
        before = report.get("eval_loss_before")
        start = f"{before:.4f} -> " if before is not None else ""
        parts.append(f"val loss {start}{report['eval_loss']:.4f}")
    acc = report.get("accuracy")
    if acc:
        parts.append(
            f"top-1 {acc['top1']:.1%} (chance {acc['chance_top1']:.1%}, {acc['scored']} "
            f"decisions, {acc['skipped_no_options']} without options)"
        )
    return f"{'; '.join(parts)}. {report['saved']} model in {out}, metrics in {out / 'eval.json'}"


def push(out: Path, repo_id: str, private: bool) -> None:
    """Upload the saved folder (not checkpoints or the tiny base) to the hub."""
    from huggingface_hub import HfApi

    try:
        api = HfApi()
        api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(
            repo_id=repo_id,
            folder_path=str(out),
            ignore_patterns=["checkpoints/*", "base-tiny/*", "adapter/*"],
            commit_message="alphastral fine-tune (python -m finetune.train)",
        )
    except Exception as e:
        raise PushError(
            f"push to {repo_id} failed ({type(e).__name__}: {' '.join(str(e).split())[:200]}); "
            f"everything is saved in {out}: push later with `hf upload {repo_id} {out}`"
        ) from None
    log.info("pushed %s to https://huggingface.co/%s", out, repo_id)


if __name__ == "__main__":
    sys.exit(main(make_parser().parse_args()))

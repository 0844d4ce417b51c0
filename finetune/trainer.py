"""One fine-tuning run with transformers' `Trainer`: `train` reads the pairs, loads the base
and adds LoRA (`finetune.lora`), tokenizes (`finetune.train_data`), records the resolved
config and the dataset's settings in `finetune_config.yaml`, trains with validation loss
before, during and after, saves the merged model (and the adapter next to it) or the adapter
alone, scores top-1 accuracy on validation pairs (`finetune.evaluate`), writes `eval.json`
and prints one summary line; rank 0 alone saves under torchrun. `push` uploads the folder
to the hub afterwards; a failed push is a `PushError`, with the command to push later.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import yaml

from finetune.lora import add_lora, detect_runtime, load_base
from finetune.train_config import Config
from finetune.train_data import CompletionCollator, PairDataset, tokenize_pairs
from training.config import ConfigError

log = logging.getLogger("finetune.train")


class PushError(RuntimeError):
    """The hub push failed after everything was saved locally (exit status 1)."""


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

"""LoRA fine-tuning of a causal LM on (prompt, completion) pairs, with transformers' Trainer.

    uv run python -m finetune.train --config finetune/configs/tiny_cpu.yaml \\
        --data data/pairs --out runs/alphastral-tiny              # seconds, on a CPU
    python -m finetune.train --config finetune/configs/lora_a100.yaml \\
        --data data/pairs --out runs/alphastral --push-to-hub USER/ministral-3b-pokemon
    python -m finetune.train --config finetune/configs/qlora_t4.yaml --data data/pairs \\
        --out runs/alphastral-qlora                                # adapter only (4-bit base)
    ... --model DIR_OR_ID --max_steps 50 --adapter-only --lora.r 8 --train.learning_rate 2e-4

Config: the dataclasses of `finetune.train_config` (`--help` lists every field), then the
`--config` YAML file, then flags (`--section.key value`, values are YAML). `--model`,
`--max_steps`, `--push-to-hub` and `--adapter-only` set `model.name`, `train.max_steps`,
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
import logging
import sys
from pathlib import Path

from finetune.cli import fail
from finetune.lora import check_hardware
from finetune.train_config import SECTIONS, resolve_config
from finetune.train_data import find_data
from finetune.trainer import PushError, train
from training.config import ConfigError, OneLineParser, add_log_level, add_section_flags


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
        return fail(e)
    except PushError as e:
        return fail(e, code=1)


if __name__ == "__main__":
    sys.exit(main(make_parser().parse_args()))

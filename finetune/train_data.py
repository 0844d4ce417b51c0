"""The fine-tuning data, from pairs to batches: `find_data` finds `train.jsonl` (required, not
empty) and `val.jsonl` (optional) in the `--data` folder, `tokenize_pairs` turns each pair
into prompt + completion token ids through `finetune.scoring.encode_example` (the prompt cut
from the left to fit, never the completion; labels -100 on the prompt, so the loss is on the
completion and its EOS only), `PairDataset` is what the Trainer's DataLoader indexes, and
`CompletionCollator` pads each batch on the right to its longest example.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.config import ConfigError

log = logging.getLogger("finetune.train")


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

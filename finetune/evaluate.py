"""Top-1 move accuracy of a model on pair records: rank each decision's legal options by
likelihood and check the first is the move that was played.

    uv run python -m finetune.evaluate --model runs/alphastral-tiny --data data/pairs
    uv run python -m finetune.evaluate --model runs/alphastral-tiny \\
        --data data/pairs/val.jsonl --limit 200 --batch-size 16 --out eval.json

`--model` is anything `finetune.scoring.load_model` takes (a merged model folder, an adapter
folder, a hub id). `--data` is a folder holding val.jsonl, or a .jsonl file. Records without
`options` (or whose completion is not among them) are skipped and counted. The JSON summary
goes to stdout (or `--out`); the progress bar and logs go to stderr. Bad input: one line on
stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from finetune.cli import fail
from training.config import add_log_level

log = logging.getLogger(__name__)


class DataError(ValueError):
    """Bad input data: reported as one line, exit status 2."""


@dataclass
class PairRecord:
    """One line of train.jsonl / val.jsonl (written by finetune/dataset.py)."""

    prompt: str
    completion: str
    options: list[str] | None = None
    battle_id: str = ""
    turn: int = 0
    side: str = ""
    format: str = ""
    rating: int | None = None

    @classmethod
    def from_dict(cls, d: Any, where: str) -> PairRecord:
        if not isinstance(d, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(d).__name__}")
        for key in ("prompt", "completion"):
            if not isinstance(d.get(key), str):
                raise DataError(f"{where}: {key!r} must be a string")
        options = d.get("options")
        if options is not None and (
            not isinstance(options, list) or not all(isinstance(o, str) for o in options)
        ):
            raise DataError(f"{where}: 'options' must be a list of strings")
        return cls(
            prompt=d["prompt"],
            completion=d["completion"],
            options=options,
            battle_id=str(d.get("battle_id", "")),
            turn=int(d.get("turn") or 0),
            side=str(d.get("side", "")),
            format=str(d.get("format", "")),
            rating=d.get("rating"),
        )


def read_records(path: Path, limit: int | None = None) -> list[PairRecord]:
    """The pair records of a JSONL file (blank lines skipped); DataError on a bad line."""
    records: list[PairRecord] = []
    try:
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    d = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{n}: not JSON ({e.msg})") from None
                records.append(PairRecord.from_dict(d, f"{path}:{n}"))
                if limit is not None and len(records) >= limit:
                    break
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror or e}") from None
    return records


def resolve_data(path: Path, name: str = "val.jsonl") -> Path:
    """A .jsonl file as given, or `name` inside a folder; DataError when neither."""
    if path.is_dir():
        found = path / name
        if not found.is_file():
            raise DataError(f"{path} has no {name} (python -m finetune.dataset writes it)")
        return found
    if path.is_file():
        return path
    raise DataError(f"{path}: no such file or folder")


@dataclass
class EvalResult:
    """Top-k accuracy of likelihood ranking over each decision's legal options."""

    scored: int  # decisions scored
    skipped_no_options: int  # records without `options`
    skipped_not_in_options: int  # records whose completion is not among its options
    top1: float  # fraction where the most likely option was the one played
    top3: float
    mean_rank: float  # 1 = always first
    mean_options: float  # legal options per decision (chance top-1 is about 1 / this)
    chance_top1: float  # mean of 1 / options: what picking at random would score
    seconds: float
    decisions_per_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate_records(
    model: Any,
    tokenizer: Any,
    records: Iterable[PairRecord],
    *,
    batch_size: int = 16,
    max_length: int | None = None,
    progress: bool = False,
) -> EvalResult:
    """Rank each record's options with `score_options`; ties count against the model (the
    played move must score strictly higher than every other option to be top-1)."""
    from finetune.scoring import score_options

    records = list(records)
    no_options = not_in = 0
    ranks: list[int] = []
    n_options: list[int] = []
    start = time.perf_counter()
    for rec in _progress(records, progress):
        if not rec.options:
            no_options += 1
            continue
        if rec.completion not in rec.options:
            not_in += 1
            continue
        scores = score_options(
            model, tokenizer, rec.prompt, rec.options, batch_size=batch_size, max_length=max_length
        )
        mine = scores[rec.options.index(rec.completion)]
        ranks.append(
            1 + sum(s >= mine for i, s in enumerate(scores) if rec.options[i] != rec.completion)
        )
        n_options.append(len(rec.options))
    seconds = time.perf_counter() - start
    n = len(ranks)
    if no_options or not_in:
        log.info(
            "skipped %d records without options and %d whose completion is not an option",
            no_options,
            not_in,
        )
    return EvalResult(
        scored=n,
        skipped_no_options=no_options,
        skipped_not_in_options=not_in,
        top1=_mean([r == 1 for r in ranks]),
        top3=_mean([r <= 3 for r in ranks]),
        mean_rank=_mean(ranks),
        mean_options=_mean(n_options),
        chance_top1=_mean([1 / k for k in n_options]),
        seconds=seconds,
        decisions_per_s=n / seconds if seconds > 0 else 0.0,
    )


def _mean(xs: Sequence[float]) -> float:
    return float(sum(xs) / len(xs)) if xs else 0.0


def _progress(records: list[PairRecord], show: bool) -> Iterable[PairRecord]:
    if not show:
        return records
    from rich.console import Console
    from rich.progress import track

    return track(records, description="evaluate", console=Console(stderr=True))


# --------------------------------------------------------------------------------------
# command line


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m finetune.evaluate",
        allow_abbrev=False,
        description="Top-1 move accuracy: rank each decision's legal options by likelihood.",
    )
    p.add_argument("--model", required=True, help="merged model folder, adapter folder or hub id")
    p.add_argument("--data", required=True, type=Path, help="folder with val.jsonl, or a .jsonl")
    p.add_argument("--limit", type=int, default=None, help="evaluate the first N records only")
    p.add_argument("--batch-size", type=int, default=16, help="options scored per forward")
    p.add_argument("--max-length", type=int, default=None, help="cut prompts as training did")
    p.add_argument("--device", default=None, help="cuda | cpu (default: cuda if available)")
    p.add_argument("--out", type=Path, default=None, help="write the JSON summary here")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_log_level(p, "WARNING")
    return p


def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    try:
        for flag in ("limit", "batch_size", "max_length"):
            value = getattr(args, flag)
            if value is not None and value < 1:
                raise DataError(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
        path = resolve_data(args.data)
        records = read_records(path, args.limit)
        if not records:
            raise DataError(f"{path} holds no records")
    except DataError as e:
        return fail(e)

    from finetune.scoring import ModelLoadError, load_model

    try:
        model, tokenizer = load_model(args.model, device=args.device)
    except ModelLoadError as e:
        return fail(e)
    result = evaluate_records(
        model,
        tokenizer,
        records,
        batch_size=args.batch_size,
        max_length=args.max_length,
        progress=not args.no_progress,
    )
    summary = {"model": args.model, "data": str(path), **result.to_dict()}
    text = json.dumps(summary, indent=2)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
        print(
            f"top-1 {result.top1:.1%} (chance {result.chance_top1:.1%}) over {result.scored} "
            f"decisions -> {args.out}"
        )
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(make_parser().parse_args()))

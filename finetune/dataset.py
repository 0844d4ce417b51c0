"""Showdown replays to (prompt, completion) JSONL for fine-tuning.

    uv run python -m finetune.dataset --replays data/replays --out data/dataset \\
        [--sides winner|both] [--min-rating 1500] [--switches] [--seed 0] \\
        [--val-fraction 0.05] [--workers N]

Reads every replay under `--replays` (`**/*.json` or `**/*.json.gz`, in the replay
site's shape: `id, format, players, log, inputlog?, uploadtime, rating`) and writes
`train.jsonl`, `val.jsonl` (split by battle: all pairs of a battle go to one file; a
battle's file depends only on `--seed` and its id) and `stats.json`. One record a line:

    {"prompt": ..., "completion": ..., "options": [...], "battle_id": ..., "turn": N,
     "side": "p1", "format": "gen9randombattle", "rating": 1612 | null}

Two ways to read a replay, both feeding protocol lines through poke-env's own `Battle`
the way a poke-env player does (`Player._handle_battle_message`'s dispatch), and both
rendering prompts and options with `battle.finetune_prompt`, as the agent does at play time:

- Exact view by re-run (replays with an `inputlog`: random formats, and the arena's own
  battles). The battle is re-run in the bundled simulator (`finetune/rerun.js`, one Node
  process per worker for many replays) and each side's own stream is fed: its requests,
  its private HP, its whole team. At every choice the input log says that side made, the
  pair is taken: prompt and options from the battle right then, completion the option of
  the chosen move (`move X terastallize` is the same move; `switch N` only with
  `--switches`). The re-run must end as the replay did (same winning side, same number of
  turns); if it does not, or fails, the replay is read the spectator's way instead and
  the fallback is counted.
- Spectator view (no input log: e.g. OU replays). The public log is fed from one side's
  view. A decision is a turn where that side's active used a move of its own choosing
  (its first `|move|` of the turn, without a `[from]` tag, not Struggle or Recharge; not
  the second turn of a charge move); the prompt is rendered at the turn's start, when the
  player chose. Limitation: the legal moves are unknown, so the options are the moves the
  active revealed in the whole replay (the chosen one included; a move it never used is
  missing, a disabled or out-of-PP one is not excluded, and early in a battle there may
  be a single option), switches are never pairs, own HP is the log's percentage, and a
  choice the log does not show (asleep, flinched, fully paralysed) is lost.

In the exact view, only decisions with at least two options become pairs (a single
legal move, e.g. choice-locked or Outrage-locked, is no decision). `--sides winner` keeps the
winner's decisions (a replay without a winner gives none), `both` keeps both sides.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from finetune.build import Config, build, check_config
from finetune.cli import config_from_args
from finetune.replays import DatasetError

__all__ = ["Config", "DatasetError", "build", "check_config", "main", "make_parser"]


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m finetune.dataset",
        description="Showdown replays to (prompt, completion) JSONL: train.jsonl, val.jsonl, "
        "stats.json.",
    )
    parser.add_argument("--replays", type=Path, required=True, help="folder of replay JSON")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--sides", default="winner", help="winner (default): the winner's decisions; both"
    )
    parser.add_argument("--min-rating", type=int, default=None, help="keep rated replays >= R")
    parser.add_argument("--switches", action="store_true", help="switches are pairs too")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/val split")
    parser.add_argument("--val-fraction", type=float, default=0.05, help="share of battles in val")
    parser.add_argument(
        "--workers", type=int, default=max(1, os.cpu_count() or 1), help="parallel processes"
    )
    parser.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING, ERROR")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    config = config_from_args(Config, args)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    try:
        check_config(config)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("replays", total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            stats = build(config, on_progress)
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    console.print(
        f"{stats['replays_read']} replays: {stats['parsed_rerun']} re-run, "
        f"{stats['parsed_spectator']} as a spectator, {sum(stats['skipped'].values())} skipped "
        f"· {stats['pairs']['train']} train / {stats['pairs']['val']} val pairs "
        f"· {stats['seconds']} s ({stats['replays_per_second']} replays/s)"
    )
    console.print(f"wrote {config.out}/train.jsonl, val.jsonl, stats.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

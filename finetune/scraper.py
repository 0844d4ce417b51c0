"""Showdown replays for fine-tuning: from the public replay site, or from the arena's own runs.

    uv run python -m finetune.scraper --format gen9randombattle --min-rating 1500 \\
        --pages 100 --out data/replays
    uv run python -m finetune.scraper --from-runs runs/ --out data/replays   # offline

Scraping walks the replay site's search (`{base}/search.json?format=F&before=T`, newest
first, `before=` the last item's upload time for the next page), keeps the replays rated
at least `--min-rating`, and downloads each one (`{base}/{id}.json`). Every replay is saved
as the site serves it to `OUT/<format>/<id>.json`, written atomically (a temporary file,
then a rename), so an interrupted scrape keeps what it saved and the next one skips those
files without asking the site again. Requests share one rate limit and a concurrency cap;
connection errors, timeouts, 429 and 5xx answers are retried with exponential backoff and
jitter (a `Retry-After` is honoured), other 4xx answers are not, and a replay that still
fails is counted and logged.

`--from-runs` writes the arena's own battles (run records in `runs/`) into the same folder
in the same shape, with `"source": "arena"` and `rating` null.

Library code logs; only `main()` prints (a rich progress bar and a summary line).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from battle.record import RunRecordError
from finetune.cli import config_from_args, fail
from finetune.from_runs import ImportStats, import_runs
from finetune.replay_site import ReplaySiteError, ScrapeConfig, Scraper, ScrapeStats, scrape
from finetune.replays import ConfigError
from training.config import add_log_level

__all__ = [  # the library's names a script may take from here (see finetune/README.md)
    "ConfigError",
    "ImportStats",
    "ScrapeConfig",
    "ScrapeStats",
    "Scraper",
    "import_runs",
    "main",
    "make_parser",
    "scrape",
]


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m finetune.scraper",
        description="Download Showdown replays from the replay site (or import the arena's own "
        "battles with --from-runs) into OUT/<format>/<id>.json, one file per replay.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    d = ScrapeConfig()
    p.add_argument("--format", default=d.format, help="Showdown format id")
    p.add_argument(
        "--min-rating",
        type=float,
        default=None,
        help="keep replays rated at least this; unrated replays are then dropped",
    )
    p.add_argument("--pages", type=int, default=d.pages, help="search pages to walk at most")
    p.add_argument("--user", default=None, help="only replays of this player")
    p.add_argument("--out", type=Path, default=d.out, help="output folder")
    p.add_argument("--base-url", default=d.base_url, help="the replay site")
    p.add_argument("--rate", type=float, default=d.rate, help="requests per second, in all")
    p.add_argument("--concurrency", type=int, default=d.concurrency, help="requests at once")
    p.add_argument("--retries", type=int, default=d.retries, help="retries per request")
    p.add_argument("--timeout", type=float, default=d.timeout_s, help="seconds per request")
    p.add_argument(
        "--from-runs",
        type=Path,
        nargs="+",
        default=None,
        metavar="PATH",
        help="import the arena's battles from run records (runs/ or runs/<run>.json) instead "
        "of scraping; works offline",
    )
    add_log_level(p, "WARNING", flag="--log-level")
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)

    from rich.console import Console
    from rich.logging import RichHandler

    err_console = Console(stderr=True)
    logging.basicConfig(
        level=args.log_level,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
        force=True,
    )
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(
            logging.DEBUG if args.log_level == "DEBUG" else logging.WARNING
        )

    if args.from_runs is not None:
        try:
            stats = import_runs(args.from_runs, args.out)
        except (ConfigError, RunRecordError) as exc:
            return fail(exc)
        except OSError as exc:
            return fail(f"could not import into {args.out}: {exc}", code=1)
        except KeyboardInterrupt:
            print("interrupted: the battles written so far stay saved", file=sys.stderr)
            return 130
        print(stats.summary(args.out))
        return 0

    config = config_from_args(ScrapeConfig, args, timeout_s=args.timeout)
    try:
        config.validate()
    except ConfigError as exc:
        return fail(exc)
    return _run_scrape(config, err_console)


def _run_scrape(config: ScrapeConfig, console: Any) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("searching", total=None, detail="")

    def on_progress(s: ScrapeStats) -> None:
        todo = s.kept - s.skipped
        progress.update(
            task,
            description=f"page {s.pages}/{config.pages}",
            total=todo if todo > 0 else None,
            completed=s.downloaded + s.failed,
            detail=f"kept {s.kept}/{s.found}, skipped {s.skipped}, failed {s.failed}",
        )

    scraper = Scraper(config, on_progress)
    try:
        with progress:
            asyncio.run(scraper.run())
    except KeyboardInterrupt:
        print(
            f"interrupted: {scraper.stats.summary(config.format_dir)}; saved replays stay "
            "saved and are skipped next time",
            file=sys.stderr,
        )
        return 130
    except ReplaySiteError as exc:
        return fail(exc, code=1)
    except OSError as exc:  # the output folder: permissions, a full disk
        return fail(f"could not save replays under {config.format_dir}: {exc}", code=1)
    print(scraper.stats.summary(config.format_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())

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
import email.utils
import json
import logging
import random
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from battle.files import atomic_write_bytes
from battle.record import (
    RunPaths,
    RunRecord,
    RunRecordError,
    atomic_write_text,
    build_record,
    load_record,
    read_journal,
)
from training.config import add_log_level

log = logging.getLogger("finetune.scraper")

DEFAULT_BASE_URL = "https://replay.pokemonshowdown.com"
USER_AGENT = "showdown-arena-finetune-scraper/0.1 (+polite: rate-limited)"
MAX_RETRY_AFTER_S = 300.0  # a longer Retry-After is capped (and logged)

# Replay ids and format ids become file and folder names: only these characters pass.
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_FORMAT_ID = re.compile(r"[a-z0-9]+")


class ConfigError(ValueError):
    """Bad input: the message says what was wrong and how to fix it."""


class ReplaySiteError(RuntimeError):
    """The replay site could not be used at all (its first answer was unusable)."""


class SiteUnreachableError(ReplaySiteError):
    """No connection to the replay site at the very first request."""


class RequestFailedError(Exception):
    """One request that failed for good (after retries, or a 4xx that is not retried)."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


# --- configuration and results -------------------------------------------------------------


@dataclass
class ScrapeConfig:
    """What to scrape and how politely."""

    out: Path = field(default=Path("data/replays"), metadata={"help": "output folder"})
    format: str = field(default="gen9randombattle", metadata={"help": "Showdown format id"})
    min_rating: float | None = field(
        default=None,
        metadata={"help": "keep replays rated at least this (unrated ones are then dropped)"},
    )
    pages: int = field(default=100, metadata={"help": "search pages to walk at most"})
    user: str | None = field(default=None, metadata={"help": "only this player's replays"})
    base_url: str = field(default=DEFAULT_BASE_URL, metadata={"help": "the replay site"})
    rate: float = field(default=2.0, metadata={"help": "requests per second, all together"})
    concurrency: int = field(default=4, metadata={"help": "requests in flight at most"})
    retries: int = field(default=5, metadata={"help": "retries of a failing request"})
    backoff_s: float = field(default=0.5, metadata={"help": "first retry delay (doubles)"})
    max_backoff_s: float = field(default=30.0, metadata={"help": "longest retry delay"})
    timeout_s: float = field(default=30.0, metadata={"help": "per-request timeout"})

    def validate(self) -> None:
        """Raise ConfigError for input that cannot work, before any request."""
        if self.pages < 1:
            raise ConfigError(f"--pages must be at least 1 (got {self.pages})")
        if not self.rate > 0:
            raise ConfigError(f"--rate must be above 0 requests per second (got {self.rate})")
        if self.concurrency < 1:
            raise ConfigError(f"--concurrency must be at least 1 (got {self.concurrency})")
        if self.retries < 0:
            raise ConfigError(f"--retries must be 0 or more (got {self.retries})")
        if not self.timeout_s > 0:
            raise ConfigError(f"--timeout must be above 0 seconds (got {self.timeout_s})")
        if not _FORMAT_ID.fullmatch(self.format):
            raise ConfigError(
                f"--format {self.format!r} is not a Showdown format id: use lowercase letters "
                "and digits, e.g. gen9randombattle"
            )
        check_base_url(self.base_url)
        check_out_dir(self.out)

    @property
    def format_dir(self) -> Path:
        return self.out / self.format


@dataclass
class ScrapeStats:
    """Counts of one scrape; `kept - skipped - downloaded - failed` are still to come."""

    pages: int = 0  # search pages read
    found: int = 0  # distinct replays listed by the search
    kept: int = 0  # ... of which rated at least the minimum
    skipped: int = 0  # ... of which already saved (no request made)
    downloaded: int = 0
    failed: int = 0
    requests: int = 0  # every HTTP request, retries and search pages included
    retries: int = 0
    search_error: str | None = None  # why the search stopped early, if it did
    failures: dict[str, str] = field(default_factory=dict)  # replay id -> reason

    def summary(self, out: Path | None = None) -> str:
        where = f" into {out}" if out is not None else ""
        line = (
            f"found {self.found} replays on {self.pages} search pages, kept {self.kept} by "
            f"rating, downloaded {self.downloaded}, skipped {self.skipped} already saved, "
            f"failed {self.failed}{where}"
        )
        if self.search_error:
            line += f" (search stopped early: {self.search_error})"
        return line


@dataclass
class ImportStats:
    """Counts of one `--from-runs` import."""

    runs: int = 0  # run records read
    battles: int = 0  # battles in them
    written: int = 0
    skipped: int = 0  # already saved by an earlier import
    errored: int = 0  # the battle ended in an error: no result to learn from
    no_replay: int = 0  # no protocol log recorded, or the file is gone
    with_inputlog: int = 0  # written files that carry an input log
    renamed: int = 0  # a battle tag another run already used: saved as <id>-<run>
    not_runs: list[str] = field(default_factory=list)  # files in a folder that were skipped

    def summary(self, out: Path | None = None) -> str:
        where = f" into {out}" if out is not None else ""
        return (
            f"imported {self.written} battles from {self.runs} runs{where} "
            f"({self.with_inputlog} with an input log), skipped {self.skipped} already saved, "
            f"{self.errored} with an error, {self.no_replay} without a replay"
        )


def check_base_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--base-url {url!r} needs a scheme and a host, e.g. {DEFAULT_BASE_URL}")


def check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file: pass a folder (it is created if missing)")


# --- files ----------------------------------------------------------------------------------


def replay_path(out: Path, battle_format: str, replay_id: str) -> Path:
    return out / battle_format / f"{replay_id}.json"


# --- polite HTTP ----------------------------------------------------------------------------


class RateLimiter:
    """At most `rate` starts per second, shared by every task: slots are handed out in order.

    N calls to `wait()` take at least (N - 1) / rate seconds. `defer()` pushes every later
    slot back, so a 429's Retry-After pauses all requests, not only the one that got it.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic):
        self.interval = 1.0 / rate
        self.clock = clock
        self._next = 0.0

    async def wait(self) -> None:
        now = self.clock()
        start = max(now, self._next)
        self._next = start + self.interval
        if start > now:
            await asyncio.sleep(start - now)

    def defer(self, seconds: float) -> None:
        self._next = max(self._next, self.clock() + seconds)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --- scraping -------------------------------------------------------------------------------

ProgressCallback = Callable[[ScrapeStats], None]


class Scraper:
    """One scrape. `stats` is live while `run()` goes, so a caller can report an interrupt."""

    def __init__(self, config: ScrapeConfig, on_progress: ProgressCallback | None = None):
        self.config = config
        self.stats = ScrapeStats()
        self.on_progress = on_progress
        self.base = config.base_url.rstrip("/")
        self._limiter = RateLimiter(config.rate)
        self._slots = asyncio.Semaphore(config.concurrency)
        self._client: httpx.AsyncClient | None = None

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.stats)

    async def run(self) -> ScrapeStats:
        self.config.validate()
        self.config.format_dir.mkdir(parents=True, exist_ok=True)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        timeout = httpx.Timeout(self.config.timeout_s)
        limits = httpx.Limits(max_connections=self.config.concurrency)
        async with httpx.AsyncClient(
            timeout=timeout,
            limits=limits,
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        ) as client:
            self._client = client
            workers = [
                asyncio.create_task(self._worker(queue)) for _ in range(self.config.concurrency)
            ]
            try:
                await self._search(queue)
            except BaseException:
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                raise
            for _ in workers:
                queue.put_nowait(None)
            await asyncio.gather(*workers)
        self._client = None
        log.info("%s", self.stats.summary(self.config.format_dir))
        return self.stats

    async def _get(
        self, url: str, params: dict[str, Any] | None = None, transport_attempts: int | None = None
    ) -> httpx.Response:
        """GET with the rate limit, the concurrency cap and retries; a 2xx/3xx answer or raise.

        `transport_attempts` caps the tries on connection errors and timeouts alone (the
        first request uses it so an offline machine hears so at once).
        """
        assert self._client is not None
        cfg = self.config
        attempt = 0
        while True:
            async with self._slots:
                await self._limiter.wait()
                self.stats.requests += 1
                retry_after: float | None = None
                status: int | None = None
                try:
                    response = await self._client.get(url, params=params)
                except httpx.TransportError as exc:  # connect errors, timeouts, dropped links
                    reason = _describe(exc)
                    if transport_attempts is not None and attempt + 1 >= transport_attempts:
                        raise RequestFailedError(reason) from exc
                else:
                    status = response.status_code
                    if status < 400:
                        return response
                    reason = f"HTTP {status}"
                    if not _retryable_status(status):
                        raise RequestFailedError(reason, status)
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt >= cfg.retries:
                raise RequestFailedError(f"{reason} (after {attempt + 1} tries)", status)
            delay = min(cfg.max_backoff_s, cfg.backoff_s * 2**attempt)
            delay = delay / 2 + random.uniform(0, delay / 2)  # equal jitter
            if retry_after is not None:
                if retry_after > MAX_RETRY_AFTER_S:
                    log.warning(
                        "Retry-After %.0f s capped at %.0f s", retry_after, MAX_RETRY_AFTER_S
                    )
                    retry_after = MAX_RETRY_AFTER_S
                delay = retry_after
                self._limiter.defer(retry_after)  # everyone waits, not only this request
            attempt += 1
            self.stats.retries += 1
            log.debug("retry %d of %s in %.2f s (%s)", attempt, url, delay, reason)
            await asyncio.sleep(delay)

    async def _search(self, queue: asyncio.Queue[str | None]) -> None:
        """Walk the search pages, queueing the replays to download."""
        cfg = self.config
        seen: set[str] = set()
        before: int | float | None = None
        for page in range(1, cfg.pages + 1):
            params: dict[str, Any] = {"format": cfg.format}
            if cfg.user:
                params["user"] = cfg.user
            if before is not None:
                params["before"] = before
            first = page == 1
            try:
                response = await self._get(
                    f"{self.base}/search.json", params, transport_attempts=2 if first else None
                )
                items = _parse_search(response)
            except (RequestFailedError, ValueError) as exc:
                if first and isinstance(exc, RequestFailedError) and exc.status is None:
                    raise SiteUnreachableError(
                        f"the replay site {self.base} could not be reached ({exc}); check the "
                        "network, or import the arena's own battles offline with --from-runs runs/"
                    ) from exc
                if first:
                    raise ReplaySiteError(
                        f"the replay site {self.base} gave no usable search results ({exc}); "
                        "check --base-url and --format"
                    ) from exc
                self.stats.search_error = f"page {page}: {exc}"
                log.error("search page %d failed (%s); downloading what was found", page, exc)
                return
            if not items:
                log.info("search page %d is empty: the search is done", page)
                return
            new = [item for item in items if item["id"] not in seen]
            if not new:
                log.info("search page %d repeats earlier results: the search is done", page)
                return
            self.stats.pages += 1
            for item in new:
                seen.add(item["id"])
                self._consider(item, queue)
            self._progress()
            last = items[-1].get("uploadtime")
            if not isinstance(last, int | float) or isinstance(last, bool) or last == before:
                log.info("search page %d has no usable upload time to go on from", page)
                return
            before = last
        log.info("read %d search pages (--pages)", cfg.pages)

    def _consider(self, item: dict[str, Any], queue: asyncio.Queue[str | None]) -> None:
        cfg = self.config
        replay_id = item["id"]
        self.stats.found += 1
        rating = item.get("rating")
        if cfg.min_rating is not None:
            if not isinstance(rating, int | float) or isinstance(rating, bool):
                return  # unrated
            if rating < cfg.min_rating:
                return
        self.stats.kept += 1
        if not _SAFE_ID.fullmatch(replay_id):
            self.stats.failed += 1
            self.stats.failures[replay_id] = "not a usable replay id"
            log.warning("skipping replay id %r: not a usable file name", replay_id)
            return
        if replay_path(cfg.out, cfg.format, replay_id).exists():
            self.stats.skipped += 1
            return
        queue.put_nowait(replay_id)

    async def _worker(self, queue: asyncio.Queue[str | None]) -> None:
        while (replay_id := await queue.get()) is not None:
            await self._download(replay_id)
            self._progress()

    async def _download(self, replay_id: str) -> None:
        path = replay_path(self.config.out, self.config.format, replay_id)
        if path.exists():  # listed twice, or saved by another process meanwhile
            self.stats.skipped += 1
            return
        try:
            response = await self._get(f"{self.base}/{replay_id}.json")
            body = response.content
            data = json.loads(body)
            if not isinstance(data, dict) or "log" not in data:
                raise ValueError("the answer is not a replay (no log field)")
        except (RequestFailedError, ValueError) as exc:
            reason = str(exc).splitlines()[0]
            self.stats.failed += 1
            self.stats.failures[replay_id] = reason
            log.warning("replay %s failed: %s", replay_id, reason)
            return
        await asyncio.to_thread(atomic_write_bytes, path, body)
        self.stats.downloaded += 1


def _parse_search(response: httpx.Response) -> list[dict[str, Any]]:
    """The items of a search page; a page that is not a list of replays is a ValueError."""
    text = response.text.lstrip()
    if text.startswith("]"):  # Showdown's old anti-JSON-hijacking prefix
        text = text[1:]
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("the search answer is not JSON") from None
    if not isinstance(data, list):
        raise ValueError("the search answer is not a list of replays")
    items = [item for item in data if isinstance(item, dict) and isinstance(item.get("id"), str)]
    if len(items) != len(data):
        log.warning("search page: %d entries without an id ignored", len(data) - len(items))
    return items


async def scrape(config: ScrapeConfig, on_progress: ProgressCallback | None = None) -> ScrapeStats:
    """Scrape the replay site as `config` says; see the module docstring."""
    return await Scraper(config, on_progress).run()


# --- the arena's own battles ----------------------------------------------------------------


def _find_records(paths: Iterable[Path], stats: ImportStats) -> list[tuple[Path, RunRecord]]:
    """Run records from files and folders. A folder's non-record `.json` files are skipped;
    a run interrupted before its record was written is read from its journal."""
    found: list[tuple[Path, RunRecord]] = []
    for path in paths:
        if not path.exists():
            raise ConfigError(
                f"--from-runs {path} does not exist: pass runs/ or a runs/<run>.json file"
            )
        if path.is_file():
            found.append((path, _load_any(path)))
            continue
        records = {p.name.removesuffix(".json"): p for p in sorted(path.glob("*.json"))}
        journals = {p.name.removesuffix(".jsonl"): p for p in sorted(path.glob("*.jsonl"))}
        for run_id in sorted(records.keys() | journals.keys()):
            file = records.get(run_id) or journals[run_id]
            try:
                found.append((file, _load_any(file)))
            except RunRecordError as exc:
                stats.not_runs.append(str(file))
                log.warning("skipping %s: %s", file, exc)
    return found


def _load_any(path: Path) -> RunRecord:
    if path.name.endswith(".jsonl"):
        return build_record(read_journal(path), finished_at=None)
    return load_record(path)


def _players_from_log(text: str) -> dict[str, str]:
    names: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) >= 4 and parts[1] == "player" and parts[2] in ("p1", "p2") and parts[3]:
            names.setdefault(parts[2], parts[3])
    return names


def _strip_room_line(text: str) -> str:
    if text.startswith(">"):
        _, _, text = text.partition("\n")
    return text


def _existing_source(path: Path) -> tuple[str | None, str | None]:
    """(source, run) of an already saved replay file; (None, None) when unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return (None, None)
    if not isinstance(data, dict):
        return (None, None)
    return (data.get("source"), data.get("run"))


def import_runs(paths: Iterable[Path], out: Path) -> ImportStats:
    """Write the arena's battles in `paths` (run records, or folders of them) to `out`.

    Each battle with a protocol log becomes `out/<format>/<id>.json` in the replay site's
    shape (`id`, `format`, `players`, `log`, `inputlog` when recorded, `uploadtime`,
    `rating` null) plus `source` "arena", `run` (the run record's file name), `agents` and
    `winner`. A file this import already wrote is skipped; a battle tag that another run
    already used (the bundled server numbers battles from 1 each time it starts) is saved
    as `<id>-<run_id>` instead of overwriting the other run's battle.
    """
    check_out_dir(out)
    stats = ImportStats()
    records = _find_records(list(paths), stats)
    if not records:
        where = ", ".join(str(p) for p in paths)
        raise ConfigError(
            f"no run records in {where}: play battles with main.py first, or pass "
            "runs/<run>.json files"
        )
    for path, record in records:
        stats.runs += 1
        _import_record(path, record, out, stats)
    log.info("%s", stats.summary(out))
    return stats


def _import_record(path: Path, record: RunRecord, out: Path, stats: ImportStats) -> None:
    spec = record.spec
    run_name = path.name.removesuffix(".jsonl") + ".json" if path.suffix == ".jsonl" else path.name
    run_dir = path.parent
    fmt = spec.format if _FORMAT_ID.fullmatch(spec.format) else "unknown"
    for battle in record.battles:
        stats.battles += 1
        tag = battle.battle_tag
        if battle.error is not None or battle.winner is None:
            stats.errored += 1
            log.debug("%s: %s has an error (%s)", path.name, tag, battle.error)
            continue
        log_path = run_dir / battle.replay if battle.replay else None
        if log_path is None or not log_path.is_file():
            stats.no_replay += 1
            log.warning("%s: no replay for %s (%s)", path.name, tag, battle.replay or "none kept")
            continue
        replay_id = tag.removeprefix("battle-")
        if not _SAFE_ID.fullmatch(replay_id):
            stats.no_replay += 1
            log.warning("%s: battle tag %r is not a usable file name", path.name, tag)
            continue
        target = replay_path(out, fmt, replay_id)
        if target.exists():
            source, run = _existing_source(target)
            if source == "arena" and run == run_name:
                stats.skipped += 1
                continue
            replay_id = f"{replay_id}-{RunPaths.from_record_path(path).run_id}"
            if not _SAFE_ID.fullmatch(replay_id):
                replay_id = re.sub(r"[^A-Za-z0-9_-]", "_", replay_id)
            target = replay_path(out, fmt, replay_id)
            if target.exists():
                stats.skipped += 1
                continue
            stats.renamed += 1
        text = _strip_room_line(log_path.read_text(encoding="utf-8"))
        names = _players_from_log(text)
        # a tournament names each battle's agents; a match names them once in its spec
        agents = {
            "p1": battle.p1_agent or spec.p1.resolved,
            "p2": battle.p2_agent or spec.p2.resolved,
        }
        replay: dict[str, Any] = {
            "id": replay_id,
            "format": spec.format,
            "players": [names.get(side) or agents[side] for side in ("p1", "p2")],
            "log": text,
        }
        inputlog = _find_inputlog(log_path, run_dir, path, tag)
        if inputlog is not None:
            replay["inputlog"] = inputlog.read_text(encoding="utf-8")
            stats.with_inputlog += 1
        ended = battle.finished_at or spec.finished_at or spec.started_at
        replay.update(
            uploadtime=int(ended),
            rating=None,
            source="arena",
            run=run_name,
            agents=agents,
            winner=battle.winner,
        )
        atomic_write_text(target, json.dumps(replay, ensure_ascii=False) + "\n")
        stats.written += 1


def _find_inputlog(log_path: Path, run_dir: Path, record_path: Path, tag: str) -> Path | None:
    """`<tag>.inputlog` next to the protocol log (runs/<run>/replays/), if the arena wrote one."""
    candidates = [
        log_path.with_name(f"{tag}.inputlog"),
        RunPaths.from_record_path(record_path).replay_dir / f"{tag}.inputlog",
    ]
    if log_path.name.endswith(".log"):
        candidates.insert(0, log_path.with_name(log_path.name.removesuffix(".log") + ".inputlog"))
    return next((p for p in candidates if p.is_file()), None)


# --- the CLI edge ---------------------------------------------------------------------------


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


def _fail(message: object, code: int = 2) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code


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
            return _fail(exc)
        except OSError as exc:
            return _fail(f"could not import into {args.out}: {exc}", code=1)
        except KeyboardInterrupt:
            print("interrupted: the battles written so far stay saved", file=sys.stderr)
            return 130
        print(stats.summary(args.out))
        return 0

    config = ScrapeConfig(
        out=args.out,
        format=args.format,
        min_rating=args.min_rating,
        pages=args.pages,
        user=args.user,
        base_url=args.base_url,
        rate=args.rate,
        concurrency=args.concurrency,
        retries=args.retries,
        timeout_s=args.timeout,
    )
    try:
        config.validate()
    except ConfigError as exc:
        return _fail(exc)
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
        return _fail(exc, code=1)
    except OSError as exc:  # the output folder: permissions, a full disk
        return _fail(f"could not save replays under {config.format_dir}: {exc}", code=1)
    print(scraper.stats.summary(config.format_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())

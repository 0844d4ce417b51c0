"""The public replay site's search and replay endpoints: `Scraper` walks
`{base}/search.json?format=F[&user=U][&before=T]` newest first (the next page `before=` the
last item's upload time; it stops at an empty page, a page with nothing new, or after
`pages` pages), keeps the replays rated at least `min_rating`, and downloads each one
(`{base}/{id}.json`) through `finetune.polite_http` into `OUT/<format>/<id>.json`, as the
site serves it, written atomically; a replay whose file exists is skipped without a request.
`ScrapeConfig` says what to scrape and how politely, `ScrapeStats` counts it, live, and a
site that cannot be used at the first request is a `ReplaySiteError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from battle.files import atomic_write_bytes
from finetune.polite_http import PoliteClient, RequestFailedError
from finetune.replays import FORMAT_ID, SAFE_ID, ConfigError, check_out_dir, replay_path

log = logging.getLogger("finetune.scraper")

DEFAULT_BASE_URL = "https://replay.pokemonshowdown.com"


class ReplaySiteError(RuntimeError):
    """The replay site could not be used at all (its first answer was unusable)."""


class SiteUnreachableError(ReplaySiteError):
    """No connection to the replay site at the very first request."""


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
        if not FORMAT_ID.fullmatch(self.format):
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


def check_base_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--base-url {url!r} needs a scheme and a host, e.g. {DEFAULT_BASE_URL}")


ProgressCallback = Callable[[ScrapeStats], None]


class Scraper:
    """One scrape. `stats` is live while `run()` goes, so a caller can report an interrupt."""

    def __init__(self, config: ScrapeConfig, on_progress: ProgressCallback | None = None):
        self.config = config
        self.stats = ScrapeStats()
        self.on_progress = on_progress
        self.base = config.base_url.rstrip("/")
        self._http = PoliteClient(config, self.stats)

    def _progress(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.stats)

    async def run(self) -> ScrapeStats:
        self.config.validate()
        self.config.format_dir.mkdir(parents=True, exist_ok=True)
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        async with self._http:
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
        log.info("%s", self.stats.summary(self.config.format_dir))
        return self.stats

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
                response = await self._http.get(
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
        if not SAFE_ID.fullmatch(replay_id):
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
            response = await self._http.get(f"{self.base}/{replay_id}.json")
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

"""Polite HTTP for the scraper: `PoliteClient` is one httpx client whose GETs all share one
rate limit (`RateLimiter`, slots handed out in order) and a cap on requests in flight, and
are retried on connection errors, timeouts, 429 and 5xx answers with exponential backoff and
equal jitter; a `Retry-After` (seconds or an HTTP date, `parse_retry_after`, capped at five
minutes) pauses every request, not only the one that got it. Other 4xx answers are not
retried; a request that fails for good is a `RequestFailedError` with its reason and status.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

log = logging.getLogger("finetune.scraper")

USER_AGENT = "showdown-arena-finetune-scraper/0.1 (+polite: rate-limited)"
MAX_RETRY_AFTER_S = 300.0  # a longer Retry-After is capped (and logged)


class RequestFailedError(Exception):
    """One request that failed for good (after retries, or a 4xx that is not retried)."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status


class Politeness(Protocol):
    """How politely to ask (`finetune.replay_site.ScrapeConfig` has these fields)."""

    rate: float  # requests per second, all together
    concurrency: int  # requests in flight at most
    retries: int  # retries of a failing request
    backoff_s: float  # first retry delay (doubles)
    max_backoff_s: float  # longest retry delay
    timeout_s: float  # per-request timeout


class Counts(Protocol):
    """Where the requests and retries are counted, live (`ScrapeStats`)."""

    requests: int
    retries: int


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


class PoliteClient:
    """GETs under one rate limit and concurrency cap, retried; `async with` opens the client."""

    def __init__(self, settings: Politeness, counts: Counts):
        self.settings = settings
        self.counts = counts
        self._limiter = RateLimiter(settings.rate)
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> PoliteClient:
        timeout = httpx.Timeout(self.settings.timeout_s)
        limits = httpx.Limits(max_connections=self.settings.concurrency)
        self._client = httpx.AsyncClient(
            timeout=timeout,
            limits=limits,
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._client is not None
        client, self._client = self._client, None
        await client.__aexit__(*exc)

    async def get(
        self, url: str, params: dict[str, Any] | None = None, transport_attempts: int | None = None
    ) -> httpx.Response:
        """GET with the rate limit, the concurrency cap and retries; a 2xx/3xx answer or raise.

        `transport_attempts` caps the tries on connection errors and timeouts alone (the
        first request uses it so an offline machine hears so at once).
        """
        assert self._client is not None
        cfg = self.settings
        attempt = 0
        while True:
            async with self._slots:
                await self._limiter.wait()
                self.counts.requests += 1
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
            self.counts.retries += 1
            log.debug("retry %d of %s in %.2f s (%s)", attempt, url, delay, reason)
            await asyncio.sleep(delay)

"""Mistral API agents: `mistral-large`, `mistral-small`, ..., and `mistral:<model-id>`.

Each decision renders the battle state (`battle.prompts`), asks the model through the
official SDK's async client with the legal actions as a JSON-schema enum, and validates
the answer. Every API fault is survivable: 429s (honouring Retry-After), 5xx, timeouts
and connection errors are retried with exponential backoff and jitter inside a
per-decision deadline; a client-side rate limit is shared by every battle using the same
model. When an answer cannot be had or used, a fallback agent (random by default) plays,
and the decision says `fallback: true` with the reason.

Configuration (environment, or `.env`): `MISTRAL_API_KEY` (required), `MISTRAL_SERVER_URL`
(another API address: a proxy, a gateway, a test stand-in), and the knobs of
`MistralConfig.from_env` (`MISTRAL_RPS`, `MISTRAL_CALL_TIMEOUT`, `MISTRAL_DEADLINE`,
`MISTRAL_MAX_RETRIES`, `MISTRAL_FALLBACK`, `MISTRAL_TEMPERATURE`, `MISTRAL_HISTORY`,
`MISTRAL_MAX_TOKENS`). The key is never written to records, reports or logs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

from agents.base import BaseAgent, Decision
from agents.registry import register

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle

log = logging.getLogger(__name__)

KEY_ENV = "MISTRAL_API_KEY"
SERVER_ENV = "MISTRAL_SERVER_URL"

# Registry name -> the model id it resolves to.
MODELS = {
    "mistral-large": "mistral-large-latest",
    "mistral-medium": "mistral-medium-latest",
    "mistral-small": "mistral-small-latest",
    "ministral-3b": "ministral-3b-latest",
    "ministral-8b": "ministral-8b-latest",
}


class MissingKeyError(ValueError):
    """No API key: the message says which variable to set."""


def require_key() -> str:
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise MissingKeyError(
            f"{KEY_ENV} is not set: export {KEY_ENV}=... or put it in .env "
            "(keys: https://console.mistral.ai/api-keys)"
        )
    return key


@dataclass
class MistralConfig:
    """How an agent talks to the API; every field can be set from the environment."""

    rps: float = 1.0  # requests per second per model, shared by all its battles
    call_timeout_s: float = 20.0  # one HTTP call
    deadline_s: float = 45.0  # one decision, retries and rate-limit waits included
    max_retries: int = 4
    backoff_s: float = 0.5  # first retry delay; doubles, with jitter, up to backoff_max_s
    backoff_max_s: float = 8.0
    fallback: str = "random"  # agent that plays when the model cannot
    temperature: float = 0.3
    history: int = 1  # past exchanges of the same battle sent as context
    max_tokens: int = 400

    _ENV: ClassVar[dict[str, str]] = {
        "rps": "MISTRAL_RPS",
        "call_timeout_s": "MISTRAL_CALL_TIMEOUT",
        "deadline_s": "MISTRAL_DEADLINE",
        "max_retries": "MISTRAL_MAX_RETRIES",
        "fallback": "MISTRAL_FALLBACK",
        "temperature": "MISTRAL_TEMPERATURE",
        "history": "MISTRAL_HISTORY",
        "max_tokens": "MISTRAL_MAX_TOKENS",
    }

    @classmethod
    def from_env(cls) -> MistralConfig:
        values: dict[str, Any] = {}
        for f in fields(cls):
            var = cls._ENV.get(f.name)
            raw = os.environ.get(var, "").strip() if var else ""
            if not raw:
                continue
            kind = type(getattr(cls, f.name))
            try:
                values[f.name] = kind(raw)
            except ValueError:
                raise ValueError(f"{var}={raw!r} is not a valid {kind.__name__}") from None
        config = cls(**values)
        if config.rps <= 0:
            raise ValueError(f"MISTRAL_RPS must be above 0, got {config.rps}")
        return config

    def params(self) -> dict[str, Any]:
        return asdict(self)


class Slots:
    """Request start times spaced `interval` apart, booked synchronously: the bookkeeping
    of a rate limit, kept per process (`RateLimiter`) or once for a cluster
    (`arena.ray_worker.ClusterRateLimiter`)."""

    def __init__(self, interval: float):
        self.interval = interval
        self._next = 0.0

    def reserve(self, budget_s: float) -> float:
        """Seconds to wait for the next slot (which is then taken), or -1 when it is
        further away than `budget_s` (nothing taken)."""
        now = time.monotonic()
        wait = max(0.0, self._next - now)
        if wait > budget_s:
            return -1.0
        self._next = max(now, self._next) + self.interval
        return wait

    def push_back(self, delay_s: float) -> None:
        """The server asked everyone to wait (Retry-After): no slot before then."""
        self._next = max(self._next, time.monotonic() + delay_s)


class RateLimiter:
    """Spaces request starts at least 1/rps apart; shared by every user of one model."""

    def __init__(self, rps: float):
        self.slots = Slots(1.0 / rps)

    async def acquire(self, budget_s: float) -> bool:
        """Wait for a slot; False (without waiting) if none comes within `budget_s`."""
        wait = self.slots.reserve(budget_s)  # no await in between: one booking at a time
        if wait < 0:
            return False
        if wait:
            await asyncio.sleep(wait)
        return True

    def push_back(self, delay_s: float) -> None:
        self.slots.push_back(delay_s)


_LIMITERS: dict[tuple[str, str, float], RateLimiter] = {}
# Makes the limiter of a (model, server) key at `rps` instead of a per-process one: set by a
# process that plays for a cluster (`arena.ray_worker`), so one limit holds across nodes.
_limiter_factory: Callable[[str, float], Any] | None = None


def use_limiter_factory(factory: Callable[[str, float], Any] | None) -> None:
    """Limiters from now on come from `factory(key, rps)` (None: this process's own)."""
    global _limiter_factory
    _limiter_factory = factory
    _LIMITERS.clear()


def shared_limiter(model: str, server_url: str, rps: float) -> RateLimiter:
    key = (model, server_url, rps)
    if key not in _LIMITERS:
        if _limiter_factory is not None:
            _LIMITERS[key] = _limiter_factory(f"{model}@{server_url}", rps)
        else:
            _LIMITERS[key] = RateLimiter(rps)
    return _LIMITERS[key]


class _Retry(Exception):
    """One failed call: why, and how long the server asked us to wait (if it did)."""

    def __init__(self, reason: str, retry_after: float | None = None, detail: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.detail = detail


class _GiveUp(_Retry):
    """A failure that retrying will not fix (a bad request, a bad key, an unknown model)."""


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("retry-after") if headers is not None else None
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


class MistralAgent(BaseAgent):
    """A Mistral chat model choosing among the legal actions."""

    def __init__(
        self,
        model: str,
        name: str,
        seed: int | None = None,
        config: MistralConfig | None = None,
    ):
        super().__init__(seed)
        from mistralai.client import Mistral  # heavy: only when an LLM agent is used

        from agents import registry
        from agents.llm import Conversation

        self.name = name
        self.resolved = model
        self.config = config or MistralConfig.from_env()
        self.params = self.config.params()
        server_url = os.environ.get(SERVER_ENV, "").strip() or None
        self._client = Mistral(api_key=require_key(), server_url=server_url)
        self._limiter = shared_limiter(model, server_url or "", self.config.rps)
        self._conversation = Conversation(history=self.config.history)
        self._fallback = registry.create(self.config.fallback, seed=seed)
        self._warned: set[str] = set()

    async def decide(self, battle: AbstractBattle) -> Decision:
        from agents.llm import parse_answer
        from battle.prompts import build_prompt, response_format

        state, prompt = build_prompt(battle)
        labels = [a.label for a in state.actions]
        messages = self._conversation.messages(battle.battle_tag, prompt)
        deadline = time.monotonic() + self.config.deadline_s
        tokens = 0
        reason = "timeout"
        for attempt in range(self.config.max_retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if not await self._limiter.acquire(remaining):
                reason = "rate_limited"
                break
            try:
                text, used = await self._call(messages, response_format(state), deadline)
            except _GiveUp as failure:
                reason = failure.reason
                self._warn_once(failure.detail)
                break
            except _Retry as failure:
                reason = failure.reason
                delay = self._backoff(attempt, failure.retry_after)
                if failure.retry_after is not None:
                    self._limiter.push_back(failure.retry_after)
                if attempt == self.config.max_retries or time.monotonic() + delay >= deadline:
                    break
                log.debug("%s: %s, retry %d in %.2fs", self.name, reason, attempt + 1, delay)
                await asyncio.sleep(delay)
                continue
            tokens += used
            answer = parse_answer(text, labels)
            if answer.failure is None and answer.action is not None:
                self._conversation.record(battle.battle_tag, prompt, text or "")
                order = state.order_for(battle, answer.action)
                return Decision(order=order, reasoning=answer.reasoning, tokens=tokens)
            return await self._fall_back(
                battle, answer.failure or "unparseable", _snippet(text), tokens or None
            )
        return await self._fall_back(battle, reason, None, tokens or None)

    async def _call(
        self, messages: list[dict[str, str]], fmt: dict, deadline: float
    ) -> tuple[str | None, int]:
        """One chat completion; returns (answer text, tokens) or raises _Retry/_GiveUp."""
        import httpx2
        from mistralai.client.errors import MistralError

        timeout = min(self.config.call_timeout_s, max(0.05, deadline - time.monotonic()))
        try:
            response = await asyncio.wait_for(
                self._client.chat.complete_async(
                    model=self.resolved,
                    messages=messages,  # type: ignore[arg-type]
                    response_format=fmt,  # type: ignore[arg-type]
                    temperature=self.config.temperature,
                    max_tokens=self.config.max_tokens,
                    timeout_ms=int(timeout * 1000) + 100,
                ),
                timeout=timeout,
            )
        except (TimeoutError, httpx2.TimeoutException):
            raise _Retry("timeout") from None
        except MistralError as exc:
            status = exc.status_code
            if status == 429:
                raise _Retry("rate_limited", _retry_after(exc.headers)) from None
            if status >= 500:
                raise _Retry("server_error", _retry_after(exc.headers)) from None
            raise _GiveUp(
                "client_error", detail=f"{self.resolved}: the API answered HTTP {status}"
            ) from None
        except (httpx2.TransportError, OSError):
            raise _Retry("server_error") from None  # connection refused, reset, DNS
        usage = getattr(response, "usage", None)
        used = int(getattr(usage, "total_tokens", 0) or 0)
        choices = getattr(response, "choices", None) or []
        if not choices:
            return None, used
        return _content_text(choices[0].message.content), used

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        ceiling = min(self.config.backoff_max_s, self.config.backoff_s * 2**attempt)
        return ceiling / 2 + self.rng.uniform(0, ceiling / 2)  # "equal jitter"

    async def _fall_back(
        self, battle: AbstractBattle, reason: str, said: str | None, tokens: int | None
    ) -> Decision:
        decision = await self._fallback.decide(battle)
        log.debug("%s fell back (%s) in %s", self.name, reason, battle.battle_tag)
        return Decision(
            order=decision.order,
            fallback=True,
            fallback_reason=reason,
            reasoning=said,
            tokens=tokens,
        )

    def _warn_once(self, message: str) -> None:
        if message and message not in self._warned:
            self._warned.add(message)
            log.warning("%s; playing the fallback agent", message)

    async def close(self) -> None:
        await self._client.__aexit__(None, None, None)
        await self._fallback.close()


def _content_text(content: Any) -> str | None:
    """Message content as text: a string, or the text parts of a chunk list."""
    if content is None or isinstance(content, str):
        return content
    parts = [getattr(chunk, "text", None) for chunk in content]
    return "".join(p for p in parts if isinstance(p, str)) or None


def _snippet(text: str | None, limit: int = 500) -> str | None:
    """What the model said, kept (truncated) for the report when it could not be used."""
    if text is None:
        return None
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + "…"


def _check_key(arg: str | None = None) -> None:
    require_key()
    MistralConfig.from_env()


def _named_model(name: str, model: str):
    def factory(seed: int | None = None) -> MistralAgent:
        return MistralAgent(model, name, seed)

    factory.__name__ = f"mistral_{name.replace('-', '_')}"
    return factory


for _name, _model in MODELS.items():
    register(_name, help=f"Mistral API: {_model}", check=_check_key)(_named_model(_name, _model))


def _check_any_model(arg: str | None = None) -> None:
    if not arg:
        raise ValueError("mistral:<model-id> needs a model id, e.g. mistral:open-mistral-nemo")
    _check_key()


@register(
    "mistral",
    help="any Mistral API model id, fine-tuned ft: ids included",
    check=_check_any_model,
    example="mistral:open-mistral-nemo",
)
def mistral_model(seed: int | None = None, arg: str | None = None) -> MistralAgent:
    if not arg:
        raise ValueError("mistral:<model-id> needs a model id, e.g. mistral:open-mistral-nemo")
    return MistralAgent(arg, f"mistral:{arg}", seed)

"""Statistics of the language-model sides of a run, for the report's "Language-model sides".

A side is a language-model (LLM) side when any of its decisions carries a token count or
a reasoning text. Everything here is pure: a run record in, dataclasses out; the
templates only display them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from battle.record import SIDES, DecisionRecord, RunRecord, Side
from battle.summary import percentile

NO_REASON = "no reason given"
MAX_REASON_ROWS = 20  # further fallback reasons are grouped as "other"
OTHER_REASONS = "other"


@dataclass(frozen=True)
class LatencyStats:
    """Decision latency of one side, in ms, over all its decisions (fallbacks included)."""

    decisions: int
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None


@dataclass(frozen=True)
class FallbackReason:
    reason: str
    count: int
    share: float  # of the side's decisions


@dataclass(frozen=True)
class BattleTokens:
    battle_tag: str
    tokens: int  # sum of the known token counts of the side's decisions in this battle


@dataclass(frozen=True)
class TokenStats:
    """Token use of one side.

    Per decision: over the decisions that carry a token count (`counted` of them).
    Per battle: over the battles in which the side made at least one decision, each the
    sum of the known counts of its decisions there.
    """

    counted: int
    per_decision_mean: float | None
    per_decision_p50: float | None
    per_decision_p95: float | None
    per_decision_max: int | None
    battles: int
    per_battle_mean: float | None
    per_battle_max: int | None
    total: int


@dataclass(frozen=True)
class LLMSideStats:
    side: Side
    given: str
    resolved: str  # the model, as the registry resolved it
    params: str  # the agent's parameters as JSON text (escaped when displayed)
    decisions: int
    latency: LatencyStats
    fallbacks: int
    fallback_rate: float | None
    fallback_reasons: list[FallbackReason]  # most frequent first
    tokens: TokenStats
    battle_tokens: list[BattleTokens]  # in the order the battles appear in the record


# Fallback reasons only a language-model agent records (the arena's own are `timeout`,
# `illegal_action` and `agent_error`): a side whose every call failed is still an LLM side.
LLM_FALLBACK_REASONS = frozenset(
    {"rate_limited", "server_error", "client_error", "unparseable", "empty"}
)


def is_llm_decision(decision: DecisionRecord) -> bool:
    return (
        decision.tokens is not None
        or decision.reasoning is not None
        or decision.fallback_reason in LLM_FALLBACK_REASONS
    )


def llm_sides(
    decisions: Sequence[DecisionRecord], params: dict[str, dict] | None = None
) -> list[Side]:
    """The sides with a decision carrying tokens, reasoning or an API fallback, p1 first.

    With `params` (each side's agent parameters from the run spec), reasoning alone marks
    a language model only when its agent names a `model`: the `search` agent also
    explains its choices, and is no language model."""
    found = set()
    for d in decisions:
        if d.side in found or not is_llm_decision(d):
            continue
        if (
            params is not None
            and d.tokens is None
            and d.fallback_reason not in LLM_FALLBACK_REASONS
            and "model" not in (params.get(d.side) or {})
        ):
            continue
        found.add(d.side)
    return [side for side in SIDES if side in found]


def side_params(record: RunRecord) -> dict[str, dict]:
    """Each side's agent parameters from a match record's spec."""
    return {side: dict(getattr(record.spec, side).params or {}) for side in SIDES}


def latency_stats(decisions: Sequence[DecisionRecord]) -> LatencyStats:
    values = [d.latency_ms for d in decisions]
    return LatencyStats(
        decisions=len(values),
        p50_ms=percentile(values, 50),
        p90_ms=percentile(values, 90),
        p95_ms=percentile(values, 95),
        p99_ms=percentile(values, 99),
        max_ms=max(values) if values else None,
        mean_ms=sum(values) / len(values) if values else None,
    )


def fallback_reasons(
    decisions: Sequence[DecisionRecord], max_rows: int = MAX_REASON_ROWS
) -> list[FallbackReason]:
    """Fallbacks by reason, most frequent first (ties by name); beyond `max_rows` reasons
    the rarest are added up in one "other" row."""
    counts = Counter(d.fallback_reason or NO_REASON for d in decisions if d.fallback)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    if len(ranked) > max_rows:
        rest = sum(count for _, count in ranked[max_rows - 1 :])
        ranked = [*ranked[: max_rows - 1], (OTHER_REASONS, rest)]
    total = len(decisions)
    return [FallbackReason(reason, count, count / total) for reason, count in ranked]


def battle_tokens(decisions: Sequence[DecisionRecord]) -> list[BattleTokens]:
    """Tokens per battle for the given (one side's) decisions, by first appearance."""
    totals: dict[str, int] = {}
    for d in decisions:
        totals[d.battle_tag] = totals.get(d.battle_tag, 0) + (d.tokens or 0)
    return [BattleTokens(tag, tokens) for tag, tokens in totals.items()]


def token_stats(decisions: Sequence[DecisionRecord]) -> TokenStats:
    counts = [d.tokens for d in decisions if d.tokens is not None]
    per_battle = [b.tokens for b in battle_tokens(decisions)]
    return TokenStats(
        counted=len(counts),
        per_decision_mean=sum(counts) / len(counts) if counts else None,
        per_decision_p50=percentile(counts, 50),
        per_decision_p95=percentile(counts, 95),
        per_decision_max=max(counts) if counts else None,
        battles=len(per_battle),
        per_battle_mean=sum(per_battle) / len(per_battle) if per_battle else None,
        per_battle_max=max(per_battle) if per_battle else None,
        total=sum(counts),
    )


def params_text(params: object) -> str:
    """An agent's parameters as one line of JSON text ("{}" for none)."""
    return json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)


def llm_side_stats(record: RunRecord) -> list[LLMSideStats]:
    """One entry per language-model side of the run (none for a run without one)."""
    stats = []
    for side in llm_sides(record.decisions, side_params(record)):
        mine = [d for d in record.decisions if d.side == side]
        agent = getattr(record.spec, side)
        fallbacks = sum(1 for d in mine if d.fallback)
        stats.append(
            LLMSideStats(
                side=side,
                given=agent.given,
                resolved=agent.resolved,
                params=params_text(agent.params),
                decisions=len(mine),
                latency=latency_stats(mine),
                fallbacks=fallbacks,
                fallback_rate=fallbacks / len(mine) if mine else None,
                fallback_reasons=fallback_reasons(mine),
                tokens=token_stats(mine),
                battle_tokens=battle_tokens(mine),
            )
        )
    return stats

"""The report's "Language-model sides": statistics, section, tokens chart.

The expected numbers are computed here from the raw JSON of the fixture with the standard
library's `statistics`, independently of `viz.llm` and `battle.record.percentile`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from battle.record import DecisionRecord, RunRecord, load_record
from viz import charts, render_report
from viz.llm import MAX_REASON_ROWS, OTHER_REASONS, fallback_reasons, llm_sides
from viz.report import llm_side_stats

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "viz"
FIXTURE = FIXTURES / "vizfixture.json"


@pytest.fixture(scope="module")
def record() -> RunRecord:
    return load_record(FIXTURE)


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(FIXTURE.read_text())


def quantile(values: list[float], q: int) -> float:
    """q-th percentile, linear between closest ranks (statistics' 'inclusive' method)."""
    if q == 100:
        return max(values)
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def plain(record: RunRecord) -> RunRecord:
    """The fixture as a run without language models: no tokens, no reasoning."""
    decisions = [dataclasses.replace(d, tokens=None, reasoning=None) for d in record.decisions]
    return dataclasses.replace(record, decisions=decisions)


def test_only_p1_is_a_language_model(record: RunRecord):
    assert llm_sides(record.decisions) == ["p1"]
    assert llm_sides(plain(record).decisions) == []
    assert llm_side_stats(plain(record)) == []


def test_latency_percentiles(record: RunRecord, raw: dict):
    [stats] = llm_side_stats(record)
    latencies = [d["latency_ms"] for d in raw["decisions"] if d["side"] == "p1"]
    lat = stats.latency
    assert lat.decisions == len(latencies) == 172
    assert lat.p50_ms == pytest.approx(statistics.median(latencies))
    assert lat.p50_ms == pytest.approx(raw["summary"]["sides"]["p1"]["latency_p50_ms"])
    assert lat.p95_ms == pytest.approx(raw["summary"]["sides"]["p1"]["latency_p95_ms"])
    for q, value in ((90, lat.p90_ms), (95, lat.p95_ms), (99, lat.p99_ms)):
        assert value == pytest.approx(quantile(latencies, q)), q
    assert lat.max_ms == max(latencies)
    assert lat.mean_ms == pytest.approx(statistics.fmean(latencies))
    assert lat.p50_ms <= lat.p90_ms <= lat.p95_ms <= lat.p99_ms <= lat.max_ms


def test_fallbacks_by_reason(record: RunRecord, raw: dict):
    [stats] = llm_side_stats(record)
    mine = [d for d in raw["decisions"] if d["side"] == "p1"]
    expected = Counter(d["fallback_reason"] for d in mine if d["fallback"])
    assert {r.reason: r.count for r in stats.fallback_reasons} == dict(expected)
    assert [r.reason for r in stats.fallback_reasons] == [
        "timeout after 10.0s",
        "unparseable reply",
        "illegal move 'move hyperbeam'",
    ]
    for row in stats.fallback_reasons:
        assert row.share == pytest.approx(expected[row.reason] / len(mine))
    assert stats.fallbacks == sum(expected.values()) == 16
    assert stats.fallback_rate == pytest.approx(raw["summary"]["sides"]["p1"]["fallback_rate"])


def test_tokens_per_decision_and_per_battle(record: RunRecord, raw: dict):
    [stats] = llm_side_stats(record)
    mine = [d for d in raw["decisions"] if d["side"] == "p1"]
    counts = [d["tokens"] for d in mine if d["tokens"] is not None]
    per_battle: dict[str, int] = defaultdict(int)
    for d in mine:
        per_battle[d["battle_tag"]] += d["tokens"] or 0
    t = stats.tokens
    assert t.counted == len(counts) == 156
    assert t.per_decision_mean == pytest.approx(statistics.fmean(counts))
    assert t.per_decision_p50 == pytest.approx(statistics.median(counts))
    assert t.per_decision_p95 == pytest.approx(quantile(counts, 95))
    assert t.per_decision_max == max(counts)
    assert t.battles == len(per_battle) == 3
    assert t.per_battle_mean == pytest.approx(statistics.fmean(per_battle.values()))
    assert t.per_battle_max == max(per_battle.values())
    assert t.total == sum(counts) == sum(per_battle.values())
    assert {b.battle_tag: b.tokens for b in stats.battle_tokens} == dict(per_battle)


def test_model_and_params(record: RunRecord):
    [stats] = llm_side_stats(record)
    assert (stats.side, stats.given, stats.resolved) == ("p1", "llm:mini", "llm:mini-2024")
    assert json.loads(stats.params) == {"temperature": 0.2}


def test_both_sides_and_reasoning_only(record: RunRecord):
    """p2 with reasoning but no token count is a language-model side too, when its agent
    names a model (alphastral scores options and counts no tokens)."""
    decisions = [
        dataclasses.replace(d, reasoning="because") if d.side == "p2" else d
        for d in record.decisions
    ]
    spec = copy.deepcopy(record.spec)
    spec.p2.params = {"model": "tiny"}
    stats = llm_side_stats(dataclasses.replace(record, decisions=decisions, spec=spec))
    assert [s.side for s in stats] == ["p1", "p2"]
    p2 = stats[1]
    assert p2.resolved == "random" and p2.params == '{"model": "tiny"}'

    assert p2.tokens.counted == 0 and p2.tokens.total == 0
    assert p2.tokens.per_decision_mean is None and p2.tokens.per_decision_max is None
    assert p2.fallback_reasons == [] and p2.fallback_rate == 0.0
    page = render_report(dataclasses.replace(record, decisions=decisions, spec=spec), FIXTURES)
    assert "Fallbacks of p2 by reason" in page and "no fallback" in page


def test_reasoning_without_a_model_is_no_language_model(record: RunRecord):
    """The search agent explains its choices (reasoning, candidates) but is no language
    model: its side gets no language-model section; its reasoning still shows."""
    decisions = [
        dataclasses.replace(d, reasoning="move earthquake +0.412 [3 hypotheses]")
        if d.side == "p2"
        else d
        for d in record.decisions
    ]
    searched = dataclasses.replace(record, decisions=decisions)
    assert [s.side for s in llm_side_stats(searched)] == ["p1"]
    page = render_report(searched, FIXTURES)
    assert "Fallbacks of p2 by reason" not in page
    assert "move earthquake +0.412 [3 hypotheses]" in page


def test_many_reasons_are_grouped():
    decisions = [
        DecisionRecord("b", i, "p1", "default", 1.0, True, f"reason {i:02d}", tokens=10)
        for i in range(MAX_REASON_ROWS + 5)
    ]
    decisions += [DecisionRecord("b", 99, "p1", "default", 1.0, True, None)] * 2
    rows = fallback_reasons(decisions)
    assert len(rows) == MAX_REASON_ROWS
    assert rows[0].reason == "no reason given" and rows[0].count == 2
    assert rows[-1].reason == OTHER_REASONS
    assert sum(r.count for r in rows) == len(decisions)
    assert sum(r.share for r in rows) == pytest.approx(1.0)


def test_section_present_for_the_llm_fixture(record: RunRecord):
    page = render_report(record, FIXTURES)
    assert page.count('<section id="llm">') == 1
    assert "Language-model sides" in page
    assert '<div id="chart-tokens"' in page
    expected = len(charts.charts_for(record))
    assert expected == len(charts.CHARTS) == 9
    assert page.count('class="chart"') == expected
    [stats] = llm_side_stats(record)
    assert f'<td class="num">{stats.tokens.total:,}</td>' in page
    assert f'<td class="num">{stats.fallbacks} of {stats.decisions}</td>' in page
    assert "illegal move &#39;move hyperbeam&#39;" in page
    assert '<code class="params">{&#34;temperature&#34;: 0.2}</code>' in page
    assert page.index('id="charts"') < page.index('id="llm"') < page.index('id="battles"')


def test_section_absent_without_tokens_or_reasoning(record: RunRecord):
    page = render_report(plain(record), FIXTURES)
    assert "Language-model sides" not in page
    assert 'id="llm"' not in page
    assert "chart-tokens" not in page
    assert [c.key for c in charts.charts_for(plain(record))] == [
        c.key for c in charts.CHARTS if c.section == "charts"
    ]
    assert page.count('class="chart"') == 8


def test_untrusted_text_is_escaped(record: RunRecord):
    spec = dataclasses.replace(
        record.spec,
        p1=dataclasses.replace(record.spec.p1, params={"prompt": "<img src=x onerror=alert(1)>"}),
    )
    decisions = [
        dataclasses.replace(d, fallback_reason="<b>bad</b> & worse") if d.fallback else d
        for d in record.decisions
    ]
    page = render_report(dataclasses.replace(record, spec=spec, decisions=decisions), FIXTURES)
    assert "<img src=x" not in page and "<b>bad</b>" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;bad&lt;/b&gt; &amp; worse" in page
    # the reasoning of the decision log stays escaped
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_tokens_chart_values(record: RunRecord, raw: dict):
    fig = charts.tokens_chart(record.decisions)
    [bars] = fig.data
    assert bars.name == "p1"
    per_battle: dict[str, int] = defaultdict(int)
    for d in raw["decisions"]:
        if d["side"] == "p1":
            per_battle[d["battle_tag"]] += d["tokens"] or 0
    assert list(bars.customdata) == list(per_battle)
    assert list(bars.y) == list(per_battle.values())
    assert list(bars.x) == [1, 2, 3]
    assert not fig.layout.annotations


@pytest.mark.parametrize(
    "case", ["no decision", "no llm side", "reasoning only", "one llm side alone"]
)
def test_tokens_chart_with_little_data(record: RunRecord, case: str):
    decisions = {
        "no decision": [],
        "no llm side": plain(record).decisions,
        "reasoning only": [dataclasses.replace(d, tokens=None) for d in record.decisions],
        "one llm side alone": [d for d in record.decisions if d.side == "p1"][:1],
    }[case]
    fig = charts.tokens_chart(decisions)
    fig.to_json()
    if case == "one llm side alone":
        assert len(fig.data) == 1
    else:
        assert "no token count" in str(fig.layout.annotations)


def test_tokens_chart_escapes_battle_tags():
    decisions = [DecisionRecord("<b>tag</b>", 1, "p2", "default", 1.0, tokens=5)]
    fig = charts.tokens_chart(decisions)
    assert list(fig.data[0].customdata) == ["&lt;b&gt;tag&lt;/b&gt;"]
    assert fig.data[0].name == "p2"


def test_a_side_whose_every_call_failed_is_still_a_language_model_side():
    from battle.record import DecisionRecord
    from viz.llm import llm_sides

    failed = [
        DecisionRecord("b1", 1, "p1", "move tackle", 5.0, True, "rate_limited"),
        DecisionRecord("b1", 1, "p2", "move tackle", 1.0, True, "timeout"),
    ]
    assert llm_sides(failed) == ["p1"]

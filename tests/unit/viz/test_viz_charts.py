"""Every chart builds from the fixture and from empty or degenerate data."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import plotly.graph_objects as go
import pytest

from battle.record import BattleRecord, DecisionRecord, RunRecord, load_record
from battle.summary import summarize
from viz import charts

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "viz" / "vizfixture.json"


@pytest.fixture(scope="module")
def record() -> RunRecord:
    return load_record(FIXTURE)


def with_data(
    record: RunRecord, battles: list[BattleRecord], decisions: list[DecisionRecord]
) -> RunRecord:
    return dataclasses.replace(
        record, battles=battles, decisions=decisions, summary=summarize(battles, decisions, 0.0)
    )


def error_battle(i: int) -> BattleRecord:
    return BattleRecord(f"battle-x-{i}", None, 0, 1.0, None, error="crashed")


def test_all_charts_from_the_fixture(record: RunRecord):
    built = charts.build_charts(record)
    assert [key for key, _ in built] == [chart.key for chart in charts.CHARTS]
    assert len(built) == 9  # the fixture's p1 is a language model: its tokens chart too
    for key, fig in built:
        assert isinstance(fig, go.Figure), key
        assert fig.data, f"{key} drew nothing"
        fig.to_json()  # serialisable


def test_empty_record(record: RunRecord):
    empty = with_data(record, [], [])
    assert "tokens" not in [chart.key for chart in charts.charts_for(empty)]
    for chart in charts.CHARTS:  # every chart copes, even one the page would leave out
        fig = chart.build(empty)
        assert isinstance(fig, go.Figure), chart.key
        assert fig.layout.annotations, f"{chart.key} has no 'no data' note"
        fig.to_json()


def test_all_battles_failed(record: RunRecord):
    failed = with_data(record, [error_battle(i) for i in range(3)], [])
    grid = charts.outcome_grid_chart(failed.battles)
    assert [trace.name for trace in grid.data] == ["error"]
    for _key, fig in charts.build_charts(failed):
        fig.to_json()


def test_one_side_without_decisions(record: RunRecord):
    only_p1 = [d for d in record.decisions if d.side == "p1"]
    for build in (
        charts.latency_chart,
        charts.fallback_chart,
        charts.action_share_chart,
        charts.effectiveness_chart,
        charts.tokens_chart,
    ):
        build(only_p1).to_json()


def test_win_rate_intervals(record: RunRecord):
    fig = charts.win_rate_chart(record.battles)
    bar = fig.data[0]
    assert list(bar.x) == ["p1 wins (3/4)", "p2 wins (1/4)", "draws (0/4)"]
    assert bar.y[0] == pytest.approx(0.75)
    low, high = record.summary.p1_win_rate_ci95
    assert bar.y[0] - bar.error_y.arrayminus[0] == pytest.approx(low)
    assert bar.y[0] + bar.error_y.array[0] == pytest.approx(high)


def test_cumulative_band_contains_the_rate(record: RunRecord):
    fig = charts.cumulative_win_rate_chart(record.battles)
    high, low, rate = fig.data
    assert len(rate.x) == record.summary.battles
    assert all(lo <= r <= hi for lo, r, hi in zip(low.y, rate.y, high.y, strict=True))
    assert rate.y[-1] == pytest.approx(record.summary.p1_win_rate)


def test_fallback_reasons_are_escaped_and_grouped():
    decisions = [
        DecisionRecord("b", 1, "p1", "default", 5.0, fallback=True, fallback_reason=f"r{i}")
        for i in range(12)
    ]
    decisions.append(DecisionRecord("b", 1, "p2", "default", 5.0, True, "<b>bad</b>"))
    decisions.append(DecisionRecord("b", 2, "p2", "default", 5.0, True, None))
    fig = charts.fallback_chart(decisions)
    names = [trace.name for trace in fig.data]
    assert "other" in names
    assert len(names) <= charts.MAX_REASONS + 1
    assert "<b>" not in "".join(names)
    assert "no fallback" not in str(fig.layout.annotations)


def test_no_fallback_is_noted(record: RunRecord):
    clean = [dataclasses.replace(d, fallback=False) for d in record.decisions]
    assert "no fallback" in str(charts.fallback_chart(clean).layout.annotations)


@pytest.mark.parametrize(
    ("action", "kind"),
    [
        ("move thunderbolt", "move"),
        ("move thunderbolt tera", "move + tera"),
        ("switch pikachu", "switch"),
        ("default", "default"),
        ("", "default"),
    ],
)
def test_action_kind(action: str, kind: str):
    assert charts.action_kind(action) == kind


def test_effectiveness_buckets():
    decisions = [
        DecisionRecord("b", i, "p1", "move x", 1.0, effectiveness=e)
        for i, e in enumerate([0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 4.0, None])
    ]
    fig = charts.effectiveness_chart(decisions)
    p1 = next(trace for trace in fig.data if trace.name == "p1")
    assert list(p1.customdata) == [1, 1, 1, 1, 1, 2]

"""A tournament's charts per agent, from a hand-built record whose agents decide alike on
either side (tests/fixture_tournament.py): latency, move choice, type effectiveness."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path

import pytest

from battle.record import DecisionRecord, RunRecord, load_record
from tests.fixture_tournament import AGENTS, EVIL, LATENCY_MS, tournament_record
from viz import render_report
from viz.figures import AGENT_COLORS
from viz.tournament_charts import (
    agent_action_chart,
    agent_decisions,
    agent_effectiveness_chart,
    agent_latency_chart,
)

NAMES = [html.escape(a) for a in AGENTS]  # as the charts show them


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> RunRecord:
    return load_record(tournament_record(tmp_path_factory.mktemp("tour")))


def _with(record: RunRecord, decisions: list[DecisionRecord]) -> RunRecord:
    return dataclasses.replace(record, decisions=decisions)


def test_decisions_go_to_the_agent_that_made_them(record: RunRecord):
    by_agent = agent_decisions(record)
    assert list(by_agent) == list(AGENTS)  # the order given
    # each agent played 4 battles (2 per opponent, on either side), 2 decisions in each
    assert {agent: len(mine) for agent, mine in by_agent.items()} == dict.fromkeys(AGENTS, 8)
    for agent, mine in by_agent.items():
        assert {d.latency_ms for d in mine} == set(LATENCY_MS[agent])
        assert {d.side for d in mine} == {"p1", "p2"}


def test_an_agent_without_decisions_still_has_its_place(record: RunRecord):
    without_random = [d for d in record.decisions if d.latency_ms not in LATENCY_MS["random"]]
    by_agent = agent_decisions(_with(record, without_random))
    assert by_agent["random"] == [] and list(by_agent) == list(AGENTS)


def test_latency_per_agent(record: RunRecord):
    fig = agent_latency_chart(agent_decisions(record))
    assert [trace.name for trace in fig.data] == NAMES
    means = {trace.name: sum(trace.y) / len(trace.y) for trace in fig.data}
    assert means == {
        html.escape(a): pytest.approx(sum(LATENCY_MS[a]) / 2) for a in AGENTS
    }  # heuristic 101.5 ms, random 1.5 ms, evil 20 ms
    assert [trace.marker.color for trace in fig.data] == list(AGENT_COLORS[:3])
    assert "per agent" in fig.layout.title.text


def test_move_choice_per_agent(record: RunRecord):
    fig = agent_action_chart(agent_decisions(record))
    shares = {trace.name: dict(zip(trace.x, trace.y, strict=True)) for trace in fig.data}
    assert list(shares) == ["move", "move + tera", "switch", "default"]
    assert all(list(trace.x) == NAMES for trace in fig.data)
    h, r, e = NAMES
    assert shares["move"] == {h: 0.5, r: 0.5, e: 0.5}
    assert shares["move + tera"] == {h: 0.5, r: 0.0, e: 0.0}
    assert shares["switch"] == {h: 0.0, r: 0.5, e: 0.0}
    assert shares["default"] == {h: 0.0, r: 0.0, e: 0.5}


def test_effectiveness_per_agent(record: RunRecord):
    fig = agent_effectiveness_chart(agent_decisions(record))
    assert [trace.name for trace in fig.data] == NAMES
    share = {trace.name: dict(zip(trace.x, trace.y, strict=True)) for trace in fig.data}
    h, r, e = NAMES
    assert share[h]["2"] == 1.0 and share[r]["0.5"] == 1.0 and share[e]["1"] == 1.0
    counts = {trace.name: sum(trace.customdata) for trace in fig.data}
    assert counts == {h: 8, r: 4, e: 4}  # moves with a known effectiveness only


def test_empty_tournament_charts_say_so(record: RunRecord):
    empty = agent_decisions(_with(record, []))
    for build in (agent_latency_chart, agent_action_chart, agent_effectiveness_chart):
        fig = build(empty)
        assert fig.layout.annotations, build.__name__
        fig.to_json()


def test_names_are_escaped(record: RunRecord):
    by_agent = agent_decisions(record)
    for build in (agent_latency_chart, agent_action_chart, agent_effectiveness_chart):
        assert EVIL not in build(by_agent).to_json(), build.__name__


def test_the_page_has_the_agent_charts(record: RunRecord, tmp_path: Path):
    page = render_report(record, tmp_path)
    for key in ("ratings", "head-to-head", "agent-latency", "agent-actions", "agent-effectiveness"):
        assert f'id="chart-{key}"' in page, key
    assert EVIL not in page

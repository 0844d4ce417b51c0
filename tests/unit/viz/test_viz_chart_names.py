"""A match's charts name each side by its agent, not "p1"/"p2"; their shared layout."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from battle.record import AgentSpec, BattleRecord, DecisionRecord, RunRecord, load_record
from viz import charts
from viz.figures import MARGIN, TITLE_TOP, figure

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "viz" / "vizfixture.json"
P1, P2 = "llm:mini", "random"  # the fixture's agents, as given


@pytest.fixture(scope="module")
def record() -> RunRecord:
    return load_record(FIXTURE)


def built(record: RunRecord) -> dict[str, object]:
    return dict(charts.build_charts(record))


def trace_names(fig) -> list[str]:
    return [trace.name for trace in fig.data if trace.name]


def categories(fig) -> list[str]:
    return [str(x) for trace in fig.data for x in (trace.x if trace.x is not None else [])]


def test_side_names():
    spec = load_record(FIXTURE).spec
    assert charts.side_names(spec) == {"p1": P1, "p2": P2}
    mirror = dataclasses.replace(spec, p2=AgentSpec(P1, P1))
    assert charts.side_names(mirror) == {"p1": f"{P1} (p1)", "p2": f"{P1} (p2)"}
    evil = dataclasses.replace(spec, p1=AgentSpec("<b>x</b>", "x"))
    assert charts.side_names(evil)["p1"] == "&lt;b&gt;x&lt;/b&gt;"


def test_outcome_charts_name_the_agents(record: RunRecord):
    figs = built(record)
    assert list(figs["win-rate"].data[0].x) == [
        f"{P1} wins (3/4)",
        f"{P2} wins (1/4)",
        "draws (0/4)",
    ]
    assert P1 in figs["cumulative"].layout.title.text
    assert f"{P1} win rate" in trace_names(figs["cumulative"])
    assert trace_names(figs["outcomes"]) == [f"{P1} won", f"{P2} won", "error"]
    assert set(trace_names(figs["turns"])) == {f"{P1} won", f"{P2} won"}


@pytest.mark.parametrize("key", ["latency", "fallbacks", "actions"])
def test_decision_charts_have_an_agent_per_category(record: RunRecord, key: str):
    fig = built(record)[key]
    if key == "latency":  # one box per side: its name is its category
        assert trace_names(fig) == [P1, P2]
    else:
        assert set(categories(fig)) == {P1, P2}
    assert not {"p1", "p2"} & set(categories(fig) + trace_names(fig))


@pytest.mark.parametrize("key", ["effectiveness", "tokens"])
def test_decision_charts_have_a_trace_per_agent(record: RunRecord, key: str):
    fig = built(record)[key]
    names = trace_names(fig)
    assert names == ([P1, P2] if key == "effectiveness" else [P1])  # p2 is no language model
    colors = [trace.marker.color for trace in fig.data]
    assert colors == [charts.COLORS[s] for s in ("p1", "p2")][: len(colors)]


def test_same_agent_on_both_sides_keeps_the_side(record: RunRecord):
    mirror = dataclasses.replace(
        record, spec=dataclasses.replace(record.spec, p2=AgentSpec(P1, P1))
    )
    figs = built(mirror)
    assert trace_names(figs["latency"]) == [f"{P1} (p1)", f"{P1} (p2)"]
    assert trace_names(figs["effectiveness"]) == [f"{P1} (p1)", f"{P1} (p2)"]
    assert list(figs["actions"].data[0].x) == [f"{P1} (p1)", f"{P1} (p2)"]


def test_no_bare_side_anywhere_in_the_match_charts(record: RunRecord):
    for key, fig in built(record).items():
        labels = trace_names(fig) + categories(fig) + [fig.layout.title.text or ""]
        bare = [label for label in labels if label.split(" ")[0] in ("p1", "p2")]
        assert bare == [], (key, bare)


def test_agent_names_are_escaped_on_the_charts(record: RunRecord):
    spec = dataclasses.replace(record.spec, p1=AgentSpec("<b>x</b>", "x"))
    evil = dataclasses.replace(record, spec=spec)
    for key, fig in built(evil).items():
        assert "<b>x</b>" not in fig.to_json(), key


def test_without_names_the_charts_say_p1_and_p2(record: RunRecord):
    assert trace_names(charts.latency_chart(record.decisions)) == ["p1", "p2"]


def test_single_outcome_grid_keeps_its_legend():
    battles = [BattleRecord(f"b{i}", "p1", 10, 1.0, None) for i in range(5)]
    fig = charts.outcome_grid_chart(battles, names={"p1": "heuristic", "p2": "random"})
    assert len(fig.data) == 1 and fig.data[0].name == "heuristic won"
    assert fig.layout.showlegend is True  # plotly hides a lone trace's legend otherwise
    assert charts.turns_chart(battles).layout.showlegend is True


def test_latency_leaves_out_untimed_decisions():
    decisions = [
        DecisionRecord("b", 1, "p1", "move x", 5.0),
        DecisionRecord("b", 1, "p2", "move x", None),  # an outside user's, read from the log
    ]
    fig = charts.latency_chart(decisions, {"p1": "heuristic", "p2": "user:someone"})
    assert [list(trace.y) for trace in fig.data] == [[5.0], []]
    untimed = charts.latency_chart(decisions[1:])
    assert "no timed decision" in str(untimed.layout.annotations)


def test_titles_sit_below_the_mode_bar():
    fig = figure("t", margin={"l": 5})
    assert fig.layout.margin.l == 5 and fig.layout.margin.t == MARGIN["t"]  # merged
    title = fig.layout.title
    assert (title.yref, title.y, title.yanchor, title.pad.t) == ("container", 1, "top", TITLE_TOP)
    assert TITLE_TOP >= 30 and MARGIN["t"] > TITLE_TOP + 30  # mode bar above, plot below

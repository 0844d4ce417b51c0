"""The tournament page's charts. From its `arena.ratings.Leaderboard`: every agent's rating
with its 95% bootstrap interval (`rating_chart`), and the head-to-head win rate of each
pair of agents as a heatmap (`pair_heatmap_chart`, from the cells of `pair_cells`). From
its decisions, grouped by the agent that made them (`agent_decisions`: each battle names
the agent on each side): decision latency (`agent_latency_chart`), the mix of moves,
moves with tera and switches (`agent_action_chart`) and the type effectiveness of the
chosen moves (`agent_effectiveness_chart`) per agent. Like every chart they draw a note
instead of failing on an empty board, and escape agent names.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go

from arena.ratings import Leaderboard
from battle.record import SIDES, DecisionRecord, RunRecord
from viz.charts import action_share_by_group, effectiveness_by_group, latency_by_group
from viz.figures import AGENT_COLORS, COLORS, figure, note

# agent (as given) -> the decisions it made, over all its battles and both sides
ByAgent = Mapping[str, Sequence[DecisionRecord]]


def rating_chart(board: Leaderboard) -> go.Figure:
    """Each agent's rating (best first) with its 95% bootstrap interval as error bars."""
    fig = figure(
        f"Ratings with 95% intervals ({html.escape(board.anchor)} = 1000)",
        yaxis={"title": "rating"},
        showlegend=False,
    )
    if not board.ratings:
        return note(fig, "no agent rated")
    names = [html.escape(r.agent) for r in board.ratings]
    fig.add_scatter(
        x=names,
        y=[r.rating for r in board.ratings],
        mode="markers",
        marker={"size": 11, "color": COLORS["p1"]},
        error_y={
            "type": "data",
            "symmetric": False,
            "array": [r.ci95[1] - r.rating for r in board.ratings],
            "arrayminus": [r.rating - r.ci95[0] for r in board.ratings],
        },
        customdata=[
            [r.ci95[0], r.ci95[1], f"{r.wins}-{r.losses}-{r.draws}"] for r in board.ratings
        ],
        hovertemplate="%{x}: %{y:.0f} [%{customdata[0]:.0f}, %{customdata[1]:.0f}]"
        " · W-L-D %{customdata[2]}<extra></extra>",
    )
    fig.add_hline(y=1000, line_dash="dot", line_color="#555")
    return fig


def pair_cells(board: Leaderboard) -> list[list[tuple[float, int, int] | None]]:
    """Row agent against column agent (agents best first): (score, wins, battles), where
    score counts a draw as half a win; None where the two never met (or on the diagonal)."""
    names = [r.agent for r in board.ratings]
    index = {name: i for i, name in enumerate(names)}
    cells: list[list[tuple[float, int, int] | None]] = [[None] * len(names) for _ in names]
    for p in board.pairs:
        if p.a not in index or p.b not in index or not p.battles:
            continue
        i, j = index[p.a], index[p.b]
        cells[i][j] = (p.score_a, p.wins_a, p.battles)
        cells[j][i] = (1 - p.score_a, p.wins_b, p.battles)
    return cells


def pair_heatmap_chart(board: Leaderboard) -> go.Figure:
    """Win rate of each row agent against each column agent, with its counts."""
    names = [html.escape(r.agent) for r in board.ratings]
    size = max(360, 90 + 60 * len(names))
    fig = figure(
        "Head to head: row agent's win rate against column agent",
        height=size,
        xaxis={"title": "opponent", "side": "bottom"},
        yaxis={"autorange": "reversed"},
    )
    if not board.pairs:
        return note(fig, "no pair has played")
    cells = pair_cells(board)
    z = [[None if c is None else c[0] for c in row] for row in cells]
    text = [["" if c is None else f"{c[0]:.0%} ({c[1]}/{c[2]})" for c in row] for row in cells]
    fig.add_heatmap(
        x=names,
        y=names,
        z=z,
        text=text,
        texttemplate="%{text}",
        zmin=0,
        zmax=1,
        colorscale="RdBu",
        colorbar={"title": "win rate", "tickformat": ".0%"},
        hovertemplate="%{y} vs %{x}: %{text}<extra></extra>",
        hoverongaps=False,
    )
    return fig


def agent_decisions(record: RunRecord) -> dict[str, list[DecisionRecord]]:
    """The decisions of a tournament by the agent that made them (each battle names the
    agent on each side), agents in the order given (as in the teams chart), then any
    other agent its battles name; every agent of the spec has an entry, even without a
    decision."""
    agents = {b.battle_tag: {s: b.agent(s, record.spec) for s in SIDES} for b in record.battles}
    out: dict[str, list[DecisionRecord]] = {a.given: [] for a in record.spec.agents or []}
    for d in record.decisions:
        sides = agents.get(d.battle_tag)
        if sides is not None:
            out.setdefault(sides[d.side], []).append(d)
    return out


def _escaped(by_agent: ByAgent) -> tuple[dict[str, Sequence[DecisionRecord]], dict[str, str]]:
    """The groups of the decision charts, under escaped agent names, and each one's color
    (the n-th agent's, as in the teams chart)."""
    groups = {html.escape(agent): mine for agent, mine in by_agent.items()}
    colors = {name: AGENT_COLORS[i % len(AGENT_COLORS)] for i, name in enumerate(groups)}
    return groups, colors


def agent_latency_chart(by_agent: ByAgent) -> go.Figure:
    """Distribution of each agent's decision latency, on a log scale."""
    groups, colors = _escaped(by_agent)
    return latency_by_group(groups, colors, "Decision latency per agent")


def agent_action_chart(by_agent: ByAgent) -> go.Figure:
    """Share of moves, moves with tera, switches and default orders of each agent."""
    groups, _ = _escaped(by_agent)
    return action_share_by_group(groups, "Moves and switches per agent")


def agent_effectiveness_chart(by_agent: ByAgent) -> go.Figure:
    """Type effectiveness of the moves each agent chose, as a share of its rated moves."""
    groups, colors = _escaped(by_agent)
    return effectiveness_by_group(groups, colors, "Type effectiveness of chosen moves per agent")

"""The teams chart of a run in a format with teams (a match or a tournament): each team's
win rate with each agent that played it, with its 95% Wilson interval, from the rows of
`viz.teams.team_stats`; long team names (file paths) are shortened on the axis, and every
name is escaped.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import plotly.graph_objects as go

from viz.figures import AGENT_COLORS, figure, note
from viz.teams import TeamRow

MAX_TEAM_LABEL = 40  # longer team names (file paths) keep their end on the chart's axis


def team_labels(teams: Sequence[str]) -> list[str]:
    """Axis labels for team names, escaped: a long name (a file path) keeps its end, unless
    two names would then read alike (the axis would merge them), where all stay whole."""
    short = [t if len(t) <= MAX_TEAM_LABEL else "…" + t[1 - MAX_TEAM_LABEL :] for t in teams]
    if len(set(short)) < len(short):
        short = list(teams)
    return [html.escape(label) for label in short]


def team_win_rate_chart(rows: Sequence[TeamRow], agents: Sequence[str]) -> go.Figure:
    """Each team's win rate (a draw counts half) with each agent that played it, as
    horizontal bars with their 95% Wilson intervals; the most played team on top."""
    fig = figure(
        "Win rate by team with 95% intervals",
        barmode="group",
        height=max(360, 110 + len(rows) * (14 * max(1, len(agents)) + 18)),
        margin={"l": 20},
        xaxis={"range": [0, 1], "tickformat": ".0%", "title": "win rate"},
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
        showlegend=True,  # says which agent, even with one
    )
    if not rows or not agents:
        return note(fig, "no finished battle with a team")
    labels = team_labels([row.team for row in rows])
    for i, agent in enumerate(agents):
        rates: list[float | None] = []
        above: list[float] = []
        below: list[float] = []
        hover: list[list[object]] = []
        for row in rows:
            score = row.by_agent.get(agent)
            rate, ci = (score.win_rate, score.ci95) if score else (None, None)
            rates.append(rate)  # None: this agent never played the team (no bar)
            above.append(ci[1] - rate if ci and rate is not None else 0.0)
            below.append(rate - ci[0] if ci and rate is not None else 0.0)
            wld = f"{score.wins}-{score.losses}-{score.draws}" if score else ""
            hover.append([html.escape(row.team), wld, *(ci or (None, None))])
        fig.add_bar(
            x=rates,
            y=labels,
            orientation="h",
            name=html.escape(agent),
            marker_color=AGENT_COLORS[i % len(AGENT_COLORS)],
            error_x={"type": "data", "symmetric": False, "array": above, "arrayminus": below},
            customdata=hover,
            hovertemplate="%{customdata[0]} · %{fullData.name}: %{x:.1%}"
            " [%{customdata[2]:.1%}–%{customdata[3]:.1%}] · W-L-D %{customdata[1]}"
            "<extra></extra>",
        )
    fig.add_vline(x=0.5, line_dash="dot", line_color="#555")
    return fig

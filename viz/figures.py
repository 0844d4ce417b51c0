"""What every chart of the reports shares: `figure`, an empty plotly figure in the reports'
style (white template, title at the left below the mode bar, legend below, one height),
`note`, the mark of a chart with nothing to draw (a centred grey line; the axes stay, so
the page layout does not jump), `COLORS`, the one color of p1, p2, draws and errors on
every chart, and `AGENT_COLORS`, one color per agent where a chart has one series per
agent (a tournament's, the teams chart).
"""

from __future__ import annotations

import plotly.colors
import plotly.graph_objects as go

COLORS = {"p1": "#1f77b4", "p2": "#ff7f0e", "draw": "#9e9e9e", "error": "#d62728"}
# the n-th agent's color: p1's and p2's colors first, as elsewhere
AGENT_COLORS = plotly.colors.qualitative.D3

# The mode bar (plotly's toolbar, shown on hover) takes the top ~26 px at the right: the
# title starts below it, so a long title is never hidden under it.
TITLE_TOP = 34  # px from the top of the figure to the top of the title
MARGIN = {"l": 60, "r": 20, "t": 76, "b": 50}


def figure(title: str, **layout: object) -> go.Figure:
    """An empty figure titled `title` in the reports' style; `layout` adds to it or
    overrides it (a `margin` overrides only the sides it names)."""
    margin = {**MARGIN, **dict(layout.pop("margin", None) or {})}  # type: ignore[call-overload]
    defaults: dict[str, object] = {
        "title": {
            "text": title,
            "x": 0.02,
            "xanchor": "left",
            "yref": "container",
            "y": 1,
            "yanchor": "top",
            "pad": {"t": TITLE_TOP},
        },
        "template": "plotly_white",
        "height": 360,
        "margin": margin,
        "legend": {"orientation": "h", "y": -0.2},
    }
    return go.Figure(layout={**defaults, **layout})


def note(fig: go.Figure, text: str) -> go.Figure:
    """Mark an empty chart (axes stay, so the page layout does not jump)."""
    fig.add_annotation(
        text=text,
        showarrow=False,
        xref="paper",
        yref="paper",
        x=0.5,
        y=0.5,
        font={"size": 14, "color": "#777"},
    )
    return fig

"""What every chart of the reports shares: `figure`, an empty plotly figure in the reports'
style (white template, title at the left, legend below, one height), `note`, the mark of
a chart with nothing to draw (a centred grey line; the axes stay, so the page layout does
not jump), and `COLORS`, the one color of p1, p2, draws and errors on every chart.
"""

from __future__ import annotations

import plotly.graph_objects as go

COLORS = {"p1": "#1f77b4", "p2": "#ff7f0e", "draw": "#9e9e9e", "error": "#d62728"}


def figure(title: str, **layout: object) -> go.Figure:
    """An empty figure titled `title` in the reports' style; `layout` adds to it or overrides it."""
    defaults: dict[str, object] = {
        "title": {"text": title, "x": 0.02},
        "template": "plotly_white",
        "height": 360,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
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

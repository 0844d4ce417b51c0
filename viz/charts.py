"""The run report's charts: one function per chart, each returning a plotly Figure, and
which of them a report has (`CHARTS`, `charts_for`). A tournament's charts are in
`viz.tournament_charts`, the teams chart in `viz.team_charts`, their shared style in
`viz.figures`.

Every function copes with empty input (no finished battle, no decision) by drawing an
empty chart with a note instead of failing. Text that comes from the run (agent names,
battle tags, fallback reasons) is HTML-escaped, because plotly renders a few HTML tags in
labels.

A per-side chart names each side by its agent (`side_names`: "heuristic", or
"random (p1)" and "random (p2)" when both sides are the same agent); called without
`names`, a chart says "p1" and "p2". The decision charts are drawn per group of decisions
(`latency_by_group`, `action_share_by_group`, `effectiveness_by_group`): a match's groups
are its two sides, a tournament's (`viz.tournament_charts`) its agents.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

from battle.record import SIDES, BattleRecord, DecisionRecord, RunRecord, RunSpec
from battle.summary import wilson_interval
from viz.figures import COLORS, figure, note
from viz.llm import battle_tokens, llm_sides, side_params

EFFECTIVENESS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
EFFECTIVENESS_LABELS = ("0", "0.25", "0.5", "1", "2", "4")
ACTION_KINDS = ("move", "move + tera", "switch", "default")
MAX_REASONS = 8  # further fallback reasons are grouped as "other"


# side -> what the charts call it (escaped): see `side_names`
Names = Mapping[str, str]
# group label (escaped) -> its decisions; a group is a side of a match or a tournament's agent
Groups = Mapping[str, Sequence[DecisionRecord]]


def side_names(spec: RunSpec) -> dict[str, str]:
    """What a match's charts call each side: its agent as given, and its side as well
    when both sides are the same agent ("random (p1)", "random (p2)"); escaped."""
    given = {side: getattr(spec, side).given for side in SIDES}
    same = given["p1"] == given["p2"]
    return {side: html.escape(f"{given[side]} ({side})" if same else given[side]) for side in SIDES}


def _names(names: Names | None) -> dict[str, str]:
    return {side: (names or {}).get(side, side) for side in SIDES}


def _played(battles: Sequence[BattleRecord]) -> list[BattleRecord]:
    return [b for b in battles if b.winner is not None]


def _by_side(decisions: Sequence[DecisionRecord], names: Names) -> dict[str, list[DecisionRecord]]:
    """The decisions of each side, under the side's name (p1 first)."""
    return {names[side]: [d for d in decisions if d.side == side] for side in SIDES}


def _side_colors(names: Names) -> dict[str, str]:
    return {names[side]: COLORS[side] for side in SIDES}


def _add_group_bars(
    fig: go.Figure,
    name: str,
    color: str,
    x: Sequence[object],
    y: Sequence[object],
    customdata: Sequence[object],
    hover: str,
) -> None:
    """One group's bars, in its color and named for it; `hover` is the hover template
    after the group's name."""
    fig.add_bar(
        x=x,
        y=y,
        name=name,
        marker_color=color,
        customdata=customdata,
        hovertemplate=f"%{{fullData.name}} {hover}<extra></extra>",
    )


def win_rate_chart(battles: Sequence[BattleRecord], names: Names | None = None) -> go.Figure:
    """Share of p1 wins, p2 wins and draws, each with its 95% Wilson interval."""
    names = _names(names)
    fig = figure("Outcomes with 95% intervals", yaxis={"range": [0, 1], "tickformat": ".0%"})
    played = _played(battles)
    n = len(played)
    if not n:
        return note(fig, "no finished battle")
    counts = Counter(b.winner for b in played)
    labels, shares, lows, highs, colors = [], [], [], [], []
    outcomes = (("p1", f"{names['p1']} wins"), ("p2", f"{names['p2']} wins"), ("draw", "draws"))
    for key, label in outcomes:
        low, high = wilson_interval(counts[key], n)
        share = counts[key] / n
        labels.append(f"{label} ({counts[key]}/{n})")
        shares.append(share)
        lows.append(share - low)
        highs.append(high - share)
        colors.append(COLORS[key])
    fig.add_bar(
        x=labels,
        y=shares,
        marker_color=colors,
        error_y={"type": "data", "symmetric": False, "array": highs, "arrayminus": lows},
        hovertemplate="%{x}: %{y:.1%}<extra></extra>",
    )
    fig.add_hline(y=0.5, line_dash="dot", line_color="#555")
    return fig


def cumulative_win_rate_chart(
    battles: Sequence[BattleRecord], names: Names | None = None
) -> go.Figure:
    """p1's score (a draw counts half) after each finished battle, with a Wilson band."""
    p1 = _names(names)["p1"]
    played = _played(battles)
    xaxis: dict[str, object] = {"title": "finished battles", "tickformat": "d"}
    if len(played) <= 10:
        xaxis["dtick"] = 1  # no half battles on the axis
    fig = figure(
        f"{p1} win rate as battles finish",
        xaxis=xaxis,
        yaxis={"range": [0, 1], "tickformat": ".0%"},
    )
    if not played:
        return note(fig, "no finished battle")
    xs, rates, lows, highs, tags = [], [], [], [], []
    score = 0.0
    for k, battle in enumerate(played, start=1):
        score += 1.0 if battle.winner == "p1" else 0.5 if battle.winner == "draw" else 0.0
        low, high = wilson_interval(score, k)
        xs.append(k)
        rates.append(score / k)
        lows.append(low)
        highs.append(high)
        tags.append(html.escape(battle.battle_tag))
    fig.add_scatter(
        x=xs, y=highs, mode="lines", line={"width": 0}, hoverinfo="skip", showlegend=False
    )
    fig.add_scatter(
        x=xs,
        y=lows,
        mode="lines",
        line={"width": 0},
        fill="tonexty",
        fillcolor="rgba(31,119,180,0.2)",
        name="95% interval",
        hoverinfo="skip",
    )
    fig.add_scatter(
        x=xs,
        y=rates,
        mode="lines+markers" if len(played) <= 100 else "lines",
        name=f"{p1} win rate",
        line_color=COLORS["p1"],
        customdata=tags,
        hovertemplate="after %{x} (%{customdata}): %{y:.1%}<extra></extra>",
    )
    fig.add_hline(y=0.5, line_dash="dot", line_color="#555")
    return fig


def outcome_grid_chart(
    battles: Sequence[BattleRecord], columns: int | None = None, names: Names | None = None
) -> go.Figure:
    """One square per battle, in the order they finished, colored by the result."""
    names = _names(names)
    # 20 columns for a few hundred battles, more (and smaller squares) beyond
    columns = columns or max(20, math.ceil(math.sqrt(2 * len(battles))))
    rows = max(1, math.ceil(len(battles) / columns))
    size = max(4, min(18, 480 // columns))
    fig = figure(
        "Every battle's result",
        height=max(220, 130 + (size + 4) * rows),
        xaxis={"visible": False, "range": [-0.7, columns - 0.3]},
        yaxis={"visible": False, "autorange": "reversed"},
        showlegend=True,  # says what the color means, even when every battle ended alike
    )
    if not battles:
        return note(fig, "no battle")
    for key, label in _outcome_labels(names, "error"):
        cells = [(i, b) for i, b in enumerate(battles) if (b.winner or "error") == key]
        if not cells:
            continue
        hover = [
            f"{html.escape(b.battle_tag)}<br>{label}, {b.turns} turns"
            + (f"<br>{html.escape(b.error)}" if b.error else "")
            for _, b in cells
        ]
        fig.add_scatter(
            x=[i % columns for i, _ in cells],
            y=[i // columns for i, _ in cells],
            mode="markers",
            name=label,
            text=hover,
            hovertemplate="%{text}<extra></extra>",
            marker={"symbol": "square", "size": size, "color": COLORS[key]},
        )
    return fig


def _outcome_labels(names: Names, *extra: str) -> list[tuple[str, str]]:
    """(winner key, legend label) of each result: "heuristic won", ..., "draw"."""
    return [(s, f"{names[s]} won") for s in SIDES] + [(k, k) for k in ("draw", *extra)]


def turns_chart(battles: Sequence[BattleRecord], names: Names | None = None) -> go.Figure:
    """Histogram of battle length in turns, stacked by who won."""
    fig = figure(
        "Turns per battle",
        barmode="stack",
        xaxis={"title": "turns"},
        yaxis={"title": "battles"},
        showlegend=True,  # says who won, even when one side won every battle
    )
    played = _played(battles)
    if not played:
        return note(fig, "no finished battle")
    for key, label in _outcome_labels(_names(names)):
        turns = [b.turns for b in played if b.winner == key]
        if turns:
            fig.add_histogram(
                x=turns,
                name=label,
                marker_color=COLORS[key],
                bingroup="turns",
                nbinsx=min(30, max(5, len(played))),
            )
    return fig


def latency_by_group(
    groups: Groups, colors: Mapping[str, str], title: str = "Decision latency"
) -> go.Figure:
    """Distribution of decision latency per group (a side, an agent), on a log scale;
    decisions without a latency (an outside user's, read from the log) are left out."""
    fig = figure(title, yaxis={"title": "ms (log scale)", "type": "log"})
    if not any(groups.values()):
        return note(fig, "no decision")
    timed = {
        name: [d.latency_ms for d in mine if d.latency_ms is not None]
        for name, mine in groups.items()
    }
    if not any(timed.values()):
        return note(fig, "no timed decision")
    for name, values in timed.items():
        fig.add_box(
            y=[max(v, 0.001) for v in values],  # a log axis cannot show 0 ms: clamp to 1 µs
            name=name,
            marker_color=colors[name],
            boxpoints="outliers",
            showlegend=False,
            hovertemplate="%{x}: %{y:.3g} ms<extra></extra>",
        )
    return fig


def latency_chart(decisions: Sequence[DecisionRecord], names: Names | None = None) -> go.Figure:
    """Distribution of decision latency per side, on a log scale."""
    names = _names(names)
    return latency_by_group(_by_side(decisions, names), _side_colors(names))


def fallback_chart(decisions: Sequence[DecisionRecord], names: Names | None = None) -> go.Figure:
    """Share of decisions that fell back per side, stacked by reason."""
    fig = figure(
        "Fallback rate", barmode="stack", yaxis={"tickformat": ".0%", "rangemode": "tozero"}
    )
    sides = _by_side(decisions, _names(names))
    if not decisions:
        return note(fig, "no decision")
    reasons = Counter(d.fallback_reason or "no reason given" for d in decisions if d.fallback)
    if not reasons:
        fig.add_bar(x=list(sides), y=[0] * len(sides), showlegend=False)
        return note(fig, "no fallback")
    top = [reason for reason, _ in reasons.most_common(MAX_REASONS)]

    def bucket(d: DecisionRecord) -> str:
        reason = d.fallback_reason or "no reason given"
        return reason if reason in top else "other"

    for reason in [*top, "other"]:
        ys, counts = [], []
        for mine in sides.values():
            count = sum(1 for d in mine if d.fallback and bucket(d) == reason)
            counts.append(count)
            ys.append(count / len(mine) if mine else 0.0)
        if any(counts):
            fig.add_bar(
                x=list(sides),
                y=ys,
                name=html.escape(reason[:60]),
                customdata=counts,
                hovertemplate="%{x}: %{y:.1%} (%{customdata} decisions)<extra></extra>",
            )
    return fig


def action_kind(action: str) -> str:
    """'move thunderbolt tera' -> 'move + tera'; 'switch pikachu' -> 'switch'."""
    words = action.split()
    if not words or words[0] not in ("move", "switch"):
        return "default"
    if words[0] == "move" and words[-1] in ("tera", "terastallize"):
        return "move + tera"
    return words[0]


ACTION_COLORS = {  # the same kind in the same color on every chart
    "move": "#636efa",
    "move + tera": "#ef553b",
    "switch": "#00cc96",
    "default": "#ab63fa",
}


def action_share_by_group(groups: Groups, title: str = "Moves and switches") -> go.Figure:
    """Share of moves, moves with tera, switches and default orders per group (a side,
    an agent), as stacked bars."""
    fig = figure(title, barmode="stack", yaxis={"tickformat": ".0%"}, showlegend=True)
    if not any(groups.values()):
        return note(fig, "no decision")
    counts = {name: Counter(action_kind(d.action) for d in mine) for name, mine in groups.items()}
    for kind in ACTION_KINDS:
        ys = [counts[g][kind] / len(groups[g]) if groups[g] else 0.0 for g in groups]
        fig.add_bar(
            x=list(groups),
            y=ys,
            name=kind,
            marker_color=ACTION_COLORS[kind],
            customdata=[counts[g][kind] for g in groups],
            hovertemplate=f"%{{x}} · {kind}: %{{y:.1%}} (%{{customdata}})<extra></extra>",
        )
    return fig


def action_share_chart(
    decisions: Sequence[DecisionRecord], names: Names | None = None
) -> go.Figure:
    """Share of moves, moves with tera, switches and default orders per side."""
    return action_share_by_group(_by_side(decisions, _names(names)))


def effectiveness_by_group(
    groups: Groups, colors: Mapping[str, str], title: str = "Type effectiveness of chosen moves"
) -> go.Figure:
    """Type effectiveness of the moves each group (a side, an agent) chose against the
    opponent's active Pokémon: the share of its rated moves at each multiplier."""
    fig = figure(
        title,
        barmode="group",
        xaxis={"title": "multiplier", "type": "category"},
        yaxis={"title": "share of rated moves", "tickformat": ".0%"},
        showlegend=True,  # says whose bars, even with one
    )
    rated = {
        name: [d for d in mine if d.effectiveness is not None] for name, mine in groups.items()
    }
    if not any(rated.values()):
        return note(fig, "no move with a known effectiveness")
    for name, mine in rated.items():
        counts = Counter(min(EFFECTIVENESS, key=lambda e: abs(e - d.effectiveness)) for d in mine)
        total = len(mine)
        _add_group_bars(
            fig,
            name,
            colors[name],
            x=list(EFFECTIVENESS_LABELS),
            y=[counts[e] / total if total else 0 for e in EFFECTIVENESS],
            customdata=[counts[e] for e in EFFECTIVENESS],
            hover="×%{x}: %{y:.1%} (%{customdata} moves)",
        )
    return fig


def effectiveness_chart(
    decisions: Sequence[DecisionRecord], names: Names | None = None
) -> go.Figure:
    """Type effectiveness of the chosen moves against the opponent's active Pokémon."""
    names = _names(names)
    return effectiveness_by_group(_by_side(decisions, names), _side_colors(names))


def tokens_chart(decisions: Sequence[DecisionRecord], names: Names | None = None) -> go.Figure:
    """Tokens each language-model side spent per battle, one bar per battle and side."""
    names = _names(names)
    fig = figure(
        "Tokens per battle",
        barmode="group",
        xaxis={"title": "battle (in record order)", "tickformat": "d"},
        yaxis={"title": "tokens", "rangemode": "tozero"},
        showlegend=True,  # says which side, even with one
    )
    if not any(d.tokens is not None for d in decisions):
        return note(fig, "no token count")
    sides = llm_sides(decisions)
    numbers: dict[str, int] = {}  # battle tag -> 1, 2, ... shared by both sides
    for d in decisions:
        if d.side in sides:
            numbers.setdefault(d.battle_tag, len(numbers) + 1)
    if len(numbers) <= 20:
        fig.update_xaxes(dtick=1)  # no half battles on the axis
    for side in sides:
        per_battle = battle_tokens([d for d in decisions if d.side == side])
        _add_group_bars(
            fig,
            names[side],
            COLORS[side],
            x=[numbers[b.battle_tag] for b in per_battle],
            y=[b.tokens for b in per_battle],
            customdata=[html.escape(b.battle_tag) for b in per_battle],
            hover="· %{customdata}: %{y:,} tokens",
        )
    return fig


def _always(record: RunRecord) -> bool:
    return True


def _has_llm_side(record: RunRecord) -> bool:
    return bool(llm_sides(record.decisions, side_params(record)))


@dataclass(frozen=True)
class Chart:
    key: str  # used for the element id
    build: Callable[[RunRecord], go.Figure]
    # whether the page has this chart: the charts of language-model sides only show up
    # in runs that have one, so other runs render exactly as before
    applies: Callable[[RunRecord], bool] = _always
    section: str = "charts"  # "charts" (the chart grid) or "llm" (Language-model sides)


CHARTS: tuple[Chart, ...] = (
    Chart("win-rate", lambda r: win_rate_chart(r.battles, side_names(r.spec))),
    Chart("cumulative", lambda r: cumulative_win_rate_chart(r.battles, side_names(r.spec))),
    Chart("outcomes", lambda r: outcome_grid_chart(r.battles, names=side_names(r.spec))),
    Chart("turns", lambda r: turns_chart(r.battles, side_names(r.spec))),
    Chart("latency", lambda r: latency_chart(r.decisions, side_names(r.spec))),
    Chart("fallbacks", lambda r: fallback_chart(r.decisions, side_names(r.spec))),
    Chart("actions", lambda r: action_share_chart(r.decisions, side_names(r.spec))),
    Chart("effectiveness", lambda r: effectiveness_chart(r.decisions, side_names(r.spec))),
    Chart(
        "tokens",
        lambda r: tokens_chart(r.decisions, side_names(r.spec)),
        applies=_has_llm_side,
        section="llm",
    ),
)


def charts_for(record: RunRecord) -> list[Chart]:
    """The charts the report of `record` has, in page order."""
    return [chart for chart in CHARTS if chart.applies(record)]


def build_charts(record: RunRecord) -> list[tuple[str, go.Figure]]:
    """The report's charts for `record`, in page order, as (key, figure)."""
    return [(chart.key, chart.build(record)) for chart in charts_for(record)]

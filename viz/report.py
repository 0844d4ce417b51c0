"""Render a run record into one self-contained HTML page (no network needed to open it)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import jinja2
import plotly.graph_objects as go
import plotly.offline
from markupsafe import Markup

from arena.ratings import Leaderboard, PairResult
from battle.record import (
    SIDES,
    BattleRecord,
    DecisionRecord,
    RunPaths,
    RunRecord,
    RunRecordError,
    Summary,
    atomic_write_text,
    load_record,
)
from viz.charts import action_kind, charts_for
from viz.llm import LLMSideStats, llm_side_stats
from viz.replay import Replay, load_replay
from viz.team_charts import team_win_rate_chart
from viz.teams import TeamRow, has_teams, team_agents, team_stats
from viz.tournament_charts import (
    agent_action_chart,
    agent_decisions,
    agent_effectiveness_chart,
    agent_latency_chart,
    pair_heatmap_chart,
    rating_chart,
)
from viz.viewer import script_json, viewer_data

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
MAX_DECISION_ROWS = 2000
MAX_VIEWER_BATTLES = 300
MAX_REASONING_CHARS = 2000
MAX_REASON_CHARS = 200  # a fallback reason in the Language-model sides table
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
# Where a page gets plotly.js: "inline", embedded in it (one file, ~4.7 MB), or "file",
# from plotly-<version>.min.js next to it, written once (`write_plotly_js`) and shared by
# every report of that folder. Either way the page opens offline.
PLOTLY_JS_MODES = ("inline", "file")


class ReportError(OSError):
    """The report could not be written; the message is one line saying why."""


@dataclass
class Verdict:
    kind: str  # "p1", "p2", "inconclusive" or "none" (used as a CSS class)
    text: str


@dataclass
class BattleView:
    index: int
    tag: str
    winner: str | None
    turns: int
    duration_s: float
    error: str | None
    replay: Replay | None
    missing: str | None  # why there is no replay to show
    agents: dict[str, str] | None = None  # tournaments: the agent on each side
    teams: dict[str, str] | None = None  # team formats: the team of each side that has one
    # the viewer's JSON: turns, boards and decisions (see viz.viewer)
    data: Markup = field(default_factory=lambda: Markup("{}"))


@dataclass
class TeamsView:
    """The Teams section: win rate by team, per agent (columns in `agents`' order)."""

    rows: list[TeamRow]
    agents: list[str]
    headers: list[str]  # the column of each agent: a match's also says its side(s)
    chart: Markup


@dataclass
class PairView:
    """One pair of a tournament: its head to head and the battles the viewer has of it."""

    index: int
    result: PairResult  # the head to head, over this run's and included battles
    views: list[BattleView]  # in the viewer, in the order played
    battles_total: int  # this run's battles of the pair, including those beyond the viewer


def verdict(record: RunRecord) -> Verdict:
    """One sentence on what the run shows, saying so when it shows nothing yet."""
    s: Summary = record.summary
    p1, p2 = record.spec.p1.given, record.spec.p2.given
    errors = f" {s.errors} battle(s) ended in an error and are not counted." if s.errors else ""
    if not s.battles or s.p1_win_rate is None or not s.p1_win_rate_ci95:
        return Verdict("none", "No battle finished, so there is nothing to compare." + errors)
    low, high = s.p1_win_rate_ci95
    stats = (
        f"p1 ({p1}) scored {s.p1_win_rate:.1%} over {s.battles} battle(s) "
        f"(95% interval {low:.1%}–{high:.1%}; a draw counts as half a win)."
    )
    if low <= 0.5 <= high:
        return Verdict(
            "inconclusive",
            f"Inconclusive: {stats} The interval contains 50%, so these battles cannot "
            f"tell whether {p1} or {p2} plays better; play more battles." + errors,
        )
    better, worse = (p1, p2) if low > 0.5 else (p2, p1)
    kind = "p1" if low > 0.5 else "p2"
    return Verdict(kind, f"{better} plays better than {worse}: {stats}" + errors)


def battle_views(record: RunRecord, run_dir: Path) -> list[BattleView]:
    views = []
    shown = record.battles[:MAX_VIEWER_BATTLES]
    decisions: dict[str, list[DecisionRecord]] = {b.battle_tag: [] for b in shown}
    for d in record.decisions:
        if d.battle_tag in decisions:
            decisions[d.battle_tag].append(d)
    for i, b in enumerate(shown):
        replay = load_replay(run_dir, b.replay, b.battle_tag)
        agents = {side: b.agent(side, record.spec) for side in SIDES}
        data = viewer_data(
            replay if isinstance(replay, Replay) else None, decisions[b.battle_tag], agents
        )
        views.append(
            BattleView(
                index=i,
                tag=b.battle_tag,
                winner=b.winner,
                turns=b.turns,
                duration_s=b.duration_s,
                error=b.error,
                replay=replay if isinstance(replay, Replay) else None,
                missing=replay if isinstance(replay, str) else None,
                agents=None if b.p1_agent is None else {"p1": b.p1_agent, "p2": b.p2_agent or ""},
                teams=_battle_teams(b) or None,
                data=script_json(data),
            )
        )
    return views


def _battle_teams(b: BattleRecord) -> dict[str, str]:
    named = {"p1": b.p1_team, "p2": b.p2_team}
    return {side: team for side, team in named.items() if team is not None}


def teams_view(record: RunRecord) -> TeamsView | None:
    """The Teams section of a run in a team format; None (no section) for a run whose
    battles name no team, such as a random-battle run."""
    if not has_teams(record.battles):
        return None
    spec = record.spec
    rows = team_stats(record.battles, spec)
    agents = team_agents(rows, spec)
    headers = list(agents)
    if not spec.is_tournament:
        sides = {a: [s for s in SIDES if getattr(spec, s).given == a] for a in agents}
        headers = [f"{a} ({', '.join(sides[a])})" if sides[a] else a for a in agents]
    chart = figure_html(team_win_rate_chart(rows, agents), "teams")
    return TeamsView(rows, agents, headers, chart)


def pair_views(record: RunRecord, board: Leaderboard, views: list[BattleView]) -> list[PairView]:
    """The tournament's pairs (this run's and `--include`d battles), each with links to its
    battles in this run's viewer."""
    out = []
    for i, p in enumerate(board.pairs):
        key = {p.a, p.b}
        mine = [b for b in views if b.agents is not None and set(b.agents.values()) == key]
        total = sum(1 for b in record.battles if {b.p1_agent, b.p2_agent} == key)
        out.append(PairView(i, p, mine, total))
    return out


def figure_html(fig: go.Figure, key: str) -> Markup:
    """`fig` as an HTML fragment for a page (plotly.js loaded once by the page), `chart-<key>`."""
    return Markup(
        fig.to_html(
            full_html=False, include_plotlyjs=False, div_id=f"chart-{key}", config=PLOTLY_CONFIG
        )
    )


def render_tournament(record: RunRecord, run_dir: Path, plotly_js: str = "inline") -> str:
    """The leaderboard page of a tournament's record."""
    assert record.leaderboard is not None
    board = Leaderboard.from_dict(record.leaderboard)
    views = battle_views(record, run_dir)
    decisions = record.decisions[:MAX_DECISION_ROWS]
    template = environment().get_template("tournament.html.j2")
    return template.render(
        record=record,
        spec=record.spec,
        summary=record.summary,
        board=board,
        pairs=pair_views(record, board, views),
        charts=[
            figure_html(rating_chart(board), "ratings"),
            figure_html(pair_heatmap_chart(board), "head-to-head"),
            *_agent_charts(record),
        ],
        teams=teams_view(record),
        decisions=decisions,
        decisions_total=len(record.decisions),
        battles=views,
        battles_total=len(record.battles),
        generated_at=datetime.now(tz=UTC).timestamp(),
        **plotly_context(plotly_js),
    )


def format_time(ts: float | None) -> str:
    if ts is None:
        return "not finished"
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def format_ms(ms: float | None) -> str:
    if ms is None:
        return "–"
    if ms >= 100:
        return f"{ms:,.0f} ms"
    return f"{ms:.3g} ms"


def format_pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def format_num(value: float | None, spec: str = ".2f") -> str:
    return "–" if value is None else format(value, spec)


def truncate(text: str | None, limit: int = MAX_REASONING_CHARS) -> str:
    if not text:
        return ""
    return text if len(text) <= limit else text[:limit] + " … (truncated)"


@cache
def environment() -> jinja2.Environment:
    """The pages' Jinja environment: viz/templates, autoescaped, with the report's filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        time=format_time,
        ms=format_ms,
        pct=format_pct,
        num=format_num,
        truncate_text=truncate,
        action_kind=action_kind,
    )
    return env


def _agent_charts(record: RunRecord) -> list[Markup]:
    """A tournament's charts of its decisions, one series per agent."""
    by_agent = agent_decisions(record)
    return [
        figure_html(agent_latency_chart(by_agent), "agent-latency"),
        figure_html(agent_action_chart(by_agent), "agent-actions"),
        figure_html(agent_effectiveness_chart(by_agent), "agent-effectiveness"),
    ]


@cache
def _plotly_js() -> Markup:
    # plotly.js is trusted, bundled code and contains no "</script>"
    return Markup(plotly.offline.get_plotlyjs())


def plotly_js_filename() -> str:
    """The name of the shared plotly.js file of the "file" mode: plotly-<version>.min.js."""
    return f"plotly-{plotly.offline.get_plotlyjs_version()}.min.js"


def write_plotly_js(folder: Path) -> Path:
    """Write plotly.js to `folder`/plotly-<version>.min.js unless it is there already
    (atomically: a page never sees half of it); returns its path."""
    path = Path(folder) / plotly_js_filename()
    if not path.is_file():
        atomic_write_text(path, plotly.offline.get_plotlyjs())
        log.debug("wrote %s", path)
    return path


def plotly_context(mode: str) -> dict[str, object]:
    """What the templates need for `mode`: the <script> element that loads plotly.js, and
    the shared file's name ("file" mode; None when plotly.js is inline)."""
    if mode not in PLOTLY_JS_MODES:
        raise ValueError(f"plotly_js must be one of {', '.join(PLOTLY_JS_MODES)}, not {mode!r}")
    if mode == "file":
        name = plotly_js_filename()  # relative: the page finds it next to itself
        return {
            "plotly_script": Markup('<script src="{}"></script>').format(name),
            "plotly_file": name,
        }
    return {
        "plotly_script": Markup("<script>") + _plotly_js() + Markup("</script>"),
        "plotly_file": None,
    }


def chart_sections(record: RunRecord) -> dict[str, list[Markup]]:
    """The charts of the page as HTML fragments, by the section that shows them."""
    sections: dict[str, list[Markup]] = {"charts": [], "llm": []}
    for chart in charts_for(record):
        fig = chart.build(record)
        sections[chart.section].append(
            Markup(
                fig.to_html(
                    full_html=False,
                    include_plotlyjs=False,
                    div_id=f"chart-{chart.key}",
                    config=PLOTLY_CONFIG,
                )
            )
        )
    return sections


def render_report(record: RunRecord, run_dir: Path, plotly_js: str = "inline") -> str:
    """The report page for `record`; `run_dir` is the folder holding the run json
    (replay paths in the record are relative to it). A tournament gets its leaderboard.

    `plotly_js`: "inline" embeds plotly.js in the page; "file" loads it from
    plotly-<version>.min.js in the page's folder, which the caller writes there
    (`write_plotly_js`; `write_report` does)."""
    if record.leaderboard is not None:
        return render_tournament(record, run_dir, plotly_js)
    charts = chart_sections(record)
    llm: list[LLMSideStats] = llm_side_stats(record)
    decisions = record.decisions[:MAX_DECISION_ROWS]
    template = environment().get_template("report.html.j2")
    return template.render(
        record=record,
        spec=record.spec,
        summary=record.summary,
        verdict=verdict(record),
        charts=charts["charts"],
        llm_charts=charts["llm"],
        llm_sides=llm,
        max_reason_chars=MAX_REASON_CHARS,
        teams=teams_view(record),
        decisions=decisions,
        decisions_total=len(record.decisions),
        battles=battle_views(record, run_dir),
        battles_total=len(record.battles),
        generated_at=datetime.now(tz=UTC).timestamp(),
        **plotly_context(plotly_js),
    )


def default_output(record_path: Path) -> Path:
    """reports/<run_id>.html under the current directory."""
    return Path("reports") / f"{RunPaths.from_record_path(record_path).run_id}.html"


def write_report(record_path: Path, output: Path | None = None, plotly_js: str = "inline") -> Path:
    """Load `record_path`, render it and write the page atomically; returns its path.

    `plotly_js`: "inline" (the default) embeds plotly.js, so the page is one file;
    "file" also writes plotly-<version>.min.js next to the page, unless it is there
    already, and the page loads it from there (a few hundred KB a page instead of ~5 MB,
    for folders of many reports; the page still opens offline, next to that file).

    Raises RunRecordError for a record that cannot be read and ReportError for a page
    that cannot be written, each with a one-line message.
    """
    record_path = Path(record_path)
    record = load_record(record_path)
    output = Path(output) if output is not None else default_output(record_path)
    page = render_report(record, record_path.parent, plotly_js)
    if plotly_js == "file":  # first, so that the page never points at a missing file
        with _unwritable("plotly.js", output.parent / plotly_js_filename()):
            write_plotly_js(output.parent)
    with _unwritable("the report", output):
        atomic_write_text(output, page)
    log.debug("wrote %s (%d bytes)", output, len(page))
    return output


@contextmanager
def _unwritable(what: str, path: Path) -> Iterator[None]:
    """Turn an OSError raised while writing `path` into a one-line ReportError."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc, FileExistsError | NotADirectoryError):
            reason = "part of that path is a file, not a folder"
        elif isinstance(exc, IsADirectoryError):
            reason = "it is a folder"
        raise ReportError(f"cannot write {what} to {path}: {reason}") from None


__all__ = [
    "PLOTLY_JS_MODES",
    "LLMSideStats",
    "ReportError",
    "RunRecordError",
    "environment",
    "figure_html",
    "llm_side_stats",
    "plotly_context",
    "plotly_js_filename",
    "render_report",
    "write_plotly_js",
    "write_report",
]

"""viz: turn a run record into one self-contained HTML report.

Command line (writes reports/<run_id>.html under the current directory by default)::

    uv run python -m viz runs/<run_id>.json [--output FILE]

From Python::

    from viz import write_report, render_report
    path = write_report(Path("runs/x.json"))            # load, render, write atomically
    html = render_report(record, run_dir=Path("runs"))  # just the page, as a string

The page embeds plotly.js once and loads nothing from the network: it has a verdict on
the matchup (saying when the 95% interval is inconclusive), a summary table, the charts
of `viz.charts`, a battle viewer built from the saved protocol logs (`viz.replay`) and
the decision log. A run with a language-model side (one whose decisions carry tokens or
reasoning) also gets a "Language-model sides" section: model and parameters, latency
percentiles, fallbacks by reason, tokens per decision and per battle (`viz.llm`), and a
tokens-per-battle chart; other runs render without it. A run in a team format (its
battles name the team each side played) gets a "Teams" section, in a match's report and
a tournament's alike: each team's W-L-D and win rate with its 95% interval per agent and
over all agents, and a win-rate-by-team chart (`viz.teams`); random-battle runs render
without it. All run text, model reasoning and team file paths included, is escaped by
jinja.
"""

from viz.report import ReportError, render_report, write_report

__all__ = ["ReportError", "render_report", "write_report"]

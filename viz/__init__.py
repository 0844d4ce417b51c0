"""viz: turn a run record into one self-contained HTML report.

Command line (writes reports/<run_id>.html under the current directory by default)::

    uv run python -m viz runs/<run_id>.json [--output FILE] [--plotly-js inline|file]

From Python::

    from viz import write_report, render_report
    path = write_report(Path("runs/x.json"))            # load, render, write atomically
    html = render_report(record, run_dir=Path("runs"))  # just the page, as a string
    write_report(Path("runs/x.json"), plotly_js="file")  # plotly.js shared, see below

The page embeds plotly.js once and loads nothing from the network: it has a verdict on
the matchup (saying when the 95% interval is inconclusive), a summary table, the charts
of `viz.charts` (each side named by its agent), a battle viewer built from the saved
protocol logs (`viz.replay`) and the decision log. With `plotly_js="file"` (`--plotly-js
file`) plotly.js is written once next to the page instead, as plotly-<version>.min.js,
shared by every report of that folder: ~0.3 MB a page instead of ~5 MB, and the page
still opens offline beside that file. A tournament's page has its ranking, rating and
head-to-head charts, and latency, move choice and type effectiveness per agent
(`viz.tournament_charts`). A run with a language-model side (one whose decisions carry tokens or
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

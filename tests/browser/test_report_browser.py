"""Open a generated report in headless Chromium: charts drawn, no errors, no network.

The system Chromium and the guarded pages come from conftest.py: skipped with a reason
where Chromium or playwright is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from battle.record import load_record
from tests.browser.conftest import LOCAL_SCHEMES
from tests.fixture_tournament import tournament_record
from viz import write_report
from viz.charts import charts_for
from viz.report import plotly_js_filename

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "viz" / "vizfixture.json"
# the charts this page should have: the fixture's p1 is a language model, so its
# "Language-model sides" section adds the tokens chart to the general ones
EXPECTED_CHARTS = [chart.key for chart in charts_for(load_record(FIXTURE))]
TOURNAMENT_CHARTS = [
    "ratings",
    "head-to-head",
    "agent-latency",
    "agent-actions",
    "agent-effectiveness",
]
# each plot's traces with data points, and the boxes of its title and mode bar (toolbar)
PLOTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(d => {
  const box = el => { if (!el) return null; const r = el.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const points = t => ['x', 'y', 'z'].reduce((n, k) => n + (t[k] ? t[k].length : 0), 0);
  return {id: d.id, points: d.data.map(points), notes: (d.layout.annotations || []).length,
          title: box(d.querySelector('.gtitle')), modebar: box(d.querySelector('.modebar'))};
})"""

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def opened(open_local, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The report, opened once: the page plus everything it tried to do."""
    report = write_report(FIXTURE, tmp_path_factory.mktemp("report") / "report.html")
    return open_local(report, charts=len(EXPECTED_CHARTS))


@pytest.fixture(scope="module")
def opened_file_mode(open_local, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The same report written with plotly_js="file" (`--plotly-js file`), plotly.js
    beside it."""
    report = write_report(
        FIXTURE, tmp_path_factory.mktemp("shared") / "report.html", plotly_js="file"
    )
    return open_local(report, charts=len(EXPECTED_CHARTS))


@pytest.fixture(scope="module")
def opened_tournament(open_local, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A tournament's leaderboard page (tests/fixture_tournament.py)."""
    folder = tmp_path_factory.mktemp("tournament")
    report = write_report(tournament_record(folder), folder / "tournament.html")
    return open_local(report, charts=len(TOURNAMENT_CHARTS))


def test_every_chart_is_drawn(opened: dict):
    page = opened["page"]
    plots = page.locator(".js-plotly-plot")
    assert plots.count() == len(EXPECTED_CHARTS)
    assert "tokens" in EXPECTED_CHARTS
    ids = plots.evaluate_all("nodes => nodes.map(n => n.id)")
    assert ids == [f"chart-{key}" for key in EXPECTED_CHARTS]
    for i in range(plots.count()):
        assert plots.nth(i).locator("svg.main-svg").count() >= 1
        box = plots.nth(i).bounding_box()
        assert box is not None and box["width"] > 100 and box["height"] > 100


def test_every_chart_fits_its_grid_cell(opened: dict):
    """A chart is drawn as the page is parsed, when the first one of a row still fills the
    row alone; once loaded, each must be as wide as its cell (not clipped, not overlapping)."""
    widths = opened["page"].evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')]"
        ".map(d => [d._fullLayout.width, d.parentElement.clientWidth])"
    )
    assert widths and all(abs(drawn - cell) <= 2 for drawn, cell in widths), widths


def test_no_console_errors(opened: dict):
    errors = [text for kind, text in opened["console"] if kind == "error"]
    assert errors == []
    assert opened["errors"] == []
    assert opened["dialogs"] == []  # the <script>alert(1)</script> reasoning never ran


def test_nothing_leaves_the_machine(opened: dict):
    assert opened["requests"], "the page itself should have been requested"
    remote = [url for url in opened["requests"] if not url.startswith(LOCAL_SCHEMES)]
    assert remote == []
    assert opened["blocked"] == []


def test_battle_viewer_switches_battles(opened: dict):
    page = opened["page"]
    articles = page.locator("article.battle")
    assert articles.count() >= 3
    assert page.locator("article.battle:visible").count() == 1
    assert articles.first.is_visible()
    page.select_option("#battle-select", "1")
    assert page.locator("article.battle:visible").count() == 1
    assert articles.nth(1).is_visible() and not articles.first.is_visible()
    page.select_option("#battle-select", str(articles.count() - 1))
    assert "Replay not available" in page.locator("article.battle:visible").inner_text()


def test_reasoning_shows_as_text(opened: dict):
    cells = opened["page"].locator("td.reasoning", has_text="<script>alert(1)</script>")
    assert cells.count() >= 1


def test_language_model_section(opened: dict):
    section = opened["page"].locator("section#llm")
    assert section.is_visible()
    text = section.inner_text()
    assert "llm:mini-2024" in text and '{"temperature": 0.2}' in text
    assert "timeout after 10.0s" in text
    assert section.locator("#chart-tokens svg.main-svg").count() >= 1


def plots(seen: dict) -> list[dict]:
    return seen["page"].evaluate(PLOTS)


def overlap(a: dict, b: dict) -> bool:
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


@pytest.mark.parametrize("which", ["opened", "opened_file_mode", "opened_tournament"])
def test_no_chart_is_empty(which: str, request: pytest.FixtureRequest):
    """Every plot has a trace with data points, and no "nothing to draw" note."""
    found = plots(request.getfixturevalue(which))
    expected = TOURNAMENT_CHARTS if which == "opened_tournament" else EXPECTED_CHARTS
    assert [p["id"] for p in found] == [f"chart-{key}" for key in expected]
    for p in found:
        assert any(n > 0 for n in p["points"]), p
        assert p["notes"] == 0 or p["id"] == "chart-win-rate", p  # its only note: none


@pytest.mark.parametrize("which", ["opened", "opened_tournament"])
def test_titles_are_clear_of_the_mode_bar(which: str, request: pytest.FixtureRequest):
    page = request.getfixturevalue(which)["page"]
    page.locator(".js-plotly-plot").first.hover()  # the mode bar shows on hover
    for p in plots(request.getfixturevalue(which)):
        assert p["title"] and p["modebar"], p
        assert p["modebar"]["right"] - p["modebar"]["left"] > 50, p  # laid out, not hidden
        assert not overlap(p["title"], p["modebar"]), p


def test_file_mode_loads_the_shared_plotly_js(opened_file_mode: dict):
    requests = opened_file_mode["requests"]
    assert any(url.endswith("/" + plotly_js_filename()) for url in requests), requests
    assert [url for url in requests if not url.startswith("file:")] == []
    assert opened_file_mode["blocked"] == []
    errors = [text for kind, text in opened_file_mode["console"] if kind == "error"]
    assert errors == [] and opened_file_mode["errors"] == []


def test_tournament_page_is_clean(opened_tournament: dict):
    errors = [text for kind, text in opened_tournament["console"] if kind == "error"]
    assert errors == [] and opened_tournament["errors"] == []
    assert opened_tournament["blocked"] == []


def test_pair_dots_are_coloured(opened_tournament: dict):
    """Each battle link of the pairs table, and the note that explains them, shows a
    colored dot: blue a win of the pair's first agent, orange a loss."""
    page = opened_tournament["page"]
    colours = page.evaluate(
        "() => [...document.querySelectorAll('#pairs .dot')]"
        ".map(d => [d.className, getComputedStyle(d).backgroundColor,"
        " d.getBoundingClientRect().width])"
    )
    links = page.locator("#pairs .battle-link .dot").count()
    assert links == 6 and len(colours) == links + 4  # the note shows all four kinds
    seen = {cls: colour for cls, colour, _ in colours}
    assert seen["dot won"] == "rgb(31, 119, 180)" and seen["dot lost"] == "rgb(255, 127, 14)"
    assert seen["dot draw"] == "rgb(158, 158, 158)"
    assert all(width > 4 for _, _, width in colours)

"""Open the leaderboard across runs (`python -m viz leaderboard`) in headless Chromium: one
section per format, every chart drawn with data, the GXE column, no errors, no network.

The system Chromium and the guarded pages come from conftest.py: skipped with a reason
where Chromium or playwright is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from battle.record import AgentSpec
from tests.browser.conftest import LOCAL_SCHEMES
from tests.unit.viz.test_leaderboard import EVIL, mb, spec, tournament_battles, write_run
from viz.leaderboard import rate_pool, read_pool, write_leaderboard
from viz.report import plotly_js_filename

FORMATS = ["gen4ou", "gen9randombattle"]  # in the order first played
# per format: the rating chart and the head-to-head heatmap
CHARTS = [f"{kind}-{i}" for i in range(len(FORMATS)) for kind in ("ratings", "head-to-head")]
# each plot's id and its traces' data points
PLOTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(d => {
  const points = t => ['x', 'y', 'z'].reduce((n, k) => n + (t[k] ? t[k].length : 0), 0);
  return {id: d.id, points: d.data.map(points), notes: (d.layout.annotations || []).length,
          svg: d.querySelectorAll('svg.main-svg').length,
          width: d.getBoundingClientRect().width, height: d.getBoundingClientRect().height};
})"""

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run records of two formats: a gen9randombattle tournament and match, a gen4ou match
    (its p2 named with markup, to check it is shown as text)."""
    folder = tmp_path_factory.mktemp("runs")
    t = spec("t1", "gen9randombattle", agents=["random", "heuristic", "max-damage"])
    write_run(folder, t, tournament_battles("t"))
    m = spec("m1", "gen9randombattle", p1=AgentSpec("heuristic", "heuristic"),
             p2=AgentSpec("search:300", "search:300"), started_at=200.0)  # fmt: skip
    write_run(folder, m, [mb(f"m-{i}", w) for i, w in enumerate(["p2", "p1", "draw", "p2"])])
    ou = spec("o1", "gen4ou", p1=AgentSpec("heuristic", "heuristic"),
              p2=AgentSpec(EVIL, EVIL), started_at=50.0)  # fmt: skip
    write_run(folder, ou, [mb(f"o-{i}", "p1" if i < 4 else "p2") for i in range(6)])
    return folder


@pytest.fixture(scope="module", params=["inline", "file"])
def opened(request: pytest.FixtureRequest, open_local, runs: Path,
           tmp_path_factory: pytest.TempPathFactory) -> dict:  # fmt: skip
    """The leaderboard of `runs`, written with plotly.js inline and, beside it, as a file."""
    pool = rate_pool(read_pool(runs), resamples=200, seed=1)
    out = tmp_path_factory.mktemp(f"lb-{request.param}") / "leaderboard.html"
    seen = open_local(write_leaderboard(pool, out, plotly_js=request.param), charts=len(CHARTS))
    seen["mode"] = request.param
    return seen


def test_no_errors_and_nothing_leaves_the_machine(opened: dict):
    errors = [text for kind, text in opened["console"] if kind == "error"]
    assert errors == [] and opened["errors"] == []
    assert opened["dialogs"] == []  # the <script> in an agent's name never ran
    remote = [url for url in opened["requests"] if not url.startswith(LOCAL_SCHEMES)]
    assert remote == [] and opened["blocked"] == []
    shared = [url for url in opened["requests"] if url.endswith("/" + plotly_js_filename())]
    assert len(shared) == (1 if opened["mode"] == "file" else 0), opened["requests"]


def test_one_section_per_format(opened: dict):
    page = opened["page"]
    sections = page.locator("section.format")
    assert sections.count() == len(FORMATS)
    assert [sections.nth(i).locator("h2").inner_text() for i in range(len(FORMATS))] == FORMATS
    for i in range(len(FORMATS)):  # each section has its ranking and its two charts
        section = page.locator(f"section#format-{i}")
        assert section.is_visible()
        assert section.locator("table.leaderboard").count() == 1
        assert section.locator(".js-plotly-plot").count() == 2
    assert EVIL in page.locator("section#format-0 table.leaderboard").inner_text()


def test_every_chart_is_drawn_with_data(opened: dict):
    found = opened["page"].evaluate(PLOTS)
    assert [p["id"] for p in found] == [f"chart-{key}" for key in CHARTS]
    for p in found:
        assert p["svg"] >= 1 and p["width"] > 100 and p["height"] > 100, p
        assert any(n > 0 for n in p["points"]), p
        assert p["notes"] == 0 or p["id"].startswith("chart-head-to-head"), p


def test_the_gxe_column_is_there(opened: dict):
    page = opened["page"]
    for i in range(len(FORMATS)):
        table = page.locator(f"section#format-{i} table.leaderboard")
        headers = table.locator("thead th").all_inner_texts()
        assert "GXE" in headers, headers
        column = headers.index("GXE")
        rows = table.locator("tbody tr")
        assert rows.count() >= 2
        for r in range(rows.count()):
            cell = rows.nth(r).locator("th, td").nth(column).inner_text()
            assert cell.endswith("%") and 0 < float(cell[:-1]) < 100, (headers, cell)

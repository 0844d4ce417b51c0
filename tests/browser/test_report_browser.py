"""Open a generated report in headless Chromium: charts drawn, no errors, no network.

Uses the system Chromium (/usr/bin/chromium), never a downloaded browser; skipped with a
reason where it is not installed. Runs playwright's sync API in a plain (not async) test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from battle.record import load_record
from viz import write_report
from viz.charts import charts_for

CHROMIUM = Path("/usr/bin/chromium")
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "viz" / "vizfixture.json"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
# the charts this page should have: the fixture's p1 is a language model, so its
# "Language-model sides" section adds the tokens chart to the general ones
EXPECTED_CHARTS = [chart.key for chart in charts_for(load_record(FIXTURE))]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The report, opened once: the page plus everything it tried to do."""
    sync_api = pytest.importorskip("playwright.sync_api")
    report = write_report(FIXTURE, tmp_path_factory.mktemp("report") / "report.html")
    seen: dict = {"requests": [], "blocked": [], "console": [], "errors": [], "dialogs": []}
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1300, "height": 900})

            def guard(route) -> None:  # nothing may leave the machine, even by mistake
                if route.request.url.startswith(LOCAL_SCHEMES):
                    route.continue_()
                else:
                    seen["blocked"].append(route.request.url)
                    route.abort()

            context.route("**/*", guard)
            page = context.new_page()
            page.on("request", lambda r: seen["requests"].append(r.url))
            page.on("console", lambda m: seen["console"].append((m.type, m.text)))
            page.on("pageerror", lambda e: seen["errors"].append(str(e)))
            page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
            page.goto(report.resolve().as_uri(), wait_until="load")
            page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n",
                arg=len(EXPECTED_CHARTS),
                timeout=30_000,
            )
            seen["page"] = page
            yield seen
        finally:
            browser.close()


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

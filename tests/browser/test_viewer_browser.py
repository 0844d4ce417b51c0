"""The battle viewer in headless Chromium: the board of each turn, the slider and the
arrow keys, the decisions of the turn, a team preview, and no errors.

The system Chromium and the guarded pages come from conftest.py: skipped with a reason
where Chromium or playwright is not installed. Nothing may leave the machine: every
request that is not local is aborted and counted.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from battle.record import load_record
from tests.browser.conftest import LOCAL_SCHEMES, new_seen
from viz import render_report, write_report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "viz"
FIXTURE = FIXTURES / "vizfixture.json"
TEAM_LOG = "battle-gen9ou-958c701.log"  # a gen9ou log, with a team preview
VISIBLE = "article.battle:not([hidden])"

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def browser(open_local, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`open(path)` gives a fresh page; what every page of the module did is gathered here."""
    seen = new_seen()
    seen["open"] = lambda path, fragment="": open_local(path, fragment, seen=seen)["page"]
    seen["tmp"] = tmp_path_factory.mktemp("viewer")
    return seen


@pytest.fixture(scope="module")
def report(browser: dict) -> Path:
    return write_report(FIXTURE, browser["tmp"] / "report.html")


def label(page) -> str:
    return page.locator(f"{VISIBLE} .turn-label").inner_text()


def board_text(page) -> str:
    return page.locator(f"{VISIBLE} .board").inner_text()


def test_board_slider_and_arrow_keys(browser: dict, report: Path):
    page = browser["open"](report)
    article = page.locator(VISIBLE)
    assert article.get_attribute("data-index") == "0"
    board = article.locator(".board")
    assert board.is_visible()
    # both teams: the active pair highlighted, HP bars drawn with a width
    assert article.locator(".side-p1 .mon.active, .side-p2 .mon.active").count() == 2
    # each side is named by its agent; the Showdown username is only a tooltip
    heading = article.locator(".side-p2 h4")
    assert heading.inner_text() == "p2 · random"
    assert heading.get_attribute("title", timeout=1000).startswith("Showdown user: ")
    fills = article.locator(".hpbar .hp-fill")
    assert fills.count() >= 2
    box = fills.first.bounding_box()
    assert box is not None and box["width"] > 10 and box["height"] > 0
    assert article.locator(".mon.unknown").count() == 10  # 5 unrevealed a side
    assert label(page) == "Leads"
    assert "Sandstorm" in board_text(page)

    slider = article.locator(".turn-slider")
    slider.fill("4")
    assert label(page) == "Turn 4"
    text = board_text(page)
    assert "Lunala" in text and "fainted" in text and "Stealth Rock" in text
    events = article.locator(".event-list").inner_text()
    assert "Lunala (p2) fainted" in events
    decisions = article.locator(".turn-decisions .decision")
    assert decisions.count() == 3  # p1's move, p2's switch and the switch after the faint
    assert "switch grumpig" in article.locator(".turn-decisions").inner_text()

    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("ArrowRight")
    assert label(page) == "Turn 5"
    assert slider.input_value() == "5"
    assert board_text(page) != text
    assert "Darkrai" in board_text(page)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert label(page) == "Turn 3"
    article.locator(".step-next").click()
    assert label(page) == "Turn 4"

    # the last turn names the winner
    slider.fill(slider.get_attribute("max") or "0")
    assert "vizrec1 (p1) won" in article.locator(".event-list").inner_text()

    shot = browser["tmp"] / "viewer.png"
    page.locator("#battles").screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    page.close()


def test_reasoning_in_the_viewer_is_text(browser: dict, report: Path):
    page = browser["open"](report)
    article = page.locator(VISIBLE)
    slider = article.locator(".turn-slider")
    found = False
    for step in range(int(slider.get_attribute("max") or "0") + 1):
        slider.fill(str(step))
        panel = article.locator(".turn-decisions").inner_text()
        if "<script>alert(1)</script>" in panel:
            found = True
            break
    assert found, "the fixture's <script> reasoning should show as text in some turn"
    assert page.locator("script:not([src])").evaluate_all(
        "nodes => nodes.every(n => !n.textContent.includes('alert(1)</script>'))"
    )
    page.close()


def test_other_battles_and_links(browser: dict, report: Path):
    page = browser["open"](report, "#battle-1")
    article = page.locator(VISIBLE)
    assert article.get_attribute("data-index") == "1"
    assert article.locator(".board .hpbar").count() >= 2
    page.select_option("#battle-select", "4")  # its replay file is missing
    article = page.locator(VISIBLE)
    assert "Replay not available" in article.inner_text()
    assert article.locator(".turn-slider").count() == 0
    page.keyboard.press("ArrowRight")  # nothing to step through: no error
    page.close()


def test_team_preview(browser: dict):
    record = load_record(FIXTURE)
    battles = list(record.battles)
    battles[0] = dataclasses.replace(battles[0], replay=TEAM_LOG)
    page_text = render_report(dataclasses.replace(record, battles=battles), FIXTURES)
    path = browser["tmp"] / "teams.html"
    path.write_text(page_text, encoding="utf-8")
    page = browser["open"](path)
    article = page.locator(VISIBLE)
    assert label(page) == "Team preview"
    assert article.locator(".mon").count() == 12
    assert article.locator(".mon.unknown").count() == 0
    assert article.locator(".hpbar.hp-unseen").count() == 12
    assert "Garganacl" in board_text(page) and "Ting-Lu" in board_text(page)
    assert article.locator(".type-ground").count() >= 2  # coloured type badges
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("ArrowRight")
    assert label(page) == "Leads"
    assert article.locator(".mon.active").count() == 2
    assert article.locator(".hpbar.hp-unseen").count() == 10
    page.close()


def test_no_errors_and_nothing_leaves_the_machine(browser: dict, report: Path):
    # runs last: what every page of this module did
    page = browser["open"](report)
    page.close()
    errors = [text for kind, text in browser["console"] if kind == "error"]
    assert errors == []
    assert browser["errors"] == []
    remote = [url for url in browser["requests"] if not url.startswith(LOCAL_SCHEMES)]
    assert remote == [] and browser["blocked"] == []

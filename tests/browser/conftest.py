"""One headless Chromium for every browser test, and pages opened under a guard.

Uses the system Chromium (/usr/bin/chromium), never a downloaded browser; the tests that
need it are skipped with a reason where it or playwright is not installed. Playwright's
sync API runs in plain (not async) tests.

The browser is started once for the whole folder and stopped as the last browser test
ends: package scope, not session scope, because while playwright's sync API is alive the
main thread counts as running its event loop, and every later asyncio test (the
integration tests, pytest-asyncio's loop) would fail with "another loop is running".

`open_local(path)` opens a local file in a fresh context in which nothing may leave the
machine: a request that is not local is aborted and recorded. It returns the page plus
everything it tried to do: requests, blocked, console, errors, dialogs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
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
VIEWPORT = {"width": 1300, "height": 900}
CHARTS_DRAWN = "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n"


def new_seen() -> dict:
    """What pages did: each request, each blocked (non-local) request, console messages
    as (type, text), uncaught errors and dialog messages."""
    return {"requests": [], "blocked": [], "console": [], "errors": [], "dialogs": []}


@pytest.fixture(scope="package")
def chromium() -> Iterator[object]:
    """The system Chromium, headless, launched once for all browser tests."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def open_local(chromium) -> Iterator[Callable[..., dict]]:
    """`open_local(path, fragment="", charts=0, seen=None)`: open the local file `path`
    (plus `fragment`, e.g. "#battle-1") in a fresh context, and wait until `charts`
    plotly charts are drawn. Returns `seen` (a new one by default; pass one to gather what
    several pages did) with the page under "page". The module's contexts close after it."""
    contexts: list = []

    def open_page(path: Path, fragment: str = "", charts: int = 0, seen: dict | None = None):
        seen = new_seen() if seen is None else seen
        context = chromium.new_context(viewport=VIEWPORT)
        contexts.append(context)

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
        page.goto(path.resolve().as_uri() + fragment, wait_until="load")
        if charts:
            page.wait_for_function(CHARTS_DRAWN, arg=charts, timeout=30_000)
        seen["page"] = page
        return seen

    yield open_page
    for context in contexts:
        context.close()

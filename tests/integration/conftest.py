"""Integration tests play real battles on the real bundled Showdown server.

The server is started once per test session (installed with `npm ci` first if needed)
on a free port, and its whole process group is stopped at the end.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from arena import server as showdown


@pytest.fixture(scope="session", autouse=True)
def _installed(bundled_showdown: None) -> None:
    """Every integration test (server or simulator engine) needs the bundled package."""


@pytest.fixture(scope="session")
def showdown_server() -> Iterator[showdown.ShowdownServer]:
    server = showdown.start_bundled()
    try:
        yield server
    finally:
        server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)

"""Shared pytest setup.

`uv sync` installs the project in editable mode (for its agents' entry points); make the
repo root (for `agents`, `arena`, `viz`...) and `tests/` (for helper modules such as
`fixture_battles`) importable from every test folder all the same.
"""

import logging
import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent
for _path in (_TESTS.parent, _TESTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


@pytest.fixture(autouse=True)
def logging_as_it_was():
    """The CLIs (main.py, training.train, the finetune scripts) install their own root
    handler and, as main.py exits, silence logging process-wide (`logging.disable`): right
    for a process about to end, but a test that runs one in-process must not pass either
    on. Pytest's handlers, the root level and logging itself are put back after each test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.disable(logging.NOTSET)


@pytest.fixture(scope="module")
def torch_one_thread():
    """Tiny tensors gain nothing from threads, and a busy second core stalls them."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def bundled_showdown() -> None:
    """The bundled Showdown package (`npm ci` on first use): server, simulator, validator.

    Tests that run node against it ask for this fixture, so on a fresh clone they install
    the package instead of skipping, whichever of them runs first."""
    from arena import server as showdown

    if not showdown.is_installed():
        showdown.install()


# Tests that start node, a server or another process, or train a real model for seconds:
# `uv run pytest -m "not slow"` leaves them out for a quick loop (the README's test
# command runs everything). Integration and browser tests, and tests that use the bundled
# Showdown package, are slow by their fixtures; others say so with @pytest.mark.slow.
_SLOW_FOLDERS = ("integration", "browser")
_SLOW_FIXTURES = {"bundled_showdown", "showdown_server"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.fspath)).parent.name
        if folder in _SLOW_FOLDERS or _SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)

"""Shared pytest setup.

The project is not an installed package (`[tool.uv] package = false`), so make the repo
root (for `agents`, `arena`, `viz`...) and `tests/` (for helper modules such as
`fixture_battles`) importable from every test folder.
"""

import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent
for _path in (_TESTS.parent, _TESTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


@pytest.fixture(scope="module")
def torch_one_thread():
    """Tiny tensors gain nothing from threads, and a busy second core stalls them."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

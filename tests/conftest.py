"""Shared pytest setup.

The project is not an installed package (`[tool.uv] package = false`), so make the repo
root (for `agents`, `arena`, `viz`...) and `tests/` (for helper modules such as
`fixture_battles`) importable from every test folder.
"""

import sys
from pathlib import Path

_TESTS = Path(__file__).resolve().parent
for _path in (_TESTS.parent, _TESTS):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

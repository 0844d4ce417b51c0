"""What the finetune scripts (`python -m finetune.dataset`, `finetune.scraper`,
`finetune.train`, `finetune.evaluate`) share at their command-line edge: `config_from_args`
fills a config dataclass from the parsed flags of the same names (a flag the script names
differently passed by keyword), and `fail` prints bad input or a failure as one `error:`
line on stderr (whitespace, newlines included, collapsed to single spaces) and returns the
exit status to end with, 2 for bad input unless told.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any, TypeVar

C = TypeVar("C")


def config_from_args(cls: type[C], args: argparse.Namespace, **values: Any) -> C:
    """`cls(...)` with every init field that `args` has by its name, then `values`; the
    fields `args` lacks keep their defaults."""
    fields = [f.name for f in dataclasses.fields(cls) if f.init]
    found = {name: getattr(args, name) for name in fields if hasattr(args, name)}
    return cls(**{**found, **values})


def fail(message: object, code: int = 2) -> int:
    print(f"error: {' '.join(str(message).split())}", file=sys.stderr)
    return code

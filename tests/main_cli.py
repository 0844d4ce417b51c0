"""Running main.py as a user does, for the tests that play whole runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_main(
    tmp_path: Path, *args: str, cwd: Path = REPO, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`python main.py ARGS` with its runs and reports under `tmp_path`, quietly."""
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), "--log-level", "WARNING",
         "--output", str(tmp_path / "runs"), "--reports", str(tmp_path / "reports"), *args],
        cwd=cwd, capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def played(tmp_path: Path, *args: str, cwd: Path = REPO, timeout: float = 300) -> Path:
    """`run_main`, which must succeed; the path of the run record it wrote."""
    result = run_main(tmp_path, *args, cwd=cwd, timeout=timeout)
    assert result.returncode == 0, result.stderr
    (record,) = (tmp_path / "runs").glob("*.json")
    return record

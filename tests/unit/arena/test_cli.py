"""main.py's answers to bad input: one line, a non-zero exit, no traceback, no server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each test runs main.py as a process

REPO = Path(__file__).resolve().parents[3]


def test_bad_input_is_one_line_and_nonzero(tmp_path):
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(bytes(range(256)) * 4)
    cases = [
        (["--p1", "heuristc"], "did you mean 'heuristic'"),
        (["--format", "gen5ou"], "needs teams"),
        (["--format", "gen9randomdoublesbattle"], "singles"),
        (["--n", "0"], "--n must be at least 1"),
        (["--resume", str(tmp_path / "nope.json")], "cannot resume"),
        (["--battle-timeout", "-5"], "--battle-timeout must be more than 0 seconds"),
        (["--battle-timeout", "0"], "--battle-timeout must be more than 0 seconds"),
        (["--decision-timeout", "0"], "--decision-timeout must be more than 0 seconds"),
        (["--resume", str(garbage)], f"{garbage} is not a text file"),
    ]
    for args, expected in cases:
        result = subprocess.run(
            [sys.executable, "main.py", "--output", str(tmp_path), *args],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_move_delay_needs_the_server_engine(tmp_path):
    result = subprocess.run(
        [sys.executable, "main.py", "--engine", "sim", "--move-delay", "1",
         "--output", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "needs a server" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_missing_mistral_key_is_one_line_before_anything_starts(tmp_path):
    # Set but empty: a developer's .env cannot fill it in (dotenv never overrides).
    env = {**os.environ, "MISTRAL_API_KEY": ""}
    result = subprocess.run(
        [sys.executable, "main.py", "--p1", "mistral-large", "--output", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "MISTRAL_API_KEY" in lines[0], result.stderr
    assert not list(tmp_path.iterdir())  # nothing was started or written

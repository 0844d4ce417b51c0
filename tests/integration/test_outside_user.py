"""`user:NAME`: the arena plays a bot it does not run, a separate program logged in to the
bundled server (tests/outside_bot.py), and says in one line why it could not."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from battle.record import load_record
from tests.main_cli import REPO, run_main

BOT = REPO / "tests" / "outside_bot.py"


@pytest.fixture(scope="module")
def bots(showdown_server) -> Iterator[dict[str, str]]:
    """Three bots on the server, one per mode, started side by side: mode -> username.
    The accepting one pauses 3 s between battles and loses the challenges that arrive
    meanwhile, as bots in the wild do."""
    names = {"accept": "OutsideAccepts", "ignore": "OutsideIgnores", "reject": "OutsideRejects"}
    procs = {mode: _start_bot(showdown_server.url, name, mode) for mode, name in names.items()}
    try:
        for mode, proc in procs.items():
            assert proc.stdout is not None
            line = proc.stdout.readline()  # blocks until the bot logged in (or died)
            assert line.strip() == "ready", f"the {mode} bot did not log in: {line!r}"
        yield names
    finally:
        for proc in procs.values():
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)


def _start_bot(url: str, name: str, mode: str) -> subprocess.Popen[str]:
    command = [sys.executable, str(BOT), "--server", url, "--name", name, "--mode", mode]
    return subprocess.Popen(
        [*command, "--pause", "3"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _record(tmp_path: Path):
    (path,) = (tmp_path / "runs").glob("*.json")
    return load_record(path)


def test_plays_a_bot_that_accepts_one_challenge_at_a_time(showdown_server, bots, tmp_path):
    result = run_main(
        tmp_path, "--server", showdown_server.url, "--p1", "heuristic",
        "--p2", f"user:{bots['accept']}", "--n", "3", "--concurrency", "2",
        "--challenge-timeout", "60", timeout=240,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = _record(tmp_path)
    assert len(record.battles) == 3
    assert all(b.winner in ("p1", "p2", "draw") and b.error is None for b in record.battles)
    assert record.spec.p2.given == f"user:{bots['accept']}"
    assert record.spec.challenge_timeout_s == 60
    for battle in record.battles:
        replay = (tmp_path / "runs" / battle.replay).read_text()
        assert f"|player|p2|{bots['accept']}|" in replay  # the outside bot played p2
        mine = [d for d in record.decisions if d.battle_tag == battle.battle_tag]
        theirs = [d for d in mine if d.side == "p2"]
        assert theirs and all(d.source == "log" and d.latency_ms is None for d in theirs)
        assert all(d.action.startswith(("move ", "switch ")) for d in theirs)
        ours = [d for d in mine if d.side == "p1"]
        assert ours and all(d.source is None and d.latency_ms is not None for d in ours)
    assert record.summary.sides["p2"].latency_p50_ms is None  # not the arena's to time
    assert record.summary.sides["p2"].fallback_rate is None


def test_a_user_not_on_the_server_is_one_line(showdown_server, tmp_path):
    result = run_main(
        tmp_path, "--server", showdown_server.url, "--p1", "random", "--p2", "user:NobodyHere",
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert "user NobodyHere is not on the server" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not list((tmp_path / "runs").glob("*.json*"))  # nothing played, nothing left


def test_a_bot_that_never_answers_times_out(showdown_server, bots, tmp_path):
    start = time.monotonic()
    result = run_main(
        tmp_path, "--server", showdown_server.url, "--p1", "random",
        "--p2", f"user:{bots['ignore']}", "--challenge-timeout", "4", timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"user {bots['ignore']} did not answer a challenge within 4s" in result.stderr
    assert "--challenge-timeout" in result.stderr and "Traceback" not in result.stderr
    assert time.monotonic() - start < 60


def test_a_bot_that_rejects_is_one_line(showdown_server, bots, tmp_path):
    result = run_main(
        tmp_path, "--server", showdown_server.url, "--p1", "random",
        "--p2", f"user:{bots['reject']}", "--challenge-timeout", "30", timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"user {bots['reject']} rejected the challenge" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_sim_engine_cannot_play_a_user(tmp_path):
    result = run_main(tmp_path, "--engine", "sim", "--p1", "random", "--p2", "user:SomeBot")
    assert result.returncode == 2
    assert "needs the server engine" in result.stderr and "Traceback" not in result.stderr

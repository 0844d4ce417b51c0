"""main.py as a user runs it: interrupted, resumed, and with a server that dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arena import server as showdown
from battle.record import load_record

REPO = Path(__file__).resolve().parents[2]


def start_main(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "main.py", "--output", str(tmp_path / "runs"),
         "--reports", str(tmp_path / "reports"), "--log-level", "WARNING", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def journaled_battles(tmp_path: Path) -> int:
    journals = list((tmp_path / "runs").glob("*.jsonl"))
    if not journals:
        return 0
    return sum('"type":"battle"' in line for line in journals[0].read_text().splitlines())


def wait_for_battles(tmp_path: Path, proc: subprocess.Popen[str], count: int, timeout: float):
    deadline = time.monotonic() + timeout
    while journaled_battles(tmp_path) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no battle was journaled in time"
        time.sleep(0.1)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_keeps_battles_and_resume_finishes_it(showdown_server, tmp_path, stop):
    n = 12
    proc = start_main(
        tmp_path, "--p1", "random", "--p2", "max-damage", "--n", str(n),
        "--concurrency", "1", "--server", showdown_server.url,
    )  # fmt: skip
    wait_for_battles(tmp_path, proc, 1, timeout=60)
    proc.send_signal(stop)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err, err
    assert "--resume" in out

    record_path = next((tmp_path / "runs").glob("*.json"))
    kept = load_record(record_path)
    assert 1 <= len(kept.battles) < n
    assert kept.spec.finished_at is None
    assert (tmp_path / "reports" / f"{kept.spec.run_id}.html").exists()

    resumed = subprocess.run(
        [sys.executable, "main.py", "--resume", str(record_path), "--server",
         showdown_server.url, "--reports", str(tmp_path / "reports"), "--log-level", "WARNING"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    final = load_record(record_path)
    assert len(final.battles) == n
    assert len({b.battle_tag for b in final.battles}) == n
    # The battles from before the interruption are still there, unchanged.
    assert final.battles[: len(kept.battles)] == kept.battles
    assert {b.session for b in final.battles} == {0, 1}
    assert final.spec.finished_at is not None
    assert final.spec.started_at == kept.spec.started_at
    assert len(list((tmp_path / "runs").glob("*.json"))) == 1  # one record for the run
    journal = record_path.with_suffix(".jsonl").read_text().splitlines()
    assert sum(json.loads(line)["type"] == "spec" for line in journal) == 2


def test_killed_server_is_a_clear_error_and_keeps_finished_battles(tmp_path):
    server = showdown.start_bundled(simulators=1)
    try:
        proc = start_main(
            tmp_path, "--p1", "random", "--p2", "random", "--n", "200",
            "--concurrency", "2", "--server", server.url,
        )  # fmt: skip
        wait_for_battles(tmp_path, proc, 2, timeout=60)
    finally:
        server.stop()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in err and "Traceback" not in out, err
    error_lines = [line for line in err.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and "stopped answering" in err, err
    record = load_record(next((tmp_path / "runs").glob("*.json")))
    assert len(record.battles) >= 2
    assert all(b.winner is not None for b in record.battles)


def test_move_delay_prints_where_to_watch(showdown_server, tmp_path):
    result = subprocess.run(
        [sys.executable, "main.py", "--n", "1", "--move-delay", "0.01", "--server",
         showdown_server.url, "--output", str(tmp_path / "runs"),
         "--reports", str(tmp_path / "reports"), "--log-level", "WARNING"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())  # rich may wrap long lines
    assert f"Watch live: open {showdown.http_url(showdown_server.url)}" in out
    room = f"battle room: {showdown.http_url(showdown_server.url)}battle-gen9randombattle-"
    assert room in out
    record = load_record(next((tmp_path / "runs").glob("*.json")))
    assert record.spec.concurrency == 1 and record.spec.move_delay == 0.01


def test_starts_the_bundled_server_when_none_answers_and_stops_it(tmp_path):
    url = showdown.websocket_url("127.0.0.1", showdown.free_port())
    base = [sys.executable, "main.py", "--n", "1", "--server", url, "--output",
            str(tmp_path / "runs"), "--reports", str(tmp_path / "reports")]  # fmt: skip
    result = subprocess.run(base, cwd=REPO, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert not showdown.answers(url)  # stopped with the run

    kept = subprocess.run([*base, "--keep-server"], cwd=REPO, capture_output=True,
                          text=True, timeout=180)  # fmt: skip
    assert kept.returncode == 0, kept.stderr
    out = " ".join(kept.stdout.split())
    pgid = int(out.split("kill -- -")[1].split("`")[0])
    try:
        assert showdown.answers(url)
    finally:
        os.killpg(pgid, signal.SIGTERM)

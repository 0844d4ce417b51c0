"""The bundled server's keeper: leases held by live processes, stale ones dropped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from arena import server as showdown
from arena import watchdog

pytestmark = pytest.mark.slow  # the tests start and end processes


def test_a_live_process_holds_its_lease_and_a_dead_one_does_not(tmp_path: Path):
    leases = tmp_path / "leases"
    mine = watchdog.take_lease(leases)
    assert mine.name == str(os.getpid()) and watchdog.holders(leases) == [mine.name]
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    dead = watchdog.take_lease(leases, gone.pid)
    gone.wait()
    assert watchdog.holders(leases) == [mine.name]
    assert not dead.exists()  # a stale lease is removed


def test_a_reused_pid_is_not_taken_for_the_process_that_held_the_lease(tmp_path: Path):
    leases = tmp_path / "leases"
    lease = watchdog.take_lease(leases)
    lease.write_text("1")  # this PID, but a process started at another time
    assert watchdog.holders(leases) == []


def test_keep_is_held_for_good_and_other_files_are_ignored(tmp_path: Path):
    leases = tmp_path / "leases"
    leases.mkdir()
    (leases / watchdog.KEEP).write_text("")
    (leases / "notes.txt").write_text("x")
    assert watchdog.holders(leases) == [watchdog.KEEP]
    assert watchdog.holders(tmp_path / "none") == []


def test_the_watchdog_ends_its_command_when_the_last_lease_holder_dies(tmp_path: Path):
    """The watchdog process leads its own group: when its only lease holder (a process
    killed without a word) is gone, it stops the command it runs."""
    leases = tmp_path / "leases"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    watchdog.take_lease(leases, holder.pid)
    proc = subprocess.Popen(
        [sys.executable, watchdog.__file__, str(leases), "--", sys.executable, "-c",
         "import time; time.sleep(60)"],
        start_new_session=True, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(1.0)
    assert proc.poll() is None  # the holder lives: the command runs on
    holder.kill()
    holder.wait()
    out, _ = proc.communicate(timeout=15)
    assert "no arena uses the server any more" in out
    try:
        os.killpg(proc.pid, 0)
        group_left = True
    except ProcessLookupError:
        group_left = False
    assert not group_left  # the command went with it


def test_info_url_next_to_the_websocket():
    assert showdown.info_url("ws://127.0.0.1:8000/showdown/websocket") == (
        "http://127.0.0.1:8000/showdown/info"
    )
    assert showdown.info_url("wss://sim3.psim.us/showdown/websocket") == (
        "https://sim3.psim.us/showdown/info"
    )

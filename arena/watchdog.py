"""The bundled server's keeper: it runs the server and ends it with its last user.

    python -m arena.watchdog LEASES -- node pokemon-showdown start ... PORT

The arena starts the bundled Showdown server through this small process: it leads the
server's process group, runs the server as its child, and every half second looks at the
lease folder `LEASES`. Each arena process that uses the server holds one lease there (a
file named after its PID, holding the process's start time, so a PID reused by another
program is not taken for it); `keep` is a lease nobody ends (`--keep-server`). When no
lease is held by a live process any more, however its holders ended (a normal exit,
Ctrl-C, kill -9, power to the terminal cut), the watchdog stops the whole group: TERM,
then KILL. The server therefore outlives no run that uses it and no run that used it.

A TERM sent to the group (`ShowdownServer.stop`) ends the watchdog with the server.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

POLL_S = 0.5
KEEP = "keep"


def start_time(pid: int) -> str:
    """A process's start time (clock ticks since boot, Linux), "" where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # the command name (field 2) may hold spaces: the fields after it follow its ")"
    return stat.rsplit(")", 1)[1].split()[19]


def alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    return not started or start_time(pid) in ("", started)


def take_lease(leases: Path, pid: int | None = None) -> Path:
    """This process's (or `pid`'s) lease on the server of `leases`."""
    pid = os.getpid() if pid is None else pid
    leases.mkdir(parents=True, exist_ok=True)
    lease = leases / str(pid)
    lease.write_text(start_time(pid))
    return lease


def holders(leases: Path) -> list[str]:
    """The leases held by live processes (and `keep`); stale ones are removed."""
    held = []
    try:
        entries = list(leases.iterdir())
    except FileNotFoundError:
        return []
    for entry in entries:
        if entry.name == KEEP:
            held.append(KEEP)
            continue
        try:
            pid, started = int(entry.name), entry.read_text().strip()
        except (ValueError, OSError):
            continue  # not a lease (or removed meanwhile)
        if alive(pid, started):
            held.append(entry.name)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
    return held


def stop_group(child: subprocess.Popen[bytes]) -> None:
    """TERM to the group (this process ignores it), then KILL to whatever is left."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(0, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=5)
    os.killpg(0, signal.SIGKILL)  # the group's last members, this process included


def watch(leases: Path, command: list[str]) -> int:
    child = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    signal.signal(signal.SIGTERM, lambda *_: stop_group(child))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the arena, which decides
    while True:
        code = child.poll()
        if code is not None:
            return code
        if not holders(leases):
            print(f"watchdog: no arena uses the server any more ({leases}): stopping it",
                  flush=True)  # fmt: skip
            stop_group(child)
            return 0
        time.sleep(POLL_S)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m arena.watchdog LEASES -- COMMAND...", file=sys.stderr)
        return 2
    return watch(Path(argv[0]), argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The local Showdown server: reuse one that answers, or start the bundled one.

The bundled server is the npm package `pokemon-showdown`, pinned in the repo's
`package.json`/`package-lock.json` and installed with `npm ci` on first use. It runs in
its own process group (it is ~10 node processes) bound to 127.0.0.1 with
`--no-security`, led by `arena.watchdog`, which ends the group when no arena process
uses the server any more.

Every arena process that uses a bundled server holds a lease on it
(`.arena/servers/<port>/leases/<pid>`): the run that started it, and any run that found
it answering and uses it too. A run that ends gives its lease back and stops the server
only when no other live process holds one (`ShowdownServer.release`); a run that dies
without a word (kill -9) is noticed by the watchdog within a second. A server the arena
did not start (the user's own, a remote one) is never stopped.

A server answers when its SockJS endpoint (`/showdown/info`) says it speaks websocket:
something else listening on the port (a web server on 8000) is not taken for Showdown.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from arena import watchdog
from battle.files import REPO_ROOT, atomic_write_text
from battle.files import SHOWDOWN_DIR as PACKAGE_DIR

log = logging.getLogger(__name__)

STATE_DIR = REPO_ROOT / ".arena"
SERVERS_DIR = STATE_DIR / "servers"  # <port>/server.json and <port>/leases/ per bundled server
DEFAULT_SERVER = "ws://127.0.0.1:8000/showdown/websocket"
# Showdown checks logins against this address only when a password is given; the
# arena's players have none, so nothing is ever sent there.
AUTH_URL = "https://play.pokemonshowdown.com/action.php?"
START_TIMEOUT_S = 90.0  # the bundled server answers in ~5 s; a loaded machine may take longer


class ServerError(RuntimeError):
    """The Showdown server could not be found, installed, started, or it died."""


def websocket_url(host: str, port: int) -> str:
    return f"ws://{host}:{port}/showdown/websocket"


def http_url(ws_url: str) -> str:
    """The browser address of the server behind a websocket URL."""
    parsed = urlparse(ws_url)
    scheme = "https" if parsed.scheme == "wss" else "http"
    return f"{scheme}://{parsed.netloc}/"


def info_url(ws_url: str) -> str:
    """The SockJS info address next to a websocket address (/showdown/info)."""
    parsed = urlparse(ws_url)
    scheme = "https" if parsed.scheme == "wss" else "http"
    base = parsed.path.rsplit("/", 1)[0] if parsed.path.endswith("/websocket") else "/showdown"
    return f"{scheme}://{parsed.netloc}{base}/info"


def answers(ws_url: str, timeout: float = 1.0) -> bool:
    """Whether a Showdown server answers at `ws_url`: its SockJS info says websocket."""
    try:
        with urllib.request.urlopen(info_url(ws_url), timeout=timeout) as response:
            if response.status != 200:
                return False
            info = json.loads(response.read(4096))
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("websocket") is True


def showdown_version() -> str | None:
    """Version of the installed bundled server, or None when not installed."""
    try:
        return json.loads((PACKAGE_DIR / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def is_installed() -> bool:
    return (PACKAGE_DIR / "pokemon-showdown").is_file() and (PACKAGE_DIR / "dist").is_dir()


def can_install() -> bool:
    """Node and npm are on the PATH, so the bundled server can be installed."""
    return shutil.which("npm") is not None and shutil.which("node") is not None


def install() -> None:
    """`npm ci` the pinned server into the repo's node_modules (takes a few minutes)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise ServerError(
            "node and npm are needed to run the bundled Showdown server: install Node.js 20 "
            "or newer (https://nodejs.org), or pass --server with a running server's address"
        )
    log.debug("installing the bundled Showdown server with npm ci")
    result = subprocess.run(
        [npm, "ci", "--omit=optional", "--no-audit", "--no-fund"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 or not is_installed():
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ServerError(f"npm ci failed in {REPO_ROOT}: {tail[0]}")


def node_for_bundled(alternative: str = "") -> str:
    """The `node` binary, once the bundled package is installed; else a clear error."""
    node = shutil.which("node")
    if node is None:
        raise ServerError(
            "node is needed to run the bundled Showdown server: install Node.js 20 or newer "
            f"(https://nodejs.org){alternative}"
        )
    if not is_installed():
        raise ServerError("the bundled Showdown server is not installed (npm ci has not run)")
    return node


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


EMPTY_ROOM_EXPIRY_S = 5  # a finished, empty battle room closes this long after the end


def write_config(simulators: int) -> Path:
    """Create the folders the server needs and its config.js (127.0.0.1, no REPL)."""
    (PACKAGE_DIR / "logs" / "repl").mkdir(parents=True, exist_ok=True)
    (PACKAGE_DIR / "config" / "chat-plugins").mkdir(parents=True, exist_ok=True)
    config = PACKAGE_DIR / "config" / "config.js"
    text = (
        "// Written by the arena (arena/server.py) at every start; edits are overwritten.\n"
        "exports.bindaddress = '127.0.0.1';\n"
        "exports.repl = false;\n"
        "exports.nothrottle = true;\n"
        "exports.subprocesses = {\n"
        f"\tnetwork: 1, simulator: {simulators}, validator: 1, verifier: 1,\n"
        "\tlocalartemis: 1, remoteartemis: 1,\n"
        "};\n"
        "// A finished battle's room closes soon after its players leave (Showdown's own\n"
        "// default keeps an empty room 10 minutes), so a long run's memory stays flat.\n"
        "// A room someone is still in is left to Showdown's own timers.\n"
        "exports.handlers = {\n"
        "\tonBattleEnd(battle) {\n"
        "\t\tconst room = battle.room;\n"
        "\t\tsetTimeout(() => {\n"
        "\t\t\tif (Rooms.get(room.roomid) === room && !room.userCount) room.expire();\n"
        f"\t\t}}, {EMPTY_ROOM_EXPIRY_S * 1000}).unref();\n"
        "\t},\n"
        "};\n"
    )
    if not config.exists() or config.read_text() != text:
        atomic_write_text(config, text, sync=False)
    return config


def default_simulators() -> int:
    """One simulator process per core: the simulator is the arena's bottleneck."""
    return max(1, os.cpu_count() or 1)


def default_server_simulators() -> int:
    """The bundled server's simulator processes: one per core but one, which the server's
    own processes (main, sockets, validator) and the players keep busy. On 2 cores a
    second simulator cost 35% more simulator CPU per battle than one
    (`bench/throughput.py`)."""
    return max(1, (os.cpu_count() or 1) - 1)


@dataclass
class ShowdownServer:
    """A server the arena uses: found running, or started by this process (`owned`).

    A bundled server (started by this or another arena process) has a lease folder; this
    process's lease on it is `lease`."""

    url: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    simulators: int | None = None
    leases: Path | None = None
    lease: Path | None = None
    pgid: int | None = None  # the bundled server's process group (the watchdog leads it)
    _log_file: object = field(default=None, repr=False)

    @property
    def owned(self) -> bool:
        return self.process is not None

    @property
    def browser_url(self) -> str:
        return http_url(self.url)

    def alive(self) -> bool:
        """Owned server: its process is running. Found server: it still answers."""
        if self.process is not None:
            return self.process.poll() is None
        return answers(self.url)

    def release(self, keep: bool = False) -> int:
        """Give this process's lease back: with `keep`, the server stays up for good
        (`--keep-server`); else it stops when no other live process holds a lease. Returns
        how many other arena processes still use it (0 when it was stopped or is not a
        bundled server)."""
        if self.leases is None:
            return 0
        if keep:
            (self.leases / watchdog.KEEP).write_text("")
        if self.lease is not None:
            with contextlib.suppress(FileNotFoundError):
                self.lease.unlink()
            self.lease = None
        others = [h for h in watchdog.holders(self.leases) if h != watchdog.KEEP]
        if keep or others:
            if others:
                log.info("the Showdown server at %s stays up: %d other run(s) use it",
                         self.url, len(others))  # fmt: skip
            return len(others)
        self.stop()
        return 0

    def stop(self) -> None:
        """Stop the whole process group of a bundled server (TERM, then KILL)."""
        proc, group = self.process, self.pgid
        if group is None:
            return
        self.process = self.pgid = None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
                proc.wait(timeout=5)
        else:
            _wait_for_group(group, timeout=5)
        # Children that outlived the launcher are still in the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
        if self.leases is not None:
            shutil.rmtree(self.leases.parent, ignore_errors=True)
        log.info("stopped the bundled Showdown server (pgid %d)", group)

    def last_log_lines(self, n: int = 5) -> list[str]:
        if self.log_path is None or not self.log_path.exists():
            return []
        return self.log_path.read_text(errors="replace").strip().splitlines()[-n:]


def _wait_for_group(pgid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def _server_dir(port: int) -> Path:
    return SERVERS_DIR / str(port)


def _bundled_pgid(port: int) -> int | None:
    """The process group of the bundled server an arena process started on `port`, while
    it is alive (answering or not yet); else None."""
    try:
        state = json.loads((_server_dir(port) / "server.json").read_text())
        pgid = int(state["pgid"])
        os.killpg(pgid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pgid


def _managed(url: str) -> ShowdownServer | None:
    """The bundled server answering at `url`, as another arena process started it, with a
    lease taken for this process; else None."""
    port = urlparse(url).port
    pgid = None if port is None else _bundled_pgid(port)
    if port is None or pgid is None:
        return None
    leases = _server_dir(port) / "leases"
    return ShowdownServer(url=url, leases=leases, lease=watchdog.take_lease(leases), pgid=pgid)


def start_bundled(
    port: int | None = None, simulators: int | None = None, timeout: float | None = None
) -> ShowdownServer:
    """Start the installed bundled server on a free port and wait until it answers."""
    node = node_for_bundled(", or pass --server with a running server's address")
    simulators = simulators or default_server_simulators()
    timeout = START_TIMEOUT_S if timeout is None else timeout
    write_config(simulators)
    port = port or free_port()
    STATE_DIR.mkdir(exist_ok=True)
    log_path = STATE_DIR / f"showdown-{port}.log"
    folder = _server_dir(port)
    shutil.rmtree(folder, ignore_errors=True)  # a server that was on this port is gone
    leases = folder / "leases"
    lease = watchdog.take_lease(leases)  # before the watchdog looks
    log_file = open(log_path, "wb")  # noqa: SIM115 (closed by ShowdownServer.stop)
    args = [node, "pokemon-showdown", "start", "--no-security", "--skip-build", str(port)]
    proc = subprocess.Popen(
        [sys.executable, watchdog.__file__, str(leases), "--", *args],
        cwd=PACKAGE_DIR,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # own process group: stop() signals all ~10 processes
    )
    (folder / "server.json").write_text(json.dumps({"pgid": proc.pid, "port": port}))
    server = ShowdownServer(
        url=websocket_url("127.0.0.1", port),
        process=proc,
        log_path=log_path,
        simulators=simulators,
        leases=leases,
        lease=lease,
        pgid=proc.pid,
        _log_file=log_file,
    )
    log.info("starting the bundled Showdown server on port %d (pgid %d)", port, proc.pid)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                code, lines = proc.returncode, server.last_log_lines(3)
                raise ServerError(
                    f"the bundled Showdown server exited at start (code {code}): "
                    + (" | ".join(lines) or f"see {log_path}")
                )
            if answers(server.url, timeout=0.5):
                log.info("Showdown server ready at %s", server.url)
                return server
            time.sleep(0.2)
    except BaseException:  # Ctrl-C included: never leave a half-started server behind
        server.stop()
        raise
    server.stop()
    raise ServerError(
        f"the bundled Showdown server did not answer within {timeout:.0f}s: see {log_path}"
    )


def find_or_start(
    url: str = DEFAULT_SERVER, simulators: int | None = None, *, named: bool = True
) -> ShowdownServer:
    """Use the Showdown server answering at `url`; else start the bundled one (install it
    first). `named`: the user gave `url`; else it is only the default place to look.

    Only a local address can be started: for another host, a server must be running.
    Something other than Showdown listening at the default address is passed over (the
    bundled server starts on a free port); at an address the user named, it is an error.
    """
    if answers(url):
        managed = _managed(url)
        if managed is not None:
            log.info("using the bundled Showdown server another run started at %s", url)
            return managed
        log.info("using the Showdown server already running at %s", url)
        return ShowdownServer(url=url)
    parsed = urlparse(url)
    if parsed.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise ServerError(f"no Showdown server answers at {url}: start it, or leave --server out")
    port = parsed.port
    if port and _bundled_pgid(port):  # another run's bundled server, not answering yet
        log.info("waiting for the bundled Showdown server another run is starting at %s", url)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and _bundled_pgid(port):
            if answers(url, timeout=0.5):
                managed = _managed(url)
                if managed is not None:
                    return managed
            time.sleep(0.2)
    if port and not _port_free(port):
        if named:
            raise ServerError(
                f"something that is not a Showdown server listens on port {port} ({url}): "
                "stop it, pass another --server, or leave --server out"
            )
        log.warning(
            "something that is not a Showdown server listens on port %d: starting the "
            "bundled server on a free port instead",
            port,
        )
        port = None
    if not is_installed():
        install()
    return start_bundled(port=port, simulators=simulators)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As a server binds it: a port in TIME_WAIT after a previous server is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

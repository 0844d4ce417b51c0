"""The local Showdown server: reuse one that answers, or start the bundled one.

The bundled server is the npm package `pokemon-showdown`, pinned in the repo's
`package.json`/`package-lock.json` and installed with `npm ci` on first use. It runs in
its own process group (it is ~10 node processes) bound to 127.0.0.1 with
`--no-security`, and the whole group is stopped when the run ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO_ROOT / "node_modules" / "pokemon-showdown"
STATE_DIR = REPO_ROOT / ".arena"
DEFAULT_SERVER = "ws://127.0.0.1:8000/showdown/websocket"
# Showdown checks logins against this address only when a password is given; the
# arena's players have none, so nothing is ever sent there.
AUTH_URL = "https://play.pokemonshowdown.com/action.php?"


class ServerError(RuntimeError):
    """The Showdown server could not be found, installed, started, or it died."""


def websocket_url(host: str, port: int) -> str:
    return f"ws://{host}:{port}/showdown/websocket"


def http_url(ws_url: str) -> str:
    """The browser address of the server behind a websocket URL."""
    parsed = urlparse(ws_url)
    scheme = "https" if parsed.scheme == "wss" else "http"
    return f"{scheme}://{parsed.netloc}/"


def answers(ws_url: str, timeout: float = 1.0) -> bool:
    """Whether a Showdown server answers HTTP at the address of `ws_url`."""
    try:
        with urllib.request.urlopen(http_url(ws_url), timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def showdown_version() -> str | None:
    """Version of the installed bundled server, or None when not installed."""
    try:
        import json

        return json.loads((PACKAGE_DIR / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def is_installed() -> bool:
    return (PACKAGE_DIR / "pokemon-showdown").is_file() and (PACKAGE_DIR / "dist").is_dir()


def install() -> None:
    """`npm ci` the pinned server into the repo's node_modules (takes a few minutes)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise ServerError(
            "node and npm are needed to run the bundled Showdown server: install Node.js 20 "
            "or newer (https://nodejs.org), or pass --server with a running server's address"
        )
    log.info("installing the bundled Showdown server with npm ci")
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
    )
    if not config.exists() or config.read_text() != text:
        tmp = config.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, config)
    return config


def default_simulators() -> int:
    """One simulator process per core: the simulator is the arena's bottleneck."""
    return max(1, os.cpu_count() or 1)


@dataclass
class ShowdownServer:
    """A server the arena uses: either found running, or started (and owned) by us."""

    url: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    simulators: int | None = None
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

    def stop(self) -> None:
        """Stop the whole process group of a server we started (TERM, then KILL)."""
        proc = self.process
        if proc is None:
            return
        self.process = None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        # Children that outlived the launcher are still in the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
        log.info("stopped the bundled Showdown server (pgid %d)", proc.pid)

    def last_log_lines(self, n: int = 5) -> list[str]:
        if self.log_path is None or not self.log_path.exists():
            return []
        return self.log_path.read_text(errors="replace").strip().splitlines()[-n:]


def start_bundled(
    port: int | None = None, simulators: int | None = None, timeout: float = 90.0
) -> ShowdownServer:
    """Start the installed bundled server on a free port and wait until it answers."""
    node = node_for_bundled(", or pass --server with a running server's address")
    simulators = simulators or default_simulators()
    write_config(simulators)
    port = port or free_port()
    STATE_DIR.mkdir(exist_ok=True)
    log_path = STATE_DIR / f"showdown-{port}.log"
    log_file = open(log_path, "wb")  # noqa: SIM115 (closed by ShowdownServer.stop)
    args = [node, "pokemon-showdown", "start", "--no-security", "--skip-build", str(port)]
    proc = subprocess.Popen(
        args,
        cwd=PACKAGE_DIR,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # own process group: stop() signals all ~10 processes
    )
    server = ShowdownServer(
        url=websocket_url("127.0.0.1", port),
        process=proc,
        log_path=log_path,
        simulators=simulators,
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


def find_or_start(url: str = DEFAULT_SERVER, simulators: int | None = None) -> ShowdownServer:
    """Use the server answering at `url`; else start the bundled one (install it first).

    Only a local address can be started: for another host, a server must be running.
    """
    if answers(url):
        log.info("using the Showdown server already running at %s", url)
        return ShowdownServer(url=url)
    parsed = urlparse(url)
    if parsed.hostname not in {"127.0.0.1", "localhost", "::1"}:
        raise ServerError(f"no Showdown server answers at {url}: start it, or leave --server out")
    if not is_installed():
        install()
    # The default address is only a place to look: start on it if it is free, else on any.
    port = parsed.port if parsed.port and _port_free(parsed.port) else None
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

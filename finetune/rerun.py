"""The bundled simulator re-running battles from their input logs, for the dataset's exact
view: `Rerunner` keeps one Node process (`finetune/rerun.js`, in its own process group) that
takes a line of JSON per battle (`{"id", "inputlog"}`) and answers, in order, with each
side's own stream, the players' names and how the battle ended; `submit` and `receive`
let the next battle run while the last one is parsed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from battle.files import SHOWDOWN_DIR as PACKAGE_DIR
from finetune.replays import DatasetError

RERUN_SCRIPT = Path(__file__).with_name("rerun.js")


class Rerunner:
    """One Node process re-running battles from their input logs (`finetune/rerun.js`)."""

    def __init__(self, package_dir: Path = PACKAGE_DIR):
        node = shutil.which("node")
        if node is None:
            raise DatasetError("node is needed to re-run battles: install Node.js 20 or newer")
        if not (package_dir / "dist").is_dir():
            raise DatasetError(
                f"the bundled simulator is not installed in {package_dir}: run `npm ci`"
            )
        self.proc = subprocess.Popen(
            [node, str(RERUN_SCRIPT), str(package_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            start_new_session=True,  # its own group: closed by close(), never by name
        )

    def submit(self, battle_id: str, inputlog: str) -> None:
        """Queue a battle; answers come back in order through `receive()`."""
        assert self.proc.stdin is not None
        if self.proc.poll() is not None:
            raise RuntimeError("the re-run process exited")
        self.proc.stdin.write(json.dumps({"id": battle_id, "inputlog": inputlog}) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the re-run process exited")
        return json.loads(line)

    def rerun(self, battle_id: str, inputlog: str) -> dict[str, Any]:
        """Re-run one battle and wait for it."""
        self.submit(battle_id, inputlog)
        return self.receive()

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Rerunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

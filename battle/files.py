"""Atomic file writes, the one helper every layer uses.

A reader sees the old file or the new one, never half of one: the data goes to a
temporary file in the same folder (`.<name>.<random>.tmp`, a name no reader's glob takes
for a record, a replay or a trajectory), which is then renamed over the target.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
SHOWDOWN_DIR = REPO_ROOT / "node_modules" / "pokemon-showdown"  # the bundled package


def atomic_write_bytes(path: Path | str, data: bytes, *, sync: bool = True) -> None:
    """Write `data` to `path` atomically; `sync` also flushes it to the disk first (a
    crash right after the rename then cannot leave an empty file). The file gets the
    usual mode (0666 less the umask), not mkstemp's owner-only one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path | str, text: str, *, sync: bool = True) -> None:
    """`atomic_write_bytes` of `text` in UTF-8."""
    atomic_write_bytes(path, text.encode("utf-8"), sync=sync)

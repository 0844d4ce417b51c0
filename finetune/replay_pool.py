"""Many replays through `finetune.pairs.process_replay`, their results in input order: one
process with one re-run process (`finetune.rerun.Rerunner`), the next replay's re-run
submitted before the last one is parsed so the simulator and poke-env work at the same
time, or, for larger inputs, a pool of worker processes, each with its own re-run process,
taking chunks of 16 replays. A file that cannot be read is a skipped result, never fatal.
"""

from __future__ import annotations

import logging
import signal
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from finetune.pairs import ReplayResult, process_replay
from finetune.replays import load_replay
from finetune.rerun import Rerunner

log = logging.getLogger("finetune.dataset")

_WORKER: dict[str, Any] = {}


def _worker_init(sides: str, switches: bool) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    _WORKER.update(sides=sides, switches=switches, rerunner=Rerunner())


def _read_and_process(paths: list[Path]) -> list[ReplayResult]:
    return list(_process_paths(paths, _WORKER["sides"], _WORKER["switches"], _WORKER["rerunner"]))


def _process_paths(
    paths: Iterable[Path], sides: str, switches: bool, rerunner: Rerunner
) -> Iterator[ReplayResult]:
    """Each replay's result in order. The next replay's re-run is submitted before this
    one is parsed, so the simulator and poke-env work at the same time."""
    pending: deque[tuple[Path, dict[str, Any] | None, bool]] = deque()

    def submit(path: Path) -> None:
        try:
            replay = load_replay(path)
        except (OSError, ValueError) as err:
            log.debug("cannot read %s: %s", path, err)
            pending.append((path, None, False))
            return
        inputlog = replay.get("inputlog")
        if inputlog:
            rerunner.submit(str(replay.get("id") or path.name), str(inputlog))
        pending.append((path, replay, bool(inputlog)))

    def finish() -> ReplayResult:
        path, replay, submitted = pending.popleft()
        # Always take the answer of a submitted re-run, even if it goes unused: the
        # answers come in order.
        out = rerunner.receive() if submitted else None
        if replay is None:
            return ReplayResult(battle_id=path.name, format="unknown", skipped="unreadable file")
        return process_replay(
            replay, sides=sides, switches=switches, rerun=None if out is None else lambda: out
        )

    for path in paths:
        submit(path)
        if len(pending) > 1:
            yield finish()
    while pending:
        yield finish()


def iter_results(
    paths: list[Path], *, sides: str, switches: bool, workers: int = 1
) -> Iterator[ReplayResult]:
    """Each replay's result, in input order; several processes when `workers` > 1."""
    if workers <= 1 or len(paths) < 4 * workers:
        with Rerunner() as rerunner:
            yield from _process_paths(paths, sides, switches, rerunner)
        return
    from concurrent.futures import ProcessPoolExecutor

    chunks = [paths[i : i + 16] for i in range(0, len(paths), 16)]
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_worker_init, initargs=(sides, switches)
    ) as pool:
        for results in pool.map(_read_and_process, chunks):
            yield from results

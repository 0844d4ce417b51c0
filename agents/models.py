"""What model-backed agents share: each model loaded once per process, and one worker
thread per model that runs its inference off the event loop.

    _MODELS: ModelCache[Path, LoadedModel] = ModelCache()
    loaded = _MODELS.get(path, lambda: load_it(path))   # once per process and key

    worker = ModelWorker(answer, name="my-model")          # answer(jobs) -> results
    result = await worker.run(job)                         # from the agent's decide()

The worker takes every job waiting when it wakes (up to `max_batch`) and answers them
with one `answer(jobs)` call, so a model that can batch runs one forward pass for all the
battles waiting on it (`metamon`), and one that cannot uses `max_batch=1` (`alphastral`:
its forwards run one at a time, in the order asked). Forwards on one model never run two
at once: on a CPU they would split the same cores, on a GPU queue on the same stream.
Worker threads are daemons: they idle between jobs and end with the process.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
J = TypeVar("J")
R = TypeVar("R")


class ModelCache(Generic[K, V]):
    """Values loaded once per process and key; a load that raises caches nothing."""

    def __init__(self) -> None:
        self._items: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K, load: Callable[[], V]) -> V:
        with self._lock:  # one load at a time: two agents of one model load it once
            if key not in self._items:
                self._items[key] = load()
            return self._items[key]

    def __contains__(self, key: object) -> bool:
        return key in self._items


class ModelWorker(Generic[J, R]):
    """One daemon thread answering jobs in batches: `answer(jobs)` returns one result per
    job, in order; an exception fails every job of that batch (each waiting decision hears
    of it) and the worker goes on."""

    def __init__(
        self,
        answer: Callable[[list[J]], list[R]] | None = None,
        *,
        name: str,
        max_batch: int = 64,
    ) -> None:
        self._answer_fn = answer
        self.max_batch = max_batch
        self._jobs: queue.SimpleQueue[tuple[J, Future[R]]] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name=name, daemon=True).start()

    def submit(self, job: J) -> Future[R]:
        future: Future[R] = Future()
        self._jobs.put((job, future))
        return future

    async def run(self, job: J) -> R:
        """`submit` from the event loop, awaited without blocking it."""
        return await asyncio.wrap_future(self.submit(job))

    def _answer(self, jobs: list[J]) -> list[R]:
        """The work of one batch (subclasses may override it instead of passing `answer`)."""
        assert self._answer_fn is not None
        return self._answer_fn(jobs)

    def _loop(self) -> None:
        while True:
            batch = [self._jobs.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            try:
                results = self._answer([job for job, _ in batch])
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)

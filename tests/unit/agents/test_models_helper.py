"""agents.models: a model loaded once per process, and a worker thread that batches."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from agents.models import ModelCache, ModelWorker


def test_a_model_is_loaded_once_however_many_agents_ask_at_once():
    cache: ModelCache[str, object] = ModelCache()
    loads = []

    def load():
        time.sleep(0.05)  # slow enough for every caller to arrive while it loads
        loads.append(1)
        return object()

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda _: cache.get("m", load), range(8)))
    assert len(loads) == 1 and all(g is got[0] for g in got)


def test_a_failed_load_is_not_cached():
    cache: ModelCache[str, int] = ModelCache()
    with pytest.raises(OSError):
        cache.get("m", lambda: (_ for _ in ()).throw(OSError("disk")))
    assert "m" not in cache and cache.get("m", lambda: 7) == 7


async def test_waiting_jobs_are_answered_in_one_batch_in_order():
    entered, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def answer(jobs: list[int]) -> list[int]:
        entered.set()
        release.wait(5)  # the first batch holds the thread while the others queue
        batches.append(list(jobs))
        return [j * 10 for j in jobs]

    worker: ModelWorker[int, int] = ModelWorker(answer, name="test-worker", max_batch=64)
    first = worker.submit(0)
    assert entered.wait(5)
    rest = [worker.submit(i) for i in range(1, 6)]
    release.set()
    assert first.result(5) == 0 and [f.result(5) for f in rest] == [10, 20, 30, 40, 50]
    assert batches == [[0], [1, 2, 3, 4, 5]]
    assert await worker.run(7) == 70  # from the event loop


async def test_a_failing_batch_fails_its_jobs_and_the_worker_goes_on():
    def answer(jobs: list[int]) -> list[int]:
        if 13 in jobs:
            raise RuntimeError("bad luck")
        return jobs

    worker: ModelWorker[int, int] = ModelWorker(answer, name="test-worker", max_batch=1)
    with pytest.raises(RuntimeError, match="bad luck"):
        await worker.run(13)
    assert await asyncio.wait_for(worker.run(2), 5) == 2

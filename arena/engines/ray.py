"""The Ray engine (`--engine ray`): the sim engine's battles spread over a Ray cluster.

The driver (this process) keeps the run: its plan, journal, replays and record, exactly as
a sim-engine run does. Each Ray worker actor (`arena.ray_worker.BattleWorker`) runs the sim
engine's lanes on its node, with a simulator process per CPU it owns and the agents built
once, and returns each battle when it ends; the driver journals it at once.

Exactly once: every battle of the session is named (`BattleTask`: its index in the order
and its tag) before any is handed out, and at most one result per index is journaled.
Each worker holds at most `--concurrency` battles at a time. A battle whose worker dies
(its node lost, its process killed) comes back as an error on its call, never as a
result, and goes back to the queue for any live worker; battles that worker finished were
journaled as they came. A worker Ray restarts (`max_restarts`) takes battles again once it
answers; when no worker is left, the run stops like one whose engine died, keeping every
finished battle (`--resume` plays the rest). A driver that dies takes its actors with it
(they belong to it); its journal holds every battle it received, and `--resume` goes on.

Ray is optional (`uv sync --extra ray`): this module imports it only when the engine is
made, and without it `--engine ray` is a one-line error saying how to install it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import pickle
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from arena.engines.base import Lane, Pairing
from arena.engines.sim import inputlog_path, write_inputlog
from arena.server import ServerError
from arena.teams import TeamPlan
from battle.files import REPO_ROOT
from battle.record import RunPaths, Side
from battle.trajectory import LZ4_FORMAT, TrajectoryFile, write_trajectory

if TYPE_CHECKING:
    from arena.player import ArenaPlayer, MatchConfig
    from arena.ray_worker import BattleResult, BattleTask
    from arena.recorder import Recorder
    from battle.record import RunSpec

log = logging.getLogger(__name__)

INSTALL_HINT = "--engine ray needs Ray: run `uv sync --extra ray` (or `pip install 'ray>=2.40'`)"
MAX_ATTEMPTS = 3  # a battle that fails this often on live workers stops the run


class RayMissing(ValueError):
    """Ray is not installed (the message says how to install it)."""


def import_ray() -> Any:
    # Under `uv run`, Ray would package this folder and start its workers through uv in a
    # copy of it (without node_modules): every node runs this repository where it is.
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    try:
        import ray
    except ImportError:
        raise RayMissing(INSTALL_HINT) from None
    return ray


@dataclass
class _Worker:
    actor: Any
    index: int
    busy: int = 0
    alive: bool = True
    deaths: int = 0
    node: str = "?"


@dataclass
class RayStats:
    """What the driver measured, for the run's summary and `bench/ray_scaling.py`."""

    battles: int = 0
    result_bytes: int = 0  # pickled results received
    requeued: int = 0  # battles handed out again after their worker died
    driver_cpu_s: float = 0.0  # this process's CPU while battles were played
    wall_s: float = 0.0
    nodes: collections.Counter[str] = field(default_factory=collections.Counter)  # battles
    workers: list[dict[str, Any]] = field(default_factory=list)  # each worker's own stats


class RayEngine:
    """Battles on Ray worker actors (see the module doc)."""

    name = "ray"
    watch_url = None
    plays_outside_users = False

    def __init__(
        self,
        spec: RunSpec,
        session: int,
        paths: RunPaths,
        *,
        address: str | None = None,
        workers: int | None = None,
        cpus_per_worker: int | None = None,
        max_restarts: int = 1,
        log_level: str = "WARNING",
    ) -> None:
        for flag, value in (("--ray-workers", workers), ("--ray-cpus", cpus_per_worker)):
            if value is not None and value < 1:
                raise ValueError(f"{flag} must be at least 1, got {value}")
        self.ray = import_ray()
        self.spec, self.session, self.paths = spec, session, paths
        self.address = address
        self.n_workers = workers
        self.cpus_per_worker = cpus_per_worker
        self.max_restarts = max_restarts
        self.log_level = log_level
        self.description = "Ray (not started)"
        self.stats = RayStats()
        self._workers: list[_Worker] = []
        self._limiter: Any = None
        self._started_ray = False
        self._recorder: Recorder | None = None
        self._submit: Callable[[Callable[[], None]], None] | None = None
        self._connect()

    # -- the Engine protocol ------------------------------------------------------------

    def player_kwargs(self) -> dict:
        return {}  # the driver makes no players: the workers do

    def attach(self, side: Side, player: ArenaPlayer) -> None:
        raise RuntimeError("the Ray engine's players live on its workers")

    def keep_inputlogs(self, paths: RunPaths, submit: Callable[[Callable[[], None]], None]) -> None:
        self._submit = submit

    def record_into(self, recorder: Recorder) -> None:
        self._recorder = recorder

    def _connect(self) -> None:
        """Join the cluster (or start a local one) and size the workers: at once, so a
        bad address is an error before the run begins and the description is known."""
        ray = self.ray
        if not ray.is_initialized():
            if self.address:
                check_reachable(self.address)
            # Ray's own notices (token authentication on, a local instance started) are
            # not the run's business: its warnings and errors still show
            logging.getLogger("ray").setLevel(logging.ERROR)
            try:
                ray.init(
                    address=self.address,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level=logging.ERROR,
                )
            except (ConnectionError, RuntimeError, ValueError) as exc:
                where = self.address or "a local cluster"
                raise ServerError(
                    f"could not start or join Ray at {where}: {_one_line(exc)}"
                ) from None
            self._started_ray = True
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.n_workers = self.n_workers or max(len(nodes), 1)
        self.cpus_per_worker = self.cpus_per_worker or max(1, cpus // self.n_workers)
        if self.n_workers * self.cpus_per_worker > cpus:
            log.warning(
                "%d Ray workers x %d CPUs ask for more than the cluster's %d CPUs: some "
                "workers will wait for room",
                self.n_workers,
                self.cpus_per_worker,
                cpus,
            )
        self.description = (
            f"Ray ({_count(self.n_workers, 'worker')} x "
            f"{_count(self.cpus_per_worker, 'simulator process')}, {_count(len(nodes), 'node')})"
        )

    async def start(self) -> None:
        """Start the worker actors (once: a started engine starts nothing more)."""
        if self._workers:
            return
        ray = self.ray
        from arena.ray_worker import BattleWorker, ClusterRateLimiter

        env = {"env_vars": worker_env()}
        limiter = f"arena-limiter-{self.paths.run_id}-{secrets.token_hex(3)}"
        self._limiter = (
            ray.remote(num_cpus=0, runtime_env=env)(ClusterRateLimiter)
            .options(name=limiter)
            .remote()
        )
        actor_class = ray.remote(
            num_cpus=self.cpus_per_worker,
            max_restarts=self.max_restarts,
            max_concurrency=1000,
            runtime_env=env,
        )(BattleWorker)
        paths = (str(self.paths.output_dir.resolve()), self.paths.run_id)
        for i in range(self.n_workers or 1):
            actor = actor_class.remote(
                self.spec.to_dict(), self.session, paths, i, self.cpus_per_worker, limiter,
                self.log_level,
            )  # fmt: skip
            self._workers.append(_Worker(actor, i))
        where = await asyncio.gather(*(w.actor.ping.remote() for w in self._workers))
        for w, node in zip(self._workers, where, strict=True):
            w.node = node
        log.info("%s on %s", self.description, ", ".join(sorted(set(where))))

    async def run_schedule(
        self,
        order: list[Pairing],
        lane_for: Callable[[Pairing], Lane],
        config: MatchConfig,
        team_plan: TeamPlan | None = None,
    ) -> None:
        """Hand out one battle per entry of `order`, at most `config.concurrency` per
        worker at a time, and journal each result as it comes (exactly once per battle)."""
        from arena.ray_worker import BattleTask

        assert self._recorder is not None, "record_into() first"
        base = f"battle-{config.battle_format}-{secrets.token_hex(3)}"
        queue = collections.deque(
            BattleTask(i, f"{base}{i}", pairing, team_plan[i] if team_plan else None)
            for i, pairing in enumerate(order)
        )
        attempts: collections.Counter[int] = collections.Counter()
        flying: dict[asyncio.Future, tuple[BattleTask, _Worker]] = {}
        revivals: set[asyncio.Task] = set()
        cpu0, wall0 = time.process_time(), time.monotonic()
        try:
            while queue or flying:
                self._hand_out(queue, flying, config.concurrency)
                if not flying:
                    if revivals:  # wait for a restarted worker to answer
                        await asyncio.wait(revivals, return_when=asyncio.FIRST_COMPLETED)
                        continue
                    raise ServerError(
                        "every Ray worker died: the finished battles are kept; start the "
                        "cluster again and --resume"
                    )
                done, _ = await asyncio.wait(flying, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    task, worker = flying.pop(future)
                    worker.busy -= 1
                    try:
                        result = future.result()
                    except self.ray.exceptions.RayActorError as exc:
                        self._lost(worker, task, queue, revivals, exc)
                    except self.ray.exceptions.RayTaskError as exc:
                        attempts[task.index] += 1
                        if attempts[task.index] >= MAX_ATTEMPTS:
                            raise ServerError(
                                f"battle {task.tag} failed {MAX_ATTEMPTS} times on Ray "
                                f"workers: {_one_line(exc)}"
                            ) from None
                        log.warning("battle %s failed, handed out again: %s", task.tag,
                                    _one_line(exc))  # fmt: skip
                        queue.appendleft(task)
                    else:
                        self._keep(result)
        finally:
            for future in flying:
                future.cancel()
            for revival in revivals:
                revival.cancel()
            self.stats.driver_cpu_s += time.process_time() - cpu0
            self.stats.wall_s += time.monotonic() - wall0

    def _hand_out(
        self,
        queue: collections.deque[BattleTask],
        flying: dict[asyncio.Future, tuple[BattleTask, _Worker]],
        concurrency: int,
    ) -> None:
        while queue:
            live = [w for w in self._workers if w.alive and w.busy < concurrency]
            if not live:
                return
            worker = min(live, key=lambda w: w.busy)
            task = queue.popleft()
            ref = worker.actor.play.remote(task)
            flying[asyncio.wrap_future(ref.future())] = (task, worker)
            worker.busy += 1
            assert self._recorder is not None
            self._recorder.seen(task.tag)

    def _lost(
        self,
        worker: _Worker,
        task: BattleTask,
        queue: collections.deque[BattleTask],
        revivals: set[asyncio.Task],
        exc: BaseException,
    ) -> None:
        """`worker` died with `task` in flight: the battle goes back to the queue (it was
        never journaled: a result is the only way in), and the worker is asked whether
        Ray restarted it."""
        self.stats.requeued += 1
        queue.appendleft(task)
        if worker.alive:
            worker.alive = False
            worker.deaths += 1
            log.warning("Ray worker %d (%s) died: its battles go to the others (%s)",
                        worker.index, worker.node, _one_line(exc))  # fmt: skip
            if worker.deaths <= self.max_restarts:
                revival = asyncio.ensure_future(self._revive(worker))
                revivals.add(revival)
                revival.add_done_callback(revivals.discard)

    async def _revive(self, worker: _Worker, timeout_s: float = 60.0) -> None:
        try:
            worker.node = await asyncio.wait_for(worker.actor.ping.remote(), timeout_s)
        except Exception:
            log.warning("Ray worker %d did not come back", worker.index)
            return
        worker.alive = True
        log.info("Ray worker %d is back on %s", worker.index, worker.node)

    def _keep(self, result: BattleResult) -> None:
        """Journal one battle from a worker (the driver is the only writer)."""
        assert self._recorder is not None
        recorder = self._recorder
        tag = result.record.battle_tag
        if tag in recorder.finished:
            return  # never happens (a result is sent once); exactly once, all the same
        recorder.keep(result.record, result.decisions, result.replay_text)
        if self._submit is not None:
            if result.inputlog:
                path, text = inputlog_path(self.paths, tag), result.inputlog
                self._submit(lambda: write_inputlog(path, text))
            for trajectory in result.trajectories:
                self._submit(partial(self._write_trajectory, tag, *trajectory))
        stats = self.stats
        stats.battles += 1
        stats.result_bytes += len(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        stats.nodes[result.node] += 1

    def _write_trajectory(
        self,
        tag: str,
        name: TrajectoryFile,
        states: list,
        actions: list[int],
        played: list[int] | None,
    ) -> None:
        """On the writer thread: one side's trajectory file, as the sim engine's players
        write it (`arena.trajectories`); a failure is a warning, never the run's end."""
        assert self.spec.save_trajectories is not None
        compress = (self.spec.trajectory_format or LZ4_FORMAT) == LZ4_FORMAT
        try:
            write_trajectory(
                self.spec.save_trajectories, name, states, actions, played, compress=compress
            )
        except Exception as exc:
            log.warning("trajectory of %s not written: %s", tag, exc)

    def check(self, players: dict[str, ArenaPlayer]) -> None:
        pass  # a dead worker is handled in run_schedule; none left stops the run there

    def notes(self) -> list[str]:
        """Per-node throughput and the cost of going through Ray, for the run's summary."""
        s = self.stats
        if not s.battles:
            return []
        lines = []
        for node, battles in sorted(s.nodes.items()):
            rate = battles / max(s.wall_s, 1e-9)
            lines.append(f"node {node}: {battles} battles, {rate:.2f} battles/s")
        lines.append(
            f"driver: {1000 * s.driver_cpu_s / s.battles:.1f} ms CPU and "
            f"{s.result_bytes / s.battles / 1024:.1f} kB per battle"
            + (f"; {s.requeued} battles handed out again" if s.requeued else "")
        )
        return lines

    async def close(self, players: dict[str, ArenaPlayer]) -> None:
        ray = self.ray
        for w in self._workers:
            if not w.alive:
                continue
            try:
                w_stats = await asyncio.wait_for(w.actor.stats.remote(), 10)
                self.stats.workers.append(w_stats)
                await asyncio.wait_for(w.actor.close.remote(), 15)
            except Exception:  # a worker that cannot close is killed below
                log.debug("Ray worker %d did not close", w.index, exc_info=True)
        for w in self._workers:
            ray.kill(w.actor, no_restart=True)
        if self._limiter is not None:
            ray.kill(self._limiter, no_restart=True)
        self._workers.clear()
        if self._started_ray and os.environ.get("ARENA_RAY_KEEP") != "1":
            ray.shutdown()


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """A `HOST:PORT` address answers, or a one-line error (Ray itself would retry for
    minutes). Other forms (`auto`, `ray://...`) are left to Ray."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "/" in address:
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ServerError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}): start one with "
            "`ray start --head` and pass the address it prints, or leave out --ray-address "
            "for a local one"
        ) from None


FORWARDED_ENV = ("MISTRAL_", "METAMON_", "ALPHASTRAL_", "SEARCH_", "HF_", "TORCH_")


def worker_env() -> dict[str, str]:
    """What a worker's process needs from the driver's environment: this repository on its
    path, and the agents' settings (MISTRAL_API_KEY and the like, sent through the
    cluster to the workers, which build the agents)."""
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV)}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}es" if what.endswith("s") else f"{n} {what}s"


def _one_line(exc: BaseException) -> str:
    """An error as one line: a worker's traceback ends with what went wrong."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:300]

"""The Ray engine's worker side (`--engine ray`): battles on one node, results to the driver.

A `BattleWorker` lives in each Ray worker actor (`arena.engines.ray` wraps it with
`ray.remote`; this module never imports Ray, so it runs, and is tested, in any process).
It builds the run's agents once (a model loads once per actor), starts the sim engine's
simulator processes (one per CPU the actor owns) on first use, and plays the battles the
driver hands it, one call per battle, many calls at once:

    worker = BattleWorker(spec.to_dict(), session, paths, worker=0, processes=2)
    result = await worker.play(BattleTask(index=0, tag="battle-gen9randombattle-x0",
                                          pairing=("random", "heuristic")))

A finished battle goes back as a `BattleResult` (its record, decisions, replay text, input
log and, with `--save-trajectories`, each side's trajectory) and the worker keeps none of
it and writes no file: the driver is the only writer of the journal, the replays, the
trajectory files and the record, so a battle played again after its worker died is
written once, and no folder needs to be shared between nodes.

A timed-out battle comes back as a record with its error, as on the sim engine; a battle
whose simulator died raises (the driver hands it to a worker again).

`ClusterRateLimiter` is the state of the rate limits shared by every worker of a run (a
small named Ray actor the driver starts); `RemoteLimiter` is what a Mistral agent on a
worker uses in place of its process-wide limiter (`agents.mistral.use_limiter_factory`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import random
import socket
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import agents
from agents.base import Agent
from agents.mistral import Slots, use_limiter_factory
from arena.engines.base import Lane, Pairing
from arena.engines.sim import SimEngine
from arena.match import make_players, showdown_username
from arena.player import end_overdue_battles
from arena.recorder import Recorder
from arena.simulator import run_in_poke_loop
from arena.teams import Team
from battle.record import SIDES, BattleRecord, DecisionRecord, RunPaths, RunSpec, Side
from battle.trajectory import TrajectoryFile

log = logging.getLogger(__name__)

RESULT_WAIT_S = 30.0  # after the simulator ends a battle, the most its record may take
WORKER_SEED_STRIDE = 1_000_003  # each worker's agents draw from their own streams


@dataclass(frozen=True)
class BattleTask:
    """One battle to play, named before it is handed out: `index` is its place in the
    session's order (its identity: the driver keeps one result per index)."""

    index: int
    tag: str
    pairing: Pairing
    teams: dict[Side, Team] | None = None


@dataclass
class BattleResult:
    """What a worker sends back for a finished battle."""

    index: int
    record: BattleRecord
    decisions: list[DecisionRecord]
    replay_text: str
    inputlog: str | None
    node: str  # the host the battle was played on
    worker: int
    # --save-trajectories: each side's (file name parts, states, actions, played or None)
    trajectories: list[tuple[TrajectoryFile, list, list[int], list[int] | None]] = field(
        default_factory=list
    )


def worker_seed(seed: int | None, worker: int) -> int | None:
    """An entrant's seed on worker `worker` (`None` stays unseeded)."""
    return None if seed is None else seed + WORKER_SEED_STRIDE * (worker + 1)


class ResultRecorder(Recorder):
    """A worker's recorder: a finished battle's record is handed to whoever awaits it
    (`expect`) instead of being journaled; trajectories still go through `writer`."""

    def __init__(self, paths: RunPaths, session: int) -> None:
        super().__init__(None, paths, session)  # type: ignore[arg-type]  # never journals
        self._results: dict[str, concurrent.futures.Future] = {}

    def expect(self, tag: str) -> concurrent.futures.Future:
        """The future of `tag`'s (record, decisions, replay text)."""
        return self._results.setdefault(tag, concurrent.futures.Future())

    def keep(self, record: BattleRecord, decisions: list[DecisionRecord], replay: str) -> None:
        tag = record.battle_tag
        if tag in self.finished:
            return
        self.finished[tag] = record.error
        self.live.pop(tag, None)
        future = self._results.pop(tag, None)
        if future is not None and not future.done():
            future.set_result((record, decisions, replay))

    def forget(self, tag: str) -> None:
        """Drop what is left of a battle that was handed back (its memory stays flat)."""
        self.finished.pop(tag, None)
        self._results.pop(tag, None)


class BattleWorker:
    """Plays battles on this node for a run's driver (see the module doc)."""

    def __init__(
        self,
        spec: dict[str, Any],
        session: int,
        paths: tuple[str, str],
        worker: int,
        processes: int,
        limiter: str | None = None,
        log_level: str = "WARNING",
    ) -> None:
        from arena.run import entrants, match_config, teacher_entrants

        logging.basicConfig(level=log_level, format="%(levelname)s %(name)s: %(message)s")
        self.spec = RunSpec.from_dict(spec)
        self.session = session
        self.worker = worker
        self.processes = processes
        self.paths = RunPaths(Path(paths[0]), paths[1])
        self.config = match_config(self.spec, session)
        self.node = socket.gethostname()
        if limiter is not None:
            use_limiter_factory(lambda key, rps: RemoteLimiter(limiter, key, rps))
        self._entrants = entrants(self.spec, session)
        self._teachers = teacher_entrants(self.spec, session)
        self.agents: dict[str, Agent] = {}
        self.rngs: dict[str, random.Random] = {}
        self.teachers: dict[str, Agent] = {}
        self.lanes: dict[Pairing, Lane] = {}
        self.inputlogs: dict[str, str] = {}
        # per battle: the sides whose players have seen it end, and the trajectories kept
        self._ended: defaultdict[str, set[Side]] = defaultdict(set)
        self._trajectories: defaultdict[str, list] = defaultdict(list)
        self.recorder = ResultRecorder(self.paths, session)
        self.engine: SimEngine | None = None
        self._start_lock = asyncio.Lock()
        self._watch: asyncio.Task[None] | None = None
        self.played = 0

    # -- set-up, on first use ----------------------------------------------------------

    async def _started(self) -> SimEngine:
        async with self._start_lock:
            if self.engine is None:
                for key, agent_spec, seed in self._entrants:
                    self.agents[key] = agents.create(
                        agent_spec.given, seed=worker_seed(seed, self.worker)
                    )
                    self.rngs[key] = random.Random(worker_seed(seed, self.worker))
                for key, agent_spec, seed in self._teachers:
                    self.teachers[key] = agents.create(
                        agent_spec.given, seed=worker_seed(seed, self.worker)
                    )
                engine = SimEngine(self.processes)
                engine.pool.on_inputlog = self.inputlogs.__setitem__
                await engine.start()
                self.engine = engine
                self._watch = asyncio.create_task(self._watchdog())
                log.info("worker %d on %s: %s", self.worker, self.node, engine.description)
        return self.engine

    def _lane(self, pairing: Pairing, engine: SimEngine) -> Lane:
        """One lane per pairing, as on the sim engine: its two players play every battle
        of that pairing this worker is given."""
        lane = self.lanes.get(pairing)
        if lane is None:
            keys: dict[Side, str] = {"p1": pairing[0], "p2": pairing[1]}
            tag = f"w{self.worker:x}{len(self.lanes):02x}"
            players = make_players(
                {side: self.agents[keys[side]] for side in SIDES},
                {side: self.rngs[keys[side]] for side in SIDES},
                {
                    side: showdown_username(self.agents[keys[side]].name, side, tag)
                    for side in SIDES
                },
                self.recorder,
                self.config,
                engine,  # type: ignore[arg-type]
                names=keys if self.spec.agents is not None else None,
                teachers=self.teachers or None,
            )
            for side, player in players.items():
                self._watch_player(side, player)
            lane = self.lanes[pairing] = Lane(pairing, players)
        return lane

    def _watch_player(self, side: Side, player: Any) -> None:
        """Know when `player` is done with a battle (its callback, which hands its
        trajectory over, has run), and keep its trajectories for the battle's result."""
        if player.trajectories is not None:
            player.trajectories.sink = self._keep_trajectory
        finished = player._battle_finished_callback

        def battle_finished(battle: Any) -> None:
            try:
                finished(battle)
            finally:
                self._ended[battle.battle_tag].add(side)

        player._battle_finished_callback = battle_finished

    def _keep_trajectory(
        self,
        tag: str,
        name: TrajectoryFile,
        states: list,
        actions: list[int],
        played: list[int] | None,
    ) -> None:
        self._trajectories[tag].append((name, states, actions, played))

    async def _trajectories_of(self, tag: str, sides: int) -> list:
        """The battle's trajectories, once each side's player is done with it and the
        writer thread has handed them over (at most RESULT_WAIT_S; then what there is)."""
        deadline = time.monotonic() + RESULT_WAIT_S
        while len(self._ended[tag]) < sides and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if len(self._ended[tag]) < sides:
            log.warning("battle %s: a side never saw it end; its trajectory is left out", tag)
        flushed: concurrent.futures.Future = concurrent.futures.Future()
        self.recorder.writer.submit(lambda: flushed.set_result(None))  # after theirs
        await asyncio.wrap_future(flushed)
        return self._trajectories.pop(tag, [])

    async def _watchdog(self, poll_s: float = 0.5) -> None:
        """End battles past their timeout, as a session on the sim engine does."""
        while True:
            await asyncio.sleep(poll_s)
            for lane in list(self.lanes.values()):
                end_overdue_battles(lane.players["p1"], self.recorder, self.config)

    # -- the calls the driver makes ------------------------------------------------------

    async def ping(self) -> str:
        """This worker's node (the driver checks a restarted worker answers)."""
        return self.node

    async def play(self, task: BattleTask) -> BattleResult:
        """Play one battle and return what the driver journals."""
        engine = await self._started()
        lane = self._lane(task.pairing, engine)
        tag = task.tag
        if task.teams:
            engine.hand_teams(tag, task.teams, self.recorder)
        future = self.recorder.expect(tag)
        self.recorder.seen(tag)
        try:
            await run_in_poke_loop(
                engine.pool.play([tag], self.config.battle_format, 1, {tag: lane.players})
            )
            record, decisions, replay = await asyncio.wait_for(
                asyncio.wrap_future(future), RESULT_WAIT_S
            )
            trajectories = []
            if self.config.trajectories_dir is not None:
                trajectories = await self._trajectories_of(tag, len(lane.players))
        finally:
            self.recorder.forget(tag)
            self._ended.pop(tag, None)
        self.played += 1
        return BattleResult(
            task.index, record, decisions, replay, self.inputlogs.pop(tag, None), self.node,
            self.worker, trajectories,
        )  # fmt: skip

    def stats(self) -> dict[str, Any]:
        """Which worker, where, and how many battles it played."""
        return {"worker": self.worker, "node": self.node, "played": self.played}

    async def close(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
        if self.engine is not None:
            await self.engine.close({})
        self.recorder.close()
        for agent in [*self.agents.values(), *self.teachers.values()]:
            try:
                await agent.close()
            except Exception:
                log.exception("closing agent %s failed", agent.name)


# --------------------------------------------------------------------------------------
# one rate limit for the whole cluster


class ClusterRateLimiter:
    """The slots of every rate limit of a run (per key: a model and server), kept once for
    all its workers. Times are this actor's clock; callers get how long to wait, so the
    nodes' clocks never meet."""

    def __init__(self) -> None:
        self._slots: dict[str, Slots] = {}

    def _of(self, key: str, interval: float) -> Slots:
        return self._slots.setdefault(key, Slots(interval))

    def reserve(self, key: str, interval: float, budget_s: float) -> float:
        """Seconds to wait for the next slot, or -1 if it is further than `budget_s`."""
        return self._of(key, interval).reserve(budget_s)

    def push_back(self, key: str, delay_s: float) -> None:
        """The server asked everyone to wait (Retry-After)."""
        self._of(key, 0.0).push_back(delay_s)


class RemoteLimiter:
    """`agents.mistral.RateLimiter`'s interface over the run's `ClusterRateLimiter` actor,
    found by its name (used inside Ray only: Ray is imported on first use)."""

    def __init__(self, name: str, key: str, rps: float) -> None:
        self.name, self.key, self.interval = name, key, 1.0 / rps
        self._actor: Any = None

    @property
    def actor(self) -> Any:
        if self._actor is None:
            import ray

            self._actor = ray.get_actor(self.name)
        return self._actor

    async def acquire(self, budget_s: float) -> bool:
        wait = await self.actor.reserve.remote(self.key, self.interval, budget_s)
        if wait < 0:
            return False
        if wait:
            await asyncio.sleep(wait)
        return True

    def push_back(self, delay_s: float) -> None:
        self.actor.push_back.remote(self.key, delay_s)

"""Matches and round robins: N battles between agents on an engine, journaled as they end.

The players (`arena.player`) decide on poke-env's loop thread, where the recorder
(`arena.recorder`) journals each battle as it ends. The caller's loop only watches: it
reports progress, notices a dead engine and ends battles that ran past their timeout.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from poke_env.ps_client import AccountConfiguration

from agents.base import Agent
from arena.engines import Engine, Lane, Pairing
from arena.player import ArenaPlayer, MatchConfig, end_overdue_battles
from arena.recorder import MatchProgress, Recorder
from arena.teams import TeamPlan
from battle.record import SIDES, Journal, RunPaths, Side

if TYPE_CHECKING:
    import random

    from poke_env.teambuilder import Teambuilder

log = logging.getLogger(__name__)


class FormatError(ValueError):
    """A battle format the arena cannot play (yet)."""


def check_format(battle_format: str) -> None:
    """The arena plays singles formats: random battles, or tiers with teams (arena.teams)."""
    fmt = battle_format.lower()
    if not re.fullmatch(r"gen[1-9][a-z0-9]+", fmt):
        raise FormatError(
            f"{battle_format!r} is not a Showdown format id: use e.g. gen9randombattle"
        )
    if "doubles" in fmt or "vgc" in fmt or "multi" in fmt or "triples" in fmt:
        raise FormatError(
            f"{battle_format!r} is not a singles format: the arena plays singles only, "
            "e.g. gen9randombattle"
        )


def showdown_username(agent_name: str, side: Side, tag: str) -> str:
    """A Showdown username, unique per run session and at most 18 characters."""
    base = re.sub(r"[^a-z0-9]", "", agent_name.lower())[:9] or "agent"
    return f"{base} {side} {tag}"


def round_robin_pairs(agent_names: list[str]) -> list[Pairing]:
    """Every pair (a, b) of a round robin, a listed before b, in the agents' order."""
    return [(a, b) for i, a in enumerate(agent_names) for b in agent_names[i + 1 :]]


def schedule(
    agent_names: list[str], n: int, done: dict[Pairing, int] | None = None
) -> list[Pairing]:
    """The battles a round robin still has to play, in the order they should start.

    Every pair (a, b), a listed before b, gets `n` battles: a is p1 in ceil(n/2) of them
    and b in the rest. `done` counts the battles already played per pairing (a resume).
    Each pair's battles alternate sides, and the pairs take turns, so every pair makes
    progress from the start instead of one pair after another.
    """
    done = done or {}
    queues: list[list[Pairing]] = []
    for a, b in round_robin_pairs(agent_names):
        left = {
            (a, b): max(0, (n + 1) // 2 - done.get((a, b), 0)),
            (b, a): max(0, n // 2 - done.get((b, a), 0)),
        }
        queue: list[Pairing] = []
        while any(left.values()):
            for pairing in ((a, b), (b, a)):
                if left[pairing]:
                    queue.append(pairing)
                    left[pairing] -= 1
        queues.append(queue)
    order: list[Pairing] = []
    for k in range(max((len(q) for q in queues), default=0)):
        order.extend(q[k] for q in queues if k < len(q))
    return order


class Tournament:
    """Plays a round robin's battles (`order`, from `schedule`) on one engine, all pairs
    sharing `config.concurrency` battle slots, journaling each battle with its agents.

    Each agent is built once and plays in every lane it is part of; agents keep their
    per-battle state by battle tag.
    """

    def __init__(
        self,
        agents: dict[str, Agent],
        rngs: dict[str, random.Random],
        order: list[Pairing],
        pairs: list[Pairing],
        config: MatchConfig,
        engine: Engine,
        journal: Journal,
        paths: RunPaths,
        team_plan: TeamPlan | None = None,
        teachers: dict[Side, Agent] | None = None,
    ):
        self.agents = agents
        self.rngs = rngs
        self.teachers = teachers  # --teacher: one per side, shared by every lane
        self.order = order
        self.team_plan = team_plan  # team formats: the teams of each battle of `order`
        self.config = config
        self.engine = engine
        self.recorder = Recorder(journal, paths, config.session)
        self.recorder.pairs = {pair: [0, 0, 0, 0] for pair in pairs}
        self.lanes: list[Lane] = []
        self._tag = secrets.token_hex(1)
        engine.keep_inputlogs(paths, self.recorder.writer.submit)

    def _open_lane(self, pairing: Pairing) -> Lane:
        names: dict[Side, str] = {"p1": pairing[0], "p2": pairing[1]}
        tag = f"{self._tag}{len(self.lanes):02x}"
        players = make_players(
            {side: self.agents[names[side]] for side in SIDES},
            {side: self.rngs[names[side]] for side in SIDES},
            {side: showdown_username(names[side], side, tag) for side in SIDES},
            self.recorder,
            self.config,
            self.engine,
            concurrency=1,
            names=names,
            teachers=self.teachers,
        )
        lane = Lane(pairing, players)
        self.lanes.append(lane)
        log.debug("opened lane %s: %s vs %s", tag, *pairing)
        return lane

    def _all_players(self) -> dict[str, ArenaPlayer]:
        return {p.username: p for lane in self.lanes for p in lane.players.values()}

    async def play(
        self,
        on_progress: Callable[[MatchProgress], None] | None = None,
        poll_s: float = 0.25,
    ) -> MatchProgress:
        """Play every scheduled battle; raise ServerError if the engine dies."""

        def watch() -> None:
            self.engine.check(self._all_players())  # type: ignore[arg-type]
            for lane in list(self.lanes):
                end_overdue_battles(lane.players["p1"], self.recorder, self.config)

        return await _drive(
            self.engine,
            lambda: self.engine.run_schedule(
                self.order, self._open_lane, self.config, self.team_plan
            ),
            watch,
            self._all_players,
            self.recorder,
            len(self.order),
            on_progress,
            poll_s,
        )


async def _drive(
    engine: Engine,
    start: Callable[[], Awaitable[None]],
    watch: Callable[[], None],
    players: Callable[[], dict[Any, ArenaPlayer]],
    recorder: Recorder,
    total: int,
    on_progress: Callable[[MatchProgress], None] | None,
    poll_s: float,
) -> MatchProgress:
    """Run `start()`'s battles on `engine`, reporting progress and calling `watch()` (engine
    health, overdue battles) every `poll_s` until they end; the engine is always closed.
    A battle that could not be journaled (disk full) stops the run with its StorageError:
    the battles after it could not be kept either."""
    battles: asyncio.Future[None] | None = None
    try:
        await engine.start()
        battles = asyncio.ensure_future(start())
        while not battles.done():
            await asyncio.wait({battles}, timeout=poll_s)
            if on_progress is not None:
                on_progress(recorder.progress(total))
            if recorder.storage_error is not None:
                raise recorder.storage_error
            if not battles.done():
                watch()
        battles.result()
    finally:
        if battles is not None and not battles.done():
            battles.cancel()
        await engine.close(players())
        recorder.close()  # the files of every finished battle are on disk (a moment's wait)
    if recorder.storage_error is not None:
        raise recorder.storage_error
    progress = recorder.progress(total)
    if on_progress is not None:
        on_progress(progress)
    return progress


def make_players(
    agents: dict[Side, Agent],
    rngs: dict[Side, random.Random],
    usernames: dict[Side, str],
    recorder: Recorder,
    config: MatchConfig,
    engine: Engine,
    concurrency: int,
    names: dict[Side, str] | None = None,
    teams: dict[Side, Teambuilder] | None = None,
    teachers: dict[Side, Agent] | None = None,
) -> dict[Side, ArenaPlayer]:
    """Both sides' players for a match or a tournament lane, attached to `engine`;
    `teachers` (`--teacher`) label each side's trajectories."""
    quiet = logging.getLogger().getEffectiveLevel() > logging.DEBUG
    players = {
        side: ArenaPlayer(
            agents[side],
            side,
            recorder,
            rngs[side],
            config,
            names=names,
            teacher=None if teachers is None else teachers[side],
            account_configuration=AccountConfiguration(usernames[side], None),
            battle_format=config.battle_format,
            log_level=logging.WARNING if quiet else logging.DEBUG,
            **engine.player_kwargs(concurrency),
            **({} if teams is None else {"team": teams[side]}),
        )
        for side in SIDES
    }
    for side, player in players.items():
        engine.attach(side, player)
    return players


class Match:
    """Plays `config.n` battles between two agents on an engine, journaling each one."""

    def __init__(
        self,
        agents: dict[Side, Agent],
        rngs: dict[Side, random.Random],
        config: MatchConfig,
        engine: Engine,
        journal: Journal,
        paths: RunPaths,
        team_plan: TeamPlan | None = None,
        teachers: dict[Side, Agent] | None = None,
    ):
        self.config = config
        self.engine = engine
        self.team_plan = team_plan
        self.recorder = Recorder(journal, paths, config.session)
        tag = secrets.token_hex(2)
        # Team formats: an engine that takes teams from the players' teambuilders has them.
        builders = None if team_plan is None else engine.teambuilders(team_plan)
        self.players = make_players(
            agents,
            rngs,
            {side: showdown_username(agents[side].name, side, tag) for side in SIDES},
            self.recorder,
            config,
            engine,
            concurrency=config.concurrency,
            teams=builders,
            teachers=teachers,
        )
        engine.keep_inputlogs(paths, self.recorder.writer.submit)

    @property
    def usernames(self) -> dict[Side, str]:
        return {side: p.username for side, p in self.players.items()}

    async def play(
        self,
        on_progress: Callable[[MatchProgress], None] | None = None,
        poll_s: float = 0.25,
    ) -> MatchProgress:
        """Play every battle; raise ServerError if the engine dies (finished ones are kept)."""

        def watch() -> None:
            self.engine.check(self.players)
            self._end_overdue_battles()

        return await _drive(
            self.engine,
            lambda: self.engine.run(self.players, self.config, self.team_plan),
            watch,
            lambda: self.players,
            self.recorder,
            self.config.n,
            on_progress,
            poll_s,
        )

    def _end_overdue_battles(self) -> None:
        end_overdue_battles(self.players["p1"], self.recorder, self.config)

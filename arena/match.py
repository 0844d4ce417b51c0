"""Round robins, and a match as a round robin of one pair: N battles per pair on an
engine, journaled as they end.

A run's entrants are its agents: a round robin's agents as given, or a match's two
sides ("p1", "p2": a match keeps its sides, and may put one agent on both). `schedule`
orders the battles, `Tournament` plays them in lanes of two players. The players
(`arena.player`) decide on poke-env's loop thread, where the recorder (`arena.recorder`)
journals each battle as it ends. The caller's loop only watches: it reports progress,
notices a dead engine and ends battles that ran past their timeout.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Callable, Collection
from functools import partial
from typing import TYPE_CHECKING

from poke_env.ps_client import AccountConfiguration

from agents.base import Agent
from arena.engines import Engine, Lane, Pairing
from arena.outside import ChallengerPlayer, outside_user
from arena.player import ArenaPlayer, MatchConfig, end_overdue_battles
from arena.recorder import MatchProgress, Recorder
from arena.teams import TeamPlan
from battle.journal import Journal
from battle.record import SIDES, RunPaths, Side

if TYPE_CHECKING:
    import random

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
    pairs: list[Pairing],
    n: int,
    done: dict[Pairing, int] | None = None,
    swap_sides: bool = True,
    fixed: Collection[Pairing] = (),
) -> list[Pairing]:
    """The battles still to play, in the order they should start.

    Every pair (a, b) gets `n` battles. With `swap_sides` (a round robin), a is p1 in
    ceil(n/2) of them and b in the rest, and each pair's battles alternate sides; without
    (a match), and for the pairs in `fixed` (an outside user, always p2), a is always p1.
    `done` counts the battles already played per pairing (a resume). The pairs take
    turns, so every pair makes progress from the start instead of one pair after another.
    """
    done = done or {}
    queues: list[list[Pairing]] = []
    for a, b in pairs:
        swap = swap_sides and (a, b) not in fixed
        wanted = {(a, b): (n + 1) // 2, (b, a): n // 2} if swap else {(a, b): n}
        left = {pairing: max(0, count - done.get(pairing, 0)) for pairing, count in wanted.items()}
        queue: list[Pairing] = []
        while any(left.values()):
            for pairing in left:
                if left[pairing]:
                    queue.append(pairing)
                    left[pairing] -= 1
        queues.append(queue)
    order: list[Pairing] = []
    for k in range(max((len(q) for q in queues), default=0)):
        order.extend(q[k] for q in queues if k < len(q))
    return order


class Tournament:
    """Plays a run's battles (`order`, from `schedule`) on one engine, all pairs sharing
    `config.concurrency` battle slots, journaling each battle as it ends.

    `agents` holds one agent per entrant, built once: it plays in every lane it is part
    of and keeps its per-battle state by battle tag. A lane is two players for one
    pairing; an engine opens lanes as the schedule needs them (`Engine.run_schedule`).
    `pairs` (a round robin's, as `round_robin_pairs` gives them): each battle's record
    names the agents on its sides, and progress is tallied per pair; a match (no `pairs`)
    names its agents once, in its spec, and counts wins per side.
    """

    def __init__(
        self,
        agents: dict[str, Agent],
        rngs: dict[str, random.Random],
        order: list[Pairing],
        config: MatchConfig,
        engine: Engine,
        journal: Journal,
        paths: RunPaths,
        team_plan: TeamPlan | None = None,
        teachers: dict[Side, Agent] | None = None,
        pairs: list[Pairing] | None = None,
    ):
        self.agents = agents
        self.rngs = rngs
        self.teachers = teachers  # --teacher: one per side, shared by every lane
        self.order = order
        self.team_plan = team_plan  # team formats: the teams of each battle of `order`
        self.config = config
        self.engine = engine
        self.named = pairs is not None
        self.recorder = Recorder(journal, paths, config.session)
        self.recorder.pairs = {pair: [0, 0, 0, 0] for pair in pairs or []}
        self.lanes: list[Lane] = []
        self._tag = secrets.token_hex(1)
        engine.keep_inputlogs(paths, self.recorder.writer.submit)
        engine.record_into(self.recorder)

    def usernames(self, pairing: Pairing, lane: int) -> dict[Side, str]:
        """The Showdown users of the `lane`-th lane opened (0 first), if it plays `pairing`."""
        tag = f"{self._tag}{lane:02x}"
        return {
            side: showdown_username(self.agents[key].name, side, tag)
            for side, key in zip(SIDES, pairing, strict=True)
        }

    def _open_lane(self, pairing: Pairing) -> Lane:
        keys: dict[Side, str] = {"p1": pairing[0], "p2": pairing[1]}
        players = make_players(
            {side: self.agents[keys[side]] for side in SIDES},
            {side: self.rngs[keys[side]] for side in SIDES},
            self.usernames(pairing, len(self.lanes)),
            self.recorder,
            self.config,
            self.engine,
            names=keys if self.named else None,
            teachers=self.teachers,
        )
        lane = Lane(pairing, players, outside=outside_user(self.agents[keys["p2"]]))
        self.lanes.append(lane)
        log.debug("opened lane %d: %s vs %s", len(self.lanes) - 1, *pairing)
        return lane

    def _all_players(self) -> dict[str, ArenaPlayer]:
        return {p.username: p for lane in self.lanes for p in lane.players.values()}

    async def play(
        self,
        on_progress: Callable[[MatchProgress], None] | None = None,
        poll_s: float = 0.25,
    ) -> MatchProgress:
        """Play every scheduled battle, reporting progress and watching the engine (its
        health, overdue battles) every `poll_s` until they end; the engine is always
        closed. Raises ServerError if the engine dies (finished battles are kept); a
        battle that could not be journaled (disk full) stops the run with its
        StorageError: the battles after it could not be kept either."""
        recorder, engine, total = self.recorder, self.engine, len(self.order)
        battles: asyncio.Future[None] | None = None
        try:
            await engine.start()
            battles = asyncio.ensure_future(
                engine.run_schedule(self.order, self._open_lane, self.config, self.team_plan)
            )
            while not battles.done():
                await asyncio.wait({battles}, timeout=poll_s)
                if on_progress is not None:
                    on_progress(recorder.progress(total))
                if recorder.storage_error is not None:
                    raise recorder.storage_error
                if not battles.done():
                    engine.check(self._all_players())  # type: ignore[arg-type]
                    for lane in list(self.lanes):
                        end_overdue_battles(lane.players["p1"], recorder, self.config)
            battles.result()
        finally:
            if battles is not None and not battles.done():
                battles.cancel()
            await engine.close(self._all_players())  # type: ignore[arg-type]
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
    names: dict[Side, str] | None = None,
    teachers: dict[Side, Agent] | None = None,
) -> dict[Side, ArenaPlayer]:
    """The players of a lane (one battle at a time on the server engine), attached to
    `engine`; `teachers` (`--teacher`) label each side's trajectories. A side that is an
    outside user (`user:NAME`, always p2) gets no player: p1's challenges it."""
    quiet = logging.getLogger().getEffectiveLevel() > logging.DEBUG
    opponent = outside_user(agents["p2"])
    if opponent is not None and not engine.plays_outside_users:
        raise ValueError(f"{agents['p2'].name} is a user on a server: use the server engine")
    player = ArenaPlayer if opponent is None else partial(ChallengerPlayer, opponent=opponent)
    players = {
        side: player(
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
            **engine.player_kwargs(),
        )
        for side in SIDES
        if outside_user(agents[side]) is None
    }
    for side, player in players.items():
        engine.attach(side, player)
    return players

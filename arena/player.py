"""The arena's poke-env player: asks its agent within a deadline, plays only legal
orders, records every decision, and lets a finished battle leave memory.

poke-env runs every player on its own event loop thread (`POKE_LOOP`); the two players'
decisions, websockets and the journal all live there.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from poke_env.battle.move import Move
from poke_env.concurrency import POKE_LOOP
from poke_env.player.battle_order import BattleOrder, SingleBattleOrder
from poke_env.player.player import Player
from websockets.exceptions import ConnectionClosed

from agents.base import (
    Agent,
    Decision,
    action_name,
    is_legal,
    random_legal_order,
    team_preview_message,
)
from arena.recorder import Recorder
from arena.teams import Team, team_name
from arena.trajectories import TrajectoryRecorder
from battle.observe import move_effectiveness
from battle.record import (
    DEFAULT_BATTLE_TIMEOUT_S,
    DEFAULT_DECISION_TIMEOUT_S,
    DecisionRecord,
    Side,
)
from battle.trajectory import LZ4_FORMAT

if TYPE_CHECKING:
    import random

    from poke_env.battle.abstract_battle import AbstractBattle


log = logging.getLogger(__name__)


@dataclass
class MatchConfig:
    """How a session's battles are played (its spec's settings, for the players and the
    engine)."""

    battle_format: str = "gen9randombattle"
    concurrency: int = 4
    move_delay: float = 0.0
    battle_timeout_s: float = DEFAULT_BATTLE_TIMEOUT_S
    decision_timeout_s: float = DEFAULT_DECISION_TIMEOUT_S
    session: int = 0
    trajectories_dir: Path | None = None  # --save-trajectories: Metamon files go here
    trajectory_format: str = LZ4_FORMAT  # --trajectory-format: "lz4" or "metamon"
    challenge_timeout_s: float = 60.0  # outside users: the longest wait for an answer


FORGET_AFTER_S = 60.0  # a finished battle's object is dropped this long after it ended


class ArenaPlayer(Player):
    """A poke-env player that asks an agent, checks legality, and records every decision.

    With a `teacher` (`--teacher`, saved trajectories only), that agent is also asked at
    every decision, on the same battle, after the player's own agent has decided: its
    choice labels the trajectory's step and goes nowhere else (not sent, not recorded as
    a decision, not timed).
    """

    def __init__(
        self,
        agent: Agent,
        side: Side,
        recorder: Recorder,
        rng: random.Random,
        config: MatchConfig,
        names: dict[Side, str] | None = None,
        teacher: Agent | None = None,
        **kwargs,
    ):
        self.agent = agent
        self.side = side
        self.names = names  # tournaments: the agents (as given) on both sides
        self.recorder = recorder
        self.rng = rng
        self.move_delay = config.move_delay
        self.decision_timeout_s = config.decision_timeout_s
        self.trajectories = (
            None
            if config.trajectories_dir is None
            else TrajectoryRecorder(
                config.trajectories_dir,
                labelled=teacher is not None,
                file_format=config.trajectory_format,
            )
        )
        self.teacher = teacher if self.trajectories is not None else None
        # Server engine: the team of the one battle this player's lane plays.
        self.current_team: Team | None = None
        self._finished_at: dict[str, float] = {}  # recorded battles, until forgotten
        super().__init__(**kwargs)
        _route_player_logger(self.logger)

    def play_team(self, team: Team) -> None:
        """Bring `team` to the next battle (a lane plays one battle at a time)."""
        self.current_team = team
        self.update_team(team.text)

    def _note_team(self, battle: AbstractBattle) -> None:
        """Server engine, team formats: record which of the side's teams this battle got."""
        if self.side in self.recorder.teams.get(battle.battle_tag, {}):
            return
        if self.current_team is not None:
            self.recorder.note_team(battle.battle_tag, self.side, team_name(self.current_team))

    def teampreview(self, battle: AbstractBattle) -> str | Awaitable[str]:
        """The agent's team order (its `team_order` hook), else the team as written."""
        self._note_team(battle)
        return team_preview_message(self.agent, battle)

    async def choose_move(self, battle: AbstractBattle) -> BattleOrder:
        self.recorder.seen(battle.battle_tag)
        self._note_team(battle)
        if self.move_delay > 0:
            await asyncio.sleep(self.move_delay)  # for spectators; never blocks the loop
        start = time.perf_counter()
        decision = await self._decide(battle)
        latency_ms = (time.perf_counter() - start) * 1000
        if not is_legal(decision.order, battle):
            log.warning(
                "%s (%s) chose an illegal action %r in %s; playing a random legal one",
                self.agent.name, self.side, decision.order.message, battle.battle_tag,
            )  # fmt: skip
            decision = Decision(
                order=random_legal_order(battle, self.rng),
                fallback=True,
                fallback_reason="illegal_action",
                reasoning=decision.reasoning,
                tokens=decision.tokens,
                candidates=decision.candidates,
            )
        self.recorder.add_decision(
            DecisionRecord(
                battle_tag=battle.battle_tag,
                turn=battle.turn,
                side=self.side,
                action=action_name(decision.order),
                latency_ms=round(latency_ms, 3),
                fallback=decision.fallback,
                fallback_reason=decision.fallback_reason,
                reasoning=decision.reasoning,
                tokens=decision.tokens,
                effectiveness=_effectiveness(decision.order, battle),
                candidates=decision.candidates,
            )
        )
        if self.trajectories is not None:
            label = None if self.teacher is None else await self._teach(self.teacher, battle)
            self.trajectories.record(battle, decision.order, label)  # never raises
        return decision.order

    async def _teach(self, teacher: Agent, battle: AbstractBattle) -> BattleOrder | None:
        """The teacher's legal order for this decision, asked like the player's agent
        (`_decide`); None, with a warning, when it fails, times out, falls back or
        chooses an illegal order (the step's label is then -1). Never raises."""
        where = f"teacher {teacher.name} ({self.side}) in {battle.battle_tag}"
        try:
            decision = await asyncio.wait_for(teacher.decide(battle), self.decision_timeout_s)
        except TimeoutError:
            log.warning("%s took over %gs; labelling the step -1", where, self.decision_timeout_s)
            return None
        except Exception as exc:
            log.warning("%s failed (%s: %s); labelling the step -1", where, type(exc).__name__, exc)
            log.debug("%s failed", where, exc_info=True)
            return None
        order = getattr(decision, "order", None)
        if not isinstance(order, BattleOrder) or not is_legal(order, battle):
            shown = order.message if isinstance(order, BattleOrder) else repr(order)
            log.warning("%s chose an illegal action %s; labelling the step -1", where, shown)
            return None
        if decision.fallback:
            log.warning("%s fell back (%s); labelling the step -1", where, decision.fallback_reason)
            return None
        return order

    async def _decide(self, battle: AbstractBattle) -> Decision:
        """The agent's decision within the deadline; a random legal one if it fails."""
        try:
            return await asyncio.wait_for(self.agent.decide(battle), self.decision_timeout_s)
        except TimeoutError:
            reason = "timeout"
        except Exception:
            log.exception(
                "agent %s (%s) failed in %s", self.agent.name, self.side, battle.battle_tag
            )
            reason = "agent_error"
        return Decision(
            order=random_legal_order(battle, self.rng), fallback=True, fallback_reason=reason
        )

    def _battle_finished_callback(self, battle: AbstractBattle) -> None:
        self._note_team(battle)
        if self.side == "p1":
            self.recorder.finish(battle, names=self.names)
        if self.trajectories is not None:
            # Each side writes its own view; a battle the run records as an error
            # (timed out, forfeited by the arena) is no trajectory to learn from.
            if self.recorder.finished.get(battle.battle_tag) is not None:  # an error
                self.trajectories.discard(battle.battle_tag)
            else:
                self.trajectories.finish_later(battle, self.recorder.writer.submit)
        self._release(battle)

    def _release(self, battle: AbstractBattle) -> None:
        """Let a recorded battle leave memory. poke-env keeps every battle object it has
        seen (~0.3 MB each with its protocol log, requests and teams), so a long run would
        grow without bound: the bulky parts go now, and the object itself once it has been
        finished for a while (a late message for a battle poke-env no longer knows would
        wait for it forever)."""
        battle._replay_data = []
        battle._last_request = {}
        battle._team, battle._opponent_team = {}, {}
        battle._teampreview_team, battle._teampreview_opponent_team = [], []
        now = time.monotonic()
        self._finished_at[battle.battle_tag] = now
        for tag, at in list(self._finished_at.items()):  # oldest first
            if now - at < FORGET_AFTER_S:
                break
            del self._finished_at[tag]
            self._battles.pop(tag, None)
            locks = getattr(self.ps_client, "_battle_locks", None)
            if locks is not None:
                locks.pop(tag, None)


class _DisconnectFilter(logging.Filter):
    """A closed websocket is reported by the arena as one line; drop poke-env's traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (ConnectionClosed, OSError)):
            record.exc_info = None
            record.msg, record.args = "websocket closed: %s", (exc,)
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


_DISCONNECT_FILTER = _DisconnectFilter()


def _route_player_logger(logger: logging.Logger) -> None:
    """poke-env gives each player a logger with its own stream handler; send it to ours."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = True
    logger.addFilter(_DISCONNECT_FILTER)
    # Its message tasks that die on a closed socket are reported by asyncio, too.
    asyncio_logger = logging.getLogger("asyncio")
    if _DISCONNECT_FILTER not in asyncio_logger.filters:
        asyncio_logger.addFilter(_DISCONNECT_FILTER)


def _effectiveness(order: BattleOrder, battle: AbstractBattle) -> float | None:
    """The chosen move's type multiplier on the opponent's active, as prompts show it."""
    opponent = battle.opponent_active_pokemon
    if isinstance(order, SingleBattleOrder) and opponent is not None:
        move = order.order
        if isinstance(move, Move):
            return move_effectiveness(move, move.type, opponent)
    return None


def end_overdue_battles(p1: ArenaPlayer, recorder: Recorder, config: MatchConfig) -> None:
    """Record `p1`'s battles past their timeout as errors and end them (a forfeit)."""
    now = time.monotonic()
    for tag, battle in list(p1.battles.items()):
        live = recorder.live.get(tag)
        if battle.finished or live is None or tag in recorder.finished:
            continue
        playing = now - live.started - config.move_delay * battle.turn
        if playing > config.battle_timeout_s:
            log.warning("battle %s passed its %.0fs timeout", tag, config.battle_timeout_s)
            message = f"timed out after {config.battle_timeout_s:.0f}s"
            POKE_LOOP.call_soon_threadsafe(recorder.finish, battle, message, p1.names)
            asyncio.run_coroutine_threadsafe(p1.ps_client.send_message("/forfeit", tag), POKE_LOOP)

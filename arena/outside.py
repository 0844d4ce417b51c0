"""Opponents outside the arena: `user:NAME`, a bot or a person logged in to the same
Showdown server. The arena plays them without their code: its player challenges NAME for
each battle and plays it; the battle, its winner and its protocol log are recorded, and
NAME's choices as the log shows them (`battle.observed`), not timed.

Showdown makes the challenger p1, so an outside user always plays p2 (a round robin keeps
those pairs' sides fixed). Bots in the wild accept one challenge at a time and may drop a
challenge that arrives while they finish the last battle, so an unanswered challenge is
re-issued (cancelled, then sent again) every `REISSUE_S` until it is accepted or NAME has
shown no sign of life (no battle with the arena starting or ending) for the run's
challenge timeout. Nothing here waits without a bound.

Errors are one line (`ChallengeError`, a `ServerError`: the run stops, its finished
battles are kept): NAME is not on the server, blocks or rejects challenges, the server
refused the challenge (it says why), or NAME did not answer in time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from poke_env.concurrency import create_in_poke_loop
from poke_env.data.normalize import to_id_str

from agents.base import Agent
from agents.registry import is_outside
from arena.player import ArenaPlayer
from arena.server import ServerError
from battle.observed import observed_choices
from battle.record import DecisionRecord, Side

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle

log = logging.getLogger(__name__)

DEFAULT_CHALLENGE_TIMEOUT_S = 60.0
REISSUE_S = 5.0  # an unanswered challenge is cancelled and sent again this often
CANCEL_ACK_S = 2.0  # the longest wait for the server to confirm a cancelled challenge
THROTTLE_S = 10.0  # a server with throttling refuses a challenge sooner than this

# What the server answers a challenge with, by a phrase of its popup; any other popup
# after a challenge is the server refusing it ("refused"), with its own words.
_POPUPS = (
    ("was not found", "absent"),
    ("is not accepting challenges", "blocks"),
    ("You are not challenging", "cancelled"),  # our cancel crossed an acceptance
    ("pending challenges", "busy"),  # three challengers already wait for NAME
    ("less than 10 seconds after your last challenge", "throttled"),
    ("There's already a challenge", "busy"),
)


class ChallengeError(ServerError):
    """An outside user could not be played; the message is one line saying why."""


def outside_user(agent: Agent) -> str | None:
    """The Showdown username an agent stands for, when it is an outside user."""
    return getattr(agent, "username", None) if getattr(agent, "outside", False) else None


def check_outside(
    engine: str,
    *,
    sides: tuple[str, str] | None = None,
    agents: list[str] | None = None,
    teacher: str | None = None,
) -> bool:
    """A run's outside users are playable: on the server engine, on p2 of a match, at most
    one per round robin, never a teacher. True when the run has one."""
    names = list(sides or ()) + list(agents or ())
    outside = [name for name in names if is_outside(name)]
    if teacher is not None and is_outside(teacher):
        raise ValueError(f"--teacher {teacher} is an outside user: a teacher must be an agent")
    if not outside:
        return False
    if engine != "server":
        raise ValueError(
            f"{outside[0]} is a user on a Showdown server: it needs the server engine "
            f"(leave out --engine {engine})"
        )
    if sides is not None:
        if is_outside(sides[0]) and is_outside(sides[1]):
            raise ValueError(
                "both sides are outside users: the arena plays them, so one side must be an "
                "agent (e.g. --p1 heuristic --p2 user:NAME)"
            )
        if is_outside(sides[0]):
            raise ValueError(
                f"--p1 {sides[0]}: an outside user plays p2 (the arena challenges it, and "
                f"Showdown makes the challenger p1): use --p1 {sides[1]} --p2 {sides[0]}"
            )
    if agents is not None and len(outside) > 1:
        raise ValueError(
            f"--agents lists {len(outside)} outside users ({', '.join(outside)}): the arena "
            "cannot make two of them battle each other; list one per round robin"
        )
    return True


Contact = dict[str, float]  # outside username -> when it last started or ended a battle


class ChallengerPlayer(ArenaPlayer):
    """An arena player whose opponent is an outside user: it challenges that user for each
    battle (`play_one`) and records the opponent's choices from the protocol log."""

    def __init__(self, *args, opponent: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.opponent = opponent
        self.opponent_side: Side = "p2" if self.side == "p1" else "p1"
        loop = self.ps_client.loop
        self._started: asyncio.Event = create_in_poke_loop(asyncio.Event, loop)
        self._answers: asyncio.Queue[tuple[str, str]] = create_in_poke_loop(asyncio.Queue, loop)
        self.ps_client._handle_message = self._screened(self.ps_client._handle_message)

    # --- the server's answers ----------------------------------------------------------

    def _screened(self, handle: Callable[[str], Awaitable[None]]):
        async def screened(message: str) -> None:
            if not self._is_answer(message):
                await handle(message)

        return screened

    def _is_answer(self, message: str) -> bool:
        """Queue the server's answers to our challenges; True when the message was one
        (poke-env would only log it as a warning)."""
        first = message.split("\n", 1)[0]
        if first.startswith("|popup|"):
            text = first.removeprefix("|popup|").replace("||", " ").strip()
            kind = next((k for phrase, k in _POPUPS if phrase in text), "refused")
            self._answers.put_nowait((kind, text))
            return True
        if first.startswith("|pm|"):
            parts = first.split("|", 4)
            body = parts[4] if len(parts) > 4 else ""
            sender = to_id_str(parts[2]) if len(parts) > 2 else ""
            if "rejected the challenge" in body and sender == to_id_str(self.opponent):
                self._answers.put_nowait(("rejected", body.removeprefix("/nonotify ")))
                return True
            if "cancelled the challenge" in body and sender == to_id_str(self.username):
                self._answers.put_nowait(("cancelled", body))
                return True
        return False

    async def _create_battle(self, split_message: list[str]) -> AbstractBattle:
        battle = await super()._create_battle(split_message)
        self._started.set()
        return battle

    async def _answer(self, within: float) -> tuple[str, str] | None:
        """The server's next answer; None once the battle started or after `within` s."""
        started = asyncio.ensure_future(self._started.wait())
        answer = asyncio.ensure_future(self._answers.get())
        await asyncio.wait({started, answer}, timeout=within, return_when="FIRST_COMPLETED")
        started.cancel()
        if not answer.done():
            answer.cancel()
            return None
        return None if self._started.is_set() else answer.result()

    # --- one battle --------------------------------------------------------------------

    async def play_one(self, timeout_s: float, contact: Contact) -> None:
        """Challenge the opponent until it accepts (re-issuing), then play the battle to
        its end. Runs on poke-env's loop. Raises ChallengeError."""
        await self.ps_client.logged_in.wait()
        self._started.clear()
        while not self._answers.empty():
            self._answers.get_nowait()
        asked = time.monotonic()
        while not self._started.is_set():
            await self.ps_client.challenge(self.opponent, self._format, self.next_team)
            sent = time.monotonic()
            answer = await self._answer(REISSUE_S)
            if self._started.is_set():
                break
            if answer is not None:
                self._raise_if_fatal(*answer)
                if answer[0] in ("throttled", "busy"):  # wait before the next try
                    wait = THROTTLE_S if answer[0] == "throttled" else REISSUE_S
                    await asyncio.sleep(max(0.0, wait - (time.monotonic() - sent)))
            idle = time.monotonic() - max(asked, contact.get(self.opponent, 0.0))
            if idle > timeout_s:
                await self.ps_client.send_message(f"/cancelchallenge {self.opponent}")
                raise ChallengeError(
                    f"user {self.opponent} did not answer a challenge within {timeout_s:g}s: "
                    "is it accepting challenges in this format? (--challenge-timeout sets "
                    "how long to wait)"
                )
            if answer is None:  # unanswered: cancel, then challenge again
                log.debug("re-issuing the challenge to %s", self.opponent)
                await self.ps_client.send_message(f"/cancelchallenge {self.opponent}")
                await self._answer(CANCEL_ACK_S)
        contact[self.opponent] = time.monotonic()
        await self._battle_semaphore.acquire()  # poke-env released it for this battle
        await self._battle_count_queue.join()  # the battle ended
        contact[self.opponent] = time.monotonic()

    def _raise_if_fatal(self, kind: str, text: str) -> None:
        where = f"on {self.ps_client.websocket_url}"
        if kind == "absent":
            raise ChallengeError(
                f"user {self.opponent} is not on the server {where}: log the bot (or your "
                "browser) in under that name first, or check the spelling"
            )
        if kind == "blocks":
            raise ChallengeError(f"user {self.opponent} blocks challenges {where}")
        if kind == "rejected":
            raise ChallengeError(f"user {self.opponent} rejected the challenge ({text})")
        if kind == "refused":
            raise ChallengeError(f"the server refused the challenge to {self.opponent}: {text}")

    # --- recording ---------------------------------------------------------------------

    def _battle_finished_callback(self, battle: AbstractBattle) -> None:
        """The opponent's choices, as the log shows them, join the battle's decisions."""
        if battle.battle_tag not in self.recorder.finished:
            lines = battle._build_replay_log().splitlines()
            for choice in observed_choices(lines, self.opponent_side):
                self.recorder.add_decision(
                    DecisionRecord(
                        battle_tag=battle.battle_tag,
                        turn=choice.turn,
                        side=self.opponent_side,
                        action=choice.action,
                        latency_ms=None,
                        source="log",
                    )
                )
        super()._battle_finished_callback(battle)

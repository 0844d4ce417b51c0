"""The server engine: battles on a Showdown server, through poke-env's websocket players."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from poke_env.concurrency import handle_threaded_coroutines
from poke_env.ps_client import ServerConfiguration
from websockets.exceptions import ConnectionClosed

from arena.engines.base import Lane, Pairing
from arena.outside import ChallengerPlayer, Contact
from arena.server import AUTH_URL, ServerError, ShowdownServer
from arena.teams import TeamPlan
from battle.record import RunPaths, Side

if TYPE_CHECKING:
    from arena.player import ArenaPlayer, MatchConfig
    from arena.recorder import Recorder

log = logging.getLogger(__name__)


class ServerEngine:
    """Battles on a Showdown server, through poke-env's websocket players."""

    name = "server"
    plays_outside_users = True

    def __init__(self, server: ShowdownServer):
        self.server = server
        self.description = server.url
        self.contact: Contact = {}  # outside users: when each last started or ended a battle

    @property
    def watch_url(self) -> str:
        return self.server.browser_url

    def player_kwargs(self) -> dict:
        # A lane plays one battle at a time (see `run_schedule`).
        return {
            "server_configuration": ServerConfiguration(self.server.url, AUTH_URL),
            "max_concurrent_battles": 1,
        }

    def attach(self, side: Side, player: ArenaPlayer) -> None:
        pass

    def keep_inputlogs(self, paths: RunPaths, submit: Callable[[Callable[[], None]], None]) -> None:
        pass  # the server keeps the input log to itself

    def record_into(self, recorder: Recorder) -> None:
        pass  # its players record their battles themselves

    def notes(self) -> list[str]:
        return []

    async def start(self) -> None:
        pass

    def _gone(self) -> ServerError:
        return ServerError(
            f"the Showdown server at {self.server.url} stopped answering during the run"
        )

    @contextlib.contextmanager
    def _server_gone(self) -> Iterator[None]:
        """A websocket that closes under poke-env (e.g. while it sends a challenge) means
        the server went away: the run's one-line ServerError, not a traceback."""
        try:
            yield
        except (ConnectionClosed, OSError) as exc:
            raise self._gone() from exc

    async def run_schedule(
        self,
        order: list[Pairing],
        lane_for: Callable[[Pairing], Lane],
        config: MatchConfig,
        team_plan: TeamPlan | None = None,
    ) -> None:
        """Play one battle per entry of `order`, started in that order, at most
        `config.concurrency` at once over all pairs. A lane (two logged-in players) plays
        one battle at a time, with the teams `team_plan` gives that battle; lanes are
        opened as the pairs' battles need them."""
        slots = asyncio.Semaphore(config.concurrency)
        idle: dict[Pairing, list[Lane]] = defaultdict(list)
        tasks: list[asyncio.Future[None]] = []

        async def one(i: int, pairing: Pairing) -> None:
            lane = idle[pairing].pop() if idle[pairing] else lane_for(pairing)
            if team_plan is not None:
                for side, player in lane.players.items():
                    player.play_team(team_plan[i][side])
            try:
                with self._server_gone():
                    if lane.outside is None:
                        await lane.players["p1"].battle_against(lane.players["p2"], n_battles=1)
                    else:
                        await self._challenge(lane, config)
            finally:
                idle[pairing].append(lane)
                slots.release()

        try:
            for i, pairing in enumerate(order):
                await slots.acquire()
                tasks.append(asyncio.ensure_future(one(i, pairing)))
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def _challenge(self, lane: Lane, config: MatchConfig) -> None:
        """The lane's one player challenges its outside user and plays the battle."""
        (player,) = lane.players.values()
        assert isinstance(player, ChallengerPlayer)
        await handle_threaded_coroutines(
            player.play_one(config.challenge_timeout_s, self.contact), player.ps_client.loop
        )

    def check(self, players: dict[Side, ArenaPlayer]) -> None:
        """A server we started has exited, or a player's websocket has closed."""
        owned_died = self.server.owned and not self.server.alive()
        listeners = [p.ps_client._listening_coroutine for p in players.values()]
        if owned_died or any(f is not None and f.done() for f in listeners):
            raise self._gone()

    async def close(self, players: dict[Side, ArenaPlayer]) -> None:
        for player in players.values():
            try:
                await asyncio.wait_for(player.ps_client.stop_listening(), timeout=5)
            except Exception:  # the server may already be gone
                log.debug("could not close %s's websocket cleanly", player.username)

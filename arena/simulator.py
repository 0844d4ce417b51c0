"""The direct simulator engine: battles run in Showdown's simulator, without a server.

On a small machine the Showdown server itself (its main process, the socket process,
the team validator and the IPC between them) costs as much CPU per battle as the
simulator, so a run is bound by total CPU, not by the one simulator process. This engine
skips all of it: one Node process per core (`arena/simulator.js`) runs many battles
through the simulator's own player streams, and each chunk a player would receive is fed
to the same poke-env players the server engine uses, through poke-env's own message
handler. Agents, legality checks, records and replays are identical; only spectating in
a browser needs the server engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from poke_env.concurrency import POKE_LOOP

from arena.server import PACKAGE_DIR, ServerError, default_simulators, node_for_bundled

if TYPE_CHECKING:
    from poke_env.player.player import Player

log = logging.getLogger(__name__)

DRIVER = Path(__file__).with_name("simulator.js")


class SimulatorPool:
    """A pool of simulator processes; everything here runs on poke-env's loop."""

    def __init__(self, processes: int | None = None):
        self.processes = processes or default_simulators()
        self._procs: list[asyncio.subprocess.Process] = []
        self._readers: list[asyncio.Task[None]] = []
        self._battle_players: dict[str, Mapping[str, Player]] = {}  # per tag: its two players
        self._started: set[tuple[str, str]] = set()
        self._ended: dict[str, asyncio.Future[None]] = {}
        self._load: Counter[int] = Counter()
        self._home: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Team formats: each battle's packed team per side, sent in its `>player` lines.
        self.teams: dict[str, dict[str, str]] = {}
        # Called with (battle tag, input log text) when a battle ends: the input log
        # (`>start` with the seed, `>player`s, every choice) re-runs it exactly.
        self.on_inputlog: Callable[[str, str], None] | None = None

    @property
    def description(self) -> str:
        return f"simulator ({self.processes} processes)"

    def alive(self) -> bool:
        return bool(self._procs) and all(p.returncode is None for p in self._procs)

    def attach(self, side: str, player: Player) -> None:
        """Send what `player` says (as `side`) to the simulator instead of a websocket;
        `play(players=...)` says which battles it plays."""

        async def send_message(message: str, room: str = "", message_2: str | None = None):
            await self._send_from(side, message, room)

        player.ps_client.send_message = send_message  # type: ignore[method-assign]

    async def start(self) -> None:
        node = node_for_bundled()
        for i in range(self.processes):
            proc = await asyncio.create_subprocess_exec(
                node,
                str(DRIVER),
                str(PACKAGE_DIR),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=1 << 24,  # a chunk holds a whole turn's log and a request
                start_new_session=True,
            )
            self._procs.append(proc)
            self._readers.append(asyncio.create_task(self._read(i, proc)))
        log.info("started %d simulator processes", self.processes)

    async def play(
        self,
        tags: list[str],
        battle_format: str,
        concurrency: int,
        players: Mapping[str, Mapping[str, Player]],
    ) -> None:
        """Play one battle per tag, `concurrency` at a time, started in the order given;
        `players` maps a tag to its two (attached) players."""
        slots = asyncio.Semaphore(concurrency)
        self._battle_players.update(players)

        async def one(tag: str) -> None:
            async with slots:
                await self._play_one(tag, battle_format)

        await asyncio.gather(*(one(tag) for tag in tags))

    async def _play_one(self, tag: str, battle_format: str) -> None:
        if not self.alive():
            raise ServerError("a simulator process exited during the run")
        proc_index = min(range(self.processes), key=lambda i: self._load[i])
        self._load[proc_index] += 1
        self._home[tag] = proc_index
        ended = self._ended[tag] = asyncio.get_running_loop().create_future()
        teams = self.teams.pop(tag, {})
        names = {
            side: {"name": p.username, **({"team": teams[side]} if side in teams else {})}
            for side, p in self._battle_players[tag].items()
        }
        await self._write(proc_index, {"id": tag, "start": {"formatid": battle_format}, **names})
        try:
            await ended
        finally:
            self._load[proc_index] -= 1
            self._ended.pop(tag, None)
            self._home.pop(tag, None)

    async def _send_from(self, side: str, message: str, room: str) -> None:
        """What a poke-env player would send to the server, translated for the simulator."""
        if room not in self._home:
            return  # `/leave`, chat, or a battle already over
        if message.startswith("/choose "):
            payload = {"id": room, "side": side, "choice": message.removeprefix("/choose ")}
        elif message.startswith("/team "):
            payload = {"id": room, "side": side, "choice": message[1:]}
        elif message == "/forfeit":
            payload = {"id": room, "tie": True}
        else:
            return  # `/timer`, open team sheets: nothing to do without a server
        await self._write(self._home[room], payload)

    async def _write(self, proc_index: int, payload: dict) -> None:
        proc = self._procs[proc_index]
        if proc.stdin is None or proc.returncode is not None:
            raise ServerError("a simulator process exited during the run")
        proc.stdin.write((json.dumps(payload) + "\n").encode())
        await proc.stdin.drain()

    async def _read(self, index: int, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            message = json.loads(line)
            tag = message.get("id")
            if "data" in message:
                self._deliver(tag, message["side"], message["data"])
            elif message.get("end"):
                self._keep_inputlog(tag, message.get("inputlog"))
                future = self._ended.get(tag)
                if future is not None and not future.done():
                    future.set_result(None)
            elif "error" in message:
                log.error("simulator failed on %s: %s", tag, message["error"].splitlines()[0])
        log.debug("simulator process %d closed its output", index)
        for future in self._ended.values():  # nothing more will arrive for these battles
            if not future.done():
                future.set_exception(ServerError("a simulator process exited during the run"))

    def _keep_inputlog(self, tag: str, inputlog: str | None) -> None:
        if self.on_inputlog is None or not inputlog:
            return
        try:
            self.on_inputlog(tag, inputlog)
        except Exception:  # a lost input log never ends a run
            log.exception("could not keep the input log of %s", tag)

    def _deliver(self, tag: str, side: str, data: str) -> None:
        player = self._battle_players[tag][side]
        if (tag, side) not in self._started:
            # poke-env creates its battle object on the server's room-init line.
            self._started.add((tag, side))
            data = "|init|battle\n" + data
        # Handled as poke-env handles a websocket message: in its own task, in order per
        # battle (poke-env holds a lock per battle room).
        task = asyncio.create_task(player.ps_client._handle_message(f">{tag}\n{data}"))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for proc in self._procs:
            if proc.stdin is not None:
                with contextlib.suppress(Exception):
                    proc.stdin.close()
        for proc in self._procs:
            try:
                await asyncio.wait_for(proc.wait(), timeout=5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        for reader in self._readers:
            reader.cancel()
        self._procs.clear()


def run_in_poke_loop(coro) -> asyncio.Future:
    """Run a coroutine on poke-env's loop and await it from the caller's loop."""
    return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, POKE_LOOP))

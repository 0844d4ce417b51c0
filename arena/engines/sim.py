"""The sim engine (`--engine sim`): battles in Showdown's simulator processes
(`arena.simulator`), without a server."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from arena.engines.base import Lane, Pairing
from arena.server import ServerError
from arena.simulator import SimulatorPool, run_in_poke_loop
from arena.teams import Team, TeamPlan, packed, team_name
from battle.record import RunPaths, Side, StorageError

if TYPE_CHECKING:
    from arena.player import ArenaPlayer, MatchConfig
    from arena.recorder import Recorder


def inputlog_path(paths: RunPaths, battle_tag: str) -> Path:
    """`runs/<run>/replays/<tag>.inputlog`: the simulator's input log of a battle, next to
    its replay (`>start` with the seed, `>player`s, every choice): it re-runs the battle."""
    return paths.replay_dir / f"{battle_tag}.inputlog"


def write_inputlog(path: Path, text: str) -> None:
    """Write a battle's input log (on the run's writer thread)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as exc:
        raise StorageError.writing(f"the input log {path}", exc) from exc


class SimEngine:
    """Battles in Showdown's simulator processes, without a server (arena.simulator)."""

    def __init__(self, processes: int | None = None):
        self.pool = SimulatorPool(processes)
        self.description = self.pool.description

    name = "sim"
    watch_url = None  # nothing to watch: no server
    plays_outside_users = False  # no server for them to log in to

    def player_kwargs(self) -> dict:
        # The pool decides how many battles run at once; poke-env must not hold any back.
        return {"start_listening": False, "max_concurrent_battles": 0}

    def attach(self, side: Side, player: ArenaPlayer) -> None:
        self.pool.attach(side, player)

    def keep_inputlogs(self, paths: RunPaths, submit: Callable[[Callable[[], None]], None]) -> None:
        """Write each battle's input log next to its replay (`<tag>.inputlog`), through
        `submit` (the run's file writer, off the event loop)."""

        def keep(tag: str, text: str) -> None:
            path = inputlog_path(paths, tag)
            submit(lambda: write_inputlog(path, text))

        self.pool.on_inputlog = keep

    def record_into(self, recorder: Recorder) -> None:
        pass  # its players record their battles themselves

    def notes(self) -> list[str]:
        return []

    async def start(self) -> None:
        await run_in_poke_loop(self.pool.start())

    async def run_schedule(
        self,
        order: list[Pairing],
        lane_for: Callable[[Pairing], Lane],
        config: MatchConfig,
        team_plan: TeamPlan | None = None,
    ) -> None:
        """Play one battle per entry of `order`, started in that order, at most
        `config.concurrency` at once over all pairs (one lane per pairing: the simulator
        plays many battles of the same two players at once); battle i gets the teams
        `team_plan[i]`."""
        lanes = {pairing: lane_for(pairing) for pairing in dict.fromkeys(order)}
        base = f"battle-{config.battle_format}-{secrets.token_hex(3)}"
        players = {f"{base}{i}": lanes[pairing].players for i, pairing in enumerate(order)}
        for tag, teams in zip(players, team_plan or [], strict=False):
            self.hand_teams(tag, teams, players[tag]["p1"].recorder)
        await run_in_poke_loop(
            self.pool.play(list(players), config.battle_format, config.concurrency, players)
        )

    def hand_teams(self, tag: str, teams: dict[Side, Team], recorder: Recorder) -> None:
        """Battle `tag` is played with `teams` (sent in its `>player` lines), and its
        record names them."""
        self.pool.teams[tag] = {side: packed(team) for side, team in teams.items()}
        for side, team in teams.items():
            recorder.note_team(tag, side, team_name(team))

    def check(self, players: dict[Side, ArenaPlayer]) -> None:
        if not self.pool.alive():
            raise ServerError("a Showdown simulator process exited during the run")

    async def close(self, players: dict[Side, ArenaPlayer]) -> None:
        await run_in_poke_loop(self.pool.close())

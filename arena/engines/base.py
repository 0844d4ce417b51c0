"""The engine protocol and the lanes a round robin plays in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from arena.player import ArenaPlayer, MatchConfig
    from arena.recorder import Recorder
    from arena.teams import TeamPlan
    from battle.record import RunPaths, Side

Pairing = tuple[str, str]  # (agent on p1, agent on p2), agents as given


@dataclass
class Lane:
    """Two players, one per side, for one pairing: the server engine opens one per
    battle it plays at once, the sim engine one per pairing."""

    pairing: Pairing
    players: dict[Side, ArenaPlayer]  # one per side the arena plays
    # The username of an outside user (`user:NAME`) on the side the arena does not play:
    # the lane's one player challenges it for each battle (server engine only).
    outside: str | None = None


class Engine(Protocol):
    """Plays battles between the arena's players. Its capabilities are attributes and
    methods, so callers never ask which engine it is."""

    name: str  # as --engine spells it: "server", "sim" or "ray"
    description: str  # for people and run records: the server's address, the processes
    watch_url: str | None  # where a person can watch battles live (None: nowhere)
    plays_outside_users: bool  # can challenge `user:NAME` opponents (a server engine)

    def player_kwargs(self) -> dict:
        """poke-env Player arguments for this engine's players."""
        ...

    def attach(self, side: Side, player: ArenaPlayer) -> None: ...

    def keep_inputlogs(self, paths: RunPaths, submit: Callable[[Callable[[], None]], None]) -> None:
        """Write each battle's input log next to its replay, where the engine has one,
        through `submit` (the run's file writer)."""
        ...

    def record_into(self, recorder: Recorder) -> None:
        """The run's recorder, for an engine whose battles are played elsewhere and come
        back as records (the Ray engine journals them through it); others ignore it."""
        ...

    def notes(self) -> list[str]:
        """Lines for the run's summary (the Ray engine's per-node throughput); often none."""
        ...

    async def start(self) -> None: ...

    async def run_schedule(
        self,
        order: list[Pairing],
        lane_for: Callable[[Pairing], Lane],
        config: MatchConfig,
        team_plan: TeamPlan | None,
    ) -> None:
        """Play one battle per entry of `order`, started in that order, at most
        `config.concurrency` at once, in lanes `lane_for` opens; battle i gets the teams
        `team_plan[i]` (team formats)."""
        ...

    def check(self, players: dict[str, ArenaPlayer]) -> None:
        """Raise ServerError when the engine died under the run."""
        ...

    async def close(self, players: dict[str, ArenaPlayer]) -> None: ...

"""The engine protocol and the lanes a round robin plays in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from poke_env.teambuilder import Teambuilder

    from arena.player import ArenaPlayer, MatchConfig
    from arena.teams import TeamPlan
    from battle.record import RunPaths, Side

Pairing = tuple[str, str]  # (agent on p1, agent on p2), agents as given


@dataclass
class Lane:
    """Two players, one per side, for one pairing; the server engine opens several."""

    pairing: Pairing
    players: dict[Side, ArenaPlayer]


class Engine(Protocol):
    """Plays battles between the arena's players. Its capabilities are attributes and
    methods, so callers never ask which engine it is."""

    name: str  # as --engine spells it: "server" or "sim"
    description: str  # for people and run records: the server's address, the processes
    watch_url: str | None  # where a person can watch battles live (None: nowhere)

    def player_kwargs(self, concurrency: int) -> dict:
        """poke-env Player arguments for this engine's players."""
        ...

    def teambuilders(self, team_plan: TeamPlan) -> dict[Side, Teambuilder] | None:
        """The players' teambuilders for a match with a team plan, or None when the
        engine hands each battle its teams itself (in `run`)."""
        ...

    def attach(self, side: Side, player: ArenaPlayer) -> None: ...

    def keep_inputlogs(self, paths: RunPaths, submit: Callable[[Callable[[], None]], None]) -> None:
        """Write each battle's input log next to its replay, where the engine has one,
        through `submit` (the run's file writer)."""
        ...

    async def start(self) -> None: ...

    async def run(
        self, players: dict[Side, ArenaPlayer], config: MatchConfig, team_plan: TeamPlan | None
    ) -> None:
        """Play `config.n` battles between the two players."""
        ...

    async def run_schedule(
        self,
        order: list[Pairing],
        lane_for: Callable[[Pairing], Lane],
        config: MatchConfig,
        team_plan: TeamPlan | None,
    ) -> None:
        """Play one battle per entry of `order` (a round robin), in that order."""
        ...

    def check(self, players: dict[str, ArenaPlayer]) -> None:
        """Raise ServerError when the engine died under the run."""
        ...

    async def close(self, players: dict[str, ArenaPlayer]) -> None: ...

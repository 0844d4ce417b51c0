"""`user:NAME`: a bot or a person logged in to the same Showdown server, as an opponent.

It is registered like every agent so that runs, records and leaderboards name it the same
way, but the arena does not play it: on the server engine the arena's player challenges
NAME for each battle (`arena.outside`). It never decides, so `decide` is never called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from poke_env.data.normalize import to_id_str

from agents.base import BaseAgent, Decision
from agents.registry import register

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle

MAX_USERNAME = 18  # Showdown's limit


def check_username(arg: str | None) -> None:
    if not arg or not to_id_str(arg):
        raise ValueError(
            "user needs the Showdown username it stands for: e.g. user:SomeBot (a bot or "
            "person logged in to the same server)"
        )
    if len(arg) > MAX_USERNAME:
        raise ValueError(f"user:{arg}: Showdown usernames have at most {MAX_USERNAME} characters")


@register(
    "user",
    help="user:NAME, a bot or person logged in to the same server as NAME: the arena "
    "challenges it (server engine; it plays p2)",
    check=check_username,
    outside=True,
    example="user:SomeBot",
)
class OutsideUser(BaseAgent):
    """Stands for the user NAME in a run; the arena challenges it instead of playing it."""

    outside = True

    def __init__(self, seed: int | None = None, arg: str | None = None):
        super().__init__(seed)
        check_username(arg)
        self.username = str(arg)
        self.name = f"user:{arg}"

    async def decide(self, battle: AbstractBattle) -> Decision:
        raise RuntimeError(f"{self.name} plays for itself: the arena never decides for it")

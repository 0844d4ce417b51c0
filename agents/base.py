"""The one protocol every agent speaks, and the decision it returns.

An agent sees the poke-env battle from its own side and returns a `Decision`: a legal
order plus what the report needs (fallback and its reason, reasoning, tokens). The arena
measures latency, checks legality and records the decision; agents only decide.

Formats with team preview (gen 5+ tiers) also ask each side for the order to bring its
team in; the arena sends `team_preview_message(agent, battle)`, which asks the agent's
optional `team_order` hook and falls back to the team as written.

Blocking work (HTTP SDKs, local inference) must run in a thread (`asyncio.to_thread`) or
through an async client: `decide` runs on the event loop that serves both players'
websockets, so one slow agent must not stall the other player.
"""

from __future__ import annotations

import inspect
import logging
import operator
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from poke_env.player.battle_order import BattleOrder, DefaultBattleOrder, SingleBattleOrder

from battle.state import action_name as action_name  # agents name actions as runs do

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle

logger = logging.getLogger(__name__)


@dataclass
class Decision:
    """What an agent chose, and what the report needs to know about how."""

    order: BattleOrder
    fallback: bool = False
    fallback_reason: str | None = None
    reasoning: str | None = None
    tokens: int | None = None
    # The options the agent weighed, best first: (action name as `action_name` renders it,
    # probability). Scoring agents (alphastral) fill it; None for the others.
    candidates: list[tuple[str, float]] | None = None


@runtime_checkable
class Agent(Protocol):
    """An agent plays one side of many battles at once (one instance per side).

    Optional hook (not part of the protocol's required members, so an agent without it is
    still an `Agent`):

        def team_order(self, battle: AbstractBattle) -> Sequence[int] | None

    called once per battle at team preview (formats that have one: gen 5+ tiers), with
    `battle.teampreview_opponent_team` holding the opponent's previewed Pokémon and
    `battle.team` the agent's own team as written. It returns Showdown's 1-based team
    positions in the order to bring them (the first leads); a partial list is completed
    with the remaining positions as written, and None means "as written". It is sync and
    must be cheap (it runs on the event loop). See `team_preview_message`.
    """

    name: str  # as the agent was asked for: "metamon", "search:25"
    resolved: str  # what that turned out to be (a checkpoint's path, a model id); recorded
    params: Mapping[str, Any]  # the settings that shape its play; recorded with the run

    async def decide(self, battle: AbstractBattle) -> Decision: ...

    async def close(self) -> None: ...


class BaseAgent:
    """Convenience base: a name, a seeded RNG, no parameters, and a no-op close."""

    name = "agent"
    params: Mapping[str, Any] = MappingProxyType({})
    _resolved: str | None = None

    def __init__(self, seed: int | None = None):
        self.rng = random.Random(seed)

    @property
    def resolved(self) -> str:
        """Its name, unless the agent says what that name resolved to."""
        return self._resolved or self.name

    @resolved.setter
    def resolved(self, value: str) -> None:
        self._resolved = value

    async def decide(self, battle: AbstractBattle) -> Decision:
        raise NotImplementedError

    async def close(self) -> None:
        return None

    def random_order(self, battle: AbstractBattle) -> BattleOrder:
        return random_legal_order(battle, self.rng)


def legal_orders(battle: AbstractBattle) -> list[SingleBattleOrder]:
    """Every legal order for a singles battle: moves (with tera where allowed) and switches.

    poke-env builds these from the server's request, so they are exactly the choices the
    server accepts.
    """
    return list(battle.valid_orders)


def random_legal_order(battle: AbstractBattle, rng: random.Random) -> BattleOrder:
    orders = legal_orders(battle)
    return rng.choice(orders) if orders else DefaultBattleOrder()


def is_legal(order: BattleOrder, battle: AbstractBattle) -> bool:
    """Whether `order` is one of the battle's legal orders (compared by the message sent)."""
    orders = legal_orders(battle)
    if not orders:
        return isinstance(order, DefaultBattleOrder)
    return any(order.message == legal.message for legal in orders)


# --------------------------------------------------------------------------- team preview


def team_size(battle: AbstractBattle) -> int:
    """How many Pokémon the player brings to team preview (at least 1).

    The server's request (`battle.team`) is the authority; `battle.teampreview_team`
    (filled by poke-env only for a constant teambuilder) stands in before any request.
    """
    return max(len(battle.team) or len(battle.teampreview_team), 1)


def _written_order(size: int) -> list[int]:
    return list(range(1, size + 1))


def _order_message(order: Sequence[int]) -> str:
    separator = "" if len(order) <= 9 else ","  # Showdown reads "123456" or "1,2,...,10"
    return "/team " + separator.join(str(position) for position in order)


def complete_team_order(order: Sequence[int] | None, size: int) -> list[int] | None:
    """`order` completed with the positions it leaves out, in written order; None when it
    is not a list of distinct whole numbers in 1..size (None itself included)."""
    if order is None or isinstance(order, (str, bytes)):
        return None
    try:
        positions = list(order)
    except TypeError:
        return None
    if any(isinstance(p, bool) for p in positions):
        return None
    try:
        positions = [operator.index(p) for p in positions]  # ints, numpy ints; not 1.0
    except TypeError:
        return None
    if not all(1 <= p <= size for p in positions) or len(set(positions)) != len(positions):
        return None
    return positions + [p for p in _written_order(size) if p not in positions]


def team_preview_message(agent: object, battle: AbstractBattle) -> str:
    """The `/team ...` message for `battle`'s team preview; never raises.

    Asks `agent.team_order(battle)` when the agent has that hook (see `Agent`). The team
    as written ("/team 123456") when there is no hook, it returns None, it raises, or its
    answer is not a valid order (out of range, repeated, not whole numbers: logged as a
    warning). A valid partial order is completed with the other positions as written.
    """
    size = team_size(battle)
    default = _order_message(_written_order(size))
    hook = getattr(agent, "team_order", None)
    if not callable(hook):
        return default
    name = getattr(agent, "name", type(agent).__name__)
    try:
        order = hook(battle)
    except Exception:
        logger.warning(
            "agent %s: team_order failed in %s; the team goes as written",
            name,
            getattr(battle, "battle_tag", "?"),
            exc_info=True,
        )
        return default
    if inspect.isawaitable(order):
        if inspect.iscoroutine(order):
            order.close()  # never awaited: do not leave a "never awaited" warning behind
        logger.warning("agent %s: team_order must be sync; the team goes as written", name)
        return default
    if order is None:
        return default
    completed = complete_team_order(order, size)
    if completed is None:
        logger.warning(
            "agent %s: team_order returned %.100r in %s, not distinct positions in 1..%d; "
            "the team goes as written",
            name,
            order,
            getattr(battle, "battle_tag", "?"),
            size,
        )
        return default
    return _order_message(completed)

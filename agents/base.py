"""The one protocol every agent speaks, and the decision it returns.

An agent sees the poke-env battle from its own side and returns a `Decision`: a legal
order plus what the report needs (fallback and its reason, reasoning, tokens). The arena
measures latency, checks legality and records the decision; agents only decide.

Blocking work (HTTP SDKs, local inference) must run in a thread (`asyncio.to_thread`) or
through an async client: `decide` runs on the event loop that serves both players'
websockets, so one slow agent must not stall the other player.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from poke_env.battle.move import Move
from poke_env.battle.pokemon import Pokemon
from poke_env.player.battle_order import BattleOrder, DefaultBattleOrder, SingleBattleOrder

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle


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
    """An agent plays one side of many battles at once (one instance per side)."""

    name: str

    async def decide(self, battle: AbstractBattle) -> Decision: ...

    async def close(self) -> None: ...


class BaseAgent:
    """Convenience base: a name, a seeded RNG, and a no-op close."""

    name = "agent"

    def __init__(self, seed: int | None = None):
        self.rng = random.Random(seed)

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


def action_name(order: BattleOrder) -> str:
    """A short, stable name for an order, as recorded in runs: "move thunderbolt tera"."""
    if isinstance(order, SingleBattleOrder):
        if isinstance(order.order, Move):
            name = f"move {order.order.id}"
            if order.terastallize:
                name += " tera"
            elif order.dynamax:
                name += " dynamax"
            elif order.mega:
                name += " mega"
            elif order.z_move:
                name += " zmove"
            return name
        if isinstance(order.order, Pokemon):
            return f"switch {order.order.species}"
    message = order.message.removeprefix("/choose ").strip()
    return message or "default"


def is_legal(order: BattleOrder, battle: AbstractBattle) -> bool:
    """Whether `order` is one of the battle's legal orders (compared by the message sent)."""
    orders = legal_orders(battle)
    if not orders:
        return isinstance(order, DefaultBattleOrder)
    return any(order.message == legal.message for legal in orders)

"""Metamon's action space: poke-env orders to action indices and back.

Actions
    0-3: the active's moves sorted by id; 4-8: switches to `available_switches` in order;
    9-12: moves 0-3 with terastallization. Choices outside this space are -1 (Metamon's
    value for "no action to learn from", masked out of the loss): Struggle, Recharge, the
    default choice (`/choose default`), mega / z-move / dynamax variants, and a move or
    switch beyond the four / five slots. `order_for_index` returns the legal order for an
    index, or None when that index is not legal now (so -1 is never an order).

`move_slots` and `switch_slots` give the moves and switch targets in action order; the
Metamon state (`battle.metamon`) lists the active's moves and `available_switches` in
the same order, so `moves[i]` is the move of action `i` and `available_switches[i]` the
target of action `4 + i`. `legal_indices` is the mask of what is legal now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from poke_env.battle.move import Move
from poke_env.battle.pokemon import Pokemon
from poke_env.player.battle_order import BattleOrder, SingleBattleOrder

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle

N_MOVES = 4
N_SWITCHES = 5
TERA_OFFSET = N_MOVES + N_SWITCHES  # 9
N_ACTIONS = TERA_OFFSET + N_MOVES  # 13
NO_ACTION = -1
NOT_IN_SPACE = frozenset({"struggle", "recharge"})

# --------------------------------------------------------------------------- slots


def _request_move_ids(mon: Pokemon) -> list[str] | None:
    """The server's moveset of one of our own pokemon, from the last request."""
    request = getattr(mon, "_last_request", None) or {}
    ids = request.get("moves")
    if not ids:
        return None
    return [Move.retrieve_id(m) for m in ids]


def move_slots(battle: AbstractBattle) -> list[str]:
    """Ids of the player's active moves in action order (sorted by id, at most 4)."""
    mon = battle.active_pokemon
    if mon is None:
        return []
    ids = _request_move_ids(mon) or list(mon.moves)
    ids = [i for i in ids if i not in NOT_IN_SPACE]
    return sorted(dict.fromkeys(ids))[:N_MOVES]


def switch_slots(battle: AbstractBattle) -> list[Pokemon]:
    """The switch targets in action order: the non-active, non-fainted team members (the
    fainted ones during Revival Blessing), sorted by species id. Trapped or not: whether
    a switch is legal now is `order_for_index`'s question."""
    if battle.reviving:
        mons = list(battle.available_switches)
    else:
        team = battle.team
        side = (battle.last_request or {}).get("side") or {}
        idents = [p.get("ident") for p in side.get("pokemon", [])]
        members = [team[i] for i in idents if i in team] or list(team.values())
        mons = [mon for mon in members if not mon.active and not mon.fainted]
    return sorted(mons, key=lambda mon: mon.species)[:N_SWITCHES]


# --------------------------------------------------------------------------- actions


def action_index(order: BattleOrder, battle: AbstractBattle) -> int:
    """The Metamon action index of `order` in `battle`; -1 when it is not in the space."""
    if not isinstance(order, SingleBattleOrder):
        return NO_ACTION
    target = order.order
    if isinstance(target, Move):
        if order.mega or order.z_move or order.dynamax or target.id in NOT_IN_SPACE:
            return NO_ACTION
        slots = move_slots(battle)
        move_id = Move.retrieve_id(target.id)  # slots name Hidden Power without its type
        if move_id not in slots:
            return NO_ACTION
        return slots.index(move_id) + (TERA_OFFSET if order.terastallize else 0)
    if isinstance(target, Pokemon):
        for i, mon in enumerate(switch_slots(battle)):
            if mon is target or mon.species == target.species:
                return N_MOVES + i
    return NO_ACTION


def order_for_index(index: int, battle: AbstractBattle) -> BattleOrder | None:
    """The legal order behind Metamon action `index` now, or None if that index is illegal."""
    if not 0 <= index < N_ACTIONS:
        return None
    orders = [o for o in battle.valid_orders if isinstance(o, SingleBattleOrder)]
    if N_MOVES <= index < TERA_OFFSET:
        switches = switch_slots(battle)
        slot = index - N_MOVES
        if slot >= len(switches):
            return None
        wanted = switches[slot]
        return next((o for o in orders if o.order is wanted), None)
    tera = index >= TERA_OFFSET
    slot = index - TERA_OFFSET if tera else index
    moves = move_slots(battle)
    if slot >= len(moves):
        return None
    for order in orders:
        move = order.order
        if (
            isinstance(move, Move)
            and Move.retrieve_id(move.id) == moves[slot]
            and order.terastallize == tera
            and not (order.mega or order.z_move or order.dynamax)
        ):
            return order
    return None


def legal_indices(battle: AbstractBattle) -> list[int]:
    """The action indices legal in `battle` now (a mask for a policy), sorted."""
    indices = {action_index(o, battle) for o in battle.valid_orders}
    return sorted(i for i in indices if i != NO_ACTION)

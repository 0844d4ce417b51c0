"""The search's view of one decision in `battle.turn`'s model: `build_root` turns the
battle as this player knows it (`battle.state.BattleState`) into our side, exact, and the
legal actions the model can play; `build_world` adds one hypothesis of the opponent's
side, its revealed Pokémon with everything hidden about them (moves, item, ability, exact
stats, level, tera type) sampled from `battle.sets.SetPool` consistently with what they
have shown, and the Pokémon seen at team preview as healthy unrevealed ones; the search
(`agents.search_solver`) values its actions over many such worlds.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

from battle.model import Battle, Field, Mon, Side, move_data, species_data, to_id
from battle.sets import SetPool
from battle.state import BattleState, PokemonState, SideState
from battle.turn import Action

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle

logger = logging.getLogger(__name__)

_WEATHER = {"snow": "snowscape"}
_SCREEN_TURNS = 5


def _own_mon(gen: int, state: PokemonState) -> Mon:
    data = species_data(gen, state.species)
    stats = {k: int(v) for k, v in (state.stats or {}).items() if v is not None}
    max_hp = int(state.max_hp or 0) or 1
    stats["hp"] = max_hp
    for stat in ("atk", "def", "spa", "spd", "spe"):
        stats.setdefault(stat, 100)
    moves = []
    for move in state.moves:
        try:
            moves.append(move_data(gen, move.id))
        except KeyError:
            logger.debug("unknown move %s of %s", move.id, state.species)
    stats = _slow_start(state.ability, stats)
    return Mon(
        species=state.species,
        level=state.level,
        types=tuple(t.lower() for t in data.get("types", ())) or tuple(state.types),
        stats=stats,
        hp=0 if state.fainted else int(state.current_hp or 0),
        ability=state.ability or "",
        item=state.item or "",
        status=state.status if state.status and state.status != "fnt" else "",
        boosts={k: v for k, v in state.boosts.items() if v},
        moves=tuple(moves),
        tera_type=state.tera_type or "",
        terastallized=state.terastallized,
        weight=float(data.get("weightkg", 0.0)),
        volatiles=_volatiles(state),
    )


def _slow_start(ability: str | None, stats: dict[str, int]) -> dict[str, int]:
    """Slow Start halves Attack and Speed for five turns after each switch-in, most of
    a Regigigas' time in battle: the model halves them for good."""
    if ability != "slowstart":
        return stats
    return {**stats, "atk": stats["atk"] // 2, "spe": stats["spe"] // 2}


def _volatiles(state: PokemonState) -> set[str]:
    return {e for e in state.effects if e in ("substitute", "leechseed")}


def _hypothesis_mon(gen: int, state: PokemonState, pool: SetPool, rng: random.Random) -> Mon:
    seen_moves = [m.id for m in state.moves]
    hypothesis = pool.sample(
        state.species,
        rng,
        1,
        level=state.level or None,
        moves=seen_moves,
        item=state.item,
        ability=state.ability or None,
        tera_type=state.tera_type if state.tera_type else None,
    )[0]
    data = species_data(gen, state.species)
    stats = hypothesis.stats
    move_ids = list(dict.fromkeys(seen_moves))
    for move in hypothesis.moves:
        if len(move_ids) >= 4:
            break
        if move not in move_ids:
            move_ids.append(move)
    moves = []
    for move in move_ids:
        try:
            moves.append(move_data(gen, move))
        except KeyError:
            logger.debug("unknown move %s of %s", move, state.species)
    stats = _slow_start(state.ability or hypothesis.ability, stats)
    item = hypothesis.item if state.item is None else state.item
    hp = 0 if state.fainted else max(1, round(state.hp_fraction * stats["hp"]))
    return Mon(
        species=state.species,
        level=state.level or hypothesis.level,
        types=tuple(t.lower() for t in data.get("types", ())) or tuple(state.types),
        stats=stats,
        hp=hp if state.hp_fraction > 0 else 0,
        ability=state.ability or hypothesis.ability,
        item=item,
        status=state.status if state.status and state.status != "fnt" else "",
        boosts={k: v for k, v in state.boosts.items() if v},
        moves=tuple(moves),
        tera_type=(state.tera_type or hypothesis.tera_type) if gen == 9 else "",
        terastallized=state.terastallized,
        weight=float(data.get("weightkg", 0.0)),
        volatiles=_volatiles(state),
    )


def _side_conditions(side: Side, state: SideState) -> None:
    for condition in state.conditions:
        name = condition.name
        left = max(_SCREEN_TURNS - (condition.turns or 0), 1)
        if name == "stealthrock":
            side.stealth_rock = True
        elif name == "spikes":
            side.spikes = condition.layers
        elif name == "toxicspikes":
            side.toxic_spikes = condition.layers
        elif name == "stickyweb":
            side.sticky_web = True
        elif name == "reflect":
            side.reflect = left
        elif name == "lightscreen":
            side.light_screen = left
        elif name == "auroraveil":
            side.aurora_veil = left
        elif name == "tailwind":
            side.tailwind = max(4 - (condition.turns or 0), 1)


def _field(state: BattleState) -> Field:
    field = Field()
    if state.weather:
        field.weather = _WEATHER.get(state.weather, state.weather)
    if state.terrain:
        field.terrain = state.terrain
    if "trickroom" in state.fields:
        field.trick_room = max(_SCREEN_TURNS - state.fields["trickroom"], 1)
    if "gravity" in state.fields:
        field.gravity = max(_SCREEN_TURNS - state.fields["gravity"], 1)
    return field


@dataclass
class Root:
    """What one decision searches: our side (exact), the legal actions as model actions."""

    state: BattleState
    own: Side
    labels: list[str]  # legal action labels that the model can play
    actions: list[Action]
    unmapped: list[str]  # legal labels the model cannot play (struggle, recharge...)


def live_details(battle: AbstractBattle | None, world: Battle) -> None:
    """What `BattleState` does not carry, read from the live battle: Protect streaks
    and whether each active came in this turn (Fake Out, First Impression)."""
    if battle is None:
        return
    for side, mon in zip(world.sides, (battle.active_pokemon, battle.opponent_active_pokemon),
                         strict=True):  # fmt: skip
        if mon is None or not side.mons:
            continue
        side.mon.protect_count = int(getattr(mon, "protect_counter", 0) or 0)
        side.mon.first_turn = bool(getattr(mon, "first_turn", False))


def build_root(state: BattleState) -> Root:
    gen = state.gen
    player = state.player
    mons = [_own_mon(gen, m) for m in player.pokemon]
    own = Side(mons=mons, active=0 if player.active is not None else -1)
    if player.active is None:  # before the first switch-in: nothing active
        own.active = 0
    own.can_tera = state.can_tera and gen == 9
    _side_conditions(own, player)
    labels, actions, unmapped = [], [], []
    active = mons[0] if player.active is not None else None
    for option in state.actions:
        action = None
        if option.kind == "move" and active is not None:
            index = next((i for i, m in enumerate(active.moves) if m.id == option.id), None)
            if index is not None:
                action = Action("move", index, tera=option.tera)
        elif option.kind == "switch":
            index = next(
                (i for i, m in enumerate(player.pokemon) if m.species == option.species and i),
                None,
            )
            if index is not None:
                action = Action("switch", index)
        if action is None:
            unmapped.append(option.label)
        else:
            labels.append(option.label)
            actions.append(action)
    return Root(state, own, labels, actions, unmapped)


def build_world(root: Root, pool: SetPool, rng: random.Random) -> Battle:
    """One hypothesis: our side as it is, the opponent's revealed Pokémon with sampled sets."""
    state = root.state
    gen = state.gen
    opponent = state.opponent
    states = list(opponent.pokemon) + _previewed_unrevealed(state)
    mons = [_hypothesis_mon(gen, m, pool, rng) for m in states]
    foe = Side(mons=mons or [_placeholder(gen)], active=0)
    team_size = opponent.team_size or max(6, len(states))
    foe.unseen = max(team_size - len(states), 0)
    foe.can_tera = gen == 9 and not state.opponent_used_tera
    _side_conditions(foe, opponent)
    own = root.own.copy()
    return Battle(gen, (own, foe), _field(state), state.turn)


def _base(gen: int, species: str) -> str:
    try:
        return to_id(species_data(gen, species).get("baseSpecies", species))
    except KeyError:
        return to_id(species)


def _previewed_unrevealed(state: BattleState) -> list[PokemonState]:
    """The opponent's Pokémon shown at team preview that have not come in yet, as
    healthy Pokémon with nothing revealed (matched to the revealed ones by base species,
    since a forme may show differently at preview)."""
    opponent = state.opponent
    if not opponent.preview:
        return []
    gen = state.gen
    revealed = [_base(gen, m.species) for m in opponent.pokemon]
    unrevealed = []
    for species in opponent.preview:
        base = _base(gen, species)
        if base in revealed:
            revealed.remove(base)
            continue
        try:
            data = species_data(gen, species)
        except KeyError:
            continue
        hidden = PokemonState(
            species=to_id(species), level=0,
            types=tuple(t.lower() for t in data.get("types", ())), tera_type=None,
            terastallized=False, hp_fraction=1.0, current_hp=None, max_hp=None,
            status=None, boosts={}, ability=None, possible_abilities=(), item=None,
            moves=(), base_stats=dict(data.get("baseStats", {})), stats=None,
            fainted=False, active=False, revealed=False,
        )  # fmt: skip
        unrevealed.append(hidden)
    return unrevealed


def _placeholder(gen: int) -> Mon:
    """An opponent we know nothing about (no active yet): a middling, moveless Pokémon."""
    stats = {"hp": 300, "atk": 200, "def": 200, "spa": 200, "spd": 200, "spe": 200}
    return Mon("unknown", 80, ("???",), stats, 300)

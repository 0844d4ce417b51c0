"""What a parsed replay is made of, and the team state its boards are snapshots of.

`Replay` holds the turns; each `ReplayTurn` its events (`ReplayEvent`) and a `Board`:
both teams (`SideView`, `MonView`) and the field when the turn ends. The parser keeps
each side's team as `TrackedSide` and `TrackedMon`, whose `view()` makes those snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from poke_env.data.normalize import to_id_str

SIDES = ("p1", "p2")


@dataclass
class ReplayEvent:
    """One line of the account: `kind` is preview, move, switch, faint, damage, heal,
    status, boost, tera, weather, field, side, effect, item, ability, cant or result."""

    kind: str
    text: str
    side: str | None = None


@dataclass(frozen=True)
class MonView:
    """One Pokémon of a side's team as the log shows it at some point."""

    name: str
    species: str
    types: tuple[str, ...]
    hp: int | None  # percent; None: previewed but not yet seen in the battle
    status: str = ""  # "", "brn", "par", "slp", "frz", "psn", "tox" or "fnt"
    tera: str | None = None


@dataclass(frozen=True)
class SideView:
    mons: tuple[MonView, ...]  # in team order: previewed, else as they appeared
    unknown: int  # team slots the log has not revealed yet
    active: int | None  # index in `mons` of the Pokémon on the field
    boosts: tuple[tuple[str, int], ...] = ()  # of the active Pokémon: ("atk", 2), ...
    volatiles: tuple[str, ...] = ()  # of the active Pokémon: "Substitute", "Taunt", ...
    conditions: tuple[str, ...] = ()  # "Stealth Rock", "Spikes ×2", "Reflect", ...


@dataclass(frozen=True)
class Board:
    sides: dict[str, SideView]
    weather: str | None = None
    field: tuple[str, ...] = ()  # terrain, Trick Room, Gravity, ...


@dataclass
class ReplayTurn:
    number: int  # 0 holds the leads sent out before turn 1, -1 the team preview
    events: list[ReplayEvent] = field(default_factory=list)
    # what is on the field when the turn ends: side -> (name, hp percent)
    active: dict[str, tuple[str, int]] = field(default_factory=dict)
    board: Board | None = None  # both teams and the field when the turn ends

    @property
    def label(self) -> str:
        if self.number < 0:
            return "Team preview"
        return "Leads" if self.number == 0 else f"Turn {self.number}"


@dataclass
class Replay:
    battle_tag: str
    players: dict[str, str]  # "p1" -> username
    turns: list[ReplayTurn]
    winner: str | None  # "p1", "p2", "draw", or None when the log has no result

    @property
    def winner_text(self) -> str:
        if self.winner == "draw":
            return "The battle ended in a tie"
        if self.winner in self.players:
            return f"{self.players[self.winner]} ({self.winner}) won"
        return "The log has no result"


@dataclass
class TrackedMon:
    """One Pokémon of a side as the parser knows it so far."""

    name: str
    side: str
    species: str = ""
    types: tuple[str, ...] = ()
    hp: int | None = 100  # percent; None until a previewed Pokémon is seen
    status: str = ""
    tera: str | None = None
    seen: bool = True  # False: previewed, not yet in the battle
    boosts: dict[str, int] = field(default_factory=dict)
    volatiles: dict[str, str] = field(default_factory=dict)  # base id -> name

    @property
    def label(self) -> str:
        """How events name it: 'Gyarados (p2)'."""
        return f"{self.name} ({self.side})"

    def view(self) -> MonView:
        return MonView(self.name, self.species, self.types, self.hp, self.status, self.tera)


class TrackedSide:
    """One side as the parser knows it so far: its team, the active one, its conditions."""

    def __init__(self, side: str):
        self.side = side
        self.team: list[TrackedMon] = []
        self.size = 0  # from |teamsize|
        self.active: TrackedMon | None = None
        self.conditions: dict[str, int] = {}  # name -> layers

    def find(self, name: str, species: str | None = None) -> TrackedMon | None:
        for mon in self.team:
            if mon.seen and mon.name == name:
                return mon
        if species is None:
            return None
        wanted = to_id_str(species)
        unbound = [m for m in self.team if not m.seen]
        for mon in unbound:  # previewed as exactly this species
            if to_id_str(mon.species) == wanted:
                return mon
        for mon in unbound:  # previewed as 'Urshifu-*', or a base forme of it
            base = to_id_str(mon.species.removesuffix("-*"))
            if base and wanted.startswith(base):
                return mon
        return None

    def view(self) -> SideView:
        active = next((i for i, m in enumerate(self.team) if m is self.active), None)
        mon = self.active if active is not None else None
        boosts = tuple((s, v) for s, v in mon.boosts.items() if v) if mon else ()
        conditions = tuple(
            f"{name} ×{layers}" if layers > 1 else name for name, layers in self.conditions.items()
        )
        return SideView(
            mons=tuple(m.view() for m in self.team),
            unknown=max(0, self.size - len(self.team)),
            active=active,
            boosts=boosts,
            volatiles=tuple(mon.volatiles.values()) if mon else (),
            conditions=conditions,
        )

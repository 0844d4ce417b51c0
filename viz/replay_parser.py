"""The line-by-line reader of a protocol log: `ReplayParser` dispatches each line to its
handler, keeps both teams and the field up to date, collects each move's effects into one
event, and closes every turn with a `Board`. Effect lines are handled in
`viz.replay_effects`; values are read and worded by `viz.replay_text`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from viz.replay_effects import EFFECT_HANDLERS, EffectLines
from viz.replay_model import SIDES, Board, ReplayEvent, ReplayTurn, TrackedMon, TrackedSide
from viz.replay_text import (
    STATUS_NAMES,
    effect_name,
    from_source,
    hp_status,
    parse_hp,
    species_of,
    species_types,
)

# Annotations that qualify the move just used rather than standing on their own.
_MOVE_NOTES = {
    "-supereffective": "super effective",
    "-resisted": "not very effective",
    "-crit": "critical hit",
    "-immune": "no effect",
    "-miss": "missed",
    "-fail": "failed",
}
_CANT_REASONS = {
    **STATUS_NAMES,
    "recharge": "must recharge",
    "flinch": "flinched",
    "nopp": "no PP left",
    "slp": "asleep",
}


@dataclass
class _PendingMove:
    """A move whose effects (damage, effectiveness, crits) are still arriving."""

    user: TrackedMon
    move: str
    target: TrackedMon | None
    notes: list[str] = field(default_factory=list)
    hp_before: int | None = None
    hp_after: int | None = None
    hits: int | None = None

    def event(self) -> ReplayEvent:
        text = f"{self.user.label} used {self.move}"
        if self.target is not None and self.target is not self.user:
            text += f" → {self.target.label}"
            if self.hp_before is not None:
                text += f": {self.hp_before}% → {self.hp_after}%"
        notes = list(self.notes)
        if self.hits:
            notes.append(f"hit {self.hits} times")
        if notes:
            text += f" ({', '.join(notes)})"
        return ReplayEvent("move", text, self.user.side)


class ReplayParser(EffectLines):
    """Reads one log, line by line (`feed`), into turns of events and boards."""

    def __init__(self, battle_tag: str):
        self.battle_tag = battle_tag
        self.players: dict[str, str] = {}
        self.sides = {side: TrackedSide(side) for side in SIDES}
        self.turns: list[ReplayTurn] = [ReplayTurn(0)]
        self.pending: _PendingMove | None = None
        self.winner: str | None = None
        self.gen = 9
        self.weather: str | None = None
        self.field: list[str] = []
        # side -> the Pokémon that last came in, and its (name, hp, status, seen) before,
        # None if it was new: what to take back when it turns out to be an Illusion
        self.switched_in: dict[str, tuple[TrackedMon, tuple | None]] = {}

    # --- helpers ---------------------------------------------------------------------

    def mon(self, ident: str, details: str | None = None) -> TrackedMon | None:
        """'p2a: Gyarados' -> the tracked Pokémon (created on first sight; `details`
        ('Gyarados, L80, F') match it to a previewed one)."""
        position, sep, name = ident.partition(": ")
        side = position[:2]
        name = name.strip()
        if not sep or side not in SIDES or not name:
            return None
        team = self.sides[side]
        species = species_of(details) if details else None
        mon = team.find(name, species)
        if mon is None:
            species = species or name
            mon = TrackedMon(name, side, species, species_types(species, self.gen))
            team.team.append(mon)
        elif not mon.seen:  # a previewed Pokémon comes in: it gets its name and HP
            mon.name, mon.seen = name, True
            mon.hp = 100 if mon.hp is None else mon.hp
        if species and species != mon.species and not species.endswith("-*"):
            mon.species, mon.types = species, species_types(species, self.gen)
        return mon

    def add(self, kind: str, text: str, side: str | None = None) -> None:
        self.flush()
        self.turns[-1].events.append(ReplayEvent(kind, text, side))

    def flush(self) -> None:
        if self.pending is not None:
            self.turns[-1].events.append(self.pending.event())
            self.pending = None

    def end_turn(self) -> None:
        self.flush()
        turn = self.turns[-1]
        turn.active = {
            s: (t.active.name, t.active.hp or 0)
            for s, t in self.sides.items()
            if t.active is not None
        }
        turn.board = Board(
            sides={s: t.view() for s, t in self.sides.items()},
            weather=self.weather,
            field=tuple(self.field),
        )

    # --- lines -----------------------------------------------------------------------

    def feed(self, line: str) -> None:
        if not line.startswith("|"):
            return
        kind, *args = line[1:].split("|")
        if kind in _MOVE_NOTES:
            self.on_note(kind, args)
        elif kind in _HANDLERS:
            name, min_args = _HANDLERS[kind]
            if len(args) >= min_args:
                getattr(self, name)(args)

    def on_player(self, args: list[str]) -> None:
        if args[1]:
            self.players[args[0]] = args[1]

    def on_gen(self, args: list[str]) -> None:
        if args[0].isdigit():
            self.gen = int(args[0])

    def on_teamsize(self, args: list[str]) -> None:
        if args[0] in self.sides and args[1].isdigit():
            self.sides[args[0]].size = int(args[1])

    def on_clearpoke(self, args: list[str]) -> None:
        for side in self.sides.values():
            side.team = [m for m in side.team if m.seen]

    def on_poke(self, args: list[str]) -> None:
        """A previewed Pokémon: the team preview becomes a step of its own."""
        if args[0] not in self.sides:
            return
        if self.turns[-1].number == 0 and not self.turns[-1].events:
            self.turns[-1].number = -1
        species = species_of(args[1])
        mon = TrackedMon(species, args[0], species, species_types(species, self.gen), hp=None)
        mon.seen = False
        self.sides[args[0]].team.append(mon)

    def on_start(self, args: list[str]) -> None:
        """`|start|`: the battle begins; after a team preview, the leads get a step."""
        if self.turns[-1].number != -1:
            return
        for side, team in self.sides.items():
            names = ", ".join(m.species for m in team.team)
            if names:
                who = f"{side} ({self.players[side]})" if side in self.players else side
                self.add("preview", f"{who} brought: {names}", side)
        self.end_turn()
        self.turns.append(ReplayTurn(0))

    def on_turn(self, args: list[str]) -> None:
        self.end_turn()
        try:
            number = int(args[0])
        except (IndexError, ValueError):
            number = self.turns[-1].number + 1
        self.turns.append(ReplayTurn(number))

    def on_move(self, args: list[str]) -> None:
        user = self.mon(args[0])
        if user is None:
            return
        self.flush()
        target = self.mon(args[2]) if len(args) > 2 and args[2] else None
        self.pending = _PendingMove(user, args[1], target)
        if "[miss]" in args:
            self.pending.notes.append("missed")

    def on_note(self, kind: str, args: list[str]) -> None:
        mon = self.mon(args[0]) if args else None
        pending = self.pending
        if pending is not None and mon in (pending.target, pending.user):
            if _MOVE_NOTES[kind] not in pending.notes:
                pending.notes.append(_MOVE_NOTES[kind])
        elif mon is not None and kind in ("-crit", "-immune", "-miss"):
            self.add("effect", f"{mon.label}: {_MOVE_NOTES[kind]}", mon.side)

    def switch_in(self, args: list[str]) -> TrackedMon | None:
        side = args[0][:2]
        team = self.sides.get(side)
        if team is None:
            return None
        details = args[1] if len(args) > 1 else None
        found = team.find(args[0].partition(": ")[2].strip(), species_of(details or "") or None)
        undo = None if found is None else (found.name, found.hp, found.status, found.seen)
        mon = self.mon(args[0], details)
        if mon is None:
            return None
        hp = parse_hp(args[2]) if len(args) > 2 else None
        mon.hp = (100 if mon.hp is None else mon.hp) if hp is None else hp
        status = hp_status(args[2]) if len(args) > 2 else None
        if status is not None:
            mon.status = status
        old = team.active
        if old is not None and old is not mon:
            old.boosts.clear()
            old.volatiles.clear()
        team.active = mon
        self.switched_in[side] = (mon, undo)
        return mon

    def on_switch(self, args: list[str], verb: str = "sent out") -> None:
        mon = self.switch_in(args)
        if mon is not None:
            self.add("switch", f"{mon.side} {verb} {mon.name} ({mon.hp}%)", mon.side)

    def on_drag(self, args: list[str]) -> None:
        self.on_switch(args, verb="was forced to send out")

    def on_replace(self, args: list[str]) -> None:
        """Illusion ended: the Pokémon on the field was someone else all along."""
        side = args[0][:2]
        disguise = self.switched_in.get(side)
        mon = self.switch_in(args)
        if mon is None:
            return
        if disguise is not None and disguise[0] is not mon:
            shown, undo = disguise  # what the log showed, and what it was before
            mon.hp, mon.status = shown.hp, shown.status
            if undo is None:  # the disguise was never in the battle
                self.sides[side].team.remove(shown)
            else:  # a Pokémon seen or previewed before: as it was
                shown.name, shown.hp, shown.status, shown.seen = undo
        self.add("switch", f"{side}'s Pokémon was really {mon.name} (Illusion)", side)

    def on_detailschange(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        species = species_of(args[1])
        if mon is None or not species:
            return
        mon.species, mon.types = species, species_types(species, self.gen)
        if "[silent]" not in args:
            self.add("effect", f"{mon.label} changed into {species}", mon.side)

    def on_transform(self, args: list[str]) -> None:
        mon, other = self.mon(args[0]), self.mon(args[1])
        if mon is not None and other is not None:
            mon.volatiles["transform"] = f"Transformed ({other.species})"
            self.add("effect", f"{mon.label} transformed into {other.species}", mon.side)

    def on_faint(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None:
            mon.hp, mon.status = 0, "fnt"
            self.add("faint", f"{mon.label} fainted", mon.side)

    def on_damage(self, args: list[str], heal: bool = False) -> None:
        mon, hp = self.mon(args[0]), parse_hp(args[1])
        if mon is None or hp is None:
            return
        before, mon.hp = mon.hp, hp
        status = hp_status(args[1])
        if status is not None and mon.status != "fnt":
            mon.status = status
        source = from_source(args[2:])
        pending = self.pending
        from_effect = any(part.startswith("[from]") for part in args[2:])
        if not heal and not from_effect and pending is not None and pending.target is mon:
            if pending.hp_before is None:
                pending.hp_before = before
            pending.hp_after = hp
            return
        text = f"{mon.label} {'healed' if heal else 'lost HP'}: {before}% → {hp}%"
        self.add("heal" if heal else "damage", text + (f" ({source})" if source else ""), mon.side)

    def on_heal(self, args: list[str]) -> None:
        self.on_damage(args, heal=True)

    def on_hitcount(self, args: list[str]) -> None:
        if self.pending is not None and args[1].isdigit():
            self.pending.hits = int(args[1])

    def on_cant(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is None:
            return
        reason = _CANT_REASONS.get(args[1]) or effect_name(args[1])
        text = f"{mon.label} could not move" + (f" ({reason})" if reason else "")
        self.add("cant", text, mon.side)

    def on_win(self, args: list[str]) -> None:
        name = args[0] if args else ""
        sides = [side for side, user in self.players.items() if user == name]
        self.winner = sides[0] if sides else None
        label = f"{name} ({sides[0]})" if sides else name
        self.add("result", f"{label} won the battle", self.winner)

    def on_tie(self, args: list[str]) -> None:
        self.winner = "draw"
        self.add("result", "The battle ended in a tie")


# Protocol message -> (handler, arguments it needs); lines with fewer are skipped, and
# messages not listed here (room lines, `|request|`, `|upkeep|`, ...) are ignored.
_HANDLERS: dict[str, tuple[str, int]] = {
    "player": ("on_player", 2),
    "gen": ("on_gen", 1),
    "teamsize": ("on_teamsize", 2),
    "clearpoke": ("on_clearpoke", 0),
    "poke": ("on_poke", 2),
    "start": ("on_start", 0),
    "turn": ("on_turn", 0),
    "move": ("on_move", 2),
    "switch": ("on_switch", 1),
    "drag": ("on_drag", 1),
    "replace": ("on_replace", 2),
    "detailschange": ("on_detailschange", 2),
    "-formechange": ("on_detailschange", 2),
    "-transform": ("on_transform", 2),
    "faint": ("on_faint", 1),
    "cant": ("on_cant", 2),
    "-damage": ("on_damage", 2),
    "-heal": ("on_heal", 2),
    "-sethp": ("on_heal", 2),
    "-hitcount": ("on_hitcount", 2),
    "win": ("on_win", 0),
    "tie": ("on_tie", 0),
    **EFFECT_HANDLERS,
}

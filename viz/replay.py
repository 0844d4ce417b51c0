"""Turn a Showdown protocol log into a readable, turn-by-turn account of a battle.

The logs the arena saves are the battle as seen by player p1 (poke-env's
`battle._build_replay_log()`): p1's own Pokémon show absolute HP ("250/300"), the
opponent's show percentages ("35/100"). Both become percentages here. Room lines
(`|j|`, `|c|`, `|raw|`, ...) and anything this parser does not know are skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

log = logging.getLogger(__name__)

STATUS_NAMES = {
    "par": "paralyzed",
    "brn": "burned",
    "psn": "poisoned",
    "tox": "badly poisoned",
    "slp": "asleep",
    "frz": "frozen",
}
# Annotations that qualify the move just used rather than standing on their own.
_MOVE_NOTES = {
    "-supereffective": "super effective",
    "-resisted": "not very effective",
    "-crit": "critical hit",
    "-immune": "no effect",
    "-miss": "missed",
    "-fail": "failed",
}


@dataclass
class ReplayEvent:
    """One line of the account: `kind` is move, switch, faint, damage, heal, status,
    boost, tera, weather, field, side, effect, cant or result."""

    kind: str
    text: str
    side: str | None = None


@dataclass
class ReplayTurn:
    number: int  # 0 holds the leads sent out before turn 1
    events: list[ReplayEvent] = field(default_factory=list)
    # what is on the field when the turn ends: side -> (name, hp percent)
    active: dict[str, tuple[str, int]] = field(default_factory=dict)


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
class _Mon:
    name: str
    side: str
    hp: int = 100  # percent


@dataclass
class _PendingMove:
    """A move whose effects (damage, effectiveness, crits) are still arriving."""

    user: _Mon
    move: str
    target: _Mon | None
    notes: list[str] = field(default_factory=list)
    hp_before: int | None = None
    hp_after: int | None = None
    hits: int | None = None

    def event(self) -> ReplayEvent:
        text = f"{_label(self.user)} used {self.move}"
        if self.target is not None and self.target is not self.user:
            text += f" → {_label(self.target)}"
            if self.hp_before is not None:
                text += f": {self.hp_before}% → {self.hp_after}%"
        notes = list(self.notes)
        if self.hits:
            notes.append(f"hit {self.hits} times")
        if notes:
            text += f" ({', '.join(notes)})"
        return ReplayEvent("move", text, self.user.side)


def _label(mon: _Mon) -> str:
    return f"{mon.name} ({mon.side})"


def parse_hp(value: str) -> int | None:
    """'250/300 par' -> 83, '35/100' -> 35, '0 fnt' -> 0; None when unreadable."""
    hp = value.split(" ", 1)[0]
    try:
        if "/" not in hp:
            return 0 if int(float(hp)) == 0 else None
        cur_text, max_text = hp.split("/", 1)
        cur, top = float(cur_text), float(max_text)
    except ValueError:
        return None
    if top <= 0:
        return None
    if cur <= 0:
        return 0
    return min(100, max(1, round(100 * cur / top)))  # alive is never shown as 0%


def _source(parts: list[str]) -> str | None:
    """The `[from] EFFECT` tag of a line, without its 'item: '/'ability: ' prefix."""
    for part in parts:
        if part.startswith("[from]"):
            effect = part.removeprefix("[from]").strip()
            effect = effect.split(": ", 1)[-1]
            return STATUS_NAMES.get(effect, effect)
    return None


class _Parser:
    def __init__(self, battle_tag: str):
        self.battle_tag = battle_tag
        self.players: dict[str, str] = {}
        self.mons: dict[tuple[str, str], _Mon] = {}
        self.active: dict[str, _Mon] = {}
        self.turns: list[ReplayTurn] = [ReplayTurn(0)]
        self.pending: _PendingMove | None = None
        self.winner: str | None = None

    # --- helpers ---------------------------------------------------------------------

    def mon(self, ident: str) -> _Mon | None:
        """'p2a: Gyarados' -> the tracked Pokémon (created on first sight)."""
        position, sep, name = ident.partition(": ")
        side = position[:2]
        if not sep or side not in ("p1", "p2"):
            return None
        key = (side, name.strip())
        if key not in self.mons:
            self.mons[key] = _Mon(name.strip(), side)
        return self.mons[key]

    def add(self, kind: str, text: str, side: str | None = None) -> None:
        self.flush()
        self.turns[-1].events.append(ReplayEvent(kind, text, side))

    def flush(self) -> None:
        if self.pending is not None:
            self.turns[-1].events.append(self.pending.event())
            self.pending = None

    def end_turn(self) -> None:
        self.flush()
        self.turns[-1].active = {s: (m.name, m.hp) for s, m in sorted(self.active.items())}

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
            self.add("effect", f"{_label(mon)}: {_MOVE_NOTES[kind]}", mon.side)

    def on_switch(self, args: list[str], verb: str = "sent out") -> None:
        mon = self.mon(args[0])
        if mon is None:
            return
        hp = parse_hp(args[2]) if len(args) > 2 else None
        mon.hp = mon.hp if hp is None else hp
        self.active[mon.side] = mon
        self.add("switch", f"{mon.side} {verb} {mon.name} ({mon.hp}%)", mon.side)

    def on_drag(self, args: list[str]) -> None:
        self.on_switch(args, verb="was forced to send out")

    def on_faint(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None:
            mon.hp = 0
            self.add("faint", f"{_label(mon)} fainted", mon.side)

    def on_damage(self, args: list[str], heal: bool = False) -> None:
        mon, hp = self.mon(args[0]), parse_hp(args[1])
        if mon is None or hp is None:
            return
        before, mon.hp = mon.hp, hp
        source = _source(args[2:])
        pending = self.pending
        if not heal and source is None and pending is not None and pending.target is mon:
            if pending.hp_before is None:
                pending.hp_before = before
            pending.hp_after = hp
            return
        text = f"{_label(mon)} {'healed' if heal else 'lost HP'}: {before}% → {hp}%"
        self.add("heal" if heal else "damage", text + (f" ({source})" if source else ""), mon.side)

    def on_heal(self, args: list[str]) -> None:
        self.on_damage(args, heal=True)

    def on_hitcount(self, args: list[str]) -> None:
        if self.pending is not None and args[1].isdigit():
            self.pending.hits = int(args[1])

    def on_status(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None:
            status = STATUS_NAMES.get(args[1], args[1])
            source = _source(args[2:])
            text = f"{_label(mon)} is {status}" + (f" ({source})" if source else "")
            self.add("status", text, mon.side)

    def on_curestatus(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None:
            status = STATUS_NAMES.get(args[1], args[1])
            self.add("status", f"{_label(mon)} is no longer {status}", mon.side)

    def on_boost(self, args: list[str], sign: str = "+") -> None:
        mon = self.mon(args[0])
        if mon is not None:
            self.add("boost", f"{_label(mon)} {args[1]} {sign}{args[2]}", mon.side)

    def on_unboost(self, args: list[str]) -> None:
        self.on_boost(args, sign="-")

    def on_terastallize(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None:
            self.add("tera", f"{_label(mon)} terastallized into the {args[1]} type", mon.side)

    def on_weather(self, args: list[str]) -> None:
        if "[upkeep]" in args:
            return
        weather = args[0]
        text = "The weather cleared" if weather == "none" else f"Weather: {weather}"
        source = _source(args[1:])
        self.add("weather", text + (f" ({source})" if source else ""))

    def on_fieldstart(self, args: list[str]) -> None:
        self.add("field", f"{args[0].split(': ', 1)[-1]} started")

    def on_fieldend(self, args: list[str]) -> None:
        self.add("field", f"{args[0].split(': ', 1)[-1]} ended")

    def on_sidestart(self, args: list[str], verb: str = "set up on") -> None:
        side = args[0][:2]
        self.add("side", f"{args[1].split(': ', 1)[-1]} {verb} {side}'s side", side)

    def on_sideend(self, args: list[str]) -> None:
        self.on_sidestart(args, verb="ended on")

    def on_start(self, args: list[str], verb: str = "started") -> None:
        mon = self.mon(args[0])
        if mon is not None:
            effect = args[1].split(": ", 1)[-1]
            self.add("effect", f"{_label(mon)}: {effect} {verb}", mon.side)

    def on_end(self, args: list[str]) -> None:
        self.on_start(args, verb="ended")

    def on_cant(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None:
            reason = STATUS_NAMES.get(args[1], args[1].split(": ", 1)[-1])
            self.add("cant", f"{_label(mon)} could not move ({reason})", mon.side)

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
    "turn": ("on_turn", 0),
    "move": ("on_move", 2),
    "switch": ("on_switch", 1),
    "drag": ("on_drag", 1),
    "faint": ("on_faint", 1),
    "cant": ("on_cant", 2),
    "-damage": ("on_damage", 2),
    "-heal": ("on_heal", 2),
    "-sethp": ("on_heal", 2),
    "-hitcount": ("on_hitcount", 2),
    "-status": ("on_status", 2),
    "-curestatus": ("on_curestatus", 2),
    "-boost": ("on_boost", 3),
    "-unboost": ("on_unboost", 3),
    "-terastallize": ("on_terastallize", 2),
    "-weather": ("on_weather", 1),
    "-fieldstart": ("on_fieldstart", 1),
    "-fieldend": ("on_fieldend", 1),
    "-sidestart": ("on_sidestart", 2),
    "-sideend": ("on_sideend", 2),
    "-start": ("on_start", 2),
    "-end": ("on_end", 2),
    "win": ("on_win", 0),
    "tie": ("on_tie", 0),
}


def parse_replay(text: str, battle_tag: str = "") -> Replay:
    """Parse a protocol log; unknown and malformed lines are skipped, never fatal."""
    lines = text.splitlines()
    if lines and lines[0].startswith(">"):
        battle_tag = battle_tag or lines[0][1:].strip()
    parser = _Parser(battle_tag)
    for line in lines:
        parser.feed(line.rstrip("\r"))
    parser.end_turn()
    turns = [t for t in parser.turns if t.events or t.number > 0]
    return Replay(battle_tag, parser.players, turns, parser.winner)


def load_replay(run_dir: Path, relative: str | None, battle_tag: str = "") -> Replay | str:
    """The parsed replay of a battle, or a sentence saying why it is not available."""
    if not relative:
        return "No replay was saved for this battle."
    rel = PurePosixPath(relative.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        return "Replay not available: its path points outside the run folder."
    path = run_dir / rel
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        log.info("replay %s not readable: %s", path, exc)
        return f"Replay not available: {relative} could not be read."
    return parse_replay(text, battle_tag)

"""The parser's handlers of lines about effects: a Pokémon's status, stat stages, volatile
effects, Terastallization, item and ability, and each side's conditions, the weather and
the field. `EffectLines` is a base of `ReplayParser`, which supplies the state they change.
"""

from __future__ import annotations

from poke_env.data.normalize import to_id_str

from viz.replay_model import TrackedMon, TrackedSide
from viz.replay_text import (
    COUNTED,
    STAT_NAMES,
    STATUS_NAMES,
    WEATHER_NAMES,
    effect_base,
    effect_name,
    with_source,
)

_PROTECTS = {
    "protect",
    "detect",
    "kingsshield",
    "spikyshield",
    "banefulbunker",
    "silktrap",
    "burningbulwark",
    "obstruct",
    "maxguard",
}
_HAZARD_LAYERS = {"Spikes": 3, "Toxic Spikes": 2}


class EffectLines:
    """Handlers `ReplayParser` dispatches to (see `EFFECT_HANDLERS`)."""

    sides: dict[str, TrackedSide]
    weather: str | None
    field: list[str]

    def mon(self, ident: str, details: str | None = None) -> TrackedMon | None:
        raise NotImplementedError

    def add(self, kind: str, text: str, side: str | None = None) -> None:
        raise NotImplementedError

    def on_status(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None and args[1] in STATUS_NAMES:
            mon.status = args[1]
            text = with_source(f"{mon.label} is {STATUS_NAMES[args[1]]}", args[2:])
            self.add("status", text, mon.side)

    def on_curestatus(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None and args[1] in STATUS_NAMES:
            if mon.status != "fnt":
                mon.status = ""
            self.add("status", f"{mon.label} is no longer {STATUS_NAMES[args[1]]}", mon.side)

    def on_cureteam(self, args: list[str]) -> None:
        side = args[0][:2]
        if side in self.sides:
            for mon in self.sides[side].team:
                if mon.status in STATUS_NAMES:
                    mon.status = ""
            self.add("status", f"{side}'s team was cured of its status conditions", side)

    def on_boost(self, args: list[str], sign: int = 1) -> None:
        mon = self.mon(args[0])
        if mon is None or args[1] not in STAT_NAMES or not args[2].lstrip("-").isdigit():
            return
        amount = int(args[2]) * sign
        mon.boosts[args[1]] = max(-6, min(6, mon.boosts.get(args[1], 0) + amount))
        if amount:
            self.add("boost", f"{mon.label}: {STAT_NAMES[args[1]]} {amount:+d}", mon.side)

    def on_unboost(self, args: list[str]) -> None:
        self.on_boost(args, sign=-1)

    def on_setboost(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None and args[1] in STAT_NAMES and args[2].lstrip("-").isdigit():
            mon.boosts[args[1]] = int(args[2])
            text = f"{mon.label}: {STAT_NAMES[args[1]]} set to {int(args[2]):+d}"
            self.add("boost", with_source(text, args[3:]), mon.side)

    def on_clearboost(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None:
            mon.boosts.clear()
            if "[silent]" not in args:
                self.add("boost", f"{mon.label}: stat changes removed", mon.side)

    def on_clearallboost(self, args: list[str]) -> None:
        for side in self.sides.values():
            if side.active is not None:
                side.active.boosts.clear()
        self.add("boost", "All stat changes were removed")

    def on_clearnegativeboost(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None:
            mon.boosts = {s: v for s, v in mon.boosts.items() if v > 0}

    def on_clearpositiveboost(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None:
            mon.boosts = {s: v for s, v in mon.boosts.items() if v < 0}

    def on_invertboost(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None:
            mon.boosts = {s: -v for s, v in mon.boosts.items()}
            self.add("boost", f"{mon.label}: stat changes inverted", mon.side)

    def on_copyboost(self, args: list[str]) -> None:
        mon, other = self.mon(args[0]), self.mon(args[1])
        if mon is not None and other is not None:
            mon.boosts = dict(other.boosts)
            self.add("boost", f"{mon.label} copied {other.label}'s stat changes", mon.side)

    def on_swapboost(self, args: list[str]) -> None:
        mon, other = self.mon(args[0]), self.mon(args[1])
        if mon is None or other is None:
            return
        stats = args[2].split(", ") if len(args) > 2 and args[2] in STAT_NAMES else STAT_NAMES
        for stat in stats:
            a, b = mon.boosts.get(stat, 0), other.boosts.get(stat, 0)
            mon.boosts[stat], other.boosts[stat] = b, a

    def on_terastallize(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None:
            mon.tera = args[1]
            self.add("tera", f"{mon.label} terastallized into the {args[1]} type", mon.side)

    def on_weather(self, args: list[str]) -> None:
        if "[upkeep]" in args:
            return
        key = to_id_str(args[0])
        if key in ("none", ""):
            self.weather = None
            self.add("weather", "The weather cleared")
            return
        self.weather = WEATHER_NAMES.get(key, args[0])
        self.add("weather", with_source(f"Weather: {self.weather}", args[1:]))

    def on_fieldstart(self, args: list[str]) -> None:
        name = effect_name(args[0])
        if name is None:
            return
        if name.endswith("Terrain"):
            self.field = [f for f in self.field if not f.endswith("Terrain")]
        if name not in self.field:
            self.field.append(name)
        self.add("field", with_source(f"{name} started", args[1:]))

    def on_fieldend(self, args: list[str]) -> None:
        name = effect_name(args[0])
        if name is None:
            return
        self.field = [f for f in self.field if f != name]
        self.add("field", f"{name} ended")

    def on_sidestart(self, args: list[str]) -> None:
        side, name = args[0][:2], effect_name(args[1])
        if side not in self.sides or name is None:
            return
        conditions = self.sides[side].conditions
        conditions[name] = min(conditions.get(name, 0) + 1, _HAZARD_LAYERS.get(name, 1))
        self.add("side", with_source(f"{name} set up on {side}'s side", args[2:]), side)

    def on_sideend(self, args: list[str]) -> None:
        side, name = args[0][:2], effect_name(args[1])
        if side not in self.sides or name is None:
            return
        self.sides[side].conditions.pop(name, None)
        self.add("side", with_source(f"{name} ended on {side}'s side", args[2:]), side)

    def on_swapsideconditions(self, args: list[str]) -> None:
        p1, p2 = self.sides["p1"], self.sides["p2"]
        p1.conditions, p2.conditions = p2.conditions, p1.conditions
        self.add("side", "The two sides swapped their side conditions")

    def on_effect_start(self, args: list[str]) -> None:
        mon, name = self.mon(args[0]), effect_name(args[1])
        if mon is None or name is None:
            return
        detail = args[2] if len(args) > 2 and not args[2].startswith("[") else ""
        detail = "" if "undefined" in detail else detail
        key = effect_base(args[1])
        if key == "typechange" and detail:
            mon.volatiles[key] = f"Type: {detail}"
            text = f"{mon.label}'s type changed to {detail}"
        elif key == "typeadd" and detail:
            mon.volatiles[key] = f"Type: +{detail}"
            text = f"{mon.label} gained the {detail} type"
        elif key in COUNTED:  # "Perish count 2", "Stockpile 1": a state, not a start
            mon.volatiles[key] = name
            text = f"{mon.label}: {name}"
        else:
            mon.volatiles[key] = f"{name} ({detail})" if detail else name
            text = f"{mon.label}: {name}" + (f" ({detail})" if detail else "") + " started"
        if "[silent]" not in args:
            self.add("effect", with_source(text, args[2:]), mon.side)

    def on_effect_end(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is None:
            return
        mon.volatiles.pop(effect_base(args[1]), None)
        name = effect_name(args[1])
        if name is not None and "[silent]" not in args:
            self.add("effect", with_source(f"{mon.label}: {name} ended", args[2:]), mon.side)

    def on_activate(self, args: list[str]) -> None:
        """Most `-activate` lines repeat what other lines say; a few are news."""
        mon = self.mon(args[0])
        key = effect_base(args[1])
        if mon is None:
            return
        if key in _PROTECTS:
            self.add("effect", f"{mon.label} protected itself", mon.side)
        elif key == "confusion":
            self.add("effect", f"{mon.label} is confused", mon.side)
        elif key == "substitute" and "[damage]" in args:
            self.add("effect", f"{mon.label}'s substitute took the hit", mon.side)

    def on_item(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is not None and args[1] and "undefined" not in args[1]:
            self.add("item", with_source(f"{mon.label} holds {args[1]}", args[2:]), mon.side)

    def on_enditem(self, args: list[str]) -> None:
        mon = self.mon(args[0])
        if mon is None or not args[1] or "undefined" in args[1]:
            return
        if "[eat]" in args:
            text = f"{mon.label} ate its {args[1]}"
        elif any(part.startswith("[from]") for part in args[2:]):
            text = with_source(f"{mon.label} lost its {args[1]}", args[2:])
        else:
            text = f"{mon.label}'s {args[1]} was used up"
        self.add("item", text, mon.side)

    def on_ability(self, args: list[str]) -> None:
        mon, name = self.mon(args[0]), effect_name(args[1])
        if mon is not None and name is not None:
            text = with_source(f"{mon.label}'s ability: {name}", args[2:])
            self.add("ability", text, mon.side)


# Protocol message -> (handler, arguments it needs), merged into the parser's table.
EFFECT_HANDLERS: dict[str, tuple[str, int]] = {
    "-status": ("on_status", 2),
    "-curestatus": ("on_curestatus", 2),
    "-cureteam": ("on_cureteam", 1),
    "-boost": ("on_boost", 3),
    "-unboost": ("on_unboost", 3),
    "-setboost": ("on_setboost", 3),
    "-clearboost": ("on_clearboost", 1),
    "-clearallboost": ("on_clearallboost", 0),
    "-clearnegativeboost": ("on_clearnegativeboost", 1),
    "-clearpositiveboost": ("on_clearpositiveboost", 1),
    "-invertboost": ("on_invertboost", 1),
    "-copyboost": ("on_copyboost", 2),
    "-swapboost": ("on_swapboost", 2),
    "-terastallize": ("on_terastallize", 2),
    "-weather": ("on_weather", 1),
    "-fieldstart": ("on_fieldstart", 1),
    "-fieldend": ("on_fieldend", 1),
    "-sidestart": ("on_sidestart", 2),
    "-sideend": ("on_sideend", 2),
    "-swapsideconditions": ("on_swapsideconditions", 0),
    "-start": ("on_effect_start", 2),
    "-end": ("on_effect_end", 2),
    "-activate": ("on_activate", 2),
    "-item": ("on_item", 2),
    "-enditem": ("on_enditem", 2),
    "-ability": ("on_ability", 2),
}

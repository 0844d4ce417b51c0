"""A side's choices as a battle's protocol log shows them.

When the arena plays a bot or a person outside it (`user:NAME`), that side's decisions are
not the arena's to record, but the log shows what it chose: the moves it used (with tera
when it terastallized first) and the Pokémon it switched in. `observed_choices` reads
them, named as the arena names its own decisions (`battle.state.action_name`: "move
thunderbolt", "move thunderbolt tera", "switch pikachu"), at the turn the choice was
made (a switch after a faint belongs to the turn that ended with it).

What the log cannot show is left out: the leads (sent before turn 1), a move another move
called or a lock-in repeated (`[from]`: Sleep Talk's pick, Outrage's second turn),
a switch the opponent forced (`|drag|`), and choices that never happened on the field
(a move a sleeping or flinching Pokémon could not use is logged as `|cant|`, without its
move).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from poke_env.data.normalize import to_id_str


@dataclass(frozen=True)
class ObservedChoice:
    turn: int
    action: str


def observed_choices(lines: Iterable[str], side: str) -> list[ObservedChoice]:
    """The choices of `side` ("p1" or "p2") in a protocol log, in order."""
    choices: list[ObservedChoice] = []
    turn = 0
    tera = False  # the side terastallized this turn, before its move
    for line in lines:
        parts = line.rstrip("\n").split("|")
        if len(parts) < 3:
            continue
        kind = parts[1]
        if kind == "turn":
            turn = int(parts[2]) if parts[2].isdigit() else turn
            tera = False
        elif not parts[2].startswith(side):
            continue
        elif kind == "-terastallize":
            tera = True
        elif kind == "move" and len(parts) >= 4:
            if any(p.startswith("[from]") for p in parts[4:]) or turn == 0:
                continue
            action = f"move {to_id_str(parts[3])}" + (" tera" if tera else "")
            choices.append(ObservedChoice(turn, action))
            tera = False
        elif kind == "switch" and len(parts) >= 4 and turn > 0:
            species = parts[3].split(",")[0]
            choices.append(ObservedChoice(turn, f"switch {to_id_str(species)}"))
    return choices

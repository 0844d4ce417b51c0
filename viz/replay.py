"""Turn a Showdown protocol log into a turn-by-turn account of a battle for the viewer.

The logs the arena saves are the battle as seen by player p1 (poke-env's
`battle._build_replay_log()`): p1's own Pokémon show absolute HP ("250/300"), the
opponent's show percentages ("35/100"). Both become percentages here. Room lines
(`|j|`, `|c|`, `|raw|`, ...) and anything this parser does not know are skipped.

Each turn carries its events as sentences and a `Board`: both teams as known from the
log when the turn ends (HP, status, the active Pokémon with its boosts and volatile
effects, the side conditions and the field). Showdown's internal effect ids become
words (`quarkdrivespe` -> "Quark Drive (Speed)"); what has no readable form is left out.

This module is the entry (`parse_replay`, `load_replay`) and re-exports the names others
use. The parts: `viz.replay_model` (Replay, turns, events, boards and the team state
behind them), `viz.replay_parser` and `viz.replay_effects` (the line handlers) and
`viz.replay_text` (names of statuses, stats and effects; HP strings).
"""

from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath

from viz.replay_model import (
    SIDES,
    Board,
    MonView,
    Replay,
    ReplayEvent,
    ReplayTurn,
    SideView,
)
from viz.replay_parser import ReplayParser
from viz.replay_text import (
    STAT_NAMES,
    STATUS_NAMES,
    WEATHER_NAMES,
    effect_name,
    parse_hp,
    species_types,
)

__all__ = [
    "SIDES",
    "STATUS_NAMES",
    "STAT_NAMES",
    "WEATHER_NAMES",
    "Board",
    "MonView",
    "Replay",
    "ReplayEvent",
    "ReplayTurn",
    "SideView",
    "effect_name",
    "load_replay",
    "parse_hp",
    "parse_replay",
    "species_types",
]

log = logging.getLogger(__name__)


def parse_replay(text: str, battle_tag: str = "") -> Replay:
    """Parse a protocol log; unknown and malformed lines are skipped, never fatal."""
    lines = text.splitlines()
    if lines and lines[0].startswith(">"):
        battle_tag = battle_tag or lines[0][1:].strip()
    parser = ReplayParser(battle_tag)
    for line in lines:
        try:
            parser.feed(line.rstrip("\r"))
        except (IndexError, ValueError, KeyError) as exc:  # a line shaped unlike any seen
            log.debug("skipped %r in %s: %s", line, battle_tag, exc)
    parser.end_turn()
    turns = [t for t in parser.turns if t.events or t.number != 0]
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

"""What a replay's Showdown protocol log says, and how its lines reach poke-env: the players'
names by side, the result and the number of turns, the format id, generation and rating of a
replay, and `feed`, which dispatches one protocol line into a poke-env `Battle` the way a
poke-env player does (`Player._handle_battle_message`), room lines (chat, joins, timers...)
skipped. Both ways of reading a replay into pairs (`finetune.pairs`) and the arena import
(`finetune.from_runs`) read logs through it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from battle.record import SIDES

# Room lines of a replay log (and of a server's battle room) that are no battle event.
ROOM_LINES = {
    "init", "title", "j", "J", "join", "l", "L", "leave", "n", "N", "name", "c", "c:",
    "chat", "raw", "html", "uhtml", "uhtmlchange", "inactive", "inactiveoff", "badge",
    "t:", "expire", "tempnotify", "tempnotifyoff", "notify", "hidelines", "unlink",
    "debug", "seed", "error", "bigerror", "showteam", "message", "askreg",
    "timer", "deinit", "noinit", "controlshtml", "fieldhtml", "sentchoice", "tier",
}  # fmt: skip


def split_line(line: str) -> list[str]:
    return line.rstrip("\r").split("|")


def log_players(lines: Iterable[str]) -> dict[str, str]:
    """Side -> player name, from the log's `|player|pN|NAME|...` lines."""
    names: dict[str, str] = {}
    for line in lines:
        parts = split_line(line)
        if len(parts) > 3 and parts[1] == "player" and parts[2] in SIDES and parts[3]:
            names.setdefault(parts[2], parts[3])
    return names


def log_result(lines: list[str]) -> tuple[str | None, int]:
    """("p1" | "p2" | "tie" | None when unfinished, last turn number) of a log."""
    names = log_players(lines)
    by_name = {name: side for side, name in names.items()}
    result, turns = None, 0
    for line in lines:
        parts = split_line(line)
        if len(parts) < 2:
            continue
        if parts[1] == "turn" and len(parts) > 2 and parts[2].isdigit():
            turns = int(parts[2])
        elif parts[1] == "win" and len(parts) > 2:
            result = by_name.get(parts[2])
        elif parts[1] == "tie":
            result = "tie"
    return result, turns


def format_of(replay: dict[str, Any]) -> str:
    fmt = str(replay.get("format") or "")
    fmt_id = re.sub(r"[^a-z0-9]", "", fmt.lower())
    if not fmt_id.startswith("gen"):
        match = re.search(r"^\|tier\|(.*)$", replay["log"], re.M)  # "[Gen 9] Random Battle"
        tier = re.sub(r"[^a-z0-9]", "", (match.group(1) if match else fmt).lower())
        fmt_id = tier if tier.startswith("gen") else "gen9" + (tier or fmt_id)
    return fmt_id


def gen_of(fmt: str, log_text: str) -> int:
    match = re.search(r"^\|gen\|(\d)", log_text, re.M)
    if match:
        return int(match.group(1))
    match = re.match(r"gen(\d)", fmt)
    return int(match.group(1)) if match else 9


def rating_of(replay: dict[str, Any]) -> int | None:
    value = replay.get("rating")
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def new_battle(battle_id: str, username: str, gen: int):
    from poke_env.battle.battle import Battle

    return Battle(
        battle_tag=battle_id, username=username, logger=logging.getLogger("poke_env"), gen=gen
    )


def feed(battle, line: str) -> None:
    """One protocol line into a poke-env battle, dispatched as a poke-env player does."""
    import orjson

    parts = split_line(line)
    if len(parts) < 2 or line.startswith(">"):
        return
    kind = parts[1]
    if kind == "":
        battle.parse_message(parts)
    elif kind == "request":
        if len(parts) > 2 and parts[2]:
            battle.parse_request(orjson.loads("|".join(parts[2:])))
    elif kind == "win":
        battle.won_by(parts[2])
    elif kind == "tie":
        battle.tied()
    elif kind in ROOM_LINES:
        return
    else:
        battle.parse_message(parts)

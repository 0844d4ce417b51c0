"""One replay into (prompt, completion) pairs, read one of two ways, both feeding protocol
lines through poke-env's own `Battle` (`finetune.protocol.feed`) and rendering prompts and
options with `battle.finetune_prompt`, as the agent does at play time: the exact view, when
the replay has an input log (each side's own stream from a re-run in the bundled simulator,
a pair at every choice that side made, its options exactly the legal ones; the re-run must
end as the replay did), else the spectator view (the public log from one side, a pair at
each turn whose first `|move|` the side chose, its options the moves that Pokémon revealed
in the whole replay). `process_replay` picks the view, keeps the winner's or both sides'
decisions, and says how the replay was read, or why it was skipped, in a `ReplayResult`;
`finetune.dataset`'s docstring has every rule.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from battle.record import SIDES
from finetune.protocol import (
    feed,
    format_of,
    gen_of,
    log_players,
    log_result,
    new_battle,
    rating_of,
    split_line,
)
from finetune.rerun import Rerunner

if TYPE_CHECKING:
    from battle.finetune_prompt import Option

log = logging.getLogger("finetune.dataset")

UNCHOSEN_MOVES = {"struggle", "recharge"}


@dataclass
class Pair:
    """One training example: a decision of one side of one battle."""

    prompt: str
    completion: str
    options: list[str]
    battle_id: str
    turn: int
    side: str
    format: str
    rating: int | None


@dataclass
class ReplayResult:
    """What one replay gave: its pairs and how it was read (or why it was skipped)."""

    battle_id: str
    format: str
    pairs: list[Pair] = field(default_factory=list)
    method: str | None = None  # "rerun" | "spectator" | None (skipped)
    skipped: str | None = None  # reason, when nothing could be read
    fallback: str | None = None  # why the re-run was not used, when it was tried
    dropped: Counter[str] = field(default_factory=Counter)  # decisions not kept, by reason


# --------------------------------------------------------------------------- exact view


def _choice_move_id(choice: str, request: dict[str, Any]) -> str | None:
    """The request move id a `move ...` choice names (`move 2`, `move thunderbolt`)."""
    words = choice.split()
    if len(words) < 2:
        return None
    moves = ((request.get("active") or [{}])[0]).get("moves") or []
    ids = [re.sub(r"[^a-z0-9]", "", str(m.get("id", "")).lower()) for m in moves]
    if words[1].isdigit():
        index = int(words[1]) - 1
        return ids[index] if 0 <= index < len(ids) else None
    wanted = re.sub(r"[^a-z0-9]", "", words[1].lower())
    if wanted in ids:
        return wanted
    return wanted


def _move_option(options: list[Option], move_id: str | None) -> Option | None:
    """The move option a chosen move id names: `hiddenpower` (the input log's and the
    request's id) is poke-env's `hiddenpowerfire` (typed) option."""
    moves = [o for o in options if o.kind == "move"]
    chosen = next((o for o in moves if o.id == move_id), None)
    if chosen is None and move_id and move_id.startswith("hiddenpower"):
        chosen = next((o for o in moves if o.id.startswith("hiddenpower")), None)
    return chosen


def _choice_switch_species(choice: str, request: dict[str, Any], battle) -> str | None:
    words = choice.split()
    team = (request.get("side") or {}).get("pokemon") or []
    if len(words) < 2 or not words[1].isdigit():
        return None
    index = int(words[1]) - 1
    if not 0 <= index < len(team):
        return None
    mon = battle.get_pokemon(team[index]["ident"], details=team[index].get("details", ""))
    return mon.species


def _rerun_side(
    lines: list[str],
    side: str,
    name: str,
    meta: dict[str, Any],
    switches: bool,
    dropped: Counter[str],
) -> list[Pair]:
    """Feed one side's re-run stream; a pair at every choice marker that qualifies."""
    from battle.finetune_prompt import legal_options, render_prompt

    battle = new_battle(meta["battle_id"], name, meta["gen"])
    request: dict[str, Any] = {}
    pairs = []
    for line in lines:
        if not line.startswith(">"):
            if line.startswith("|request|") and len(line) > 9:
                request = json.loads(line[9:])
            feed(battle, line)
            continue
        choice = line[1:].strip()
        kind = choice.split(" ", 1)[0]
        options = legal_options(battle, switches=switches)
        if kind == "move":
            move_id = _choice_move_id(choice, request)
            if move_id in UNCHOSEN_MOVES:
                dropped["forced move (struggle, recharge)"] += 1
                continue
            chosen = _move_option(options, move_id)
        elif kind == "switch":
            if not switches:
                dropped["switch (no --switches)"] += 1
                continue
            species = _choice_switch_species(choice, request, battle)
            chosen = next((o for o in options if o.kind == "switch" and o.id == species), None)
        else:
            dropped[f"choice {kind}"] += 1  # team preview, default, pass, shift
            continue
        if chosen is None:
            dropped["choice not among the options"] += 1
            log.debug("%s %s: %r not among %s", meta["battle_id"], side, choice, options)
            continue
        if len(options) < 2:
            dropped["a single option"] += 1
            continue
        pairs.append(
            Pair(
                prompt=render_prompt(battle, switches=switches),
                completion=chosen.text,
                options=[o.text for o in options],
                battle_id=meta["battle_id"],
                turn=battle.turn,
                side=side,
                format=meta["format"],
                rating=meta["rating"],
            )
        )
    return pairs


def _rerun_check(out: dict[str, Any], lines: list[str]) -> str | None:
    """Why the re-run does not match the replay, or None when it ends as the replay did."""
    if out.get("error"):
        return "re-run failed"
    expected, turns = log_result(lines)
    by_name = {out["names"][s]: s for s in SIDES}
    if not out.get("ended"):
        got = None
    elif out.get("winner"):
        got = by_name.get(out["winner"])
    else:
        got = "tie"
    if expected is None:
        return "replay log has no result"
    if got != expected or int(out.get("turns", -1)) != turns:
        return "re-run ended differently"
    return None


# --------------------------------------------------------------------------- spectator


def _spectator_side(
    lines: list[str], side: str, name: str, meta: dict[str, Any], dropped: Counter[str]
) -> list[Pair]:
    from poke_env.battle.move import Move

    from battle.finetune_prompt import render_move, render_prompt

    battle = new_battle(meta["battle_id"], name, meta["gen"])
    pending: tuple[int, str, Any] | None = None  # (turn, prompt, active) at turn start
    charging = False  # the side's active is in a charge/lock turn: no choice next turn
    pending_pairs: list[tuple[Pair, Any]] = []  # options are filled in at the end
    for line in lines:
        parts = split_line(line)
        kind = parts[1] if len(parts) > 1 else ""
        ours = len(parts) > 2 and parts[2][:2] == side
        if kind == "move" and ours and pending is not None and len(parts) > 3:
            tags = parts[4:]
            move_id = Move.retrieve_id(parts[3])
            feed(battle, line)
            turn, prompt, active = pending
            pending = None
            if any(t.startswith("[from]") for t in tags):
                dropped["move called by another"] += 1
                continue
            if move_id in UNCHOSEN_MOVES:
                dropped["forced move (struggle, recharge)"] += 1
                continue
            mover = battle.get_pokemon(parts[2])
            if mover is not active or move_id not in active.moves:
                dropped["mover is not the turn's active"] += 1
                continue
            pending_pairs.append(
                (
                    Pair(
                        prompt=prompt,
                        completion=render_move(active.moves[move_id]),
                        options=[],
                        battle_id=meta["battle_id"],
                        turn=turn,
                        side=side,
                        format=meta["format"],
                        rating=meta["rating"],
                    ),
                    active,
                )
            )
            continue
        if ours and kind in {"switch", "drag", "cant", "replace"}:
            pending = None  # switched by choice, dragged out, or could not move
        if ours and kind in {"-prepare", "-mustrecharge"}:
            charging = True
        feed(battle, line)
        if kind == "turn":
            active = battle.active_pokemon
            if charging:
                dropped["charge or recharge turn"] += 1
                charging, pending = False, None
            elif active is not None and not active.fainted:
                pending = (battle.turn, render_prompt(battle), active)
            else:
                pending = None
    pairs = []
    for pair, mon in pending_pairs:
        # Every move the Pokémon revealed in the whole replay: legal moves are unknown.
        pair.options = [render_move(m) for m in mon.moves.values()]
        if pair.completion not in pair.options:
            pair.options.append(pair.completion)
        pairs.append(pair)
    return pairs


# --------------------------------------------------------------------------- one replay


def process_replay(
    replay: dict[str, Any],
    *,
    sides: str = "winner",
    switches: bool = False,
    rerunner: Rerunner | None = None,
    rerun: Callable[[], dict[str, Any]] | None = None,
) -> ReplayResult:
    """Read one replay's decisions (re-run when it can, else as a spectator).

    The re-run's output comes from `rerun()` when given (a re-run already submitted),
    else from `rerunner`; with neither, the replay is read as a spectator.
    """
    fmt = format_of(replay)
    battle_id = str(replay.get("id") or "unknown")
    result = ReplayResult(battle_id=battle_id, format=fmt)
    lines = replay["log"].split("\n")
    if any(x in fmt for x in ("doubles", "vgc", "multi", "triples", "ffa")) or any(
        line.startswith("|gametype|") and line.strip() != "|gametype|singles" for line in lines
    ):
        result.skipped = "not a singles format"
        return result
    names = log_players(lines)
    if set(names) != set(SIDES):
        players = replay.get("players") or []
        if len(players) != 2:
            result.skipped = "no player names"
            return result
        names = dict(zip(SIDES, map(str, players), strict=True))
    winner, _ = log_result(lines)
    if sides == "winner":
        if winner not in SIDES:
            result.skipped = "no winner"
            return result
        wanted = [winner]
    else:
        wanted = list(SIDES)
    meta = {
        "battle_id": battle_id,
        "format": fmt,
        "gen": gen_of(fmt, replay["log"]),
        "rating": rating_of(replay),
    }
    inputlog = replay.get("inputlog")
    if rerun is None and inputlog and rerunner is not None:
        rerun = lambda: rerunner.rerun(battle_id, inputlog)  # noqa: E731
    if rerun is not None:
        try:
            out = rerun()
            result.fallback = _rerun_check(out, lines)
            if result.fallback is None:
                for side in wanted:
                    result.pairs += _rerun_side(
                        out[side], side, out["names"][side], meta, switches, result.dropped
                    )
                result.method = "rerun"
                return result
        except Exception as err:  # a replay that breaks the parser is skipped, not fatal
            log.debug("re-run of %s failed: %r", battle_id, err)
            result.fallback = "re-run not parseable"
            result.pairs.clear()
            result.dropped.clear()
    try:
        for side in wanted:
            result.pairs += _spectator_side(lines, side, names[side], meta, result.dropped)
        result.method = "spectator"
    except Exception as err:
        log.debug("spectator parse of %s failed: %r", battle_id, err)
        result.pairs.clear()
        result.skipped = f"parse error ({type(err).__name__})"
    return result

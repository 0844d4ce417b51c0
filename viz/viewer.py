"""The battle viewer's data: one battle's turns, boards and decisions as compact JSON.

The page embeds one `<script type="application/json">` per battle; `viewer.js` parses a
battle's data only when that battle is shown and draws the selected turn from it. The
JSON is made safe to sit inside a script element (no `<`, `>` or `&` in it), and every
string in it is put on the page as text, never as HTML.

Layout (short keys keep 300 battles' worth small):

    {"players": {"p1": name, "p2": name}, "agents": {"p1": agent, "p2": agent},
     "mons": {"p1": [[name, species, [type, ...]], ...], "p2": [...]},
     "steps": [{"n": turn, "label": "Turn 3", "ev": [[kind, side, text], ...],
                "b": {"w": weather, "f": [field effect, ...],
                      "p1": {"m": [[mon index, hp %, status, tera], ...], "u": unknown slots,
                             "a": position of the active one in "m", "x": [[stat, stage]],
                             "v": [volatile, ...], "c": [side condition, ...]}, "p2": ...}}],
     "dec": {"3": [{"s": side, "a": action, "ms": latency, "fb": fallback reason or true,
                    "r": reasoning, "c": [[action, probability], ...]}, ...]},
     "result": "vizrec1 (p1) won"}
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from markupsafe import Markup

from battle.record import DecisionRecord
from viz.replay import SIDES, Board, Replay

MAX_VIEWER_REASONING_CHARS = 1000
MAX_VIEWER_CANDIDATES = 8


def _board(board: Board, mons: dict[str, dict[tuple, int]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if board.weather:
        out["w"] = board.weather
    if board.field:
        out["f"] = list(board.field)
    for side, view in board.sides.items():
        table = mons.setdefault(side, {})
        entries = []
        for mon in view.mons:
            index = table.setdefault((mon.name, mon.species, mon.types), len(table))
            entry: list[Any] = [index, mon.hp, mon.status]
            if mon.tera:
                entry.append(mon.tera)
            entries.append(entry)
        data: dict[str, Any] = {"m": entries, "u": view.unknown, "a": view.active}
        if view.boosts:
            data["x"] = [list(b) for b in view.boosts]
        if view.volatiles:
            data["v"] = list(view.volatiles)
        if view.conditions:
            data["c"] = list(view.conditions)
        out[side] = data
    return out


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " … (truncated)"


def _decision(d: DecisionRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"s": d.side, "a": d.action}
    if d.latency_ms is not None:  # an outside user's choice, read from the log, is not timed
        out["ms"] = round(d.latency_ms, 3)
    if d.source is not None:
        out["src"] = d.source
    if d.fallback:
        out["fb"] = d.fallback_reason or True
    if d.reasoning:
        out["r"] = _truncate(d.reasoning, MAX_VIEWER_REASONING_CHARS)
    if d.candidates:
        best = d.candidates[:MAX_VIEWER_CANDIDATES]
        out["c"] = [[action, round(p, 4)] for action, p in best]
        if len(d.candidates) > len(best):
            out["cn"] = len(d.candidates)
    return out


def viewer_data(
    replay: Replay | None,
    decisions: Iterable[DecisionRecord] = (),
    agents: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The viewer's data for one battle (see the module docstring for its layout)."""
    data: dict[str, Any] = {"players": {}, "agents": agents or {}, "mons": {}, "steps": []}
    by_turn: dict[str, list[dict[str, Any]]] = {}
    for d in decisions:
        by_turn.setdefault(str(d.turn), []).append(_decision(d))
    data["dec"] = by_turn
    if replay is None:
        return data
    mons: dict[str, dict[tuple, int]] = {side: {} for side in SIDES}
    for turn in replay.turns:
        step: dict[str, Any] = {
            "n": turn.number,
            "label": turn.label,
            "ev": [[e.kind, e.side or "", e.text] for e in turn.events],
        }
        if turn.board is not None:
            step["b"] = _board(turn.board, mons)
        data["steps"].append(step)
    data["players"] = replay.players
    data["mons"] = {
        side: [[name, species, list(types)] for name, species, types in table]
        for side, table in mons.items()
    }
    data["result"] = replay.winner_text
    return data


def script_json(data: Any) -> Markup:
    """`data` as JSON that can sit inside a <script> element as it is."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)  # escaped above for the script element

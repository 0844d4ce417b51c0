"""Replay recorded battles (tests/fixtures/battles/) into poke-env offline.

A recording is what one player's websocket delivered for one battle room (see
`tests/fixtures/record_battles.py`). `decision_points` feeds it to a fresh poke-env
`Battle` along the same path as `Player._handle_battle_message` (battle lines to
`parse_message`, request JSON to `parse_request`, room header lines skipped) and yields
the battle every time the player had to choose, so unit tests see exactly the states a
live agent saw.
"""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from poke_env.battle.battle import Battle
from poke_env.data import GenData
from poke_env.player.player import Player

FIXTURE_DIR = Path(__file__).resolve().parent / "fixtures" / "battles"
logger = logging.getLogger("tests.fixture_battles")


@dataclass(frozen=True)
class Recording:
    path: Path
    format: str
    username: str
    battle_tag: str
    messages: list[str]
    agent: str | None = None

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(".json.gz")


def fixture_paths(folder: Path = FIXTURE_DIR) -> list[Path]:
    """All recorded fixture files, sorted by name."""
    return sorted(folder.glob("*.json.gz"))


def load_recording(path: Path | str) -> Recording:
    path = Path(path)
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    data = json.loads(raw)
    messages = [m if isinstance(m, str) else "|".join(m) for m in data["messages"]]
    return Recording(
        path=path,
        format=data["format"],
        username=data["username"],
        battle_tag=data["battle_tag"],
        messages=messages,
        agent=data.get("agent"),
    )


def new_battle(recording: Recording) -> Battle:
    """An empty poke-env `Battle` for the recording's player, as `Player` would create."""
    return Battle(
        battle_tag=recording.battle_tag,
        username=recording.username,
        logger=logger,
        gen=GenData.from_format(recording.format).gen,
    )


def _as_recording(recording: Recording | Path | str) -> Recording:
    return recording if isinstance(recording, Recording) else load_recording(recording)


def decision_points(
    recording: Recording | Path | str, *, strict: bool = False
) -> Iterator[tuple[Battle, dict[str, Any]]]:
    """Replay `recording` into a new `Battle`; yield `(battle, request)` at each decision.

    A decision point is every `|request|` that is neither `wait` nor team preview,
    yielded right after `battle.parse_request(request)` (where poke-env's player would
    call `choose_move`). The same `Battle` object is yielded each time and keeps being
    updated afterwards: use it before advancing the iterator. `strict` turns on
    poke-env's strict battle tracking (consistency asserts against each request).
    """
    rec = _as_recording(recording)
    battle = new_battle(rec)
    yield from _feed(rec, battle, strict)


def replay_to_end(recording: Recording | Path | str) -> Battle:
    """Feed a whole recording and return the finished battle."""
    rec = _as_recording(recording)
    battle = new_battle(rec)
    for _ in _feed(rec, battle, False):
        pass
    return battle


def _feed(rec: Recording, battle: Battle, strict: bool) -> Iterator[tuple[Battle, dict[str, Any]]]:
    for line in rec.messages:
        split = line.split("|")
        if line.startswith(">") or len(split) == 1:
            continue  # room header (">battle-...") or a bare text line
        kind = split[1]
        if kind == "":
            battle.parse_message(split)
        elif kind in Player.MESSAGES_TO_IGNORE:
            continue
        elif kind == "request":
            if not split[2]:
                continue
            request = orjson.loads(split[2])
            battle.parse_request(request, strict)
            if not battle.wait and not battle.teampreview:
                yield battle, request
        elif kind == "win":
            battle.won_by(split[2])
        elif kind == "tie":
            battle.tied()
        elif kind in {"error", "bigerror", "showteam"}:
            continue  # handled by the player, not the battle
        else:
            battle.parse_message(split)

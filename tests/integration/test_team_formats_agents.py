"""`metamon` plays `heuristic` in every team format, on the simulator engine.

One short battle per format (gen 1-4 OU have no team preview; gen 9 OU has one): the
battle finishes, both teams are recorded, and no decision falls back (a forced Recharge,
Struggle or gen 1 Fight is played as the only legal action, not as a fallback).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from main_cli import played

from battle.record import load_record

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("battle_format", ["gen1ou", "gen2ou", "gen3ou", "gen4ou", "gen9ou"])
def test_metamon_plays_heuristic_in_a_team_format(battle_format: str, tmp_path: Path) -> None:
    path = played(
        tmp_path, "--format", battle_format, "--p1", "metamon", "--p2", "heuristic", "--n", "1",
        "--seed", "3", "--engine", "sim",
    )  # fmt: skip
    record = load_record(path)

    (battle,) = record.battles
    assert battle.error is None
    # A draw is a finish too (gens 1-2: Explosion can take out both last Pokémon).
    assert battle.winner in {"p1", "p2", "draw"} and battle.turns >= 1
    pool = {f"{battle_format}/{p.stem}" for p in (REPO / "teams" / battle_format).glob("*.txt")}
    assert battle.p1_team in pool and battle.p2_team in pool

    sides = {d.side for d in record.decisions}
    assert sides == {"p1", "p2"}
    fallbacks = [(d.side, d.turn, d.action) for d in record.decisions if d.fallback]
    assert fallbacks == []

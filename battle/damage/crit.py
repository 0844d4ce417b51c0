"""The chance of a critical hit, from the attacker's side only (Showdown's crit tables).

Gen 1 derives it from the species' base Speed (with the Focus Energy bug); gens 2+ add
up stages (the move's crit ratio, Super Luck, Scope Lens / Razor Claw, Leek / Lucky
Punch, Focus Energy / Dragon Cheer) and read the generation's table.
"""

from __future__ import annotations

from battle.damage.tables import CRIT_GEN2, CRIT_GEN3, CRIT_GEN6, CRIT_GEN7
from battle.model import Mon, MoveData, species_data


def crit_chance(gen: int, attacker: Mon, move: MoveData) -> float:
    """Chance that `move` used by `attacker` is a critical hit (attacker side only)."""
    if move.will_crit:
        return 1.0
    if move.category == "status":
        return 0.0
    if gen == 1:
        return _crit_chance_gen1(attacker, move)
    stage = move.crit_ratio - 1
    if gen >= 3 and attacker.ability == "superluck":
        stage += 1
    item = attacker.item
    if item in ("scopelens", "razorclaw"):
        stage += 1
    elif (item in ("leek", "stick") and attacker.species.startswith("farfetch")) or (
        item == "luckypunch" and attacker.species == "chansey"
    ):
        stage += 2
    if "focusenergy" in attacker.volatiles or "dragoncheer" in attacker.volatiles:
        stage += 1 if gen == 2 else 2
    if stage < 0:
        stage = 0
    table = CRIT_GEN7 if gen >= 7 else CRIT_GEN6 if gen == 6 else CRIT_GEN3
    if gen == 2:
        table = CRIT_GEN2
    return table[stage if stage < len(table) else len(table) - 1]


def _crit_chance_gen1(attacker: Mon, move: MoveData) -> float:
    """Gen 1: half the base Speed out of 256, doubled (or, with Focus Energy, halved)."""
    try:
        base = species_data(1, attacker.species)["baseStats"]["spe"]
    except KeyError:
        base = 80
    chance = base // 2
    if "focusenergy" in attacker.volatiles:
        chance //= 2  # the gen 1 Focus Energy bug
    else:
        chance = min(max(chance * 2, 1), 255)
    if move.crit_ratio == 1:
        chance //= 2
    elif move.crit_ratio >= 2:
        chance = min(max(chance * 4, 1), 255)
    return chance / 256

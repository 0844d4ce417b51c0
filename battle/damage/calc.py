"""`damage_rolls`: Showdown's getDamage as a pipeline of named steps (gens 3-9).

The hit's situation (`hit.new_hit`), its type and category (`moves.resolve_type`),
immunities (`moves.effectiveness`), fixed damage and hit counts, the BasePower chain
(`power`), the attack and defense stats (`stats`), the modifiers around the roll
(`modifiers`), then for each hit the base damage and its rolls (`rolls`). Gens 1-2 have
a formula of their own (`old_gens`).
"""

from __future__ import annotations

from battle.damage.arith import modify
from battle.damage.hit import Hit, new_hit
from battle.damage.modifiers import roll_modifiers
from battle.damage.mons import grounded
from battle.damage.moves import effectiveness, fixed_damage, hit_count, resolve_type
from battle.damage.old_gens import rolls_gen12
from battle.damage.power import power_modifier
from battle.damage.rolls import rolls_gen5, rolls_gen34
from battle.damage.stats import attack_stat, defense_stat
from battle.damage.tables import SPECIAL_BP, ZEROS16, ZEROS39
from battle.model import Battle, MoveData


def damage_rolls(
    battle: Battle,
    attacker: int,
    move: MoveData,
    *,
    crit: bool = False,
    attacker_moves_first: bool = True,
) -> tuple[int, ...]:
    """Every damage roll (ascending, HP points) of `move` used by `battle.sides[attacker]`'s
    active Pokémon against the other side's active Pokémon.

    16 rolls in gens 3-9, 39 in gens 1-2; all zeros when the move deals no damage. Multi-hit
    moves give the total of their expected hit count; damage is not capped at the HP.
    """
    gen = battle.gen
    if move.category == "status":
        return ZEROS16 if gen >= 3 else ZEROS39
    if gen <= 2:
        return rolls_gen12(battle, attacker, move, crit)

    h = new_hit(battle, attacker, move, crit, attacker_moves_first)
    bp, ate = resolve_type(h)
    eff = effectiveness(h)
    if eff == 0.0:
        return ZEROS16
    if bp == 0 or move.fixed_damage is not None or move.ohko:
        fixed = fixed_damage(gen, h.src, h.tgt, move, h.d_ab)
        if fixed is not None:
            return fixed
        if bp == 0:
            return ZEROS16
    if h.crit and h.d_ab in ("battlearmor", "shellarmor"):
        h.crit = False
    hits, per_hit = hit_count(h)
    if (
        h.mid == "risingvoltage"
        and h.terrain == "electricterrain"
        and grounded(h.tgt, h.d_ab, h.gravity)
    ):
        bp *= 2

    m = power_modifier(h, bp, per_hit, ate, eff)
    attack = attack_stat(h)
    defense = defense_stat(h)
    mods = roll_modifiers(h, eff)
    level_factor = 2 * h.src.level // 5 + 2
    total: list[int] | None = None
    for hit_bp in per_hit or (bp,):
        base = level_factor * _hit_power(h, hit_bp, m) * attack // defense // 50
        rolls = rolls_gen5(gen, base, mods) if gen >= 5 else rolls_gen34(gen, base, mods)
        total = rolls if total is None else [a + b for a, b in zip(total, rolls, strict=True)]
    assert total is not None
    if hits != 1:
        total = [d * hits for d in total]
    return tuple(total)


def _hit_power(h: Hit, bp: int, m: int) -> int:
    """One hit's power: `bp` times the BasePower modifier `m`, at least 1, and at least 60
    for a terastallized user's weak moves of its tera type (Showdown's tera floor)."""
    power = modify(bp, m) if m != 4096 else bp
    if power < 1:
        power = 1
    src = h.src
    move = h.move
    if (
        src.terastallized
        and power < 60
        and h.mtype in src.current_types()
        and move.priority <= 0
        and move.multihit is None
        and not (move.base_power in (0, 150) and h.mid in SPECIAL_BP)
    ):
        power = 60
    return power


def ko_probability(rolls: tuple[int, ...], hp: int) -> float:
    """Share of `rolls` that deal at least `hp` (1.0 when hp <= 0)."""
    if hp <= 0:
        return 1.0
    if not rolls:
        return 0.0
    return sum(1 for r in rolls if r >= hp) / len(rolls)

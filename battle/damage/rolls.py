"""The random roll: from a hit's base damage to its 16 damage rolls (gens 3-9).

Gens 5-9 (`sim/battle-actions.js` modifyDamage): +2, weather, crit (x2 in gen 5, x1.5
from gen 6), the roll, STAB, effectiveness, burn, the final chain, at least 1, 16-bit
wrap. Gens 3-4 (`data/mods/gen{3,4}/scripts.js`): burn and screens first, weather, +2,
crit x2, gen 4 Life Orb x1.3, then the roll last in gen 3 and before STAB in gen 4.
"""

from __future__ import annotations

from battle.damage.arith import modify
from battle.damage.modifiers import RollMods
from battle.damage.tables import ROLLS_NEW


def rolls_gen5(gen: int, base: int, mods: RollMods) -> list[int]:
    """The 16 rolls of gens 5-9 for base damage `base`, ascending."""
    stab = mods.stab
    emul = mods.emul
    ediv = mods.ediv
    burn = mods.burn
    fm = mods.fm
    base += 2
    if mods.wm != 4096:
        base = modify(base, mods.wm)
    if mods.crit:
        base = base * 3 // 2 if gen >= 6 else base * 2
    out = []
    wrapped = False
    for r in ROLLS_NEW:
        d = base * r // 100
        if stab != 4096:
            d = (d * stab + 2047) >> 12
        if emul != 1:
            d *= emul
        elif ediv != 1:
            d //= ediv
        if burn:
            d = (d * 2048 + 2047) >> 12
        if gen == 5 and d == 0:
            d = 1
        if fm != 4096:
            d = (d * fm + 2047) >> 12
        if d == 0:
            d = 1
        elif d > 65535:
            d %= 65536
            wrapped = True
        out.append(d)
    if wrapped:
        out.sort()
    return out


def rolls_gen34(gen: int, base: int, mods: RollMods) -> list[int]:
    """The 16 rolls of gens 3-4 for base damage `base`, ascending."""
    stab = mods.stab
    emul = mods.emul
    ediv = mods.ediv
    fm = mods.fm
    if mods.burn and base:
        base = modify(base, 2048)
    if mods.screen:
        base = modify(base, 2048)
    if mods.wm != 4096:
        base = modify(base, mods.wm)
    if gen == 3 and mods.physical and base == 0:
        base = 1
    base += 2
    if mods.crit:
        base *= 2
    if mods.life_orb and gen == 4:
        base = int(base * 1.3)

    def finish(d: int) -> int:
        if stab != 4096:
            d = modify(d, stab)
        if emul != 1:
            d *= emul
        elif ediv != 1:
            d //= ediv
        if fm != 4096:
            d = modify(d, fm)
        return d

    if gen == 4:
        out = [finish(base * r // 100) for r in ROLLS_NEW]
    else:
        d = finish(base)
        out = [d * r // 100 for r in ROLLS_NEW]
    return [d if d > 0 else 1 for d in out]

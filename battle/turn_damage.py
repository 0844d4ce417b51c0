"""Damage between the two actives in the turn model, cached, and the matchups it decides.

`DamageModel` is the part of `battle.turn.TurnModel` that asks `battle.damage` for
damage rolls: the rolls of one move (`rolls`), the KO chance and mean damage of a hit
with crits folded in (`hit_stats`), an active's best expected damage (`best_damage`), and
the benched Pokémon with the best immediate matchup (`best_switch`). Rolls are cached by
what they depend on, so the many branches of one decision compute each roll once.
"""

from __future__ import annotations

from battle.damage import crit_chance, damage_rolls
from battle.model import Battle, Mon, MoveData
from battle.turn_rules import bypasses_sub, goes_first, hazard_damage

# Moves whose base power depends on exact HP (damage cache keys carry exact HP for them).
_HP_DEPENDENT = frozenset(
    {"eruption", "waterspout", "dragonenergy", "flail", "reversal", "brine", "superfang",
     "ruination", "endeavor", "finalgambit", "naturesmadness", "hardpress", "crushgrip",
     "wringout", "guardianofalola", "sheercold", "fissure", "guillotine", "horndrill",
     "beatup", "supremeoverlord"}
)  # fmt: skip
# Abilities whose damage effect depends on HP (pinch abilities, Multiscale...).
_HP_ABILITIES = frozenset(
    {"blaze", "torrent", "overgrow", "swarm", "defeatist", "multiscale", "shadowshield",
     "terashell"}
)  # fmt: skip


class DamageModel:
    """Damage rolls and matchups for one decision, cached by content.

    One instance per decision: the cache keys use `id()` of the hypotheses' stat dicts,
    which live as long as the decision's battles.
    """

    def __init__(self, gen: int):
        self.gen = gen
        self._rolls: dict[tuple, tuple[int, ...]] = {}
        self._best: dict[tuple, tuple[float, MoveData | None]] = {}

    @staticmethod
    def _mon_key(mon: Mon) -> tuple:
        """What of a Pokémon its damage dealt and taken depends on (HP only through the
        abilities that read it; moves that read HP add it to their own key)."""
        hp = None
        if mon.ability in _HP_ABILITIES:
            hp = (mon.hp >= mon.max_hp, 3 * mon.hp <= mon.max_hp, 2 * mon.hp <= mon.max_hp)
        return (
            id(mon.stats), mon.species, mon.item, mon.ability, mon.status, mon.terastallized,
            tuple(sorted(mon.boosts.items())) if mon.boosts else (), hp,
        )  # fmt: skip

    def rolls(self, b: Battle, s: int, move: MoveData, *, crit: bool, first: bool) -> tuple:
        """`damage_rolls` of side `s`'s active using `move` on the other active, cached."""
        attacker, defender = b.sides[s].mon, b.sides[1 - s].mon
        dside = b.sides[1 - s]
        key = (
            move.id, crit, first, self._mon_key(attacker), self._mon_key(defender),
            b.field.weather, b.field.terrain, b.field.gravity > 0,
            dside.reflect > 0, dside.light_screen > 0, dside.aurora_veil > 0,
            (attacker.hp, defender.hp) if move.id in _HP_DEPENDENT else None,
            move.id == "lastrespects" and sum(m.hp <= 0 for m in b.sides[s].mons),
        )  # fmt: skip
        found = self._rolls.get(key)
        if found is None:
            found = self._rolls[key] = damage_rolls(
                b, s, move, crit=crit, attacker_moves_first=first
            )
        return found

    def hit_stats(
        self, b: Battle, s: int, move: MoveData, *, first: bool
    ) -> tuple[float, float, float]:
        """(KO probability on a hit, mean damage of a surviving hit, mean damage of a hit),
        crits folded in, against the defender's current HP (or its substitute)."""
        attacker, defender = b.sides[s].mon, b.sides[1 - s].mon
        normal = self.rolls(b, s, move, crit=False, first=first)
        c = crit_chance(self.gen, attacker, move) if defender.ability not in (
            "battlearmor", "shellarmor") else 0.0  # fmt: skip
        crit = self.rolls(b, s, move, crit=True, first=first) if c > 0 else normal
        hp = defender.substitute_hp if "substitute" in defender.volatiles and not bypasses_sub(
            move, attacker) else defender.hp  # fmt: skip
        ko = 0.0
        survive_sum = 0.0
        survive_weight = 0.0
        total = 0.0
        for rolls, weight in ((normal, 1.0 - c), (crit, c)):
            if weight <= 0:
                continue
            share = weight / len(rolls)
            for r in rolls:
                total += r * share
                if r >= hp:
                    ko += share
                else:
                    survive_sum += r * share
                    survive_weight += share
        survive = survive_sum / survive_weight if survive_weight else 0.0
        return ko, survive, total

    def best_damage(self, b: Battle, s: int) -> tuple[float, MoveData | None]:
        """Side `s`'s active's best expected damage (mean roll x accuracy) on the other
        active, and the move that deals it (None when none deals damage)."""
        attacker, defender = b.sides[s].mon, b.sides[1 - s].mon
        dside = b.sides[1 - s]
        key = (
            self._mon_key(attacker), self._mon_key(defender), b.field.weather, b.field.terrain,
            b.field.gravity > 0, dside.reflect > 0, dside.light_screen > 0, dside.aurora_veil > 0,
        )  # fmt: skip
        found = self._best.get(key)
        if found is None:
            found = self._best[key] = self._compute_best_damage(b, s)
        return found

    def _compute_best_damage(self, b: Battle, s: int) -> tuple[float, MoveData | None]:
        mon = b.sides[s].mon
        best, best_move = 0.0, None
        for move in mon.moves:
            if not move.is_damaging:
                continue
            rolls = self.rolls(b, s, move, crit=False, first=True)
            value = sum(rolls) / len(rolls) * (1.0 if move.always_hits else move.accuracy)
            if value > best:
                best, best_move = value, move
        return best, best_move

    def best_switch(self, b: Battle, s: int) -> int | None:
        """The living benched Pokémon of side `s` with the best immediate matchup against
        the other active (damage it deals minus damage it takes, by fraction of HP, after
        hazards), or None when there is none."""
        side = b.sides[s]
        best, best_score = None, -1e9
        foe_side = b.sides[1 - s]
        foe = foe_side.mon
        for i, mon in enumerate(side.mons):
            if i == side.active or mon.hp <= 0:
                continue
            score = mon.hp_fraction - hazard_damage(mon, side, b) / mon.max_hp
            if foe.hp > 0:
                score += self._matchup(b, s, i)
            if score > best_score:
                best, best_score = i, score
        return best

    def _matchup(self, b: Battle, s: int, index: int) -> float:
        """How well side `s`'s `mons[index]` would do against the other active: the share of
        the foe's HP its best move takes minus the share of its own HP the foe's best move
        takes, with a bonus for moving first."""
        side = b.sides[s]
        saved = side.active
        side.active = index
        try:
            out, out_move = self.best_damage(b, s)
            taken, _ = self.best_damage(b, 1 - s)
            first = out_move is not None and goes_first(b, s, out_move)
        finally:
            side.active = saved
        mon, foe = side.mons[index], b.sides[1 - s].mon
        dealt = min(out / max(foe.hp, 1), 1.0)
        received = min(taken / max(mon.hp, 1), 1.0)
        return dealt - received + (0.1 if first else 0.0)

"""One turn of a singles battle played forward, with its chance outcomes, and a position value.

`TurnModel.resolve(battle, (a0, a1))` plays both sides' actions for one turn on
`battle.model` objects and returns the outcomes as `(probability, battle)` pairs:
switches first, then terastallization, then moves by priority and speed (Trick Room
reverses, an exact speed tie is two half-probability orders), then end-of-turn effects,
then the forced replacement of a fainted active. `TurnModel.evaluate(battle)` values a
position for side 0 in about [-1, 1].

Chance is branched where it decides games and folded where it does not:
- accuracy: a hit and a miss branch;
- damage: the 16 rolls (39 in gens 1-2) and the crit chance give a KO probability: a
  "KO" branch and a "survives" branch (the mean of the surviving rolls), or one branch
  with the mean damage when the KO chance is under 2% or over 98%;
- full paralysis: a 25% branch in which the paralysed side does not move.

What is simplified or left out (the search works on a model of the game, not the game):
- secondary effects are applied only when certain (Nuzzle's paralysis, Close Combat's
  drops, Rapid Spin's speed, Fake Out's flinch); chance secondaries (a 10% burn, a 30%
  flinch) are ignored; confusion, infatuation, taunt, encore, disable, yawn, perish song,
  destiny bond, trick, future sight, pursuit, counter/mirror coat, and multi-turn moves
  (outrage lock, solar beam charge, two-turn moves) are not modelled: those moves deal
  their damage with no side effect, or do nothing;
- asleep and frozen Pokémon never move (no wake-up or thaw roll; Rest sleeps 2 turns),
  Sleep Talk is not modelled; a Pokémon that must recharge skips its move;
- Protect succeeds a third as often for each success in a row (gen 6+ odds in every gen),
  and blocks damaging and status moves alike;
- self-switching moves (U-turn) and a fainted active's replacement bring in the benched
  Pokémon with the best immediate matchup (`best_switch`), not a chosen one; phazing
  (Roar, Dragon Tail) brings in the opponent's healthiest benched Pokémon;
- weather, terrain, screens and Trick Room last 5 turns from when the model sets them,
  and the real battle's counts are read as "5 turns left";
- items: Leftovers, Black Sludge, Life Orb, Focus Sash, Sitrus Berry, Rocky Helmet,
  Heavy-Duty Boots, choice items (damage and speed; the lock is not modelled for the
  opponent), Air Balloon, Booster Energy (through damage); abilities: through damage and
  speed, plus Intimidate, Regenerator, Natural Cure, Sturdy, Magic Guard, Poison Heal,
  Speed Boost, weather and terrain setters on switch-in, Prankster and friends' priority.
"""

from __future__ import annotations

from dataclasses import dataclass

from battle.damage import (
    crit_chance,
    damage_rolls,
    effective_speed,
    stat_multiplier,
    type_effectiveness,
)
from battle.model import Battle, Field, Mon, MoveData, Side

Outcome = tuple[float, Battle]

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
_PROTECT = frozenset(
    {"protect", "detect", "kingsshield", "spikyshield", "banefulbunker", "silktrap",
     "burningbulwark", "obstruct", "maxguard"}
)  # fmt: skip
_HAZARD_REMOVERS = frozenset({"rapidspin", "mortalspin", "defog", "tidyup"})
_SCREENS = frozenset({"reflect", "lightscreen", "auroraveil"})
_WEATHER_ABILITIES = {
    "drought": "sunnyday", "drizzle": "raindance", "sandstream": "sandstorm",
    "snowwarning": "snowscape", "orichalcumpulse": "sunnyday",
}  # fmt: skip
_TERRAIN_ABILITIES = {
    "electricsurge": "electricterrain", "grassysurge": "grassyterrain",
    "mistysurge": "mistyterrain", "psychicsurge": "psychicterrain",
    "hadronengine": "electricterrain", "seedsower": "grassyterrain",
}  # fmt: skip
_STATUS_IMMUNE_TYPES = {"brn": ("fire",), "par": ("electric",), "psn": ("poison", "steel"),
                        "tox": ("poison", "steel"), "frz": ("ice",)}  # fmt: skip
_SLEEP_TURNS_REST = 2
_INTIMIDATE_IMMUNE = frozenset({"innerfocus", "owntempo", "oblivious", "scrappy", "guarddog"})
# Status values in evaluation: a share of the Pokémon's worth lost to it.
_STATUS_COST = {"": 0.0, "par": 0.12, "brn": 0.12, "psn": 0.06, "tox": 0.12, "slp": 0.25,
                "frz": 0.35}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Action:
    """One side's choice in the model: a move of the active (its index in `mon.moves`,
    with tera or not), a switch to `mons[index]`, or nothing ("pass": the side only
    waits, e.g. while the other replaces a fainted Pokémon)."""

    kind: str  # "move" | "switch" | "pass"
    index: int = 0
    tera: bool = False


PASS = Action("pass")


def grounded(mon: Mon, field: Field) -> bool:
    if field.gravity or mon.item == "ironball":
        return True
    airborne = "flying" in mon.current_types() or mon.ability == "levitate"
    return not (airborne or mon.item == "airballoon")


def _hazard_damage(mon: Mon, side: Side, battle: Battle) -> int:
    """HP lost on switching in to `side`'s hazards (Heavy-Duty Boots and Magic Guard: none)."""
    if mon.item == "heavydutyboots" or mon.ability == "magicguard":
        return 0
    damage = 0
    if side.stealth_rock:
        damage += int(mon.max_hp * type_effectiveness(battle.gen, "rock", mon.current_types()) / 8)
    if side.spikes and grounded(mon, battle.field):
        damage += mon.max_hp * (2, 3, 4)[min(side.spikes, 3) - 1] // 16
    return damage


def _clamp_boost(value: int) -> int:
    return max(-6, min(6, value))


def _apply_boosts(mon: Mon, boosts: tuple[tuple[str, int], ...], *, from_foe: bool) -> None:
    if from_foe and mon.ability in ("clearbody", "whitesmoke", "fullmetalbody"):
        return
    for stat, amount in boosts:
        if mon.ability == "contrary":
            amount = -amount
        elif mon.ability == "simple":
            amount *= 2
        new = _clamp_boost(mon.boosts.get(stat, 0) + amount)
        if new:
            mon.boosts[stat] = new
        else:
            mon.boosts.pop(stat, None)


class TurnModel:
    """Plays turns and values positions for one decision; caches damage rolls by content.

    One instance per decision: the cache keys use `id()` of the hypotheses' stat dicts,
    which live as long as the decision's battles.
    """

    def __init__(self, gen: int, *, lookahead: float = 0.5):
        self.gen = gen
        self.lookahead = lookahead  # weight of the greedy exchange in `evaluate`
        self._rolls: dict[tuple, tuple[int, ...]] = {}
        self._best: dict[tuple, tuple[float, MoveData | None]] = {}

    # ------------------------------------------------------------------ damage

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
        hp = defender.substitute_hp if "substitute" in defender.volatiles and not _bypasses_sub(
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

    # ------------------------------------------------------------------ actions

    def legal_actions(self, b: Battle, s: int, *, forced: bool = False) -> list[Action]:
        """The model's options for side `s`: every move (and with tera when it may), every
        switch to a living benched Pokémon; only switches when `forced`."""
        side = b.sides[s]
        mon = side.mon
        actions: list[Action] = []
        if not forced and mon.hp > 0:
            if "mustrecharge" in mon.volatiles:
                return [PASS]
            for i, move in enumerate(mon.moves):
                actions.append(Action("move", i))
                if side.can_tera and mon.tera_type and not mon.terastallized and move.is_damaging:
                    actions.append(Action("move", i, tera=True))
        for i, other in enumerate(side.mons):
            if i != side.active and other.hp > 0:
                actions.append(Action("switch", i))
        return actions or [PASS]

    # ------------------------------------------------------------------ one turn

    def resolve(self, battle: Battle, actions: tuple[Action, Action]) -> list[Outcome]:
        """Every outcome of one turn in which side 0 plays `actions[0]` and side 1
        `actions[1]`, as (probability, battle) pairs summing to 1. `battle` is not changed."""
        b = battle.fork()
        for s in self._switch_order(b, actions):
            self.switch_in(b, s, actions[s].index)
        for s in (0, 1):
            action = actions[s]
            if action.kind == "move" and action.tera:
                side = b.sides[s]
                if side.can_tera and side.mon.tera_type:
                    side.mon.terastallized = True
                    side.can_tera = False
        movers = [s for s in (0, 1) if actions[s].kind == "move" and b.sides[s].mon.hp > 0]
        chose = (b.sides[0].active, b.sides[1].active)  # a Pokémon forced out does not move
        outcomes: list[Outcome] = []
        for p, order in self.move_order(b, actions, movers):
            branch = [(p, b.fork() if p < 1.0 else b)]
            for position, s in enumerate(order):
                first = position == 0
                next_branch: list[Outcome] = []
                for q, bb in branch:
                    if bb.sides[s].active != chose[s]:
                        next_branch.append((q, bb))
                        continue
                    next_branch.extend(self._use_move(q, bb, s, actions[s].index, first=first))
                branch = next_branch
            outcomes.extend(branch)
        final: list[Outcome] = []
        for p, bb in outcomes:
            self._end_of_turn(bb)
            self._replace_fainted(bb)
            bb.turn += 1
            final.append((p, bb))
        return final

    def _switch_order(self, b: Battle, actions: tuple[Action, Action]) -> list[int]:
        switching = [s for s in (0, 1) if actions[s].kind == "switch"]
        if len(switching) == 2 and effective_speed(b, 1) > effective_speed(b, 0):
            switching.reverse()
        return switching

    def move_order(
        self, b: Battle, actions: tuple[Action, Action], movers: list[int]
    ) -> list[tuple[float, list[int]]]:
        """The orders in which the `movers` (sides using a move) act, with their
        probabilities: by priority, then speed (reversed under Trick Room); a speed tie is
        two orders of probability 1/2."""
        if len(movers) < 2:
            return [(1.0, movers)]
        keys = []
        for s in (0, 1):
            move = b.sides[s].mon.moves[actions[s].index]
            speed = effective_speed(b, s)
            if b.field.trick_room:
                speed = -speed
            keys.append((self._priority(b, s, move), speed))
        if keys[0] > keys[1]:
            return [(1.0, [0, 1])]
        if keys[1] > keys[0]:
            return [(1.0, [1, 0])]
        return [(0.5, [0, 1]), (0.5, [1, 0])]

    def _priority(self, b: Battle, s: int, move: MoveData) -> int:
        mon = b.sides[s].mon
        priority = move.priority
        ability = mon.ability
        if (ability == "prankster" and move.category == "status") or (
            ability == "galewings" and move.type == "flying" and mon.hp >= mon.max_hp
        ):
            priority += 1
        elif mon.ability == "triage" and (move.heal or move.drain):
            priority += 3
        if move.id == "grassyglide" and b.field.terrain == "grassyterrain":
            priority += 1
        return priority

    # ------------------------------------------------------------------ switching

    def switch_in(self, b: Battle, s: int, index: int) -> None:
        side = b.sides[s]
        leaving = side.mon
        if leaving.hp > 0:
            if leaving.ability == "regenerator":
                leaving.hp = min(leaving.max_hp, leaving.hp + leaving.max_hp // 3)
            elif leaving.ability == "naturalcure":
                leaving.status = ""
        leaving.boosts = {}
        leaving.volatiles = set()
        leaving.substitute_hp = 0
        leaving.toxic_turns = 0
        side.active = index
        mon = side.own(index)
        mon.first_turn = True
        mon.hp -= _hazard_damage(mon, side, b)
        if mon.hp <= 0:
            mon.hp = 0
            return
        if side.toxic_spikes and grounded(mon, b.field) and mon.item != "heavydutyboots":
            types = mon.current_types()
            if "poison" in types:
                side.toxic_spikes = 0
            elif not mon.status and "steel" not in types:
                mon.status = "tox" if side.toxic_spikes >= 2 else "psn"
        if side.sticky_web and grounded(mon, b.field) and mon.item != "heavydutyboots":
            _apply_boosts(mon, (("spe", -1),), from_foe=True)
        foe = b.sides[1 - s].mon
        if mon.ability == "intimidate" and foe.hp > 0 and foe.ability not in _INTIMIDATE_IMMUNE:
            _apply_boosts(foe, (("atk", -1),), from_foe=True)
        weather = _WEATHER_ABILITIES.get(mon.ability)
        if weather and b.gen >= 3:
            b.field.weather = weather
        terrain = _TERRAIN_ABILITIES.get(mon.ability)
        if terrain:
            b.field.terrain = terrain

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
            score = mon.hp_fraction - _hazard_damage(mon, side, b) / mon.max_hp
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
            first = out_move is not None and self._goes_first(b, s, out_move)
        finally:
            side.active = saved
        mon, foe = side.mons[index], b.sides[1 - s].mon
        dealt = min(out / max(foe.hp, 1), 1.0)
        received = min(taken / max(mon.hp, 1), 1.0)
        return dealt - received + (0.1 if first else 0.0)

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

    def _goes_first(self, b: Battle, s: int, move: MoveData) -> bool:
        mine = self._priority(b, s, move)
        if mine > 0:
            return True
        if mine < 0:
            return False
        a, d = effective_speed(b, s), effective_speed(b, 1 - s)
        return a < d if b.field.trick_room else a > d

    def _replace_fainted(self, b: Battle) -> None:
        for s in (0, 1):
            side = b.sides[s]
            if side.mon.hp <= 0:
                index = self.best_switch(b, s)
                if index is not None:
                    self.switch_in(b, s, index)

    # ------------------------------------------------------------------ moves

    def _use_move(self, p: float, b: Battle, s: int, index: int, *, first: bool) -> list[Outcome]:
        side = b.sides[s]
        mon = side.mon
        if mon.hp <= 0 or index >= len(mon.moves):
            return [(p, b)]
        if "mustrecharge" in mon.volatiles:
            mon.volatiles.discard("mustrecharge")
            return [(p, b)]
        if "flinch" in mon.volatiles or mon.status in ("slp", "frz"):
            return [(p, b)]
        move = mon.moves[index]
        if mon.status == "par" and b.gen >= 1:
            still = b.fork()
            proceed = self._execute(0.75 * p, b, s, move, first=first)
            return [(0.25 * p, still), *proceed]
        return self._execute(p, b, s, move, first=first)

    def _execute(
        self, p: float, b: Battle, s: int, move: MoveData, *, first: bool
    ) -> list[Outcome]:
        side, foe_side = b.sides[s], b.sides[1 - s]
        mon, foe = side.mon, foe_side.mon
        if move.id in _PROTECT:
            # Each success in a row makes the next one a third as likely (gen 6 on).
            chance = 1.0 / 3**mon.protect_count if mon.protect_count else 1.0
            outcomes: list[Outcome] = []
            if chance < 1.0:
                failed = b.fork()
                failed.sides[s].mon.protect_count = 0
                outcomes.append(((1.0 - chance) * p, failed))
            mon.volatiles.add("protect")
            mon.protect_count += 1
            outcomes.append((chance * p, b))
            return outcomes
        mon.protect_count = 0
        targets_foe = move.target not in ("self", "allySide", "all", "allyTeam", "foeSide",
                                          "adjacentAllyOrSelf")  # fmt: skip
        if targets_foe and foe.hp <= 0 and move.is_damaging:
            return [(p, b)]
        if targets_foe and "protect" in foe.volatiles and not move.breaks_protect:
            return [(p, b)]
        if move.is_damaging:
            return self._attack(p, b, s, move, first=first)
        return self._status_move(p, b, s, move)

    def _accuracy(self, mon: Mon, foe: Mon, move: MoveData) -> float:
        if move.always_hits or mon.ability == "noguard" or foe.ability == "noguard":
            return 1.0
        accuracy = move.accuracy
        stage = _clamp_boost(mon.boost("accuracy") - foe.boost("evasion"))
        if stage:
            accuracy *= stat_multiplier(stage)
        if mon.ability == "compoundeyes":
            accuracy *= 1.3
        elif mon.ability == "hustle" and move.category == "physical":
            accuracy *= 0.8
        return min(accuracy, 1.0)

    def _attack(self, p: float, b: Battle, s: int, move: MoveData, *, first: bool) -> list[Outcome]:
        side, foe_side = b.sides[s], b.sides[1 - s]
        mon, foe = side.mon, foe_side.mon
        accuracy = self._accuracy(mon, foe, move)
        ko, survive, mean = self.hit_stats(b, s, move, first=first)
        if mean <= 0:  # immune, or no damage
            return [(p, b)]
        outcomes: list[Outcome] = []
        if accuracy < 1.0:
            missed = b.fork()
            if move.id in ("highjumpkick", "jumpkick", "supercellslam", "axekick"):
                missed.sides[s].mon.hp -= missed.sides[s].mon.max_hp // 2
                missed.sides[s].mon.hp = max(missed.sides[s].mon.hp, 0)
            outcomes.append(((1.0 - accuracy) * p, missed))
        hit_p = accuracy * p
        if 0.02 < ko < 0.98:
            killed = b.fork()
            self._apply_hit(killed, s, move, damage=None, first=first)
            outcomes.append((hit_p * ko, killed))
            alive = b if accuracy >= 1.0 else b.fork()
            self._apply_hit(alive, s, move, damage=int(survive), first=first)
            outcomes.append((hit_p * (1.0 - ko), alive))
        else:
            hit = b if accuracy >= 1.0 else b.fork()
            self._apply_hit(hit, s, move, damage=None if ko >= 0.98 else int(mean), first=first)
            outcomes.append((hit_p, hit))
        return outcomes

    def _apply_hit(
        self, b: Battle, s: int, move: MoveData, *, damage: int | None, first: bool
    ) -> None:
        """One hit of `move` by side `s`; `damage` None means a KO (or the substitute broken)."""
        side, foe_side = b.sides[s], b.sides[1 - s]
        mon, foe = side.mon, foe_side.mon
        dealt = 0
        if "substitute" in foe.volatiles and not _bypasses_sub(move, mon):
            taken = foe.substitute_hp if damage is None else min(damage, foe.substitute_hp)
            foe.substitute_hp -= taken
            if foe.substitute_hp <= 0:
                foe.volatiles.discard("substitute")
                foe.substitute_hp = 0
            dealt = taken
        else:
            amount = foe.hp if damage is None else min(damage, foe.hp)
            if (
                amount >= foe.hp
                and foe.hp >= foe.max_hp
                and (foe.item == "focussash" or foe.ability == "sturdy")
                and move.multihit is None
            ):
                amount = foe.hp - 1
                if foe.item == "focussash":
                    foe.item = ""
            foe.hp -= amount
            dealt = amount
            if foe.hp > 0 and foe.item == "sitrusberry" and 2 * foe.hp <= foe.max_hp:
                foe.hp = min(foe.max_hp, foe.hp + foe.max_hp // 4)
                foe.item = ""
            if move.id in ("knockoff",) and foe.item and foe.hp > 0:
                foe.item = ""
            if move.id in ("rapidspin", "mortalspin"):
                _clear_hazards(side)
        # the attacker's side effects
        if move.drain and dealt:
            mon.hp = min(mon.max_hp, mon.hp + max(1, int(dealt * move.drain)))
        if move.recoil and dealt and mon.ability not in ("rockhead", "magicguard"):
            mon.hp -= max(1, int(dealt * move.recoil))
        if move.id in ("steelbeam", "mindblown") and mon.ability != "magicguard":
            mon.hp -= (mon.max_hp + 1) // 2
        if mon.item == "lifeorb" and dealt and mon.ability != "magicguard":
            mon.hp -= mon.max_hp // 10
        if (
            "contact" in move.flags
            and mon.ability != "magicguard"
            and mon.item != "protectivepads"
            and not (mon.item == "punchingglove" and "punch" in move.flags)
        ):
            if foe.item == "rockyhelmet":
                mon.hp -= mon.max_hp // 6
            if foe.ability in ("roughskin", "ironbarbs"):
                mon.hp -= mon.max_hp // 8
        if mon.hp < 0:
            mon.hp = 0
        if move.self_boosts and mon.hp > 0:
            _apply_boosts(mon, move.self_boosts, from_foe=False)
        if move.secondary_chance >= 1.0 and mon.ability != "sheerforce":
            if move.secondary_self_boosts and mon.hp > 0:
                _apply_boosts(mon, move.secondary_self_boosts, from_foe=False)
            if foe.hp > 0 and "substitute" not in foe.volatiles:
                if move.secondary_boosts:
                    _apply_boosts(foe, move.secondary_boosts, from_foe=True)
                if move.secondary_status:
                    _inflict(b, foe, move.secondary_status)
                if move.secondary_volatile == "flinch" and first:
                    foe.volatiles.add("flinch")
        if move.recharge and mon.hp > 0:
            mon.volatiles.add("mustrecharge")
        if move.self_switch and mon.hp > 0 and move.id != "batonpass":
            index = self.best_switch(b, s)
            if index is not None:
                self.switch_in(b, s, index)
        if move.force_switch and foe.hp > 0 and foe.ability != "suctioncups":
            index = _healthiest(foe_side)
            if index is not None:
                self.switch_in(b, 1 - s, index)

    def _status_move(self, p: float, b: Battle, s: int, move: MoveData) -> list[Outcome]:
        side, foe_side = b.sides[s], b.sides[1 - s]
        mon, foe = side.mon, foe_side.mon
        targets_foe = move.target in ("normal", "any", "adjacentFoe", "allAdjacentFoes",
                                      "randomNormal", "scripted")  # fmt: skip
        if targets_foe:
            if foe.hp <= 0:
                return [(p, b)]
            if foe.ability in ("magicbounce", "goodasgold"):
                return [(p, b)]
            if "substitute" in foe.volatiles and "bypasssub" not in move.flags:
                return [(p, b)]
            if mon.ability == "prankster" and "dark" in foe.current_types() and b.gen >= 7:
                return [(p, b)]
            accuracy = self._accuracy(mon, foe, move)
            if accuracy < 1.0:
                missed = b.fork()
                self._status_effect(b, s, move)
                return [((1.0 - accuracy) * p, missed), (accuracy * p, b)]
        self._status_effect(b, s, move)
        return [(p, b)]

    def _status_effect(self, b: Battle, s: int, move: MoveData) -> None:
        side, foe_side = b.sides[s], b.sides[1 - s]
        mon, foe = side.mon, foe_side.mon
        mid = move.id
        if move.status and move.target != "self":
            types = foe.current_types()
            powder_immune = "powder" in move.flags and (
                "grass" in types or foe.ability == "overcoat"
            )
            wave_immune = mid == "thunderwave" and "ground" in types
            if not (powder_immune or wave_immune):
                _inflict(b, foe, move.status)
        if move.boosts:
            if move.target == "self" or move.target == "adjacentAllyOrSelf":
                _apply_boosts(mon, move.boosts, from_foe=False)
            else:
                _apply_boosts(foe, move.boosts, from_foe=True)
        if move.self_boosts:
            _apply_boosts(mon, move.self_boosts, from_foe=False)
        if move.heal and mon.hp > 0:
            fraction = move.heal
            if mid in ("moonlight", "synthesis", "morningsun"):
                weather = b.field.weather
                fraction = 2 / 3 if weather == "sunnyday" else (0.25 if weather else 0.5)
            elif mid == "shoreup" and b.field.weather == "sandstorm":
                fraction = 2 / 3
            mon.hp = min(mon.max_hp, mon.hp + int(mon.max_hp * fraction))
        if mid == "rest" and mon.hp < mon.max_hp and mon.status != "slp":
            mon.hp = mon.max_hp
            mon.status = "slp"
            mon.sleep_turns = -_SLEEP_TURNS_REST
        elif mid == "wish":
            mon.hp = min(mon.max_hp, mon.hp + mon.max_hp // 2)  # arrives next turn: early
        elif mid == "painsplit" and foe.hp > 0:
            average = (mon.hp + foe.hp) // 2
            mon.hp = min(mon.max_hp, average)
            foe.hp = min(foe.max_hp, average)
        elif (
            mid in ("substitute", "shedtail")
            and mon.hp > mon.max_hp // 4
            and ("substitute" not in mon.volatiles)
        ):
            mon.hp -= mon.max_hp // 4 if mid == "substitute" else mon.max_hp // 2
            mon.volatiles.add("substitute")
            mon.substitute_hp = mon.max_hp // 4
            if mid == "shedtail":
                index = self.best_switch(b, s)
                if index is not None:
                    self.switch_in(b, s, index)
        elif mid == "leechseed" and "grass" not in foe.current_types():
            foe.volatiles.add("leechseed")
        elif mid in ("haze",):
            mon.boosts, foe.boosts = {}, {}
        elif mid == "defog":
            _clear_hazards(side)
            _clear_hazards(foe_side)
            foe_side.reflect = foe_side.light_screen = foe_side.aurora_veil = 0
        elif mid in ("tidyup", "rapidspin", "mortalspin"):
            _clear_hazards(side)
        elif mid == "courtchange":
            _swap_hazards(side, foe_side)
        elif mid in ("partingshot", "chillyreception", "teleport", "batonpass"):
            if mid == "chillyreception":
                b.field.weather = "snowscape"
            index = self.best_switch(b, s)
            if index is not None:
                boosts = dict(mon.boosts) if mid == "batonpass" else None
                self.switch_in(b, s, index)
                if boosts:
                    b.sides[s].mon.boosts = boosts
        elif mid in ("whirlwind", "roar") and foe.hp > 0:
            index = _healthiest(foe_side)
            if index is not None:
                self.switch_in(b, 1 - s, index)
        elif mid in ("healbell", "aromatherapy"):
            for i, other in enumerate(side.mons):
                if other.status and other.hp > 0:
                    side.own(i).status = ""
        elif mid == "strengthsap" and foe.hp > 0:
            attack = foe.stats["atk"] * stat_multiplier(foe.boost("atk"))
            mon.hp = min(mon.max_hp, mon.hp + int(attack))
            _apply_boosts(foe, (("atk", -1),), from_foe=True)
        condition = move.side_condition
        if condition:
            if condition == "stealthrock":
                foe_side.stealth_rock = True
            elif condition == "spikes":
                foe_side.spikes = min(foe_side.spikes + 1, 3)
            elif condition == "toxicspikes":
                foe_side.toxic_spikes = min(foe_side.toxic_spikes + 1, 2)
            elif condition == "stickyweb":
                foe_side.sticky_web = True
            elif condition == "reflect":
                side.reflect = side.reflect or 5
            elif condition == "lightscreen":
                side.light_screen = side.light_screen or 5
            elif condition == "auroraveil" and b.field.weather in ("hail", "snowscape"):
                side.aurora_veil = side.aurora_veil or 5
            elif condition == "tailwind":
                side.tailwind = side.tailwind or 4
        if move.weather:
            b.field.weather = move.weather
        if move.terrain:
            b.field.terrain = move.terrain
        if move.pseudo_weather == "trickroom":
            b.field.trick_room = 0 if b.field.trick_room else 5
        elif move.pseudo_weather == "gravity":
            b.field.gravity = 5

    # ------------------------------------------------------------------ end of turn

    def _end_of_turn(self, b: Battle) -> None:
        weather = b.field.weather
        for s in (0, 1):
            side = b.sides[s]
            mon = side.mon
            mon.volatiles.discard("protect")
            mon.volatiles.discard("flinch")
            arrived = mon.first_turn  # switched in this turn: no Speed Boost yet
            mon.first_turn = False
            if mon.hp <= 0:
                continue
            guard = mon.ability == "magicguard"
            types = mon.current_types()
            if not guard:
                if weather == "sandstorm" and not (set(types) & {"rock", "ground", "steel"}):
                    if mon.ability not in ("sandveil", "sandrush", "sandforce", "overcoat"):
                        mon.hp -= mon.max_hp // 16
                elif weather == "hail" and "ice" not in types and mon.ability != "icebody":
                    mon.hp -= mon.max_hp // 16
            if mon.item == "leftovers" or (mon.item == "blacksludge" and "poison" in types):
                mon.hp = min(mon.max_hp, mon.hp + mon.max_hp // 16)
            elif mon.item == "blacksludge" and not guard:
                mon.hp -= mon.max_hp // 8
            if b.field.terrain == "grassyterrain" and grounded(mon, b.field):
                mon.hp = min(mon.max_hp, mon.hp + mon.max_hp // 16)
            if "leechseed" in mon.volatiles and not guard:
                drained = mon.max_hp // 8
                mon.hp -= drained
                other = b.sides[1 - s].mon
                if other.hp > 0:
                    other.hp = min(other.max_hp, other.hp + drained)
            status = mon.status
            if status in ("psn", "tox") and mon.ability == "poisonheal":
                mon.hp = min(mon.max_hp, mon.hp + mon.max_hp // 8)
            elif not guard:
                if status == "brn":
                    mon.hp -= mon.max_hp // (16 if b.gen >= 7 else 8)
                elif status == "psn":
                    mon.hp -= mon.max_hp // 8
                elif status == "tox":
                    mon.toxic_turns += 1
                    mon.hp -= mon.max_hp * min(mon.toxic_turns, 15) // 16
            if mon.ability == "speedboost" and not arrived:
                _apply_boosts(mon, (("spe", 1),), from_foe=False)
            if mon.hp < 0:
                mon.hp = 0
            for attr in ("reflect", "light_screen", "aurora_veil", "tailwind"):
                value = getattr(side, attr)
                if value:
                    setattr(side, attr, value - 1)
        if b.field.trick_room:
            b.field.trick_room -= 1
        if b.field.gravity:
            b.field.gravity -= 1

    # ------------------------------------------------------------------ value

    def evaluate(self, b: Battle) -> float:
        """The value of `b` for side 0, about -1 (lost) to 1 (won).

        Material: each Pokémon is worth 0.3 alive plus 0.7 x its HP share, less what its
        status costs; unseen opposing Pokémon count as healthy; hazards on a side cost
        what they will take from its benched Pokémon; boosts and screens add a little.
        Blended (`lookahead`) with the material after a greedy exchange between the two
        actives (each uses its best expected-damage move, in speed order, until one
        faints or three turns pass), so that a position where the active is about to be
        KO'd is valued as such.
        """
        sides = b.sides
        alive0 = any(m.hp > 0 for m in sides[0].mons)
        alive1 = any(m.hp > 0 for m in sides[1].mons) or sides[1].unseen > 0
        if not alive0:
            return -1.0 if alive1 else 0.0
        if not alive1:
            return 1.0
        static = self._material(b, sides[0], None) - self._material(b, sides[1], None)
        if self.lookahead <= 0:
            return static / 6
        hp0, hp1 = self._exchange(b)
        after = self._material(b, sides[0], hp0) - self._material(b, sides[1], hp1)
        return ((1 - self.lookahead) * static + self.lookahead * after) / 6

    def _material(self, b: Battle, side: Side, active_hp: int | None) -> float:
        total = float(side.unseen)
        for i, mon in enumerate(side.mons):
            hp = active_hp if (active_hp is not None and i == side.active) else mon.hp
            if hp <= 0:
                continue
            share = hp / mon.max_hp
            value = 0.3 + 0.7 * share
            value -= _STATUS_COST.get(mon.status, 0.0) * (0.5 + 0.5 * share)
            if i != side.active:
                value -= 0.7 * _hazard_damage(mon, side, b) / mon.max_hp
            total += value
        mon = side.mon
        if mon.hp > 0 and mon.boosts:
            for stat in ("atk", "spa", "spe", "def", "spd"):
                stage = mon.boosts.get(stat, 0)
                if stage:
                    total += 0.04 * stage if stage > 0 else 0.05 * stage
        total += 0.02 * (bool(side.reflect) + bool(side.light_screen) + 2 * bool(side.aurora_veil))
        return total

    def _exchange(self, b: Battle) -> tuple[int, int]:
        """Both actives' HP after up to three turns of each using its best move on the
        other (expected damage), in turn order; an active that faints stops it."""
        m0, m1 = b.sides[0].mon, b.sides[1].mon
        hp = [m0.hp, m1.hp]
        if hp[0] <= 0 or hp[1] <= 0:
            return hp[0], hp[1]
        d0, move0 = self.best_damage(b, 0)
        d1, move1 = self.best_damage(b, 1)
        if move0 is None and move1 is None:
            return hp[0], hp[1]
        keys = []
        for s, move in ((0, move0), (1, move1)):
            speed = effective_speed(b, s)
            keys.append((self._priority(b, s, move) if move else 0,
                         -speed if b.field.trick_room else speed))  # fmt: skip
        order = (0, 1) if keys[0] >= keys[1] else (1, 0)
        damage = (d0, d1)
        for _ in range(3):
            for s in order:
                hp[1 - s] -= int(damage[s])
                if hp[1 - s] <= 0:
                    hp[1 - s] = 0
                    return hp[0], hp[1]
        return hp[0], hp[1]


def _bypasses_sub(move: MoveData, attacker: Mon) -> bool:
    return "sound" in move.flags or "bypasssub" in move.flags or attacker.ability == "infiltrator"


def _clear_hazards(side: Side) -> None:
    side.stealth_rock = False
    side.spikes = 0
    side.toxic_spikes = 0
    side.sticky_web = False


def _swap_hazards(a: Side, b: Side) -> None:
    for attr in ("stealth_rock", "spikes", "toxic_spikes", "sticky_web", "reflect",
                 "light_screen", "aurora_veil", "tailwind"):  # fmt: skip
        va, vb = getattr(a, attr), getattr(b, attr)
        setattr(a, attr, vb)
        setattr(b, attr, va)


def _healthiest(side: Side) -> int | None:
    options = [i for i, m in enumerate(side.mons) if i != side.active and m.hp > 0]
    return max(options, key=lambda i: side.mons[i].hp_fraction) if options else None


def _inflict(b: Battle, mon: Mon, status: str) -> None:
    """Give `mon` a major status if nothing prevents it."""
    if mon.status or mon.hp <= 0:
        return
    types = mon.current_types()
    immune = any(t in types for t in _STATUS_IMMUNE_TYPES.get(status, ()))
    if immune and not (status == "par" and b.gen < 6):  # electric types: gen 6 on
        return
    if mon.ability in ("purifyingsalt", "comatose", "goodasgold") or (
        status == "par" and mon.ability == "limber"
    ):
        return
    if status in ("psn", "tox") and mon.ability == "immunity":
        return
    if status == "brn" and mon.ability in ("waterveil", "waterbubble", "thermalexchange"):
        return
    if status == "slp" and mon.ability in ("insomnia", "vitalspirit", "sweetveil"):
        return
    if b.field.terrain == "mistyterrain" and grounded(mon, b.field):
        return
    if status == "slp" and b.field.terrain == "electricterrain" and grounded(mon, b.field):
        return
    mon.status = status
    if status == "slp":
        mon.sleep_turns = -2
    if status == "tox":
        mon.toxic_turns = 0

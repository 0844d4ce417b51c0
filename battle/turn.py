"""One turn of a singles battle played forward, with its chance outcomes, and a position value.

`TurnModel.resolve(battle, (a0, a1))` plays both sides' actions for one turn on
`battle.model` objects and returns the outcomes as `(probability, battle)` pairs:
switches first, then terastallization, then moves by priority and speed (Trick Room
reverses, an exact speed tie is two half-probability orders), then end-of-turn effects,
then the forced replacement of a fainted active. `TurnModel.evaluate(battle)` values a
position for side 0 in about [-1, 1]. The parts: `battle.turn_damage` (cached damage and
matchups), `battle.turn_moves` (one move's branches and effects), `battle.turn_rules`
(switching in, priority, statuses, end of turn: the rules without chance).

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

from battle.damage import effective_speed
from battle.model import Battle, Side
from battle.turn_damage import DamageModel
from battle.turn_moves import Outcome, use_move
from battle.turn_rules import end_of_turn, hazard_damage, priority, switch_in

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


class TurnModel(DamageModel):
    """Plays turns and values positions for one decision: one instance per decision, like
    the damage cache it is built on (`DamageModel`)."""

    def __init__(self, gen: int, *, lookahead: float = 0.5):
        super().__init__(gen)
        self.lookahead = lookahead  # weight of the greedy exchange in `evaluate`

    # `model.switch_in(b, s, index)`: a switch-in needs no damage, so it is a rule
    switch_in = staticmethod(switch_in)

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
            switch_in(b, s, actions[s].index)
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
                    next_branch.extend(use_move(self, q, bb, s, actions[s].index, first=first))
                branch = next_branch
            outcomes.extend(branch)
        final: list[Outcome] = []
        for p, bb in outcomes:
            end_of_turn(bb)
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
            keys.append((priority(b, s, move), speed))
        if keys[0] > keys[1]:
            return [(1.0, [0, 1])]
        if keys[1] > keys[0]:
            return [(1.0, [1, 0])]
        return [(0.5, [0, 1]), (0.5, [1, 0])]

    def _replace_fainted(self, b: Battle) -> None:
        for s in (0, 1):
            side = b.sides[s]
            if side.mon.hp <= 0:
                index = self.best_switch(b, s)
                if index is not None:
                    switch_in(b, s, index)

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
                value -= 0.7 * hazard_damage(mon, side, b) / mon.max_hp
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
            keys.append((priority(b, s, move) if move else 0,
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

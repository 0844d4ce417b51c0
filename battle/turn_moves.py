"""One move used in the turn model: its chance branches and its effects.

`use_move` plays side `s`'s active using one of its moves on a `battle.model` battle and
returns the outcomes as `(probability, battle)` pairs (see `battle.turn` for what is
branched and what is simplified): full paralysis, Protect's odds, a miss, a KO or not;
then what the hit does (Focus Sash and Sturdy, Sitrus Berry, Knock Off, drain, recoil,
Life Orb, Rocky Helmet, certain secondary effects, self-switching and phazing) or what
the status move does (status, boosts, healing, Substitute, hazards, screens, weather).
The damage comes from the `DamageModel` passed in.
"""

from __future__ import annotations

from battle.damage import stat_multiplier
from battle.model import Battle, Mon, MoveData
from battle.turn_damage import DamageModel
from battle.turn_rules import (
    apply_boosts,
    bypasses_sub,
    clamp_boost,
    clear_hazards,
    healthiest,
    inflict,
    swap_hazards,
    switch_in,
)

Outcome = tuple[float, Battle]

_PROTECT = frozenset(
    {"protect", "detect", "kingsshield", "spikyshield", "banefulbunker", "silktrap",
     "burningbulwark", "obstruct", "maxguard"}
)  # fmt: skip
_SLEEP_TURNS_REST = 2


def use_move(
    model: DamageModel, p: float, b: Battle, s: int, index: int, *, first: bool
) -> list[Outcome]:
    """Side `s`'s active uses `mon.moves[index]` in `b` (reached with probability `p`;
    `first`: it moves before the other active): the outcomes, their probabilities adding
    up to `p`, each `b` or a fork of it (`b` may be changed)."""
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
        proceed = _execute(model, 0.75 * p, b, s, move, first=first)
        return [(0.25 * p, still), *proceed]
    return _execute(model, p, b, s, move, first=first)


def _execute(
    model: DamageModel, p: float, b: Battle, s: int, move: MoveData, *, first: bool
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
        return _attack(model, p, b, s, move, first=first)
    return _status_move(model, p, b, s, move)


def _hit_chance(mon: Mon, foe: Mon, move: MoveData) -> float:
    """The chance that `mon`'s `move` hits `foe`: accuracy and evasion stages, No Guard,
    Compound Eyes, Hustle."""
    if move.always_hits or mon.ability == "noguard" or foe.ability == "noguard":
        return 1.0
    accuracy = move.accuracy
    stage = clamp_boost(mon.boost("accuracy") - foe.boost("evasion"))
    if stage:
        accuracy *= stat_multiplier(stage)
    if mon.ability == "compoundeyes":
        accuracy *= 1.3
    elif mon.ability == "hustle" and move.category == "physical":
        accuracy *= 0.8
    return min(accuracy, 1.0)


def _attack(
    model: DamageModel, p: float, b: Battle, s: int, move: MoveData, *, first: bool
) -> list[Outcome]:
    side, foe_side = b.sides[s], b.sides[1 - s]
    mon, foe = side.mon, foe_side.mon
    accuracy = _hit_chance(mon, foe, move)
    ko, survive, mean = model.hit_stats(b, s, move, first=first)
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
        _apply_hit(model, killed, s, move, damage=None, first=first)
        outcomes.append((hit_p * ko, killed))
        alive = b if accuracy >= 1.0 else b.fork()
        _apply_hit(model, alive, s, move, damage=int(survive), first=first)
        outcomes.append((hit_p * (1.0 - ko), alive))
    else:
        hit = b if accuracy >= 1.0 else b.fork()
        _apply_hit(model, hit, s, move, damage=None if ko >= 0.98 else int(mean), first=first)
        outcomes.append((hit_p, hit))
    return outcomes


def _apply_hit(
    model: DamageModel, b: Battle, s: int, move: MoveData, *, damage: int | None, first: bool
) -> None:
    """One hit of `move` by side `s`; `damage` None means a KO (or the substitute broken)."""
    side, foe_side = b.sides[s], b.sides[1 - s]
    mon, foe = side.mon, foe_side.mon
    dealt = 0
    if "substitute" in foe.volatiles and not bypasses_sub(move, mon):
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
            clear_hazards(side)
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
        apply_boosts(mon, move.self_boosts, from_foe=False)
    if move.secondary_chance >= 1.0 and mon.ability != "sheerforce":
        if move.secondary_self_boosts and mon.hp > 0:
            apply_boosts(mon, move.secondary_self_boosts, from_foe=False)
        if foe.hp > 0 and "substitute" not in foe.volatiles:
            if move.secondary_boosts:
                apply_boosts(foe, move.secondary_boosts, from_foe=True)
            if move.secondary_status:
                inflict(b, foe, move.secondary_status)
            if move.secondary_volatile == "flinch" and first:
                foe.volatiles.add("flinch")
    if move.recharge and mon.hp > 0:
        mon.volatiles.add("mustrecharge")
    if move.self_switch and mon.hp > 0 and move.id != "batonpass":
        index = model.best_switch(b, s)
        if index is not None:
            switch_in(b, s, index)
    if move.force_switch and foe.hp > 0 and foe.ability != "suctioncups":
        index = healthiest(foe_side)
        if index is not None:
            switch_in(b, 1 - s, index)


def _status_move(model: DamageModel, p: float, b: Battle, s: int, move: MoveData) -> list[Outcome]:
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
        accuracy = _hit_chance(mon, foe, move)
        if accuracy < 1.0:
            missed = b.fork()
            _status_effect(model, b, s, move)
            return [((1.0 - accuracy) * p, missed), (accuracy * p, b)]
    _status_effect(model, b, s, move)
    return [(p, b)]


def _status_effect(model: DamageModel, b: Battle, s: int, move: MoveData) -> None:
    side, foe_side = b.sides[s], b.sides[1 - s]
    mon, foe = side.mon, foe_side.mon
    mid = move.id
    if move.status and move.target != "self":
        types = foe.current_types()
        powder_immune = "powder" in move.flags and ("grass" in types or foe.ability == "overcoat")
        wave_immune = mid == "thunderwave" and "ground" in types
        if not (powder_immune or wave_immune):
            inflict(b, foe, move.status)
    if move.boosts:
        if move.target == "self" or move.target == "adjacentAllyOrSelf":
            apply_boosts(mon, move.boosts, from_foe=False)
        else:
            apply_boosts(foe, move.boosts, from_foe=True)
    if move.self_boosts:
        apply_boosts(mon, move.self_boosts, from_foe=False)
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
            index = model.best_switch(b, s)
            if index is not None:
                switch_in(b, s, index)
    elif mid == "leechseed" and "grass" not in foe.current_types():
        foe.volatiles.add("leechseed")
    elif mid in ("haze",):
        mon.boosts, foe.boosts = {}, {}
    elif mid == "defog":
        clear_hazards(side)
        clear_hazards(foe_side)
        foe_side.reflect = foe_side.light_screen = foe_side.aurora_veil = 0
    elif mid in ("tidyup", "rapidspin", "mortalspin"):
        clear_hazards(side)
    elif mid == "courtchange":
        swap_hazards(side, foe_side)
    elif mid in ("partingshot", "chillyreception", "teleport", "batonpass"):
        if mid == "chillyreception":
            b.field.weather = "snowscape"
        index = model.best_switch(b, s)
        if index is not None:
            boosts = dict(mon.boosts) if mid == "batonpass" else None
            switch_in(b, s, index)
            if boosts:
                b.sides[s].mon.boosts = boosts
    elif mid in ("whirlwind", "roar") and foe.hp > 0:
        index = healthiest(foe_side)
        if index is not None:
            switch_in(b, 1 - s, index)
    elif mid in ("healbell", "aromatherapy"):
        for i, other in enumerate(side.mons):
            if other.status and other.hp > 0:
                side.own(i).status = ""
    elif mid == "strengthsap" and foe.hp > 0:
        attack = foe.stats["atk"] * stat_multiplier(foe.boost("atk"))
        mon.hp = min(mon.max_hp, mon.hp + int(attack))
        apply_boosts(foe, (("atk", -1),), from_foe=True)
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

"""Showdown's damage and speed mechanics on `battle.model` objects, in pure Python.

`damage_rolls` follows Pokémon Showdown's `BattleActions.getDamage` / `modifyDamage`
(`sim/battle-actions.js`) and the gen 1-4 overrides in `data/mods/gen{1,2,3,4}/scripts.js`:
4096-based `chainModify` / `modify` (pokeRound) wherever Showdown uses them, the same order
of modifiers (base power chain, attack / defense chains, +2, weather, crit, random roll,
STAB, type effectiveness, burn, final ModifyDamage chain). Numbers in 4096ths below are
copied from Showdown's data (`data/{abilities,items,moves,conditions}.js`).

Singles only. Known simplifications (what is NOT modelled):

- Handler order inside one Showdown event: Showdown sorts handlers of equal priority by the
  holder's speed; here the attacker's handlers always come first, then the defender's, then
  the side conditions (screens). With three or more final modifiers this can differ from
  Showdown by one point of damage on some rolls.
- Spread moves, Parental Bond, Dynamax / Z-moves / Max moves, doubles-only abilities
  (Battery, Power Spot, Steely Spirit, Friend Guard, Plus/Minus, Flower Gift), Helping Hand.
- Neutralizing Gas, Skill Swap-style ability changes, Unburden, Slow Start, Stakeout,
  Rivalry, Supreme Overlord counts only fainted Pokémon of the attacker's visible team.
- Per-hit effects of multi-hit moves: Multiscale / resist berries / Weak Armor apply to
  every hit alike; per-hit accuracy (Triple Axel, Population Bomb) is ignored (Population
  Bomb counts 10 hits with Skill Link, else 7).
- Stellar tera: every type is assumed to still have its one-time Stellar boost.
- Assurance, Retaliate, Rage Fist (base 50), Temper Flare, Stomping Tantrum, Fury Cutter,
  Rollout, Echoed Voice, Round, Pursuit on switch, Spit Up, Fling, Natural Gift, Trump Card,
  Judgment / Multi-Attack plates, Aura Wheel forms, Charge, gems: base data power (or zero
  damage when the data power is 0). Counter / Mirror Coat / Metal Burst / Bide /
  Comeuppance deal 0 (they depend on damage taken). Magnitude uses its mean power 71,
  Present 52, Return / Frustration 102, Beat Up the gen 5+ formula in every gen.
- Sucker Punch / Thunderclap / Upper Hand conditions, Focus Punch, Burn Up, Synchronoise,
  Substitute, protection and semi-invulnerability are the caller's business. Fake Out and
  First Impression fail unless `attacker.first_turn`; Dream Eater fails unless the target
  sleeps; Poltergeist fails without a target item; Steel Roller without terrain.
- Delta Stream, Tera Shell, Disguise / Ice Face, Wonder Room, Magic Room, Heavy Metal /
  Light Metal / Float Stone / Autotomize weights, Smack Down / Roost type changes (only the
  "smackdown", "magnetrise", "telekinesis" volatiles are read for grounding).
- Unremovable items for Knock Off: a fixed list (mega stones, Z-crystals, Booster Energy on
  Protosynthesis / Quark Drive holders, Rusted Sword/Shield, Griseous Core, Ogerpon masks,
  drives, memories, plates on Arceus are not distinguished from other plates).
- OHKO moves return the target's max HP (gen 3: current HP), not Showdown's gen 1 65535.
- The 16-bit truncation of the final damage (`tr(damage, 16)`) is applied as Showdown does.
- Gens 1-2 use Showdown's gen 1/2 formulas (stat >= 256 scaling, 217-255 roll, gen 1 crit
  with doubled level and no boosts, gen 2 crit ignoring boosts only when the attack boost
  is <= the defense boost) but no abilities; gen 2 items are the type boosters (x1.1),
  Light Ball, Thick Club and Metal Powder. Gen 1 stat changes from boosts use the gen 2
  table, Reflect / Light Screen are read from the side (gen 1 has them as volatiles).
- Protean / Libero are assumed active (every move gets STAB). Gens 3-4 follow their
  modifyDamage order (burn and screens before the +2, random last in gen 3, Life Orb x1.3
  in gen 4) with Thick Fat and Blaze/Torrent/Overgrow/Swarm on the base power; abilities
  and items given to a Pokémon of a generation that lacks them are applied anyway.
- Gen 2 Triple Kick is six times its 10-power hit (Showdown floors each hit).
- crit_chance in gen 2 uses Showdown's 17/256, 32/256, 64/256, 85/256, 128/256 and in gen 6
  1/16, 1/8, 1/2, 1 (Showdown's tables); Focus Energy is read from `volatiles`.

Modules, in the order a hit goes through them: `hit` (the situation), `moves` (type,
category, immunities, fixed damage, hit counts), `power` (base power), `stats` (attack
and defense), `modifiers` and `rolls` (around and at the random roll), `calc` (the
pipeline, `damage_rolls`); `old_gens` (gens 1-2); `speed`, `crit`; `tables`, `arith` and
`mons` underneath.
"""

from __future__ import annotations

from battle.damage.arith import stat_multiplier
from battle.damage.calc import damage_rolls, ko_probability
from battle.damage.crit import crit_chance
from battle.damage.speed import effective_speed
from battle.damage.tables import type_effectiveness

__all__ = [
    "crit_chance",
    "damage_rolls",
    "effective_speed",
    "ko_probability",
    "stat_multiplier",
    "type_effectiveness",
]

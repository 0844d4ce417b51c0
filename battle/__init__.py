"""The bottom layer: what every part of the arena shares.

- The one battle state: `battle.state` (the typed state of a battle from a player's side;
  prompts, search and features are built from it), built from a poke-env battle by
  `battle.observe`.
- Prompts: `battle.prompts` (the Mistral agents') and `battle.finetune_prompt` (the
  fine-tuned model's).
- Metamon: `battle.metamon` (its state dict built from the state),
  `battle.metamon_actions` (its action space), `battle.trajectory` (the files that hold
  them).
- Run records: `battle.record` (the record and its files), `battle.journal` (the journal a
  run appends to, and the record rebuilt from it), `battle.summary` (win rates with
  intervals, percentiles); the arena writes them, `viz` and `finetune` read them.
  `battle.files` writes files atomically.
- Search's world: `battle.model` (a small, mutable, copyable picture of a singles battle),
  `battle.damage` (Showdown's damage rolls and speeds on it, a package of one step per
  module), `battle.turn` (one turn played forward, with its chances and a position value;
  `turn_rules`, `turn_moves`, `turn_damage`), `battle.sets` (the opponent's hidden set
  inferred from Showdown's own random-battle sets and team pools).

Nothing here imports from `agents`, `arena`, `training`, `finetune` or `viz`.
"""

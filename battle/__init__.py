"""The bottom layer: what every part of the arena shares.

`battle.state` is the one typed state of a battle from a player's side (prompts, search
and features are built from it); `battle.prompts` and `battle.finetune_prompt` are the
language models' prompts; `battle.metamon` is Metamon's state dict and action
space built from it, and `battle.trajectory` the files that hold them; `battle.record` is
the run record and its journal (the arena writes them, `viz` and `finetune` read them);
`battle.files` writes files atomically. `battle.model` is a small, mutable, copyable
picture of a singles battle (Pokémon with real stats, both sides, the field) that search
can play turns forward on; `battle.damage` computes Showdown's damage rolls and speeds
on it; `battle.sets` infers the opponent's hidden set from Showdown's own random-battle
sets and team pools.

Nothing here imports from `agents`, `arena`, `training`, `finetune` or `viz`.
"""

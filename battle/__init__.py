"""The bottom layer: battle mechanics shared by every part of the arena.

`battle.model` is a small, mutable, copyable picture of a singles battle (Pokémon with
real stats, both sides, the field) that search can play turns forward on;
`battle.damage` computes Showdown's damage rolls and speeds on it; `battle.sets` infers
the opponent's hidden set from Showdown's own random-battle sets and team pools.

Nothing here imports from `agents`, `arena`, `training`, `finetune` or `viz`.
"""

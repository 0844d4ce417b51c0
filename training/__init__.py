"""Training data and models for the Metamon-style offline-RL agent (issue 4).

Trajectory files (the arena's, `battle.trajectory`, and Metamon's public ones) become
shards, a policy model, and a checkpoint the `metamon` agent plays.
"""

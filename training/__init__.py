"""Training data and models for the Metamon-style offline-RL agent (issue 4).

`training.metamon_format` turns the arena's battles into Metamon parsed-replay files.
"""

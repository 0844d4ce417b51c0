"""The arena: a local Showdown server, matches between agents, and run records."""

__version__ = "0.1.0"

"""Engines: where battles are played. One protocol (`Engine`), one module per engine:

- `server` (`ServerEngine`): a Showdown server through poke-env's websocket players;
  battles can be watched in a browser (`watch_url`), teams come from the players'
  teambuilders;
- `sim` (`SimEngine`): Showdown's simulator in Node processes (`arena.simulator`), no
  server; faster, nothing to watch, each battle's input log kept next to its replay.

The arena asks an engine what it can do (`watch_url`, `teambuilders`, `keep_inputlogs`)
instead of asking which engine it is.
"""

from arena.engines.base import Engine, Lane, Pairing
from arena.engines.server import ServerEngine
from arena.engines.sim import SimEngine

__all__ = ["Engine", "Lane", "Pairing", "ServerEngine", "SimEngine"]

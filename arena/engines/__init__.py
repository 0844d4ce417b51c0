"""Engines: where battles are played. One protocol (`Engine`), one module per engine:

- `server` (`ServerEngine`): a Showdown server through poke-env's websocket players;
  battles can be watched in a browser (`watch_url`); a lane of two logged-in players
  plays one battle at a time, and gets each battle's teams before it;
- `sim` (`SimEngine`): Showdown's simulator in Node processes (`arena.simulator`), no
  server; faster, nothing to watch, each battle's teams sent in its `>player` lines and
  its input log kept next to its replay;
- `ray` (`RayEngine`, in `arena.engines.ray`, imported only when asked for: Ray is an
  optional extra): the sim engine's battles on a Ray cluster's worker actors
  (`arena.ray_worker`), each battle's record sent back to this process, which journals it.

The arena asks an engine what it can do (`watch_url`, `keep_inputlogs`, `record_into`,
`notes`) instead of asking which engine it is.
"""

from arena.engines.base import Engine, Lane, Pairing
from arena.engines.server import ServerEngine
from arena.engines.sim import SimEngine

__all__ = ["Engine", "Lane", "Pairing", "ServerEngine", "SimEngine"]

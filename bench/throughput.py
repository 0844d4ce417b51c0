"""Battles per second: the arena against poke-env's own players on a stock server.

    uv run python bench/throughput.py --n 100 --rounds 2

In one run, interleaved so all see the same machine, random vs random:
  stock         poke-env RandomPlayer vs RandomPlayer, concurrency 10, on the bundled
                server with its stock configuration (one simulator process);
  arena-server  the arena's default engine (arena.run.play_session): the bundled server
                with one simulator process per core, main.py's default concurrency;
  arena-sim     the arena's `--engine sim`: one simulator process per core, no server.
Prints each figure with the CPU seconds each process used, and the ratios to stock
(the issue's target on a 2-core machine: >= 1.3).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100, help="battles per measurement")
    p.add_argument("--rounds", type=int, default=2, help="measurements of each side")
    p.add_argument("--stock-concurrency", type=int, default=10)
    p.add_argument("--concurrency", type=int, default=None, help="arena concurrency")
    return p


def group_cpu_s(pgid: int) -> dict[str, float]:
    """CPU seconds (user + system) of every process in a process group, by name."""
    out: dict[str, float] = {}
    pids = subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, text=True).stdout
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids.split():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
        except OSError:
            continue
        name = Path(cmd[1] if len(cmd) > 1 else cmd[0]).name
        out[name] = out.get(name, 0.0) + (int(stat[11]) + int(stat[12])) / tick
    return out


def own_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def play_stock(url: str, n: int, concurrency: int) -> None:
    from poke_env import AccountConfiguration, RandomPlayer, ServerConfiguration

    from arena.server import AUTH_URL

    config = ServerConfiguration(url, AUTH_URL)
    tag = secrets.token_hex(2)
    a, b = (
        RandomPlayer(
            AccountConfiguration(f"stock{side} {tag}", None),
            server_configuration=config,
            max_concurrent_battles=concurrency,
            log_level=logging.ERROR,
        )
        for side in ("a", "b")
    )
    await a.battle_against(b, n_battles=n)
    for player in (a, b):
        await player.ps_client.stop_listening()


async def play_arena(engine, n: int, concurrency: int, out: Path) -> None:
    from arena.plan import RunRequest, plan_run
    from arena.run import play_session

    request = RunRequest(p1="random", p2="random", n=n, concurrency=concurrency, output_dir=out)
    await play_session(plan_run(request), engine)


def children_cpu_s() -> dict[str, float]:
    """CPU seconds of this process's finished children (the simulator processes)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"simulator.js": r.ru_utime + r.ru_stime}


def measure(kind: str, n: int, concurrency: int, out: Path) -> float:
    from arena import server as showdown
    from arena.engines import ServerEngine, SimEngine

    server = None
    if kind == "arena-sim":
        simulators = showdown.default_simulators()
        engine = SimEngine(simulators)
    else:
        simulators = 1 if kind == "stock" else showdown.default_server_simulators()
        server = showdown.start_bundled(simulators=simulators)
        engine = ServerEngine(server)
    try:
        before = group_cpu_s(server.process.pid) if server else children_cpu_s()
        own0 = own_cpu_s()
        start = time.perf_counter()
        if kind == "stock":
            asyncio.run(play_stock(server.url, n, concurrency))
        else:
            asyncio.run(play_arena(engine, n, concurrency, out))
        wall = time.perf_counter() - start
        after = group_cpu_s(server.process.pid) if server else children_cpu_s()
        own1 = own_cpu_s()
    finally:
        if server is not None:
            server.stop()
    used = {k: v - before.get(k, 0.0) for k, v in after.items() if v - before.get(k, 0.0) > 0.05}
    used["python"] = own1 - own0
    parts = ", ".join(f"{k} {v:.1f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1]))
    rate = n / wall
    print(
        f"{kind:12s} simulators={simulators} concurrency={concurrency:2d}: {rate:5.2f} "
        f"battles/s ({n} in {wall:.1f}s; CPU s {sum(used.values()):.1f}: {parts})",
        flush=True,
    )
    return rate


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    from arena import server as showdown
    from main import DEFAULT_CONCURRENCY

    logging.basicConfig(level=logging.WARNING)
    if not showdown.is_installed():
        showdown.install()
    concurrency = args.concurrency or DEFAULT_CONCURRENCY
    print(f"{os.cpu_count()} cores; {args.n} random-vs-random battles per measurement")
    kinds = {"stock": args.stock_concurrency, "arena-server": concurrency, "arena-sim": concurrency}
    rates: dict[str, list[float]] = {kind: [] for kind in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for kind, kind_concurrency in kinds.items():
                rates[kind].append(measure(kind, args.n, kind_concurrency, Path(tmp)))
    median = {kind: statistics.median(values) for kind, values in rates.items()}
    print("median battles/s: " + ", ".join(f"{k} {v:.2f}" for k, v in median.items()))
    for kind in ("arena-server", "arena-sim"):
        print(f"ratio {kind}/stock: {median[kind] / median['stock']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A long run on each engine: battles/s over time, memory at start and end, errors.

    uv run python bench/soak.py                       # 3,000 battles on each engine
    uv run python bench/soak.py --n 500 --engines sim --agents random,heuristic

Plays `--n` battles of `--agents` (p1,p2) on each engine in this process, through the
arena's own run machinery (a journal, a record), and samples every `--every` battles:
battles/s since the previous sample, the arena process's resident memory (RSS, this
process) and the battle processes' (the simulator pool, or the bundled server's process
group). At the end it prints errors, fallbacks, lost battles (asked for minus recorded)
and each memory's growth from the first sample taken after the warm-up to the last. The
warm-up is the window a finished battle still lives in (poke-env's object for
`FORGET_AFTER_S`, the server's room for `EMPTY_ROOM_EXPIRY_S`): until then memory rises
by design with the battles/s, after it a leak is what would still grow. Targets: growth
under 10%, zero errors, zero lost.
Linux only (memory from /proc). Not part of the test command: it runs for minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PAGE = os.sysconf("SC_PAGE_SIZE")
GROWTH_TARGET = 0.10


def rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def group_rss_mb(pgids: set[int]) -> float:
    """Resident memory of every process in the given process groups."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[2]) in pgids:  # field 5: pgrp
            total += rss_mb(int(entry.name))
    return total


@dataclass
class Sample:
    done: int
    at: float
    arena_mb: float
    battle_mb: float


@dataclass
class Soak:
    engine: str
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0
    fallbacks: int = 0
    recorded: int = 0


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=3000, help="battles on each engine")
    p.add_argument("--agents", default="random,heuristic", help="p1,p2")
    p.add_argument("--engines", default="sim,server", help="comma-separated: sim, server")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--every", type=int, default=250, help="battles between samples")
    p.add_argument("--format", default="gen9randombattle")
    return p


async def soak(engine_name: str, args: argparse.Namespace, out: Path) -> Soak:
    from arena import server as showdown
    from arena.engines import ServerEngine, SimEngine
    from arena.plan import RunRequest, plan_run
    from arena.run import finalize, play_session

    p1, p2 = args.agents.split(",")
    request = RunRequest(p1=p1, p2=p2, n=args.n, concurrency=args.concurrency,
                         output_dir=out / engine_name, engine=engine_name,
                         battle_format=args.format, seed=1)  # fmt: skip
    plan = plan_run(request)
    server = None
    if engine_name == "sim":
        engine = SimEngine()
    else:
        server = showdown.start_bundled()
        engine = ServerEngine(server)
    result = Soak(engine_name)

    def pgids() -> set[int]:
        if server is not None and server.pgid is not None:
            return {server.pgid}
        procs = getattr(getattr(engine, "pool", None), "_procs", None) or []
        return {os.getpgid(p.pid) for p in procs if p.returncode is None}

    def on_progress(progress) -> None:
        last = result.samples[-1].done if result.samples else 0
        if progress.done > last and (progress.done >= last + args.every or progress.done == args.n):
            sample = Sample(progress.done, time.monotonic(), rss_mb(os.getpid()),
                            group_rss_mb(pgids()))  # fmt: skip
            result.samples.append(sample)
            print(f"  {engine_name}: {sample.done:5d} battles, arena {sample.arena_mb:6.0f} MB,"
                  f" battle processes {sample.battle_mb:6.0f} MB", flush=True)  # fmt: skip

    start = time.monotonic()
    result.samples.append(Sample(0, start, rss_mb(os.getpid()), 0.0))
    try:
        await play_session(plan, engine, on_progress=on_progress)
    finally:
        if server is not None:
            server.release()
    record = finalize(plan.paths, finished=True)
    assert record is not None
    result.recorded = len(record.battles)
    result.errors = sum(b.error is not None for b in record.battles)
    result.fallbacks = sum(d.fallback for d in record.decisions)
    return result


def report(result: Soak, n: int) -> bool:
    print(f"\n{result.engine} engine")
    print("  battles   battles/s   arena MB   battle processes MB")
    for prev, cur in zip(result.samples, result.samples[1:], strict=False):
        rate = (cur.done - prev.done) / max(cur.at - prev.at, 1e-9)
        print(f"  {cur.done:7d}   {rate:9.2f}   {cur.arena_mb:8.0f}   {cur.battle_mb:19.0f}")
    from arena.player import FORGET_AFTER_S
    from arena.server import EMPTY_ROOM_EXPIRY_S

    start, last = result.samples[0], result.samples[-1]
    warm_s = max(FORGET_AFTER_S, EMPTY_ROOM_EXPIRY_S) + 5
    warm = next((s for s in result.samples if s.at - start.at >= warm_s), last)
    if warm is last:
        print(f"  ran under the {warm_s:.0f} s warm-up: too short to judge memory growth")
        return False
    ok = True
    for what, a, b in (("arena", warm.arena_mb, last.arena_mb),
                       ("battle processes", warm.battle_mb, last.battle_mb)):  # fmt: skip
        growth = (b - a) / a if a else 0.0
        verdict = "meets" if growth < GROWTH_TARGET else "misses"
        ok &= growth < GROWTH_TARGET
        print(f"  {what} memory {a:.0f} -> {b:.0f} MB from battle {warm.done} "
              f"({warm.at - start.at:.0f} s in) to {last.done}: "
              f"{growth:+.1%} ({verdict} the <{GROWTH_TARGET:.0%} target)")  # fmt: skip
    lost = n - result.recorded
    print(f"  errors {result.errors}, fallbacks {result.fallbacks}, lost battles {lost}")
    return ok and result.errors == 0 and lost == 0


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for engine_name in args.engines.split(","):
            result = asyncio.run(soak(engine_name.strip(), args, Path(tmp)))
            ok &= report(result, args.n)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

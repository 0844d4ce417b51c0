"""Battles per second on Ray: 1 and 2 worker actors against the sim engine, same machine.

    uv run --extra ray python bench/ray_scaling.py --n 100 --rounds 2
    uv run --extra ray python bench/ray_scaling.py --address HOST:6379 --workers 1 2 4 8

In one run, interleaved, random vs random (`--p1`/`--p2` to change), `--n` battles each:
  sim           the sim engine (`--engine sim`): one simulator process per core, this
                process plays every battle;
  ray-K         the Ray engine with K worker actors, each with `--cpus` simulator processes
                (default: the cores divided among them) and `--concurrency` battles at once.
Prints battles per second, and for the Ray runs the cost of going through Ray: the
driver's CPU per battle (journaling included, as the sim engine's figure is) and the
bytes of a battle's result as it crosses from a worker (pickled: record, decisions,
replay, input log). With those, a cluster's rate is about min(workers x one worker's
rate, 1 / driver CPU per battle). On a 2-core machine expect little or no gain from a
second worker: the cores are already busy with one.

A local Ray cluster is started once for the whole run (its start-up is not timed); each
Ray measurement starts its workers (timed separately: agents and simulators start) and
then plays.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100, help="battles per measurement")
    p.add_argument("--rounds", type=int, default=2, help="measurements of each setting")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="Ray worker counts")
    p.add_argument("--cpus", type=int, default=None, help="simulator processes per worker")
    p.add_argument("--concurrency", type=int, default=8, help="battles at once (per worker)")
    p.add_argument("--address", default=None, help="an existing cluster (default: local)")
    p.add_argument("--p1", default="random")
    p.add_argument("--p2", default="random")
    return p


def plan(args: argparse.Namespace, engine: str, out: Path):
    from arena.plan import RunRequest, plan_run

    request = RunRequest(
        p1=args.p1, p2=args.p2, n=args.n, concurrency=args.concurrency, output_dir=out,
        engine=engine,
    )  # fmt: skip
    return plan_run(request)


def measure(args: argparse.Namespace, kind: str, out: Path) -> dict[str, float]:
    from arena.engines import SimEngine
    from arena.engines.ray import RayEngine
    from arena.run import play_session

    run = plan(args, "sim" if kind == "sim" else "ray", out)
    start_s = 0.0
    if kind == "sim":
        engine = SimEngine()
    else:
        workers = int(kind.split("-")[1])
        cpus = args.cpus or max(1, (os.cpu_count() or 1) // workers)
        engine = RayEngine(
            run.spec, run.session, run.paths, address=args.address, workers=workers,
            cpus_per_worker=cpus,
        )  # fmt: skip
        t0 = time.perf_counter()
        asyncio.run(engine.start())
        start_s = time.perf_counter() - t0  # play_session's start() then has nothing to do
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    asyncio.run(play_session(run, engine))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    figures = {"rate": args.n / wall, "driver_ms": 1000 * cpu / args.n, "start_s": start_s}
    if kind != "sim":
        stats = engine.stats
        figures["kb"] = stats.result_bytes / max(stats.battles, 1) / 1024
        figures["requeued"] = stats.requeued
    described = (
        f"{figures['rate']:5.2f} battles/s ({args.n} in {wall:.1f} s), driver CPU "
        f"{figures['driver_ms']:.1f} ms/battle"
    )
    if kind != "sim":
        described += f", {figures['kb']:.1f} kB/result, workers started in {start_s:.1f} s"
    print(f"{kind:6s}: {described}", flush=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # as arena.engines.ray does
    try:
        import ray
    except ImportError:
        from arena.engines.ray import INSTALL_HINT

        print(f"error: {INSTALL_HINT}", file=sys.stderr)
        return 2
    from arena import server as showdown

    if not showdown.is_installed():
        showdown.install()
    os.environ["ARENA_RAY_KEEP"] = "1"  # one cluster for every measurement
    ray.init(
        address=args.address,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        runtime_env={"env_vars": {"PYTHONPATH": str(Path(__file__).resolve().parent.parent)}},
    )
    cpus = int(ray.cluster_resources().get("CPU", 0))
    print(
        f"{os.cpu_count()} cores here, Ray cluster with {cpus} CPUs; {args.n} battles of "
        f"{args.p1} vs {args.p2} per measurement, concurrency {args.concurrency} (per worker)"
    )
    kinds = ["sim", *(f"ray-{k}" for k in args.workers)]
    results: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(args.rounds):
                for kind in kinds:
                    results[kind].append(measure(args, kind, Path(tmp)))
    finally:
        ray.shutdown()
    median = {k: statistics.median(r["rate"] for r in v) for k, v in results.items()}
    print("median battles/s: " + ", ".join(f"{k} {v:.2f}" for k, v in median.items()))
    for kind in kinds[1:]:
        runs = results[kind]
        print(
            f"ratio {kind}/sim: {median[kind] / median['sim']:.2f}; driver "
            f"{statistics.median(r['driver_ms'] for r in runs):.1f} ms CPU and "
            f"{statistics.median(r['kb'] for r in runs):.1f} kB per battle"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

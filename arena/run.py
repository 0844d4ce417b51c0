"""A run: a spec, one or more sessions of battles (a resume adds one), and its record.

`plan_run` checks everything that can be checked before a server starts (agent names,
format, the run to resume), `play_session` plays the battles still missing, and
`finalize` rebuilds `runs/<run>.json` from the journal. The CLI (main.py) is a thin,
printing layer over these three.
"""

from __future__ import annotations

import importlib.metadata
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import agents
from arena import __version__
from arena.match import Engine, Match, MatchConfig, MatchProgress, check_format
from arena.record import (
    SIDES,
    AgentSpec,
    Journal,
    JournalContents,
    RunPaths,
    RunRecord,
    RunRecordError,
    RunSpec,
    build_record,
    read_journal,
    write_record,
)
from arena.server import showdown_version

log = logging.getLogger(__name__)


@dataclass
class RunRequest:
    """What the user asked for (the CLI's arguments)."""

    p1: str = "random"
    p2: str = "random"
    n: int | None = None  # None: 1 for a new run, the spec's n for a resume
    battle_format: str = "gen9randombattle"
    concurrency: int = 8
    move_delay: float = 0.0
    battle_timeout_s: float = 600.0
    decision_timeout_s: float = 60.0
    seed: int | None = None
    output_dir: Path = Path("runs")
    resume: str | None = None
    engine: str = "server"
    save_trajectories: Path | None = None  # write Metamon trajectory files under this folder


@dataclass
class RunPlan:
    paths: RunPaths
    spec: RunSpec
    session: int
    done: int  # battles already journaled (resume)

    @property
    def remaining(self) -> int:
        return max(0, self.spec.n - self.done)


def make_run_id(p1: str, p2: str, output_dir: Path) -> str:
    def slug(name: str) -> str:
        return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:24] or "agent"

    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{slug(p1)}-vs-{slug(p2)}"
    run_id, i = base, 1
    while (output_dir / f"{run_id}.jsonl").exists() or (output_dir / f"{run_id}.json").exists():
        i += 1
        run_id = f"{base}-{i}"
    return run_id


def resolve_resume(target: str, output_dir: Path) -> RunPaths:
    """`--resume` takes runs/<run>.json, its .jsonl journal, or a bare run id."""
    path = Path(target)
    if not path.suffix:
        path = output_dir / f"{target}.jsonl"
    paths = RunPaths.from_record_path(path)
    if not paths.journal.exists():
        raise RunRecordError(
            f"cannot resume {target}: no journal at {paths.journal} (pass runs/<run>.json)"
        )
    return paths


def versions() -> dict[str, str]:
    return {
        "arena": __version__,
        "poke-env": importlib.metadata.version("poke-env"),
        "showdown": showdown_version() or "unknown",
    }


def plan_run(request: RunRequest) -> RunPlan:
    """Check the request and build the run's spec; raises a one-line error on bad input."""
    if request.n is not None and request.n < 1:
        raise ValueError(f"--n must be at least 1, got {request.n}")
    if request.concurrency < 1:
        raise ValueError(f"--concurrency must be at least 1, got {request.concurrency}")
    if request.move_delay < 0:
        raise ValueError(f"--move-delay must be 0 or more seconds, got {request.move_delay}")
    if request.engine not in ("server", "sim"):
        raise ValueError(f"--engine must be 'server' or 'sim', got {request.engine!r}")
    if request.move_delay > 0 and request.engine == "sim":
        raise ValueError(
            "--move-delay is for watching battles in a browser, which needs a server: "
            "use --engine server (the default)"
        )
    trajectories = None
    if request.save_trajectories is not None:
        folder = Path(request.save_trajectories)
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"--save-trajectories {folder} is a file: pass a folder")
        trajectories = str(folder)
    if request.resume:
        paths = resolve_resume(request.resume, request.output_dir)
        contents = read_journal(paths.journal)
        old = contents.spec
        for side in SIDES:
            agents.preflight(getattr(old, side).given)
        spec = RunSpec(
            **{
                **old.__dict__,
                "n": request.n or old.n,
                "started_at": time.time(),
                "finished_at": None,
                "versions": versions(),
                "engine": request.engine,
                "save_trajectories": trajectories or old.save_trajectories,
            }
        )
        return RunPlan(paths, spec, session=len(contents.specs), done=len(contents.battles))
    check_format(request.battle_format)
    parsed = {side: agents.preflight(getattr(request, side)) for side in SIDES}
    seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**31)
    run_id = make_run_id(request.p1, request.p2, request.output_dir)
    spec = RunSpec(
        run_id=run_id,
        p1=AgentSpec(given=parsed["p1"].given, resolved=parsed["p1"].given),
        p2=AgentSpec(given=parsed["p2"].given, resolved=parsed["p2"].given),
        format=request.battle_format,
        n=request.n or 1,
        seed=seed,
        concurrency=1 if request.move_delay > 0 else request.concurrency,
        move_delay=request.move_delay,
        battle_timeout_s=request.battle_timeout_s,
        server="",
        versions=versions(),
        started_at=time.time(),
        engine=request.engine,
        decision_timeout_s=request.decision_timeout_s,
        save_trajectories=trajectories,
    )
    return RunPlan(RunPaths(request.output_dir, run_id), spec, session=0, done=0)


def side_seed(seed: int | None, side: str, session: int) -> int | None:
    """Each side of each session gets its own stream, reproducible from the run's seed."""
    if seed is None:
        return None
    return seed * 1000 + SIDES.index(side) * 100 + session  # type: ignore[arg-type]


async def play_session(
    plan: RunPlan,
    engine: Engine,
    on_progress: Callable[[MatchProgress], None] | None = None,
    on_start: Callable[[Match], None] | None = None,
) -> MatchProgress:
    """Play the battles the run still misses; every finished one is journaled at once."""
    spec = plan.spec
    spec.server = engine.description
    built = {}
    rngs = {}
    for side in SIDES:
        seed = side_seed(spec.seed, side, plan.session)
        built[side] = agents.create(getattr(spec, side).given, seed=seed)
        rngs[side] = random.Random(seed)
        getattr(spec, side).resolved = getattr(built[side], "resolved", built[side].name)
        getattr(spec, side).params = dict(getattr(built[side], "params", {}) or {})
    journal = Journal(plan.paths.journal)
    try:
        journal.write_spec(spec)
        config = MatchConfig(
            n=plan.remaining,
            battle_format=spec.format,
            concurrency=spec.concurrency,
            move_delay=spec.move_delay,
            battle_timeout_s=spec.battle_timeout_s,
            decision_timeout_s=spec.decision_timeout_s,
            session=plan.session,
            trajectories_dir=None
            if spec.save_trajectories is None
            else Path(spec.save_trajectories),
        )
        match = Match(built, rngs, config, engine, journal, plan.paths)
        if on_start is not None:
            on_start(match)
        return await match.play(on_progress)
    finally:
        journal.close()
        for agent in built.values():
            try:
                await agent.close()
            except Exception:
                log.exception("closing agent %s failed", agent.name)


def finalize(paths: RunPaths, finished: bool) -> RunRecord | None:
    """Rebuild `runs/<run>.json` from the journal (atomically); None if nothing to write."""
    try:
        contents: JournalContents = read_journal(paths.journal)
    except RunRecordError:
        return None
    record = build_record(contents, finished_at=time.time() if finished else None)
    write_record(record, paths.record)
    return record

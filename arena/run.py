"""A run: a spec, one or more sessions of battles (a resume adds one), and its record.

`arena.plan.plan_run` checks everything that can be checked before a server starts,
`play_session` plays the battles still missing, and `finalize` rebuilds
`runs/<run>.json` from the journal. The CLI (main.py) is a thin, printing layer over
these three.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import random
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import agents
from agents.base import Agent
from arena.engines import Engine
from arena.match import Tournament
from arena.outside import DEFAULT_CHALLENGE_TIMEOUT_S
from arena.plan import RunPlan, pairs_of, versions
from arena.player import MatchConfig
from arena.ratings import Leaderboard, games_of, rate
from arena.recorder import MatchProgress
from arena.teams import team_plan
from battle.journal import Journal, JournalContents, build_record, read_journal
from battle.record import (
    SIDES,
    AgentSpec,
    RunPaths,
    RunRecord,
    RunRecordError,
    RunSpec,
    load_record,
    write_record,
)
from battle.trajectory import LZ4_FORMAT

log = logging.getLogger(__name__)


def entrant_seed(seed: int | None, index: int, session: int, stride: int) -> int | None:
    """Each entrant (agent or side) of each session gets its own stream, reproducible from
    the run's seed: `seed * stride + index * 100 + session`."""
    if seed is None:
        return None
    return seed * stride + index * 100 + session


def entrants(spec: RunSpec, session: int) -> list[tuple[str, AgentSpec, int | None]]:
    """What a session builds, as (key, agent, seed): a round robin's agents keyed as
    given, each built once for all its pairs; a match's two sides keyed "p1" and "p2"
    (one agent may play both, as two instances). The strides keep each kind's streams
    apart, and as they were when runs were first recorded."""
    if spec.agents is None:
        return [
            (side, getattr(spec, side), entrant_seed(spec.seed, i, session, 1000))
            for i, side in enumerate(SIDES)
        ]
    return [
        (a.given, a, entrant_seed(spec.seed, i, session, 100_000))
        for i, a in enumerate(spec.agents)
    ]


def teacher_seed(seed: int | None, side: str, session: int) -> int | None:
    """Each side's teacher (`--teacher`) of each session gets its own stream, apart from
    the entrants' (`entrants`): the sides' streams, 500 further on."""
    return entrant_seed(seed, 5 + SIDES.index(side), session, 1000)  # type: ignore[arg-type]


def teacher_entrants(spec: RunSpec, session: int) -> list[tuple[str, AgentSpec, int | None]]:
    """What `_agents` builds for `--teacher`: one teacher per side (agents keep per-battle
    state, and both sides see the same battle tags); none without a teacher."""
    if spec.teacher is None:
        return []
    return [(side, spec.teacher, teacher_seed(spec.seed, side, session)) for side in SIDES]


def match_config(spec: RunSpec, session: int) -> MatchConfig:
    """The players' and the engine's settings for a session of the run `spec` describes."""
    return MatchConfig(
        battle_format=spec.format,
        concurrency=spec.concurrency,
        move_delay=spec.move_delay,
        battle_timeout_s=spec.battle_timeout_s,
        decision_timeout_s=spec.decision_timeout_s,
        session=session,
        trajectories_dir=None if spec.save_trajectories is None else Path(spec.save_trajectories),
        trajectory_format=spec.trajectory_format or LZ4_FORMAT,
        challenge_timeout_s=spec.challenge_timeout_s or DEFAULT_CHALLENGE_TIMEOUT_S,
    )


@contextlib.asynccontextmanager
async def _agents(
    wanted: list[tuple[str, AgentSpec, int | None]],
) -> AsyncIterator[tuple[dict[str, Agent], dict[str, random.Random]]]:
    """Build each (key, spec, seed) agent with its RNG, and close every agent built so far
    on the way out (also when one fails to build)."""
    built: dict[str, Agent] = {}
    rngs: dict[str, random.Random] = {}
    try:
        for key, agent_spec, seed in wanted:
            agent = built[key] = agents.create(agent_spec.given, seed=seed)
            rngs[key] = random.Random(seed)
        yield built, rngs
    finally:
        for agent in built.values():
            try:
                await agent.close()
            except Exception:
                log.exception("closing agent %s failed", agent.name)


def _as_built(agent_spec: AgentSpec, agent: Agent) -> AgentSpec:
    return dataclasses.replace(agent_spec, resolved=agent.resolved, params=dict(agent.params))


def session_spec(
    spec: RunSpec, engine: Engine, built: dict[str, Agent], teachers: dict[str, Agent]
) -> RunSpec:
    """The spec a session plays under, as its journal line records it: `spec` with the
    engine that plays it, the versions installed now (the bundled server may have been
    installed since the plan) and what each agent resolved to. `spec` is left as it is."""
    changes: dict[str, Any] = {"server": engine.description, "versions": versions()}
    if spec.agents is None:
        changes.update(p1=_as_built(spec.p1, built["p1"]), p2=_as_built(spec.p2, built["p2"]))
    else:
        changes["agents"] = [_as_built(a, built[a.given]) for a in spec.agents]
    if spec.teacher is not None and teachers:
        changes["teacher"] = _as_built(spec.teacher, teachers["p1"])
    return dataclasses.replace(spec, **changes)


async def play_session(
    plan: RunPlan,
    engine: Engine,
    on_progress: Callable[[MatchProgress], None] | None = None,
    on_start: Callable[[Tournament], None] | None = None,
) -> MatchProgress:
    """Play the battles the run still misses (`plan.order`); every finished one is
    journaled at once."""
    spec = plan.spec
    teaching = _agents(teacher_entrants(spec, plan.session))
    async with _agents(entrants(spec, plan.session)) as (built, rngs), teaching as (teachers, _):
        journal = Journal(plan.paths.journal)
        try:
            journal.write_spec(session_spec(spec, engine, built, teachers))
            teams = None
            if plan.teams is not None:
                teams = team_plan(plan.order, plan.teams, spec.seed, plan.session)
            tournament = Tournament(
                built,
                rngs,
                plan.order,
                match_config(spec, plan.session),
                engine,
                journal,
                plan.paths,
                teams,
                teachers=teachers or None,
                pairs=None if spec.agents is None else pairs_of(spec),
            )
            if on_start is not None:
                on_start(tournament)
            return await tournament.play(on_progress)
        finally:
            journal.close()


def leaderboard(contents: JournalContents, resamples: int = 1000) -> Leaderboard:
    """Ratings from a tournament's battles plus those of its `--include`d runs."""
    spec = contents.spec
    assert spec.agents is not None
    games = games_of(contents.battles, spec)
    for path in spec.include or []:
        try:
            included = load_record(Path(path))
        except RunRecordError as exc:  # checked when the run started; gone since
            log.warning("leaving out --include %s: %s", path, exc)
            continue
        games.extend(games_of(included.battles, included.spec))
        log.info("included %d battles of %s", len(included.battles), path)
    names = [a.given for a in spec.agents]
    names.extend(n for n in dict.fromkeys(x for g in games for x in (g.a, g.b)) if n not in names)
    return rate(games, names, resamples=resamples, seed=spec.seed or 0)


def finalize(paths: RunPaths, finished: bool) -> RunRecord | None:
    """Rebuild `runs/<run>.json` from the journal (atomically); None when the run has no
    journal yet (it stopped before its first session began). A journal that cannot be
    read raises RunRecordError (one line).

    A tournament's record also gets its leaderboard, from all its battles and those of
    the runs it `--include`s."""
    if not paths.journal.exists() or paths.journal.stat().st_size == 0:
        return None  # no session began (an id claimed, nothing played)
    contents: JournalContents = read_journal(paths.journal)
    record = build_record(contents, finished_at=time.time() if finished else None)
    if contents.spec.agents is not None:
        record.leaderboard = leaderboard(contents).to_dict()
    write_record(record, paths.record)
    return record


def discard_if_unplayed(paths: RunPaths) -> bool:
    """A new run that stopped before its first battle (an outside user not on the server,
    Ctrl-C while the players log in) leaves nothing behind: True when it was discarded."""
    if paths.journal.exists() and paths.journal.stat().st_size > 0:
        try:
            if read_journal(paths.journal).battles:
                return False
        except RunRecordError:
            return False  # not ours to judge: keep it for a resume
    paths.journal.unlink(missing_ok=True)
    paths.record.unlink(missing_ok=True)
    return True

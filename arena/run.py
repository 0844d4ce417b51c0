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
from arena.engines import Engine, Pairing
from arena.match import Match, Tournament, round_robin_pairs
from arena.plan import RunPlan, versions
from arena.player import MatchConfig
from arena.ratings import Game, Leaderboard, rate
from arena.recorder import MatchProgress
from arena.teams import (
    Team,
    TeamPlan,
    pick,
)
from battle.record import (
    SIDES,
    AgentSpec,
    BattleRecord,
    Journal,
    JournalContents,
    RunPaths,
    RunRecord,
    RunRecordError,
    RunSpec,
    Side,
    build_record,
    load_record,
    read_journal,
    write_record,
)

log = logging.getLogger(__name__)


def _same_pool(teams: dict[Side, list[Team]]) -> bool:
    p1, p2 = ([team.path.resolve() for team in teams[side]] for side in SIDES)
    return p1 == p2


def team_plan(teams: dict[Side, list[Team]], seed: int | None, session: int, n: int) -> TeamPlan:
    """The teams of the session's next `n` battles, drawn from the run's seed.

    When both sides draw from the same pool, battles come in pairs that swap the two teams
    drawn (battle 2k+1 gives each agent the team the other had in battle 2k): a strong
    draw helps both agents alike, so team luck cancels out of the comparison. Otherwise
    each side draws from its own teams for every battle."""
    rng = random.Random(f"teams-{seed}-{session}")
    if not _same_pool(teams):
        return [{side: pick(teams[side], rng) for side in SIDES} for _ in range(n)]
    plan: TeamPlan = []
    while len(plan) < n:
        a, b = pick(teams["p1"], rng), pick(teams["p1"], rng)
        plan.extend([{"p1": a, "p2": b}, {"p1": b, "p2": a}])
    return plan[:n]


def tournament_team_plan(
    order: list[Pairing], pool: list[Team], seed: int | None, session: int
) -> TeamPlan:
    """The teams of each battle of a round robin's `order`, drawn from the run's seed.

    The k-th battle with a on p1 (b on p2) and the k-th with b on p1 (a on p2) get the same
    two teams on the same sides, so each agent of the pair plays both teams of the draw
    (sides and teams both swap): a strong team helps both agents of the pair alike."""
    rng = random.Random(f"teams-{seed}-{session}")
    rounds: dict[frozenset[str], list[dict[Side, Team]]] = {}
    seen: dict[Pairing, int] = {}
    plan: TeamPlan = []
    for pairing in order:
        k = seen[pairing] = seen.get(pairing, -1) + 1
        draws = rounds.setdefault(frozenset(pairing), [])
        while len(draws) <= k:
            draws.append({side: pick(pool, rng) for side in SIDES})
        plan.append(draws[k])
    return plan


def agent_seed(seed: int | None, index: int, session: int) -> int | None:
    """Each agent of each session of a tournament gets its own stream."""
    if seed is None:
        return None
    return seed * 100_000 + index * 100 + session


def side_seed(seed: int | None, side: str, session: int) -> int | None:
    """Each side of each session gets its own stream, reproducible from the run's seed."""
    if seed is None:
        return None
    return seed * 1000 + SIDES.index(side) * 100 + session  # type: ignore[arg-type]


def teacher_seed(seed: int | None, side: str, session: int) -> int | None:
    """Each side's teacher (`--teacher`) of each session gets its own stream, apart from
    the sides' own (`side_seed`) and the agents' of a tournament (`agent_seed`)."""
    if seed is None:
        return None
    return seed * 1000 + 500 + SIDES.index(side) * 100 + session  # type: ignore[arg-type]


def _teachers(spec: RunSpec, session: int) -> list[tuple[str, AgentSpec, int | None]]:
    """What `_agents` builds for `--teacher`: one teacher per side (agents keep per-battle
    state, and both sides see the same battle tags); none without a teacher."""
    if spec.teacher is None:
        return []
    return [(side, spec.teacher, teacher_seed(spec.seed, side, session)) for side in SIDES]


def _match_config(spec: RunSpec, n: int, session: int) -> MatchConfig:
    """The engine's settings for `n` battles of a session of the run `spec` describes."""
    return MatchConfig(
        n=n,
        battle_format=spec.format,
        concurrency=spec.concurrency,
        move_delay=spec.move_delay,
        battle_timeout_s=spec.battle_timeout_s,
        decision_timeout_s=spec.decision_timeout_s,
        session=session,
        trajectories_dir=None if spec.save_trajectories is None else Path(spec.save_trajectories),
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
    on_start: Callable[[Match], None] | None = None,
) -> MatchProgress:
    """Play the battles the run still misses; every finished one is journaled at once."""
    if plan.spec.agents is not None:
        return await _play_tournament(plan, engine, on_progress)
    spec = plan.spec
    sides = [
        (side, getattr(spec, side), side_seed(spec.seed, side, plan.session)) for side in SIDES
    ]
    teaching = _agents(_teachers(spec, plan.session))
    async with _agents(sides) as (built, rngs), teaching as (teachers, _):
        journal = Journal(plan.paths.journal)
        try:
            journal.write_spec(session_spec(spec, engine, built, teachers))
            config = _match_config(spec, plan.remaining, plan.session)
            plan_teams = None
            if plan.teams is not None:
                plan_teams = team_plan(plan.teams, spec.seed, plan.session, plan.remaining)
            match = Match(
                built, rngs, config, engine, journal, plan.paths, plan_teams, teachers or None
            )
            if on_start is not None:
                on_start(match)
            return await match.play(on_progress)
        finally:
            journal.close()


async def _play_tournament(
    plan: RunPlan,
    engine: Engine,
    on_progress: Callable[[MatchProgress], None] | None = None,
) -> MatchProgress:
    spec = plan.spec
    assert spec.agents is not None and plan.order is not None
    names = [a.given for a in spec.agents]
    each = [  # each agent built once, for all its pairs
        (a.given, a, agent_seed(spec.seed, i, plan.session)) for i, a in enumerate(spec.agents)
    ]
    teaching = _agents(_teachers(spec, plan.session))
    async with _agents(each) as (built, rngs), teaching as (teachers, _):
        journal = Journal(plan.paths.journal)
        try:
            journal.write_spec(session_spec(spec, engine, built, teachers))
            config = _match_config(spec, len(plan.order), plan.session)
            pairs = round_robin_pairs(names)
            teams = None
            if plan.teams is not None:
                teams = tournament_team_plan(plan.order, plan.teams["p1"], spec.seed, plan.session)
            tournament = Tournament(
                built,
                rngs,
                plan.order,
                pairs,
                config,
                engine,
                journal,
                plan.paths,
                teams,
                teachers=teachers or None,
            )
            return await tournament.play(on_progress)
        finally:
            journal.close()


def games_of(battles: list[BattleRecord], spec: RunSpec) -> list[Game]:
    """The rated games of a run's battles: battles with a result (errors left out)."""
    games = []
    for b in battles:
        if b.winner is None:
            continue
        score = {"p1": 1.0, "p2": 0.0, "draw": 0.5}[b.winner]
        games.append(Game(b.agent("p1", spec), b.agent("p2", spec), score))
    return games


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

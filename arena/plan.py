"""A run's plan: everything checked before a server starts (agent names, format, teams,
the run to resume), its id claimed and its spec written down. `plan_run` is the entry;
`arena.run` plays the sessions of the plan it returns.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import math
import random
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import agents
from arena import __version__
from arena.engines import Pairing
from arena.match import check_format, round_robin_pairs, schedule
from arena.outside import DEFAULT_CHALLENGE_TIMEOUT_S, check_outside
from arena.server import showdown_version
from arena.teams import (
    GENERATED,
    Team,
    TeamError,
    is_team_format,
    resolve_teams,
    validate_teams,
    write_generated,
)
from arena.trajectories import check_teacher, check_trajectory_format, trajectory_folder
from battle.journal import read_journal
from battle.record import (
    DEFAULT_BATTLE_TIMEOUT_S,
    DEFAULT_DECISION_TIMEOUT_S,
    SIDES,
    AgentSpec,
    BattleRecord,
    RunPaths,
    RunRecordError,
    RunSpec,
    Side,
    load_record,
)

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
    battle_timeout_s: float = DEFAULT_BATTLE_TIMEOUT_S
    decision_timeout_s: float = DEFAULT_DECISION_TIMEOUT_S
    seed: int | None = None
    output_dir: Path = Path("runs")
    resume: str | None = None
    engine: str | None = None  # None: "server", or on --resume the run's own engine
    save_trajectories: Path | None = None  # write Metamon trajectory files under this folder
    teacher: str | None = None  # --teacher: an agent whose choices label the trajectories
    trajectory_format: str | None = None  # --trajectory-format; None: lz4 (resume: the run's)
    agents: list[str] | None = None  # a round robin of these (--agents) instead of p1/p2
    include: list[str] | None = None  # earlier runs whose battles count in the ratings
    team1: str | None = None  # --team1 FILE_OR_DIR (team formats); None: the bundled pool
    team2: str | None = None
    teams: str | None = None  # --teams FILE_OR_DIR: every side's (and agent's) teams
    challenge_timeout_s: float | None = None  # outside users: None, the default (or the run's)


@dataclass
class RunPlan:
    paths: RunPaths
    spec: RunSpec
    session: int
    done: int  # battles already journaled (resume)
    # The battles still to play, in starting order, as pairings of entrants (`pairs_of`).
    order: list[Pairing]
    # Team formats: each side's candidate teams, validated (None: a random-battle format).
    teams: dict[Side, list[Team]] | None = None

    @property
    def total(self) -> int:
        """Battles the whole run plays: n, or n per pair in a tournament."""
        if self.spec.agents is None:
            return self.spec.n
        k = len(self.spec.agents)
        return self.spec.n * k * (k - 1) // 2

    @property
    def remaining(self) -> int:
        return len(self.order)


def _slug(name: str, width: int) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:width] or "agent"


def claim_run_id(label: str, output_dir: Path) -> str:
    """A new run's id, `<date>-<time>-<label>-<4 hex>`, claimed by creating its journal
    exclusively: two runs started in the same second with the same agents (or a clock
    set back) get different ids, whatever the clock says. The journal starts empty; a
    plan that fails after this point removes it (`release_run_id`)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    rng = random.SystemRandom()
    while True:
        run_id = f"{stamp}-{label}-{rng.randrange(16**4):04x}"
        paths = RunPaths(output_dir, run_id)
        if paths.record.exists():
            continue
        try:
            with open(paths.journal, "x", encoding="utf-8"):
                return run_id
        except FileExistsError:
            continue


def release_run_id(output_dir: Path, run_id: str) -> None:
    """Undo `claim_run_id` for a plan that failed before its run began."""
    journal = RunPaths(output_dir, run_id).journal
    with contextlib.suppress(FileNotFoundError):
        if journal.stat().st_size == 0:
            journal.unlink()


def match_label(p1: str, p2: str) -> str:
    return f"{_slug(p1, 24)}-vs-{_slug(p2, 24)}"


def tournament_label(names: list[str]) -> str:
    return f"round-robin-{'-'.join(_slug(name, 16) for name in names)}"[:64].rstrip("-")


def check_agent_list(names: list[str]) -> list[str]:
    """`--agents`: two or more distinct registry names (checked like `--p1`)."""
    names = [name.strip() for name in names]
    if any(not name for name in names):
        raise ValueError("--agents has an empty name: pass names separated by commas")
    if len(names) < 2:
        raise ValueError(
            f"--agents needs two or more agents, got {len(names)}: e.g. --agents "
            "random,max-damage,heuristic"
        )
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"--agents lists {name!r} twice: name each agent once")
        seen.add(name)
    for name in names:
        agents.preflight(name)
    return names


def check_includes(paths: list[str]) -> list[str]:
    """`--include`: each one a readable run record (a match or a tournament)."""
    for path in paths:
        load_record(Path(path))
    return [str(path) for path in paths]


def pairs_of(spec: RunSpec) -> list[Pairing]:
    """A run's pairs of entrants: a round robin's pairs of agents (as given), or a match's
    one pair of sides (a match is a round robin of one pair, its sides fixed)."""
    if spec.agents is None:
        return [("p1", "p2")]
    pairs = round_robin_pairs([a.given for a in spec.agents])
    return [(b, a) if agents.is_outside(a) else (a, b) for a, b in pairs]  # outside: p2


def done_of(spec: RunSpec, battles: list[BattleRecord]) -> dict[Pairing, int]:
    """Battles journaled so far per pairing of entrants (p1's, p2's)."""
    done: dict[Pairing, int] = {}
    for b in battles:
        key = ("p1", "p2") if spec.agents is None else (b.p1_agent, b.p2_agent)
        if None not in key:
            done[key] = done.get(key, 0) + 1  # type: ignore[index]
    return done


def order_of(spec: RunSpec, battles: list[BattleRecord]) -> list[Pairing]:
    """The battles a run still has to play (all of them for a new run), in starting order."""
    pairs = pairs_of(spec)
    fixed = [pair for pair in pairs if spec.agents is not None and agents.is_outside(pair[1])]
    return schedule(pairs, spec.n, done_of(spec, battles), spec.agents is not None, fixed)


ENGINES = ("server", "sim", "ray")


def check_move_delay(move_delay: float, engine: str) -> None:
    if move_delay > 0 and engine != "server":
        raise ValueError(
            "--move-delay is for watching battles in a browser, which needs a server: "
            "use --engine server (the default)"
        )


def check_resumed_n(n: int | None, old: RunSpec, battles: list[BattleRecord]) -> None:
    """A resume's `--n`: never fewer than the battles already played (per pair in a round
    robin); fewer than the run's own n is said, not done silently."""
    if n is None or n == old.n:
        return
    pairs: dict[frozenset[str], int] = {}
    for (a, b), count in done_of(old, battles).items():
        pairs[frozenset((a, b))] = pairs.get(frozenset((a, b)), 0) + count
    played = max(pairs.values(), default=0)
    what = "battles" if old.agents is None else "battles of one pair"
    if n < played:
        raise ValueError(
            f"--n {n} is fewer than the {played} {what} this run has already played: "
            f"leave --n out (the run's n is {old.n}) or pass {played} or more"
        )
    if n < old.n:
        log.warning("--n %d lowers this run's n from %d", n, old.n)


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


def absolute(path: str | None) -> str | None:
    """A team option as the run spec stores it: absolute, so a resume works from anywhere."""
    return None if path is None else str(Path(path).expanduser().resolve())


@contextlib.contextmanager
def team_options(
    battle_format: str, paths: RunPaths, seed: int | None
) -> Iterator[Callable[[str | None], str | None]]:
    """Turns each team option into what the spec stores (`absolute`); `generated` becomes
    the run's own folder of teams generated from Showdown's random-battle sets (made once,
    `runs/<run>/teams/`), removed again if planning fails after it was made."""
    folder = paths.output_dir / paths.run_id / "teams"
    made = False

    def option(value: str | None) -> str | None:
        nonlocal made
        if value != GENERATED:
            return absolute(value)
        if not made:
            write_generated(folder, battle_format, seed)
            made = True
        return str(folder.resolve())

    try:
        yield option
    except BaseException:
        if made:
            shutil.rmtree(folder, ignore_errors=True)
            with contextlib.suppress(OSError):
                folder.parent.rmdir()  # only if empty
        raise


def check_team_options(battle_format: str, request: RunRequest) -> None:
    """Team options only make sense in formats with teams; a tournament takes --teams only."""
    given = [
        f"--{flag}" for flag in ("team1", "team2", "teams") if getattr(request, flag) is not None
    ]
    if given and not is_team_format(battle_format):
        raise TeamError(f"{battle_format} generates its own teams: leave out {' and '.join(given)}")
    if request.agents is not None and (request.team1 is not None or request.team2 is not None):
        raise ValueError(
            "a round robin has no fixed sides: give every agent's teams with --teams "
            "FILE_OR_DIR instead of --team1/--team2"
        )


def side_teams(
    battle_format: str, team1: str | None, team2: str | None
) -> dict[Side, list[Team]] | None:
    """Each side's teams for a team format, all checked by Showdown's validator before any
    battle (a one-line TeamError otherwise); None for a format that generates its teams
    (team options there are refused earlier, by `check_team_options`)."""
    if not is_team_format(battle_format):
        return None
    teams: dict[Side, list[Team]] = {
        "p1": resolve_teams(team1, battle_format),
        "p2": resolve_teams(team2, battle_format),
    }
    unique = list({team.path.resolve(): team for side in SIDES for team in teams[side]}.values())
    validate_teams(unique, battle_format)
    return teams


def plan_run(request: RunRequest) -> RunPlan:
    """Check the request and build the run's spec; raises a one-line error on bad input."""
    if request.n is not None and request.n < 1:
        raise ValueError(f"--n must be at least 1, got {request.n}")
    if request.concurrency < 1:
        raise ValueError(f"--concurrency must be at least 1, got {request.concurrency}")
    if not math.isfinite(request.move_delay) or request.move_delay < 0:
        raise ValueError(f"--move-delay must be 0 or more seconds, got {request.move_delay}")
    for flag, value, unit in (
        ("--battle-timeout", request.battle_timeout_s, "a battle"),
        ("--decision-timeout", request.decision_timeout_s, "a decision"),
    ):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(
                f"{flag} must be more than 0 seconds (the longest {unit} may take), got {value}"
            )
    timeout = request.challenge_timeout_s
    if timeout is not None and (not math.isfinite(timeout) or timeout <= 0):
        raise ValueError(f"--challenge-timeout must be more than 0 seconds, got {timeout}")
    if request.engine is not None and request.engine not in ENGINES:
        raise ValueError(f"--engine must be one of {', '.join(ENGINES)}, got {request.engine!r}")
    check_move_delay(request.move_delay, request.engine or "server")
    trajectories = trajectory_folder(request.save_trajectories)
    if request.agents is not None and request.resume:
        raise ValueError("--resume continues the run's own agents: leave out --agents")
    teacher = None if request.resume else check_teacher(request.teacher, trajectories)
    if not request.resume:
        check_trajectory_format(request.trajectory_format, trajectories)
    if request.include and request.agents is None and not request.resume:
        raise ValueError("--include adds battles to a tournament's ratings: use it with --agents")
    include = check_includes(request.include or [])
    if request.resume:
        return _plan_resume(request, request.resume, trajectories, include)
    return _plan_new(request, trajectories, include, teacher)


def _plan_resume(
    request: RunRequest, target: str, trajectories: str | None, include: list[str]
) -> RunPlan:
    """The next session of the run `target` names: its own spec, with what a resume may
    change (n, engine, trajectories, teacher, included runs)."""
    paths = resolve_resume(target, request.output_dir)
    contents = read_journal(paths.journal)
    old = contents.spec
    if include and old.agents is None:
        raise ValueError("--include adds battles to a tournament's ratings, not to a match")
    for agent in old.agents or [old.p1, old.p2]:
        agents.preflight(agent.given)
    check_resumed_n(request.n, old, contents.battles)
    folder = trajectories or old.save_trajectories
    teacher = check_teacher(request.teacher, folder)
    if teacher is None and old.teacher is not None:
        agents.preflight(old.teacher.given)
    file_format = check_trajectory_format(request.trajectory_format, folder, old)
    spec = RunSpec(
        **{
            **old.__dict__,
            "n": request.n or old.n,
            "started_at": time.time(),
            "finished_at": None,
            "versions": versions(),
            "engine": request.engine or old.engine,
            "save_trajectories": folder,
            "teacher": teacher or old.teacher,
            "trajectory_format": file_format,
            "include": list(dict.fromkeys([*(old.include or []), *include])) or None,
            "challenge_timeout_s": request.challenge_timeout_s or old.challenge_timeout_s,
        }
    )
    check_move_delay(spec.move_delay, spec.engine)
    outside = check_outside(
        spec.engine,
        sides=None if spec.agents else (spec.p1.given, spec.p2.given),
        agents=None if spec.agents is None else [a.given for a in spec.agents],
        teacher=None if spec.teacher is None else spec.teacher.given,
    )
    if outside and spec.challenge_timeout_s is None:
        spec.challenge_timeout_s = DEFAULT_CHALLENGE_TIMEOUT_S
    if any(getattr(request, flag) is not None for flag in ("team1", "team2", "teams")):
        raise ValueError("--resume plays the run's own teams: leave out the team options")
    if spec.agents is None:
        teams = side_teams(spec.format, spec.team1, spec.team2)
    else:
        teams = side_teams(spec.format, spec.teams, spec.teams)
    return RunPlan(
        paths,
        spec,
        session=len(contents.specs),
        done=len(contents.battles),
        order=order_of(spec, contents.battles),
        teams=teams,
    )


def _plan_new(
    request: RunRequest, trajectories: str | None, include: list[str], teacher: AgentSpec | None
) -> RunPlan:
    """A new run: its format and agents checked, its id claimed, its teams drawn up."""
    check_format(request.battle_format)
    check_team_options(request.battle_format, request)
    if request.agents is not None:
        names = check_agent_list(request.agents)
        if request.move_delay > 0:
            raise ValueError("--move-delay is for watching one match: use --p1/--p2, not --agents")
        label = tournament_label(names)
    else:
        names = [agents.preflight(getattr(request, side)).given for side in SIDES]
        label = match_label(*names)
    outside = check_outside(
        request.engine or "server",
        sides=None if request.agents is not None else (names[0], names[1]),
        agents=names if request.agents is not None else None,
        teacher=request.teacher,
    )
    seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**31)
    run_id = claim_run_id(label, request.output_dir)
    paths = RunPaths(request.output_dir, run_id)
    with (
        _released_on_error(request.output_dir, run_id),
        team_options(request.battle_format, paths, seed) as option,
    ):
        if request.agents is not None:  # every agent draws from one pool
            team1 = team2 = option(request.teams)
        else:
            team1 = option(request.team1 if request.team1 is not None else request.teams)
            team2 = option(request.team2 if request.team2 is not None else request.teams)
        teams = side_teams(request.battle_format, team1, team2)
    fields: dict[str, Any]
    if request.agents is not None:
        everyone = ",".join(names)
        fields = {
            "p1": AgentSpec(given=everyone, resolved=everyone),
            "p2": AgentSpec(given=everyone, resolved=everyone),
            "agents": [AgentSpec(given=name, resolved=name) for name in names],
            "include": include or None,
            "teams": team1,
        }
    else:
        fields = {
            **{
                side: AgentSpec(given=name, resolved=name)
                for side, name in zip(SIDES, names, strict=True)
            },
            "concurrency": 1 if request.move_delay > 0 else request.concurrency,
            "team1": team1,
            "team2": team2,
        }
    if outside:
        fields["challenge_timeout_s"] = request.challenge_timeout_s or DEFAULT_CHALLENGE_TIMEOUT_S
    spec = _new_spec(request, run_id, seed, trajectories, teacher=teacher, **fields)
    return RunPlan(paths, spec, session=0, done=0, order=order_of(spec, []), teams=teams)


@contextlib.contextmanager
def _released_on_error(output_dir: Path, run_id: str) -> Iterator[None]:
    try:
        yield
    except BaseException:
        release_run_id(output_dir, run_id)
        raise


def _new_spec(
    request: RunRequest, run_id: str, seed: int, trajectories: str | None, **fields: Any
) -> RunSpec:
    """A new run's spec: the request's settings, plus `fields` (sides, agents, teams...)."""
    settings: dict[str, Any] = {
        "run_id": run_id,
        "format": request.battle_format,
        "n": request.n or 1,
        "seed": seed,
        "concurrency": request.concurrency,
        "move_delay": request.move_delay,
        "battle_timeout_s": request.battle_timeout_s,
        "server": "",
        "versions": versions(),
        "started_at": time.time(),
        "engine": request.engine or "server",
        "decision_timeout_s": request.decision_timeout_s,
        "save_trajectories": trajectories,
        "trajectory_format": check_trajectory_format(request.trajectory_format, trajectories),
    }
    return RunSpec(**{**settings, **fields})

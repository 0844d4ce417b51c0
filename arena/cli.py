"""The CLI edge of main.py: rich progress, the results table, one-line errors.

Library modules log; only this module prints.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agents.mistral import MissingKeyError
from agents.registry import UnknownAgentError
from arena import server as showdown
from arena.engines import Engine, ServerEngine, SimEngine
from arena.match import FormatError, Tournament
from arena.plan import RunPlan, RunRequest, pairs_of, plan_run, release_run_id
from arena.recorder import MatchProgress
from arena.run import discard_if_unplayed, finalize, play_session
from battle.record import RunRecord, RunRecordError, StorageError, Summary

# Lines are not cut at 80 columns when the output is not a terminal (a log, a pipe).
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("arena")

# Errors that are the user's input or environment: one line, no traceback.
USER_ERRORS = (
    UnknownAgentError,
    MissingKeyError,
    FormatError,
    RunRecordError,
    showdown.ServerError,
    ValueError,
    OSError,
)


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=err_console, show_path=False)],
        force=True,
    )
    # Third-party noise stays at WARNING unless DEBUG is asked for.
    noisy = logging.DEBUG if level == "DEBUG" else logging.WARNING
    third_party = (
        "poke_env",
        "websockets",
        "asyncio",
        "urllib3",
        "httpx2",
        "httpcore2",
        "mistralai",
    )
    for name in third_party:
        logging.getLogger(name).setLevel(noisy)


def fail(message: str, code: int = 2) -> int:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return code


WriteReport = Callable[[Path, Path], Path]  # (run record, report path) -> the report written


def run_cli(args: argparse.Namespace, write_report: WriteReport) -> int:
    """Plan, play and record the run `args` describe, then `write_report` its HTML report
    (`viz.write_report`, given by main.py: viz sits above the arena and reads its records)."""
    agent_list = getattr(args, "agents", None)
    if agent_list is not None and (args.p1 is not None or args.p2 is not None):
        return fail("--agents and --p1/--p2 are mutually exclusive: pass one or the other")
    request = RunRequest(
        p1=args.p1 or "random",
        p2=args.p2 or "random",
        agents=None if agent_list is None else agent_list.split(","),
        include=getattr(args, "include", None),
        n=args.n,
        battle_format=args.format,
        concurrency=args.concurrency,
        move_delay=args.move_delay,
        battle_timeout_s=args.battle_timeout,
        decision_timeout_s=args.decision_timeout,
        seed=args.seed,
        output_dir=args.output,
        resume=args.resume,
        engine=args.engine,
        save_trajectories=args.save_trajectories,
        teacher=getattr(args, "teacher", None),
        trajectory_format=getattr(args, "trajectory_format", None),
        team1=getattr(args, "team1", None),
        team2=getattr(args, "team2", None),
        teams=getattr(args, "teams", None),
        challenge_timeout_s=getattr(args, "challenge_timeout", None),
    )
    try:
        if showdown.can_install():  # before planning: the plan asks it about the format
            _install_if_missing()
        plan = plan_run(request)
    except USER_ERRORS as exc:
        return fail(str(exc))

    if plan.remaining == 0:
        console.print(f"{plan.paths.record}: all {plan.total} battles are already played.")
        try:
            record = finalize(plan.paths, finished=True)
        except RunRecordError as exc:
            return fail(str(exc), code=1)
        return _report(record, plan, args.reports, write_report)

    server: showdown.ShowdownServer | None = None
    try:
        if plan.spec.engine == "sim":
            _install_if_missing()
            engine: Engine = SimEngine()
        elif plan.spec.engine == "ray":
            _install_if_missing()
            from arena.engines.ray import RayEngine  # imports Ray: only for this engine

            engine = RayEngine(
                plan.spec,
                plan.session,
                plan.paths,
                address=getattr(args, "ray_address", None),
                workers=getattr(args, "ray_workers", None),
                cpus_per_worker=getattr(args, "ray_cpus", None),
                log_level=getattr(args, "log_level", None) or "WARNING",
            )
        else:
            server = _find_server(args.server, plan)
            engine = ServerEngine(server)
    except BaseException as exc:
        if plan.session == 0:  # a new run that never began: its id is free again
            release_run_id(plan.paths.output_dir, plan.paths.run_id)
        if isinstance(exc, USER_ERRORS):
            return fail(str(exc))
        raise

    code = 0
    try:
        asyncio.run(_play(plan, engine))
    except KeyboardInterrupt:
        code = 130
        _silence_teardown()
        console.print("[yellow]interrupted[/]: finished battles are kept")
    except showdown.ServerError as exc:
        code = 1
        _silence_teardown()
        fail(str(exc), code=1)  # what was kept, and how to go on, is said below
    except StorageError as exc:  # the journal ends on the last battle it could keep
        code = 1
        _silence_teardown()
        fail(f"{exc}; the battles journaled before are kept: free some space, then resume", code=1)
    finally:
        if server is not None:
            _release(server, args.keep_server)
    for line in engine.notes():  # the Ray engine's per-node throughput
        console.print(line, soft_wrap=True)

    if code != 0 and plan.session == 0 and discard_if_unplayed(plan.paths):
        return code  # nothing was played: the error said why, no run is left behind
    try:
        record = finalize(plan.paths, finished=code == 0)
    except (RunRecordError, OSError) as exc:  # the journal keeps every battle it took
        fail(f"the run record could not be rebuilt: {exc}", code=1)
        if plan.paths.journal.exists():
            console.print(
                f"continue with [bold]uv run python main.py --resume {plan.paths.journal}[/]"
            )
        return 1
    done = len(record.battles) if record else 0
    if code != 0:
        if record is not None:
            console.print(
                f"{done}/{plan.total} battles kept in {plan.paths.record}; continue with "
                f"[bold]uv run python main.py --resume {plan.paths.record}[/]"
            )
        _report(record, plan, args.reports, write_report)
        return code
    return _report(record, plan, args.reports, write_report)


def _silence_teardown() -> None:
    """After an interruption, poke-env's players are torn down mid-battle and log every
    cancelled task and closed socket, with tracebacks. The arena has said what happened
    in one line; keep the rest of the teardown quiet."""
    logging.disable(logging.ERROR)


def _install_if_missing() -> None:
    if not showdown.is_installed():
        console.print("Installing the bundled Showdown server (first run only, about a minute)…")
        with console.status("npm ci"):
            showdown.install()


def _find_server(given: str | None, plan: RunPlan) -> showdown.ShowdownServer:
    """`--server` when given; a resumed run's own server (its record says which); else the
    default address. Only an address the user gave is an error when something else holds
    it."""
    url = given
    if url is None and plan.session > 0 and plan.spec.server.startswith(("ws://", "wss://")):
        url = plan.spec.server
    named = given is not None
    url = url or showdown.DEFAULT_SERVER
    if not showdown.answers(url):
        _install_if_missing()
    with console.status("Starting the Showdown server…"):
        server = showdown.find_or_start(url, named=named)
    if server.url != url:
        console.print(f"Showdown server started at {server.url} ({url} was not free)")
    return server


def _release(server: showdown.ShowdownServer, keep: bool) -> None:
    """This run's lease on the server given back; the server stops with its last user."""
    group = server.pgid
    others = server.release(keep=keep)
    if keep and group is not None:
        console.print(
            f"Showdown server left running at {server.browser_url} (stop it with "
            f"`kill -- -{group}`)",
            soft_wrap=True,
        )
    elif others:
        console.print(
            f"Showdown server at {server.browser_url} left running for {others} other "
            "run(s) that use it; it stops with the last of them",
            soft_wrap=True,
        )


def _progress(bar_width: int | None = None) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=bar_width),
        MofNCompleteColumn(),
        TextColumn("{task.fields[score]}"),
        TimeElapsedColumn(),
        console=console,
    )


async def _play(plan: RunPlan, engine: Engine) -> None:
    """Play the session with its face: a match's one bar and score by side, or a round
    robin's overall bar and a row per pair."""
    if plan.spec.agents is not None:
        return await _play_tournament(plan, engine)
    spec = plan.spec
    progress = _progress()
    task = progress.add_task(
        f"{spec.p1.given} vs {spec.p2.given}", total=spec.n, completed=plan.done, score=""
    )
    console.print(
        f"Run [bold]{spec.run_id}[/] on {engine.description}: "
        f"{_count(plan.remaining, 'battle')}, {_at_a_time(spec.concurrency, plan.remaining)}"
    )

    def on_start(tournament: Tournament) -> None:
        if spec.move_delay > 0 and engine.watch_url:
            url, user = engine.watch_url, tournament.usernames(plan.order[0], 0)["p1"]
            console.print(
                f"Watch live: open [link={url}]{url}[/link], then 'Watch a battle' (or look "
                f"up user '{user}'); battle rooms are printed as they start."
            )

    seen: set[str] = set()

    def on_progress(p: MatchProgress) -> None:
        if spec.move_delay > 0 and engine.watch_url:
            for tag in p.live:
                if tag not in seen:
                    seen.add(tag)
                    console.print(
                        f"  battle room: {engine.watch_url}{tag} (p1 {spec.p1.given} vs "
                        f"p2 {spec.p2.given})",
                        soft_wrap=True,
                    )
        score = (
            f"p1 {p.wins.get('p1', 0)} – {p.wins.get('p2', 0)} p2"
            + (f" · {p.draws} draws" if p.draws else "")
            + (f" · {p.errors} errors" if p.errors else "")
            + f" · {len(p.live)} live"
        )
        progress.update(task, completed=plan.done + p.done, score=score)

    with progress:
        await play_session(plan, engine, on_progress=on_progress, on_start=on_start)


def pair_score(pair: tuple[str, str], tally: list[int]) -> str:
    """`heuristic 12 – 3 random · 1 draw`: one pair's score line during a tournament."""
    wins_a, wins_b, draws, errors = tally
    return (
        f"{pair[0]} {wins_a} – {wins_b} {pair[1]}"
        + (f" · {draws} draws" if draws else "")
        + (f" · {errors} errors" if errors else "")
    )


async def _play_tournament(plan: RunPlan, engine: Engine) -> None:
    spec = plan.spec
    assert spec.agents is not None and plan.order is not None
    pairs = pairs_of(spec)
    left = dict.fromkeys(pairs, 0)
    for p1, p2 in plan.order:
        left[(p1, p2) if (p1, p2) in left else (p2, p1)] += 1
    progress = _progress(bar_width=24)
    overall = progress.add_task(
        f"{len(spec.agents)} agents, {len(pairs)} pairs",
        total=plan.total,
        completed=plan.done,
        score="",
    )
    rows = {
        pair: progress.add_task(
            f"  {pair[0]} vs {pair[1]}", total=spec.n, completed=spec.n - left[pair], score=""
        )
        for pair in pairs
    }
    console.print(
        f"Round robin [bold]{spec.run_id}[/] on {engine.description}: {len(spec.agents)} agents, "
        f"{_count(spec.n, 'battle')} per pair, {plan.remaining} to play, "
        f"{_at_a_time(spec.concurrency, plan.remaining)}"
    )

    def on_progress(p: MatchProgress) -> None:
        live = f"{len(p.live)} live" + (f" · {p.errors} errors" if p.errors else "")
        progress.update(overall, completed=plan.done + p.done, score=live)
        for pair, tally in p.pairs.items():
            if pair in rows:
                played = sum(tally)
                progress.update(
                    rows[pair],
                    completed=spec.n - left[pair] + played,
                    score=pair_score(pair, tally),
                )

    with progress:
        await play_session(plan, engine, on_progress=on_progress)


def _report(
    record: RunRecord | None, plan: RunPlan, reports_dir: Path, write_report: WriteReport
) -> int:
    if record is None:
        return fail(f"no battle was journaled, so there is no record at {plan.paths.record}", 1)
    if record.leaderboard is not None:
        print_leaderboard(record, console)
    else:
        _print_results(record)
    console.print(f"Run record: {plan.paths.record}")
    if record.spec.save_trajectories:
        teacher = record.spec.teacher
        labels = "" if teacher is None else f" (actions chosen by the teacher {teacher.given})"
        if record.spec.trajectory_format:
            labels += f" ({record.spec.trajectory_format} format)"
        console.print(f"Trajectories: {record.spec.save_trajectories}{labels}", soft_wrap=True)
    try:
        report = write_report(plan.paths.record, reports_dir / f"{plan.spec.run_id}.html")
    except Exception as exc:  # the run record is safe; the report can be rebuilt
        fail(
            f"the report could not be written ({exc}); rebuild it with "
            f"`uv run python -m viz {plan.paths.record}`",
            code=1,
        )
        return 1
    console.print(f"Report:     {report}")
    return 0


def _fmt(value: float | None, spec: str = ".1f", suffix: str = "") -> str:
    return "–" if value is None else f"{value:{spec}}{suffix}"


def _print_results(record: RunRecord) -> None:
    s = record.summary
    table = Table(title=f"{record.spec.p1.given} vs {record.spec.p2.given} · {record.spec.format}")
    table.add_column("side")
    table.add_column("agent")
    table.add_column("wins", justify="right")
    table.add_column("win rate (95% CI)", justify="right")
    table.add_column("latency p50 / p95", justify="right")
    table.add_column("fallbacks", justify="right")
    rate = {"p1": s.p1_win_rate, "p2": None if s.p1_win_rate is None else 1 - s.p1_win_rate}
    ci = s.p1_win_rate_ci95
    cis = {"p1": ci, "p2": None if ci is None else [1 - ci[1], 1 - ci[0]]}
    for side in ("p1", "p2"):
        agent = getattr(record.spec, side)
        side_sum = s.sides[side]
        interval = cis[side]
        table.add_row(
            side,
            agent.given if agent.given == agent.resolved else f"{agent.given} ({agent.resolved})",
            str(s.p1_wins if side == "p1" else s.p2_wins),
            _fmt(rate[side], ".0%")
            + ("" if interval is None else f" [{interval[0]:.0%}, {interval[1]:.0%}]"),
            f"{_fmt(side_sum.latency_p50_ms, '.1f')} / {_fmt(side_sum.latency_p95_ms, '.1f')} ms",
            _fmt(side_sum.fallback_rate, ".1%"),
        )
    console.print(table)
    console.print(_totals_line(s))


def print_leaderboard(record: RunRecord, out: Console) -> None:
    """The tournament's ranking with intervals, then whether each adjacent order is real."""
    from arena.ratings import Leaderboard

    assert record.leaderboard is not None
    board = Leaderboard.from_dict(record.leaderboard)
    spec = record.spec
    gxe = bool(board.ratings) and board.ratings[0].gxe is not None  # absent in older records
    table = Table(
        title=f"Leaderboard · {spec.format} · {spec.n} battles per pair",
        caption=f"Bradley–Terry ratings, {board.anchor} = 1000; 95% intervals from "
        f"{board.resamples} bootstrap resamples (seed {board.seed})"
        + ("; GXE: expected score against the rest of the pool" if gxe else ""),
    )
    table.add_column("rank", justify="right")
    table.add_column("agent")
    table.add_column("rating [95% CI]", justify="right")
    if gxe:
        table.add_column("GXE [95% CI]", justify="right")
    table.add_column("W-L-D", justify="right")
    table.add_column("battles", justify="right")
    for rank, r in enumerate(board.ratings, 1):
        low, high = r.ci95
        expected = ["–"] if gxe else []
        if gxe and r.gxe is not None and r.gxe_ci95 is not None:
            expected = [f"{r.gxe:.0%} [{r.gxe_ci95[0]:.0%}, {r.gxe_ci95[1]:.0%}]"]
        table.add_row(
            str(rank),
            r.agent,
            f"{r.rating:.0f} [{low:.0f}, {high:.0f}]",
            *expected,
            f"{r.wins}-{r.losses}-{r.draws}",
            str(r.battles),
        )
    out.print(table)
    for c in board.comparisons:
        if c.conclusive:
            out.print(
                f"  [green]conclusive[/]: {c.higher} > {c.lower} "
                f"(ahead in {c.p_higher_better:.0%} of resamples)",
                highlight=False,
            )
        elif c.battles_needed is None:
            out.print(
                f"  [yellow]inconclusive[/]: {c.higher} vs {c.lower}: they score even; no "
                "number of battles at this rate would separate them",
                highlight=False,
            )
        else:
            out.print(
                f"  [yellow]inconclusive[/]: {c.higher} vs {c.lower} "
                f"(ahead in {c.p_higher_better:.0%} of resamples): about {c.battles_needed} "
                f"more battle{'s' if c.battles_needed != 1 else ''} between {c.higher} and "
                f"{c.lower} would likely separate them",
                highlight=False,
            )
    s = record.summary
    out.print(_totals_line(s), highlight=False)


def _at_a_time(concurrency: int, battles: int) -> str:
    at_once = min(concurrency, battles)
    return "one at a time" if at_once <= 1 else f"{at_once} at a time"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _totals_line(s: Summary) -> str:
    return (
        f"{_count(s.battles, 'battle')}, {_count(s.draws, 'draw')}, "
        f"{_count(s.errors, 'error')} · mean {_fmt(s.mean_turns)} turns · "
        f"{_fmt(s.battles_per_s, '.2f')} battles/s"
    )

"""Play battles between two agents on a local Showdown server, then write a run and a report.

uv run python main.py --p1 heuristic --p2 random --n 10
uv run python main.py --p1 random --p2 random --move-delay 2      # watch it live
uv run python main.py --resume runs/<run>.json                    # finish an interrupted run
uv run python main.py --agents random,max-damage,heuristic --n 20  # round robin + leaderboard
uv run python main.py --format gen9ou --p1 heuristic --team1 teams/gen9ou/  # a format with teams
uv run python main.py --format gen2ou --agents random,max-damage,heuristic --n 10  # bundled teams
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import signal
import sys
from pathlib import Path

from battle.record import DEFAULT_BATTLE_TIMEOUT_S, DEFAULT_DECISION_TIMEOUT_S
from training.config import add_log_level

DEFAULT_CONCURRENCY = min(16, 4 * (os.cpu_count() or 1))


def make_parser() -> argparse.ArgumentParser:
    from arena.server import DEFAULT_SERVER

    p = argparse.ArgumentParser(
        prog="main.py",
        description="Pit two agents against each other on a local Pokemon Showdown server.",
        epilog=_agents_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--p1", default=None, help="agent for player 1 (default: random)")
    p.add_argument("--p2", default=None, help="agent for player 2 (default: random)")
    p.add_argument(
        "--agents",
        default=None,
        metavar="A,B,...",
        help="a round robin instead of one match: two or more agents, comma-separated; "
        "every pair plays --n battles (sides swapped in half), then a leaderboard",
    )
    p.add_argument(
        "--include",
        nargs="+",
        default=None,
        metavar="RUN",
        help="with --agents: earlier runs (runs/<run>.json, matches or tournaments) whose "
        "battles also count in the ratings (not replayed)",
    )
    p.add_argument(
        "--n", type=int, default=None, help="number of battles, per pair with --agents (default: 1)"
    )
    p.add_argument(
        "--format", default="gen9randombattle", help="Showdown format (default: gen9randombattle)"
    )
    p.add_argument(
        "--team1",
        default=None,
        metavar="FILE_OR_DIR",
        help="formats with teams (e.g. gen9ou): player 1's team, Showdown's export text; a "
        "folder means a random team from it each battle (default: the bundled teams/<format>/)",
    )
    p.add_argument(
        "--team2", default=None, metavar="FILE_OR_DIR", help="player 2's team, like --team1"
    )
    p.add_argument(
        "--teams",
        default=None,
        metavar="FILE_OR_DIR",
        help="every side's teams (a match: both players unless --team1/--team2 say otherwise; "
        "--agents: every agent). Drawing both sides from one pool pairs the battles so each "
        "agent plays both teams of a draw",
    )
    p.add_argument(
        "--move-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait before each move, for watching live (implies one battle at a time)",
    )
    p.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"battles played at once (default: {DEFAULT_CONCURRENCY})",
    )
    p.add_argument(
        "--server",
        default=None,
        help="websocket of a Showdown server to use; if none answers there, the bundled one "
        f"is started (default: {DEFAULT_SERVER}, or the server a resumed run used; when "
        "something else holds the default port, the bundled server starts on a free one)",
    )
    p.add_argument(
        "--keep-server",
        action="store_true",
        help="leave a server the arena started running (else it stops with the last run "
        "that uses it)",
    )
    p.add_argument(
        "--engine",
        choices=["server", "sim", "ray"],
        default=None,
        help="server: battles on a Showdown server (can be watched in a browser); sim: "
        "battles straight in Showdown's simulator, one process per core, no server (about "
        "twice the battles per CPU second; cannot be watched); ray: the sim engine's battles "
        "spread over a Ray cluster's worker actors (needs `uv sync --extra ray`) (default: "
        "server; --resume: the run's own engine)",
    )
    p.add_argument(
        "--ray-address",
        default=None,
        metavar="HOST:PORT",
        help="with --engine ray: the cluster to join (as `ray start --head` printed it; "
        "default: a local cluster started for the run)",
    )
    p.add_argument(
        "--ray-workers",
        type=int,
        default=None,
        metavar="N",
        help="with --engine ray: worker actors (default: one per node)",
    )
    p.add_argument(
        "--ray-cpus",
        type=int,
        default=None,
        metavar="N",
        help="with --engine ray: CPUs (simulator processes) per worker (default: the "
        "cluster's CPUs divided among the workers); --concurrency is battles at once per "
        "worker",
    )
    p.add_argument(
        "--output", type=Path, default=Path("runs"), help="folder for run records (default: runs)"
    )
    p.add_argument(
        "--reports",
        type=Path,
        default=Path("reports"),
        help="folder for HTML reports (default: reports)",
    )
    p.add_argument(
        "--plotly-js",
        choices=["inline", "file"],
        default="inline",
        help="inline: each report is one self-contained file (~5 MB); file: plotly.js is "
        "written once next to the reports and shared by them (~0.3 MB each) "
        "(default: inline)",
    )
    p.add_argument("--resume", metavar="RUN", help="continue runs/<run>.json up to its --n")
    p.add_argument("--seed", type=int, default=None, help="seed for the agents' randomness")
    p.add_argument(
        "--save-trajectories",
        type=Path,
        default=None,
        metavar="DIR",
        help="write each player's view of each battle to DIR/<format>/ as a Metamon "
        "parsed-replay file (.json.lz4; see --trajectory-format), for training (default: off)",
    )
    p.add_argument(
        "--trajectory-format",
        choices=["lz4", "metamon"],
        default=None,
        help="with --save-trajectories: lz4, the arena's files (.json.lz4, 13 actions with "
        "tera, extension fields, played_actions with --teacher); metamon, plain .json files "
        "that Metamon's own dataset reader (v1.1.0) accepts: 9 actions (a tera move is the "
        "move), Metamon's spellings, each Pokemon named as before any forme change, no "
        "extension fields, and no played_actions (with --teacher the actions are the "
        "teacher's and the played ones are not kept) (default: lz4; --resume: the run's own)",
    )
    p.add_argument(
        "--teacher",
        default=None,
        metavar="AGENT",
        help="with --save-trajectories: this agent also decides at every decision of both "
        "sides (never played); its choices are the files' actions, the played ones go in "
        "played_actions (DAgger-style labels)",
    )
    p.add_argument(
        "--battle-timeout",
        type=float,
        default=DEFAULT_BATTLE_TIMEOUT_S,
        metavar="SECONDS",
        help="a battle still running after this long (move delays excluded) is recorded as "
        "an error and forfeited (default: %(default)g)",
    )
    p.add_argument(
        "--decision-timeout",
        type=float,
        default=DEFAULT_DECISION_TIMEOUT_S,
        metavar="SECONDS",
        help="an agent that takes longer plays a random legal action, recorded as a "
        "fallback (default: %(default)g)",
    )
    p.add_argument(
        "--challenge-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="user:NAME opponents: how long the arena re-issues an unanswered challenge "
        "before it gives up with an error (default: 60; --resume: the run's own)",
    )
    add_log_level(p, "INFO", flag="--log-level")
    return p


def _agents_help() -> str:
    """One line per registered agent: its name (with an example of `kind:arg` where it
    takes one) and what it is."""
    import textwrap

    import agents

    lines = ["agents (--p1, --p2, --agents): NAME, or NAME:ARG for those that take one"]
    for name, reg in agents.registered().items():
        text = reg.help + (f" (e.g. {reg.example})" if reg.example else "")
        lines.append(
            textwrap.fill(
                text,
                width=92,
                initial_indent=f"  {name:<15} ",
                subsequent_indent=" " * 18,
                break_on_hyphens=False,
            )
        )
    lines += [
        "",
        "examples:",
        "  main.py --p1 search --p2 heuristic --n 100 --engine sim",
        "  main.py --agents random,heuristic,search:300 --n 50",
        "  main.py --resume runs/<run>.json",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    from dotenv import load_dotenv

    load_dotenv()
    from arena.cli import run_cli, setup_logging
    from viz import write_report

    setup_logging(args.log_level)
    # A terminated run ends like Ctrl-C: finished battles written, the server stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return run_cli(args, functools.partial(write_report, plotly_js=args.plotly_js))
    except KeyboardInterrupt:  # before any battle started (installing, starting the server)
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        # poke-env stops its event loop thread at exit and logs the tasks it cancels.
        logging.disable(logging.CRITICAL)


if __name__ == "__main__":
    sys.exit(main())

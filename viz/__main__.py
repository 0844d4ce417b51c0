"""`python -m viz runs/<run>.json [--output FILE] [--plotly-js inline|file]`: write the HTML
report of a run (`--plotly-js file`: plotly.js goes once into the report's folder, as
plotly-<version>.min.js, instead of into every page).

`python -m viz leaderboard runs/ [--output FILE] [--resamples N] [--seed S] [--anchor A]
[--plotly-js inline|file]`: rate every agent over every battle of the run records in a
folder, one ranking per format (Bradley–Terry with 95% intervals, and each agent's expected
score against the rest of the pool, GXE-style), on one page, reports/leaderboard.html by
default (`viz.leaderboard`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from battle.record import RunRecordError
from viz.report import PLOTLY_JS_MODES, write_report

log = logging.getLogger("viz")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m viz",
        description="Turn a run record (runs/<run>.json) into a self-contained HTML report.",
        epilog="A leaderboard over a folder of runs: python -m viz leaderboard runs/ "
        "(see python -m viz leaderboard --help).",
    )
    parser.add_argument("record", type=Path, help="the run record, e.g. runs/<run>.json")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="where to write the page (default: reports/<run_id>.html)",
    )
    parser.add_argument(
        "--plotly-js",
        choices=PLOTLY_JS_MODES,
        default="inline",
        help="inline (default): embed plotly.js, a one-file page of ~5 MB; file: write it once "
        "next to the page as plotly-<version>.min.js, shared by every report of that folder "
        "(the page then needs that file beside it)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["leaderboard"]:  # the subcommand; any other first word is a record
        from viz.leaderboard import main as leaderboard_main

        return leaderboard_main(argv[1:])
    args = make_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        path = write_report(args.record, args.output, plotly_js=args.plotly_js)
    except (RunRecordError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: one line for the user, the traceback with -v
        log.debug("report failed", exc_info=True)
        print(f"error: could not build the report: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

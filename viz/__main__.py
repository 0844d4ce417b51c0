"""`python -m viz runs/<run>.json [--output FILE]`: write the HTML report of a run."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from battle.record import RunRecordError
from viz.report import write_report

log = logging.getLogger("viz")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m viz",
        description="Turn a run record (runs/<run>.json) into a self-contained HTML report.",
    )
    parser.add_argument("record", type=Path, help="the run record, e.g. runs/<run>.json")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        default=None,
        help="where to write the page (default: reports/<run_id>.html)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        path = write_report(args.record, args.output)
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

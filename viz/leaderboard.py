"""A leaderboard across runs: every agent rated over every battle in a folder of run
records (matches and tournaments, whenever played), one ranking per format.

    uv run python -m viz leaderboard runs/                  # writes reports/leaderboard.html
    uv run python -m viz leaderboard runs/ -o /tmp/lb.html --resamples 2000 --anchor random

`read_pool` reads every `*.json` directly in the folder with `battle.record.load_record`
(a file that is not a run record is skipped and listed on the page with the reason, as is
a journal without its record). Each record's battles become games through
`arena.ratings.games_of`, the conversion `--include` uses: errors are left out, a draw is
half a win, each battle counts under the agents' names as given. `rate_pool` fits
`arena.ratings.rate` (Bradley–Terry, bootstrap intervals, the expected score against the
pool) once per format: records of different formats are never rated together.
`render_leaderboard` and `write_leaderboard` make the page (`plotly_js="file"`, or
`--plotly-js file`: plotly.js is written once next to it, as for a report); `main` is the
command line.

Agents are known by the name as given (`search:300`). When one name resolved to different
things within a format (`spec.*.resolved`: another checkpoint, another model version),
each version is rated apart, as `name (resolved)`, and the page lists the split;
`merge_resolved=True` (`--merge-resolved`) rates them as one agent, still listed.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from arena.ratings import Game, Leaderboard, games_of, rate
from battle.record import RunRecord, RunRecordError, RunSpec, atomic_write_text, load_record
from viz.report import (
    PLOTLY_JS_MODES,
    ReportError,
    environment,
    figure_html,
    plotly_context,
    plotly_js_filename,
    write_plotly_js,
)
from viz.tournament_charts import pair_heatmap_chart, rating_chart

log = logging.getLogger(__name__)

DEFAULT_OUTPUT = Path("reports") / "leaderboard.html"
PROGRESS_FROM = 50  # records: fewer than this are read without a progress line


class LeaderboardError(ValueError):
    """No leaderboard can be made from this input; the message is one line saying why."""


@dataclass
class RunSeen:
    """One run record whose battles count."""

    file: str  # its file name in the folder
    run_id: str
    kind: str  # "match" or "tournament"
    agents: list[str]  # as rated: the name given, or `given (resolved)` when split
    started_at: float
    games: int  # battles with a result
    errors: int  # battles that ended in an error: not rated


@dataclass
class Skipped:
    """A file in the folder that was not counted, and why."""

    file: str
    reason: str


@dataclass
class FormatPool:
    """Everything rated in one format."""

    format: str
    runs: list[RunSeen] = field(default_factory=list)
    games: list[Game] = field(default_factory=list)
    errors: int = 0
    splits: dict[str, list[str]] = field(default_factory=dict)  # given -> its resolutions
    board: Leaderboard | None = None  # None until rated, or with nothing to rate
    anchor_note: str | None = None  # why the anchor is not the one asked for

    @property
    def mirrors(self) -> int:
        """Battles of an agent against itself: they say nothing about strength."""
        return sum(1 for g in self.games if g.a == g.b)

    @property
    def rated(self) -> int:
        return len(self.games) - self.mirrors


@dataclass
class Pool:
    """The folder's battles: one pool per format (in the order first played), and skips."""

    folder: Path
    formats: list[FormatPool]
    skipped: list[Skipped]
    merge_resolved: bool = False

    @property
    def runs(self) -> int:
        return sum(len(f.runs) for f in self.formats)

    @property
    def agents(self) -> list[str]:
        """Every rated agent, in the order first seen (an agent of two formats once)."""
        seen: dict[str, None] = {}
        for f in self.formats:
            for g in f.games:
                if g.a != g.b:
                    seen.setdefault(g.a)
                    seen.setdefault(g.b)
        return list(seen)

    @property
    def battles(self) -> int:
        return sum(f.rated for f in self.formats)


def _resolved(spec: RunSpec) -> dict[str, str]:
    """What each agent of a run, by the name given, resolved to."""
    agents = spec.agents if spec.agents is not None else [spec.p1, spec.p2]
    return {a.given: a.resolved for a in agents}


def _read(
    folder: Path, progress: Callable[[int, int], None] | None
) -> tuple[list[tuple[str, RunRecord]], list[Skipped]]:
    """The run records directly in `folder` (file name, record) and the files skipped."""
    if not folder.exists():
        raise LeaderboardError(f"{folder} does not exist: pass the folder of run records (runs/)")
    if not folder.is_dir():
        raise LeaderboardError(f"{folder} is not a folder: pass the folder of run records (runs/)")
    paths = sorted(folder.glob("*.json"))
    records: list[tuple[str, RunRecord]] = []
    skipped: list[Skipped] = []
    for i, path in enumerate(paths):
        if progress is not None:
            progress(i, len(paths))
        try:
            record = load_record(path)
        except RunRecordError as exc:
            skipped.append(Skipped(path.name, str(exc)))
            continue
        except OSError as exc:  # unreadable: permissions, a file gone since the listing
            skipped.append(Skipped(path.name, f"cannot be read: {exc.strerror or exc}"))
            continue
        record.decisions = []  # not needed: hundreds of records stay small in memory
        records.append((path.name, record))
    if progress is not None:
        progress(len(paths), len(paths))
    for journal in sorted(folder.glob("*.jsonl")):
        if not journal.with_suffix(".json").exists():
            why = f"a journal without its record (`main.py --resume {journal}` builds it)"
            skipped.append(Skipped(journal.name, why))
    if not records:
        found = f"{len(paths)} *.json file(s), none a run record" if paths else "no *.json file"
        if skipped and paths:
            found += f" (first: {skipped[0].reason})"
        raise LeaderboardError(f"no run records in {folder}: {found}")
    return records, skipped


def read_pool(
    folder: Path,
    *,
    merge_resolved: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Pool:
    """Every run record directly in `folder`, as one pool of games per format (not yet
    rated). `progress(done, total)` is called as records are read.

    Raises LeaderboardError (one line) when the folder is missing or holds no run record."""
    folder = Path(folder)
    records, skipped = _read(folder, progress)
    records.sort(key=lambda item: (item[1].spec.started_at, item[0]))
    variants: dict[tuple[str, str], dict[str, None]] = {}  # (format, given): resolutions
    for _, record in records:
        for given, resolved in _resolved(record.spec).items():
            variants.setdefault((record.spec.format, given), {}).setdefault(resolved)
    pools: dict[str, FormatPool] = {}
    for name, record in records:
        spec = record.spec
        pool = pools.setdefault(spec.format, FormatPool(spec.format))
        labels = {
            given: given
            if merge_resolved or len(variants[spec.format, given]) == 1
            else f"{given} ({resolved})"
            for given, resolved in _resolved(spec).items()
        }
        games = [
            Game(labels.get(g.a, g.a), labels.get(g.b, g.b), g.score_a)
            for g in games_of(record.battles, spec)
        ]
        errors = sum(1 for b in record.battles if b.winner is None)
        pool.games.extend(games)
        pool.errors += errors
        kind = "tournament" if spec.is_tournament else "match"
        seen = RunSeen(name, spec.run_id, kind, list(labels.values()), spec.started_at,
                       len(games), errors)  # fmt: skip
        pool.runs.append(seen)
    for (fmt, given), resolutions in variants.items():
        if len(resolutions) > 1:
            pools[fmt].splits[given] = list(resolutions)
    return Pool(folder, list(pools.values()), skipped, merge_resolved)


def rate_pool(
    pool: Pool, *, resamples: int = 1000, seed: int = 0, anchor: str | None = None
) -> Pool:
    """Rate each format's games in place (and return `pool`).

    `anchor` is used in every format where it has rated battles, elsewhere the default
    anchor (the page says so); LeaderboardError when it has rated battles in none."""
    if anchor is not None and anchor not in pool.agents:
        known = ", ".join(pool.agents) or "none"
        raise LeaderboardError(
            f"--anchor {anchor}: no rated battle of that agent in {pool.folder} (agents: {known})"
        )
    for f in pool.formats:
        played = {n for g in f.games if g.a != g.b for n in (g.a, g.b)}
        # in the order the runs list them (a tournament's agents as given, a match's p1, p2)
        listed = [a for run in f.runs for a in run.agents]
        seen = [n for g in f.games for n in (g.a, g.b)]  # any a spec does not list, last
        names = [n for n in dict.fromkeys([*listed, *seen]) if n in played]
        if not names:
            continue  # no battle with a result between two agents: nothing to rate
        use = anchor if anchor in names else None
        if anchor is not None and use is None:
            f.anchor_note = f"{anchor} has no rated battle in {f.format}"
        f.board = rate(f.games, names, anchor=use, resamples=resamples, seed=seed)
    return pool


def render_leaderboard(pool: Pool, plotly_js: str = "inline") -> str:
    """The page of a rated pool: what the pool is, then one section per format.

    `plotly_js`: "inline" embeds plotly.js in the page; "file" loads it from
    plotly-<version>.min.js in the page's folder, which the caller writes there
    (`write_plotly_js`; `write_leaderboard` does)."""
    sections = []
    for i, f in enumerate(pool.formats):
        charts = []
        if f.board is not None:
            charts = [
                figure_html(rating_chart(f.board), f"ratings-{i}"),
                figure_html(pair_heatmap_chart(f.board), f"head-to-head-{i}"),
            ]
        sections.append((i, f, charts))
    template = environment().get_template("leaderboard.html.j2")
    return template.render(
        pool=pool,
        sections=sections,
        generated_at=datetime.now(tz=UTC).timestamp(),
        **plotly_context(plotly_js),
    )


def write_leaderboard(pool: Pool, output: Path = DEFAULT_OUTPUT, plotly_js: str = "inline") -> Path:
    """Render a rated `pool` and write the page atomically; returns its path.

    `plotly_js`: "inline" (the default) embeds plotly.js, so the page is one file; "file"
    also writes plotly-<version>.min.js next to the page, unless it is there already (the
    same file a report written with `plotly_js="file"` to that folder shares), and the page
    loads it from there. Raises ReportError (one line) when either cannot be written."""
    output = Path(output)
    page = render_leaderboard(pool, plotly_js)
    if output.is_dir():
        raise ReportError(f"cannot write the leaderboard to {output}: it is a folder")
    if plotly_js == "file":  # first, so that the page never points at a missing file
        try:
            write_plotly_js(output.parent)
        except OSError as exc:
            raise _unwritable("plotly.js", output.parent / plotly_js_filename(), exc) from None
    try:
        atomic_write_text(output, page)
    except OSError as exc:
        raise _unwritable("the leaderboard", output, exc) from None
    log.debug("wrote %s (%d bytes)", output, len(page))
    return output


def _unwritable(what: str, path: Path, exc: OSError) -> ReportError:
    """The one-line error for `exc`, raised while writing `what` to `path`."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)  # a StorageError: the cause's
    if exc.errno in (errno.EEXIST, errno.ENOTDIR):
        reason = "part of that path is a file, not a folder"
    elif exc.errno == errno.EISDIR:
        reason = "it is a folder"
    return ReportError(f"cannot write {what} to {path}: {reason}")


# --- command line ------------------------------------------------------------------------


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m viz leaderboard",
        description="Rate every agent over every battle of the run records in a folder "
        "(matches and tournaments), one ranking per format, on one HTML page.",
    )
    parser.add_argument("folder", type=Path, help="the folder of run records, e.g. runs/")
    parser.add_argument(
        "-o", "--output", type=Path, default=DEFAULT_OUTPUT,
        help=f"where to write the page (default: {DEFAULT_OUTPUT})",
    )  # fmt: skip
    parser.add_argument(
        "--resamples", type=int, default=1000,
        help="bootstrap resamples for the 95%% intervals (default: 1000)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default: 0)")
    parser.add_argument(
        "--anchor", default=None,
        help="the agent rated 1000 in each format it plays (default: random, else the "
        "first agent)",
    )  # fmt: skip
    parser.add_argument(
        "--merge-resolved", action="store_true",
        help="rate a name as one agent even where it resolved to different things "
        "(another checkpoint or model version); by default each is rated apart",
    )  # fmt: skip
    parser.add_argument(
        "--plotly-js", choices=PLOTLY_JS_MODES, default="inline",
        help="inline (default): embed plotly.js, a one-file page of ~5 MB; file: write it "
        "once next to the page as plotly-<version>.min.js, shared with the reports of that "
        "folder (the page then needs that file beside it)",
    )  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    return parser


def _progress_line(done: int, total: int) -> None:
    """`reading run records: 120/400` on one terminal line, only for many records."""
    if total < PROGRESS_FROM or not sys.stderr.isatty():
        return
    end = "\n" if done == total else ""
    print(f"\rreading run records: {done}/{total}", end=end, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m viz leaderboard FOLDER ...`: 0 when the page is written, else 1 with a
    one-line `error: ...` on stderr."""
    args = make_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if args.resamples < 1:
        print(f"error: --resamples {args.resamples}: at least 1 (1000 or more)", file=sys.stderr)
        return 1
    try:
        pool = read_pool(args.folder, merge_resolved=args.merge_resolved, progress=_progress_line)
        rate_pool(pool, resamples=args.resamples, seed=args.seed, anchor=args.anchor)
        path = write_leaderboard(pool, args.output, args.plotly_js)
    except (LeaderboardError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug: one line for the user, the traceback with -v
        log.debug("leaderboard failed", exc_info=True)
        print(f"error: could not build the leaderboard: {type(exc).__name__}: {exc}",
              file=sys.stderr)  # fmt: skip
        return 1
    skipped = f"; {len(pool.skipped)} file(s) skipped, listed on the page" if pool.skipped else ""
    print(
        f"leaderboard of {pool.runs} run(s) in {args.folder}: {len(pool.formats)} format(s), "
        f"{len(pool.agents)} agent(s), {pool.battles} battle(s) rated{skipped}"
    )
    print(path)
    return 0

"""Teams for formats that need them: the bundled pool, team files, and Showdown's validator.

A team is a file in Showdown's export text format (what the teambuilder imports and
exports). The bundled pool is `teams/<format>/*.txt`; a user's `--team1 FILE_OR_DIR`
resolves to one file or every `.txt`/`.team` file of a folder. Teams are checked by the
bundled package's own `TeamValidator` before any battle: `arena/validate_teams.js` answers
many teams in one node process; `pokemon-showdown validate-team FORMAT` is the reference
it agrees with (see teams/README.md).

poke-env's `Player(team=...)` takes export text as is (it packs it itself), so a caller
passes `Team.text`; `pack()` gives Showdown's own packed form where one is wanted.

    teams = resolve_teams(args.team1, "gen9ou")   # None: the bundled pool
    validate_teams(teams, "gen9ou")                # TeamError: one line, file and reason
    team = pick(teams, random.Random(seed))
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import os
import random
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from poke_env.teambuilder import ConstantTeambuilder

from arena import server as showdown
from battle.record import SIDES, Side, atomic_write_text

log = logging.getLogger(__name__)

TEAMS_DIR = showdown.REPO_ROOT / "teams"
TEAM_SUFFIXES = (".txt", ".team")
VALIDATOR_JS = Path(__file__).resolve().with_name("validate_teams.js")
VALIDATOR_TIMEOUT_S = 120.0
# Used only when node or the bundled package is missing: formats whose teams are generated.
_GENERATED_TEAM_RE = re.compile(r"random|challengecup|hackmonscup|factory|metronome|staff")


class TeamError(ValueError):
    """A team file that cannot be used: missing, unreadable, or illegal for its format."""


def display_path(path: Path) -> str:
    """`path` relative to the working directory when it is under it, for messages."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Team:
    """One team: its file, its export text, the format it is for, and its name (file stem)."""

    path: Path
    text: str
    format: str
    name: str

    @classmethod
    def load(cls, path: Path | str, format: str) -> Team:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise TeamError(
                f"{display_path(path)} is not a team: not UTF-8 text "
                "(expected Showdown's export format)"
            ) from None
        except OSError as error:
            raise TeamError(
                f"{display_path(path)} cannot be read: {error.strerror or error}"
            ) from None
        text = text.strip()
        if not text:
            raise TeamError(f"{display_path(path)} is empty (expected Showdown's export format)")
        return cls(path=path, text=text + "\n", format=format, name=path.stem)

    @property
    def label(self) -> str:
        return display_path(self.path)


def bundled_pool(format: str) -> list[Team]:
    """The bundled teams for `format` (`teams/<format>/*.txt`), sorted by name; [] if none."""
    folder = TEAMS_DIR / format
    if not folder.is_dir():
        return []
    return [Team.load(path, format) for path in _team_files(folder)]


def _team_files(folder: Path) -> list[Path]:
    return sorted(
        path for path in folder.iterdir() if path.is_file() and path.suffix in TEAM_SUFFIXES
    )


GENERATED = "generated"  # --teams generated: teams built from Showdown's random-battle sets
GENERATED_COUNT = 10


def needs_teams_message(format: str) -> str:
    return (
        f"{format} needs teams: none are bundled for it; pass --teams FILE_OR_DIR "
        f"(Showdown's export format), add files under teams/{format}/, or pass "
        f"--teams {GENERATED} for teams built from Showdown's random-battle sets"
    )


def resolve_teams(spec: str | Path | None, format: str) -> list[Team]:
    """The teams a `--team` option names: a file, a folder's team files, or (None) the pool.

    With None and a format that needs teams but has none bundled, a TeamError says how to
    add some; with None and a format whose teams are generated, [].
    """
    if spec is None:
        teams = bundled_pool(format)
        if not teams and is_team_format(format):
            raise TeamError(needs_teams_message(format))
        return teams
    path = Path(spec)
    if path.is_dir():
        files = _team_files(path)
        if not files:
            raise TeamError(
                f"{display_path(path)} has no team files "
                f"({' or '.join(TEAM_SUFFIXES)}, Showdown's export format)"
            )
        return [Team.load(file, format) for file in files]
    if not path.exists():
        raise TeamError(f"team file or folder {display_path(path)} does not exist")
    return [Team.load(path, format)]


def pick(teams: Sequence[Team], rng: random.Random) -> Team:
    """One team drawn from `teams` with `rng` (a folder means a random team per battle)."""
    if not teams:
        raise TeamError("no teams to pick from")
    return rng.choice(list(teams))


def _run_validator(requests: list[dict[str, str]]) -> list[dict]:
    """Answers of `validate_teams.js` to `requests`, in order (one node process)."""
    node = showdown.node_for_bundled()
    payload = "".join(json.dumps(request) + "\n" for request in requests)
    env = {**os.environ, "SHOWDOWN_PACKAGE_DIR": str(showdown.PACKAGE_DIR)}
    try:
        result = subprocess.run(
            [node, str(VALIDATOR_JS)],
            input=payload,
            capture_output=True,
            text=True,
            timeout=VALIDATOR_TIMEOUT_S,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TeamError(
            f"Showdown's team validator did not answer within {VALIDATOR_TIMEOUT_S:.0f} s"
        ) from None
    answers = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    if result.returncode != 0 or len(answers) != len(requests):
        tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise TeamError(f"Showdown's team validator failed (exit {result.returncode}): {tail}")
    return answers


@functools.cache
def _format_info(format: str) -> dict | None:
    """The bundled package's entry for `format`, or None without node or the package."""
    try:
        showdown.node_for_bundled()
    except showdown.ServerError as error:
        log.warning(
            "guessing from its name whether %s needs teams, since the bundled Showdown "
            "cannot be asked: %s", format, error
        )  # fmt: skip
        return None
    return _run_validator([{"op": "format", "format": format}])[0]


def is_team_format(format: str) -> bool:
    """Whether battles in `format` need teams (False where Showdown generates them).

    Decided by the bundled package's formats data (`Dex.formats.get(id).team` is set for
    random battles, Challenge Cup, Hackmons Cup, Battle Factory...); without node or the
    package, by the format's name (random/challengecup/hackmonscup/factory... need none).
    An unknown format is a TeamError.
    """
    info = _format_info(format)
    if info is None:
        return _GENERATED_TEAM_RE.search(format) is None
    if not info.get("exists"):
        ids = _run_validator([{"op": "formats"}])[0].get("ids", [])
        close = difflib.get_close_matches(format, ids, n=3, cutoff=0.6)
        hint = f" (closest: {', '.join(close)})" if close else ""
        raise TeamError(f"{format} is not a format of the bundled Showdown server{hint}")
    return not info.get("team")


def _one_line(errors: Sequence[str]) -> str:
    return " ".join(" ".join(error.split()) for error in errors if error.strip())


def validate_teams(teams: Sequence[Team], format: str) -> None:
    """Check every team with the bundled Showdown's validator for `format`.

    Raises TeamError with one line naming the (first) illegal team file and Showdown's
    reasons; for a format that needs teams and got none, one that says how to add them.
    """
    if not is_team_format(format):
        if teams:
            raise TeamError(f"{format} generates its own teams: {teams[0].label} is not used in it")
        return
    if not teams:
        raise TeamError(needs_teams_message(format))
    answers = _validate_texts(tuple(team.text for team in teams), format)
    bad = [(team, answer) for team, answer in zip(teams, answers, strict=True) if not answer["ok"]]
    if not bad:
        log.info("%d team(s) legal in %s", len(teams), format)
        return
    team, answer = bad[0]
    message = f"{team.label} is not legal in {format}: {_one_line(answer['errors'])}"
    if len(bad) > 1:
        others = ", ".join(other.label for other, _ in bad[1:4])
        more = f", +{len(bad) - 4} more" if len(bad) > 4 else ""
        message += f" (also illegal: {others}{more})"
    raise TeamError(message)


@functools.lru_cache(maxsize=64)
def _validate_texts(texts: tuple[str, ...], format: str) -> list[dict]:
    return _run_validator([{"op": "validate", "format": format, "text": t} for t in texts])


def generate_teams(format: str, seed: int | None, count: int = GENERATED_COUNT) -> list[str]:
    """`count` teams (export text) legal in `format`, built by `validate_teams.js` from
    Showdown's own random-battle sets of the format's generation (seeded by `seed`): each
    set and each team pass the format's validator. Fewer when the format allows few of
    those sets; a TeamError when it allows no team of them (e.g. Little Cup)."""
    rng = random.Random(f"generate-{seed}")
    request = {
        "op": "generate",
        "format": format,
        "count": count,
        "seed": [rng.randrange(65536) for _ in range(4)],
    }
    answer = _run_validator([request])[0]
    if answer.get("errors"):
        raise TeamError(f"cannot generate teams for {format}: {_one_line(answer['errors'])}")
    if not answer.get("teams"):
        raise TeamError(
            f"cannot generate teams for {format}: Showdown's random-battle sets make no team "
            f"its validator allows; pass --teams FILE_OR_DIR (Showdown's export format)"
        )
    return answer["teams"]


def write_generated(folder: Path, format: str, seed: int | None) -> Path:
    """Generate teams for `format` (`generate_teams`) into `folder`, one file each, and
    return the folder: a pool like any other (the run's records name its files)."""
    texts = generate_teams(format, seed)
    for i, text in enumerate(texts, 1):
        atomic_write_text(folder / f"{format}-generated-{i:02d}.txt", text.strip() + "\n")
    log.info(
        "%s: %d teams generated from Showdown's random-battle sets in %s",
        format, len(texts), display_path(folder),
    )  # fmt: skip
    return folder


def pack(team_text: str, format: str = "gen9ou") -> str:
    """Showdown's packed form of a team (export text or packed in), via the bundled package.

    Not needed for poke-env, which packs export text itself; the team must be legal in
    `format` (its validator also fills what a format implies, as Showdown does).
    """
    answer = _validate_texts((team_text,), format)[0]
    if not answer["ok"]:
        raise TeamError(f"cannot pack an illegal team: {_one_line(answer['errors'])}")
    return answer["packed"]


def main(argv: Sequence[str] | None = None) -> int:
    """Check team files: `uv run python -m arena.teams FORMAT [FILE_OR_DIR ...]`."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m arena.teams",
        description="Check teams with the bundled Showdown's validator "
        "(no FILE_OR_DIR: the bundled pool of FORMAT).",
    )
    parser.add_argument("format", help="Showdown format id, e.g. gen9ou")
    parser.add_argument("paths", nargs="*", help="team files or folders of them")
    args = parser.parse_args(argv)
    try:
        teams = [t for spec in args.paths or [None] for t in resolve_teams(spec, args.format)]
        validate_teams(teams, args.format)
    except (TeamError, showdown.ServerError) as error:
        print(f"error: {error}")
        return 1
    if teams:
        print(f"{len(teams)} team(s) legal in {args.format}")
    else:
        print(f"{args.format} generates its own teams: none needed")
    return 0


# --- teams in battles ---------------------------------------------------------------------

TeamPlan = list[dict[Side, Team]]  # the teams of each battle to play, in order


def team_name(team: Team) -> str:
    """How records name a team: `gen9ou/<name>` for a bundled one, else its file's path."""
    try:
        return str(team.path.resolve().relative_to(TEAMS_DIR.resolve()).with_suffix(""))
    except ValueError:
        return team.label


def packed(team: Team) -> str:
    """The team in Showdown's packed form (poke-env's packing, as the server engine sends it)."""
    return ConstantTeambuilder(team.text).yield_team()


def _same_pool(teams: dict[Side, list[Team]]) -> bool:
    p1, p2 = ([team.path.resolve() for team in teams[side]] for side in SIDES)
    return p1 == p2


def team_plan(
    order: list[tuple[str, str]], teams: dict[Side, list[Team]], seed: int | None, session: int
) -> TeamPlan:
    """The teams of each battle of `order` (pairings of entrants, as `arena.match.schedule`
    gives them), drawn from the run's seed.

    When both sides draw from one pool, a pair's battles come in twos that share a draw of
    two teams, so each agent of the pair plays both teams: in a round robin the second
    battle of the two has the agents' sides swapped and keeps the teams on their sides; in
    a match (sides fixed) it swaps the teams. A strong draw helps both agents alike, so
    team luck cancels out of the comparison. Otherwise (a match with --team1/--team2) each
    side draws from its own teams for every battle."""
    rng = random.Random(f"teams-{seed}-{session}")
    if not _same_pool(teams):
        return [{side: pick(teams[side], rng) for side in SIDES} for _ in order]
    waiting: dict[frozenset[str], tuple[str, dict[Side, Team]]] = {}  # pair: (its p1, draw)
    plan: TeamPlan = []
    for p1, p2 in order:
        pair = frozenset((p1, p2))
        if pair not in waiting:
            draw = {side: pick(teams["p1"], rng) for side in SIDES}
            waiting[pair] = (p1, draw)
            plan.append(draw)
            continue
        first_p1, draw = waiting.pop(pair)
        plan.append(draw if p1 != first_p1 else {"p1": draw["p2"], "p2": draw["p1"]})
    return plan


if __name__ == "__main__":
    raise SystemExit(main())

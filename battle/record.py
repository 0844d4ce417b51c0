"""The run record: the format of `runs/<run>.json`, where a run's files live, and
reading and writing the record.

A run lives in three places next to each other under the output folder (`RunPaths`):

    runs/<run_id>.jsonl          append-only journal: one `spec` line per session, one
                                 `battle` line per finished battle (with its decisions)
    runs/<run_id>/replays/*.log  the Showdown protocol log of every battle
    runs/<run_id>.json           the run record, rebuilt from the journal and written
                                 atomically at the end of every session
    runs/<run_id>.jsonl.torn     only after a crash mid-write: the cut-short last line,
                                 set aside when the run was resumed

The field names of the run record are a contract read by `viz`, later tools and outside
checks; bump `SCHEMA_VERSION` when one changes meaning. The format lives in the bottom
layer because every layer meets it: the arena writes it, `viz` and `finetune` (the
arena's own battles as training data) read it. The journal is `battle.journal`'s, the
summary's statistics `battle.summary`'s.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from battle import files

SCHEMA_VERSION = 1

DEFAULT_BATTLE_TIMEOUT_S = 600.0  # a battle still running after this is ended, an error
DEFAULT_DECISION_TIMEOUT_S = 60.0  # a decision slower than this is a random legal one

Side = Literal["p1", "p2"]
Winner = Literal["p1", "p2", "draw"]
SIDES: tuple[Side, Side] = ("p1", "p2")


class RunRecordError(ValueError):
    """A file that is not a usable run record; the message says what is wrong."""


class StorageError(OSError):
    """A file the run must keep could not be written (a full disk, a file size limit,
    permissions); the message names the file and why, in one line."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()

    @classmethod
    def writing(cls, what: str, exc: OSError) -> StorageError:
        """`exc`, raised while writing `what` ("the journal runs/x.jsonl"), as one line."""
        return cls(exc.errno, f"could not write {what}: {exc.strerror or exc}")


@dataclass
class DecisionRecord:
    """One choice sent to the server by one side."""

    battle_tag: str
    turn: int
    side: Side
    action: str  # "move thunderbolt", "move thunderbolt tera", "switch pikachu", "default"
    latency_ms: float | None  # None: not the arena's decision (`source` says whose)
    fallback: bool = False
    fallback_reason: str | None = None
    reasoning: str | None = None
    tokens: int | None = None
    effectiveness: float | None = None  # type multiplier against the opponent's active
    # [(action, probability)], best first, from agents that score their options; written
    # only when set, so records of other agents are unchanged (see README, run record).
    candidates: list[tuple[str, float]] | None = None
    # "log" (written only when set): an outside user's choice, read from the protocol log
    # (`battle.observed`), not timed; absent: the arena's own decision.
    source: str | None = None

    def __post_init__(self) -> None:
        if self.candidates is not None:  # JSON gives [action, p] lists back
            self.candidates = [(str(a), float(p)) for a, p in self.candidates]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["source"] is None:
            del data["source"]
        if data["candidates"] is None:
            del data["candidates"]
        else:
            data["candidates"] = [list(c) for c in data["candidates"]]
        return data


@dataclass
class BattleRecord:
    """One finished (or failed) battle."""

    battle_tag: str
    winner: Winner | None  # None only when `error` says why the battle has no result
    turns: int
    duration_s: float
    replay: str | None  # path of the protocol log, relative to the run record's folder
    error: str | None = None
    finished_at: float = 0.0  # unix time; used to measure the battle phase's wall time
    session: int = 0  # which session (0 = first, 1 = first resume, ...) played it
    # Tournaments only: the agents (as given) on each side of this battle. A match names
    # them once in its spec, so these are written only when set (see README, run record).
    p1_agent: str | None = None
    p2_agent: str | None = None
    # Team formats only (written only when set): the team each side played, e.g.
    # `gen9ou/garchomp-scizor-offense` (bundled) or the path of a --team1/--team2 file.
    p1_team: str | None = None
    p2_team: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return _without_none(asdict(self), ("p1_agent", "p2_agent", "p1_team", "p2_team"))

    def agent(self, side: Side, spec: RunSpec) -> str:
        """The agent that played `side`: the battle's own field, else the match's spec."""
        named = self.p1_agent if side == "p1" else self.p2_agent
        return named if named is not None else getattr(spec, side).given


def _without_none(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """Drop optional fields that are unset, so records that never use them are unchanged."""
    for key in keys:
        if data.get(key) is None:
            data.pop(key, None)
    return data


@dataclass
class AgentSpec:
    """An agent as the user named it and as the registry resolved it."""

    given: str
    resolved: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunSpec:
    run_id: str
    p1: AgentSpec
    p2: AgentSpec
    format: str
    n: int
    seed: int | None
    concurrency: int
    move_delay: float
    battle_timeout_s: float
    server: str
    versions: dict[str, str]
    started_at: float
    finished_at: float | None = None
    engine: str = "server"  # "server" (a Showdown server) or "sim" (simulator processes)
    decision_timeout_s: float = DEFAULT_DECISION_TIMEOUT_S
    save_trajectories: str | None = None  # folder of Metamon trajectory files; None: off
    # --teacher (written only when set): the agent whose choices label the trajectories.
    teacher: AgentSpec | None = None
    # --trajectory-format (written only when not the default, "lz4"): "metamon".
    trajectory_format: str | None = None
    # Tournaments only (written only when set): every agent of the round robin, in the
    # order given; `n` is then the number of battles per pair. `p1`/`p2` both name the
    # whole list, as given: in a tournament every battle names its own two agents.
    agents: list[AgentSpec] | None = None
    include: list[str] | None = None  # earlier runs whose battles count in the ratings
    # Team formats (written only when set): each side's --team1/--team2 (or --teams) as an
    # absolute path; unset: the bundled pool. Tournaments: `teams`, the pool of every agent.
    team1: str | None = None
    team2: str | None = None
    teams: str | None = None
    # Runs with an outside user (`user:NAME`; written only when set): how long the arena
    # waits for it to answer a challenge (--challenge-timeout).
    challenge_timeout_s: float | None = None

    @property
    def is_tournament(self) -> bool:
        return self.agents is not None

    def to_dict(self) -> dict[str, Any]:
        return _without_none(
            asdict(self),
            (
                "teacher",
                "trajectory_format",
                "agents",
                "include",
                "team1",
                "team2",
                "teams",
                "challenge_timeout_s",
            ),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSpec:
        data = dict(data)
        for side in SIDES:
            data[side] = AgentSpec(**data[side])
        if data.get("agents") is not None:
            data["agents"] = [AgentSpec(**a) for a in data["agents"]]
        if data.get("teacher") is not None:  # absent from records older than --teacher
            data["teacher"] = AgentSpec(**data["teacher"])
        return cls(**data)


@dataclass
class SideSummary:
    decisions: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    fallback_rate: float | None


@dataclass
class Summary:
    battles: int
    errors: int
    p1_wins: int
    p2_wins: int
    draws: int
    p1_win_rate: float | None
    p1_win_rate_ci95: list[float] | None
    mean_turns: float | None
    wall_s: float
    battles_per_s: float | None
    sides: dict[str, SideSummary]


# Top-level fields of a tournament's record: `arena.ratings.Leaderboard.to_dict()`.
LEADERBOARD_FIELDS = ("ratings", "pairs", "comparisons", "anchor", "resamples", "seed")


@dataclass
class RunRecord:
    spec: RunSpec
    battles: list[BattleRecord]
    decisions: list[DecisionRecord]
    summary: Summary
    schema_version: int = SCHEMA_VERSION
    # Tournaments only: the leaderboard as `Leaderboard.to_dict()` gives it, written at
    # the record's top level (`ratings`, `pairs`, ...); None for a match.
    leaderboard: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "schema_version": self.schema_version,
            "spec": self.spec.to_dict(),
            "battles": [b.to_dict() for b in self.battles],
            "decisions": [d.to_dict() for d in self.decisions],
            "summary": asdict(self.summary),
        }
        if self.leaderboard is not None:
            data.update(self.leaderboard)
        return data

    @classmethod
    def from_dict(cls, data: Any, source: str = "run record") -> RunRecord:
        if not isinstance(data, dict) or "schema_version" not in data:
            raise RunRecordError(f"{source} is not a run record (no schema_version field)")
        version = data["schema_version"]
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise RunRecordError(
                f"{source} has schema_version {version!r}, newer than this version of the "
                f"arena understands ({SCHEMA_VERSION}): update the arena"
            )
        try:
            summary = dict(data["summary"])
            summary["sides"] = {k: SideSummary(**v) for k, v in summary["sides"].items()}
            return cls(
                spec=RunSpec.from_dict(data["spec"]),
                battles=[BattleRecord(**b) for b in data["battles"]],
                decisions=[DecisionRecord(**d) for d in data["decisions"]],
                summary=Summary(**summary),
                schema_version=version,
                leaderboard=_leaderboard(data),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise RunRecordError(f"{source} is not a valid run record: {exc}") from None


def _leaderboard(data: dict[str, Any]) -> dict[str, Any] | None:
    """The leaderboard fields of a tournament's record; None for a match."""
    if not isinstance(data.get("ratings"), list):
        return None
    return {key: data[key] for key in LEADERBOARD_FIELDS if key in data}


# --- files -------------------------------------------------------------------------------


def atomic_write_text(path: Path, text: str) -> None:
    """`battle.files.atomic_write_text`, its failure a StorageError naming the file."""
    try:
        files.atomic_write_text(path, text)
    except OSError as exc:
        raise StorageError.writing(str(path), exc) from exc


def read_run_file(path: Path, *, missing: str, folder: str, not_text: str) -> str:
    """The text of one of a run's files; a RunRecordError with the message given for
    it when `path` does not exist (`missing`), is a folder or is not UTF-8 text."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunRecordError(missing) from None
    except IsADirectoryError:
        raise RunRecordError(folder) from None
    except UnicodeDecodeError:
        raise RunRecordError(not_text) from None


@dataclass
class RunPaths:
    """Where the files of one run live."""

    output_dir: Path
    run_id: str

    @property
    def record(self) -> Path:
        return self.output_dir / f"{self.run_id}.json"

    @property
    def journal(self) -> Path:
        return self.output_dir / f"{self.run_id}.jsonl"

    @property
    def replay_dir(self) -> Path:
        return self.output_dir / self.run_id / "replays"

    def replay_path(self, battle_tag: str) -> Path:
        return self.replay_dir / f"{battle_tag}.log"

    @classmethod
    def from_record_path(cls, path: Path) -> RunPaths:
        return cls(
            output_dir=path.parent, run_id=path.name.removesuffix(".jsonl").removesuffix(".json")
        )


def write_record(record: RunRecord, path: Path) -> None:
    atomic_write_text(path, json.dumps(record.to_dict(), indent=1) + "\n")


def load_record(path: Path) -> RunRecord:
    """Load `runs/<run>.json`; every problem is a RunRecordError with a one-line message."""
    text = read_run_file(
        path,
        missing=f"{path} does not exist: pass a file from runs/",
        folder=f"{path} is a folder: pass a runs/<run>.json file",
        not_text=f"{path} is not a text file: pass a runs/<run>.json file",
    )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunRecordError(
            f"{path} is not valid JSON (line {exc.lineno}: {exc.msg}); if the run was "
            f"interrupted, `main.py --resume {path}` rebuilds it from its journal"
        ) from None
    return RunRecord.from_dict(data, source=str(path))

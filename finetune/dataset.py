"""Showdown replays to (prompt, completion) JSONL for fine-tuning.

    uv run python -m finetune.dataset --replays data/replays --out data/dataset \\
        [--sides winner|both] [--min-rating 1500] [--switches] [--seed 0] \\
        [--val-fraction 0.05] [--workers N]

Reads every replay under `--replays` (`**/*.json` or `**/*.json.gz`, in the replay
site's shape: `id, format, players, log, inputlog?, uploadtime, rating`) and writes
`train.jsonl`, `val.jsonl` (split by battle: all pairs of a battle go to one file; a
battle's file depends only on `--seed` and its id) and `stats.json`. One record a line:

    {"prompt": ..., "completion": ..., "options": [...], "battle_id": ..., "turn": N,
     "side": "p1", "format": "gen9randombattle", "rating": 1612 | null}

Two ways to read a replay, both feeding protocol lines through poke-env's own `Battle`
the way a poke-env player does (`Player._handle_battle_message`'s dispatch), and both
rendering prompts and options with `battle.finetune_prompt`, as the agent does at play time:

- Exact view by re-run (replays with an `inputlog`: random formats, and the arena's own
  battles). The battle is re-run in the bundled simulator (`finetune/rerun.js`, one Node
  process per worker for many replays) and each side's own stream is fed: its requests,
  its private HP, its whole team. At every choice the input log says that side made, the
  pair is taken: prompt and options from the battle right then, completion the option of
  the chosen move (`move X terastallize` is the same move; `switch N` only with
  `--switches`). The re-run must end as the replay did (same winning side, same number of
  turns); if it does not, or fails, the replay is read the spectator's way instead and
  the fallback is counted.
- Spectator view (no input log: e.g. OU replays). The public log is fed from one side's
  view. A decision is a turn where that side's active used a move of its own choosing
  (its first `|move|` of the turn, without a `[from]` tag, not Struggle or Recharge; not
  the second turn of a charge move); the prompt is rendered at the turn's start, when the
  player chose. Limitation: the legal moves are unknown, so the options are the moves the
  active revealed in the whole replay (the chosen one included; a move it never used is
  missing, a disabled or out-of-PP one is not excluded, and early in a battle there may
  be a single option), switches are never pairs, own HP is the log's percentage, and a
  choice the log does not show (asleep, flinched, fully paralysed) is lost.

In the exact view, only decisions with at least two options become pairs (a single
legal move, e.g. choice-locked or Outrage-locked, is no decision). `--sides winner` keeps the
winner's decisions (a replay without a winner gives none), `both` keeps both sides.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from battle.files import SHOWDOWN_DIR as PACKAGE_DIR
from battle.record import SIDES

if TYPE_CHECKING:
    from battle.finetune_prompt import Option

log = logging.getLogger(__name__)

RERUN_SCRIPT = Path(__file__).with_name("rerun.js")

# Room lines of a replay log (and of a server's battle room) that are no battle event.
ROOM_LINES = {
    "init", "title", "j", "J", "join", "l", "L", "leave", "n", "N", "name", "c", "c:",
    "chat", "raw", "html", "uhtml", "uhtmlchange", "inactive", "inactiveoff", "badge",
    "t:", "expire", "tempnotify", "tempnotifyoff", "notify", "hidelines", "unlink",
    "debug", "seed", "error", "bigerror", "showteam", "message", "askreg",
    "timer", "deinit", "noinit", "controlshtml", "fieldhtml", "sentchoice", "tier",
}  # fmt: skip
UNCHOSEN_MOVES = {"struggle", "recharge"}


class DatasetError(ValueError):
    """Bad input to the dataset builder (a one-line message for the CLI)."""


@dataclass
class Pair:
    """One training example: a decision of one side of one battle."""

    prompt: str
    completion: str
    options: list[str]
    battle_id: str
    turn: int
    side: str
    format: str
    rating: int | None


@dataclass
class ReplayResult:
    """What one replay gave: its pairs and how it was read (or why it was skipped)."""

    battle_id: str
    format: str
    pairs: list[Pair] = field(default_factory=list)
    method: str | None = None  # "rerun" | "spectator" | None (skipped)
    skipped: str | None = None  # reason, when nothing could be read
    fallback: str | None = None  # why the re-run was not used, when it was tried
    dropped: Counter[str] = field(default_factory=Counter)  # decisions not kept, by reason


@dataclass
class Config:
    replays: Path
    out: Path
    sides: str = "winner"
    min_rating: int | None = None
    switches: bool = False
    seed: int = 0
    val_fraction: float = 0.05
    workers: int = 1


# --------------------------------------------------------------------------- reading


def load_replay(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    data = json.loads(raw)
    if not isinstance(data, dict) or not isinstance(data.get("log"), str):
        raise ValueError("not a replay (no log)")
    return data


def find_replays(folder: Path) -> list[Path]:
    return sorted([*folder.rglob("*.json"), *folder.rglob("*.json.gz")])


def _split(line: str) -> list[str]:
    return line.rstrip("\r").split("|")


def log_players(lines: Iterable[str]) -> dict[str, str]:
    """Side -> player name, from the log's `|player|pN|NAME|...` lines."""
    names: dict[str, str] = {}
    for line in lines:
        parts = _split(line)
        if len(parts) > 3 and parts[1] == "player" and parts[2] in SIDES and parts[3]:
            names.setdefault(parts[2], parts[3])
    return names


def log_result(lines: list[str]) -> tuple[str | None, int]:
    """("p1" | "p2" | "tie" | None when unfinished, last turn number) of a log."""
    names = log_players(lines)
    by_name = {name: side for side, name in names.items()}
    result, turns = None, 0
    for line in lines:
        parts = _split(line)
        if len(parts) < 2:
            continue
        if parts[1] == "turn" and len(parts) > 2 and parts[2].isdigit():
            turns = int(parts[2])
        elif parts[1] == "win" and len(parts) > 2:
            result = by_name.get(parts[2])
        elif parts[1] == "tie":
            result = "tie"
    return result, turns


def _format_of(replay: dict[str, Any]) -> str:
    fmt = str(replay.get("format") or "")
    fmt_id = re.sub(r"[^a-z0-9]", "", fmt.lower())
    if not fmt_id.startswith("gen"):
        match = re.search(r"^\|tier\|(.*)$", replay["log"], re.M)  # "[Gen 9] Random Battle"
        tier = re.sub(r"[^a-z0-9]", "", (match.group(1) if match else fmt).lower())
        fmt_id = tier if tier.startswith("gen") else "gen9" + (tier or fmt_id)
    return fmt_id


def _gen_of(fmt: str, log_text: str) -> int:
    match = re.search(r"^\|gen\|(\d)", log_text, re.M)
    if match:
        return int(match.group(1))
    match = re.match(r"gen(\d)", fmt)
    return int(match.group(1)) if match else 9


def _rating(replay: dict[str, Any]) -> int | None:
    value = replay.get("rating")
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- poke-env


def _new_battle(battle_id: str, username: str, gen: int):
    from poke_env.battle.battle import Battle

    return Battle(
        battle_tag=battle_id, username=username, logger=logging.getLogger("poke_env"), gen=gen
    )


def _feed(battle, line: str) -> None:
    """One protocol line into a poke-env battle, dispatched as a poke-env player does."""
    import orjson

    parts = _split(line)
    if len(parts) < 2 or line.startswith(">"):
        return
    kind = parts[1]
    if kind == "":
        battle.parse_message(parts)
    elif kind == "request":
        if len(parts) > 2 and parts[2]:
            battle.parse_request(orjson.loads("|".join(parts[2:])))
    elif kind == "win":
        battle.won_by(parts[2])
    elif kind == "tie":
        battle.tied()
    elif kind in ROOM_LINES:
        return
    else:
        battle.parse_message(parts)


# --------------------------------------------------------------------------- re-run


class Rerunner:
    """One Node process re-running battles from their input logs (`finetune/rerun.js`)."""

    def __init__(self, package_dir: Path = PACKAGE_DIR):
        node = shutil.which("node")
        if node is None:
            raise DatasetError("node is needed to re-run battles: install Node.js 20 or newer")
        if not (package_dir / "dist").is_dir():
            raise DatasetError(
                f"the bundled simulator is not installed in {package_dir}: run `npm ci`"
            )
        self.proc = subprocess.Popen(
            [node, str(RERUN_SCRIPT), str(package_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            start_new_session=True,  # its own group: closed by close(), never by name
        )

    def submit(self, battle_id: str, inputlog: str) -> None:
        """Queue a battle; answers come back in order through `receive()`."""
        assert self.proc.stdin is not None
        if self.proc.poll() is not None:
            raise RuntimeError("the re-run process exited")
        self.proc.stdin.write(json.dumps({"id": battle_id, "inputlog": inputlog}) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the re-run process exited")
        return json.loads(line)

    def rerun(self, battle_id: str, inputlog: str) -> dict[str, Any]:
        """Re-run one battle and wait for it."""
        self.submit(battle_id, inputlog)
        return self.receive()

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> Rerunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _choice_move_id(choice: str, request: dict[str, Any]) -> str | None:
    """The request move id a `move ...` choice names (`move 2`, `move thunderbolt`)."""
    words = choice.split()
    if len(words) < 2:
        return None
    moves = ((request.get("active") or [{}])[0]).get("moves") or []
    ids = [re.sub(r"[^a-z0-9]", "", str(m.get("id", "")).lower()) for m in moves]
    if words[1].isdigit():
        index = int(words[1]) - 1
        return ids[index] if 0 <= index < len(ids) else None
    wanted = re.sub(r"[^a-z0-9]", "", words[1].lower())
    if wanted in ids:
        return wanted
    return wanted


def _move_option(options: list[Option], move_id: str | None) -> Option | None:
    """The move option a chosen move id names: `hiddenpower` (the input log's and the
    request's id) is poke-env's `hiddenpowerfire` (typed) option."""
    moves = [o for o in options if o.kind == "move"]
    chosen = next((o for o in moves if o.id == move_id), None)
    if chosen is None and move_id and move_id.startswith("hiddenpower"):
        chosen = next((o for o in moves if o.id.startswith("hiddenpower")), None)
    return chosen


def _choice_switch_species(choice: str, request: dict[str, Any], battle) -> str | None:
    words = choice.split()
    team = (request.get("side") or {}).get("pokemon") or []
    if len(words) < 2 or not words[1].isdigit():
        return None
    index = int(words[1]) - 1
    if not 0 <= index < len(team):
        return None
    mon = battle.get_pokemon(team[index]["ident"], details=team[index].get("details", ""))
    return mon.species


def _rerun_side(
    lines: list[str],
    side: str,
    name: str,
    meta: dict[str, Any],
    switches: bool,
    dropped: Counter[str],
) -> list[Pair]:
    """Feed one side's re-run stream; a pair at every choice marker that qualifies."""
    from battle.finetune_prompt import legal_options, render_prompt

    battle = _new_battle(meta["battle_id"], name, meta["gen"])
    request: dict[str, Any] = {}
    pairs = []
    for line in lines:
        if not line.startswith(">"):
            if line.startswith("|request|") and len(line) > 9:
                request = json.loads(line[9:])
            _feed(battle, line)
            continue
        choice = line[1:].strip()
        kind = choice.split(" ", 1)[0]
        options = legal_options(battle, switches=switches)
        if kind == "move":
            move_id = _choice_move_id(choice, request)
            if move_id in UNCHOSEN_MOVES:
                dropped["forced move (struggle, recharge)"] += 1
                continue
            chosen = _move_option(options, move_id)
        elif kind == "switch":
            if not switches:
                dropped["switch (no --switches)"] += 1
                continue
            species = _choice_switch_species(choice, request, battle)
            chosen = next((o for o in options if o.kind == "switch" and o.id == species), None)
        else:
            dropped[f"choice {kind}"] += 1  # team preview, default, pass, shift
            continue
        if chosen is None:
            dropped["choice not among the options"] += 1
            log.debug("%s %s: %r not among %s", meta["battle_id"], side, choice, options)
            continue
        if len(options) < 2:
            dropped["a single option"] += 1
            continue
        pairs.append(
            Pair(
                prompt=render_prompt(battle, switches=switches),
                completion=chosen.text,
                options=[o.text for o in options],
                battle_id=meta["battle_id"],
                turn=battle.turn,
                side=side,
                format=meta["format"],
                rating=meta["rating"],
            )
        )
    return pairs


def _rerun_check(out: dict[str, Any], lines: list[str]) -> str | None:
    """Why the re-run does not match the replay, or None when it ends as the replay did."""
    if out.get("error"):
        return "re-run failed"
    expected, turns = log_result(lines)
    by_name = {out["names"][s]: s for s in SIDES}
    if not out.get("ended"):
        got = None
    elif out.get("winner"):
        got = by_name.get(out["winner"])
    else:
        got = "tie"
    if expected is None:
        return "replay log has no result"
    if got != expected or int(out.get("turns", -1)) != turns:
        return "re-run ended differently"
    return None


# --------------------------------------------------------------------------- spectator


def _spectator_side(
    lines: list[str], side: str, name: str, meta: dict[str, Any], dropped: Counter[str]
) -> list[Pair]:
    from poke_env.battle.move import Move

    from battle.finetune_prompt import render_move, render_prompt

    battle = _new_battle(meta["battle_id"], name, meta["gen"])
    pending: tuple[int, str, Any] | None = None  # (turn, prompt, active) at turn start
    charging = False  # the side's active is in a charge/lock turn: no choice next turn
    pending_pairs: list[tuple[Pair, Any]] = []  # options are filled in at the end
    for line in lines:
        parts = _split(line)
        kind = parts[1] if len(parts) > 1 else ""
        ours = len(parts) > 2 and parts[2][:2] == side
        if kind == "move" and ours and pending is not None and len(parts) > 3:
            tags = parts[4:]
            move_id = Move.retrieve_id(parts[3])
            _feed(battle, line)
            turn, prompt, active = pending
            pending = None
            if any(t.startswith("[from]") for t in tags):
                dropped["move called by another"] += 1
                continue
            if move_id in UNCHOSEN_MOVES:
                dropped["forced move (struggle, recharge)"] += 1
                continue
            mover = battle.get_pokemon(parts[2])
            if mover is not active or move_id not in active.moves:
                dropped["mover is not the turn's active"] += 1
                continue
            pending_pairs.append(
                (
                    Pair(
                        prompt=prompt,
                        completion=render_move(active.moves[move_id]),
                        options=[],
                        battle_id=meta["battle_id"],
                        turn=turn,
                        side=side,
                        format=meta["format"],
                        rating=meta["rating"],
                    ),
                    active,
                )
            )
            continue
        if ours and kind in {"switch", "drag", "cant", "replace"}:
            pending = None  # switched by choice, dragged out, or could not move
        if ours and kind in {"-prepare", "-mustrecharge"}:
            charging = True
        _feed(battle, line)
        if kind == "turn":
            active = battle.active_pokemon
            if charging:
                dropped["charge or recharge turn"] += 1
                charging, pending = False, None
            elif active is not None and not active.fainted:
                pending = (battle.turn, render_prompt(battle), active)
            else:
                pending = None
    pairs = []
    for pair, mon in pending_pairs:
        # Every move the Pokémon revealed in the whole replay: legal moves are unknown.
        pair.options = [render_move(m) for m in mon.moves.values()]
        if pair.completion not in pair.options:
            pair.options.append(pair.completion)
        pairs.append(pair)
    return pairs


# --------------------------------------------------------------------------- one replay


def process_replay(
    replay: dict[str, Any],
    *,
    sides: str = "winner",
    switches: bool = False,
    rerunner: Rerunner | None = None,
    rerun: Callable[[], dict[str, Any]] | None = None,
) -> ReplayResult:
    """Read one replay's decisions (re-run when it can, else as a spectator).

    The re-run's output comes from `rerun()` when given (a re-run already submitted),
    else from `rerunner`; with neither, the replay is read as a spectator.
    """
    fmt = _format_of(replay)
    battle_id = str(replay.get("id") or "unknown")
    result = ReplayResult(battle_id=battle_id, format=fmt)
    lines = replay["log"].split("\n")
    if any(x in fmt for x in ("doubles", "vgc", "multi", "triples", "ffa")) or any(
        line.startswith("|gametype|") and line.strip() != "|gametype|singles" for line in lines
    ):
        result.skipped = "not a singles format"
        return result
    names = log_players(lines)
    if set(names) != set(SIDES):
        players = replay.get("players") or []
        if len(players) != 2:
            result.skipped = "no player names"
            return result
        names = dict(zip(SIDES, map(str, players), strict=True))
    winner, _ = log_result(lines)
    if sides == "winner":
        if winner not in SIDES:
            result.skipped = "no winner"
            return result
        wanted = [winner]
    else:
        wanted = list(SIDES)
    meta = {
        "battle_id": battle_id,
        "format": fmt,
        "gen": _gen_of(fmt, replay["log"]),
        "rating": _rating(replay),
    }
    inputlog = replay.get("inputlog")
    if rerun is None and inputlog and rerunner is not None:
        rerun = lambda: rerunner.rerun(battle_id, inputlog)  # noqa: E731
    if rerun is not None:
        try:
            out = rerun()
            result.fallback = _rerun_check(out, lines)
            if result.fallback is None:
                for side in wanted:
                    result.pairs += _rerun_side(
                        out[side], side, out["names"][side], meta, switches, result.dropped
                    )
                result.method = "rerun"
                return result
        except Exception as err:  # a replay that breaks the parser is skipped, not fatal
            log.debug("re-run of %s failed: %r", battle_id, err)
            result.fallback = "re-run not parseable"
            result.pairs.clear()
            result.dropped.clear()
    try:
        for side in wanted:
            result.pairs += _spectator_side(lines, side, names[side], meta, result.dropped)
        result.method = "spectator"
    except Exception as err:
        log.debug("spectator parse of %s failed: %r", battle_id, err)
        result.pairs.clear()
        result.skipped = f"parse error ({type(err).__name__})"
    return result


# --------------------------------------------------------------------------- workers

_WORKER: dict[str, Any] = {}


def _worker_init(sides: str, switches: bool) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C
    _WORKER.update(sides=sides, switches=switches, rerunner=Rerunner())


def _read_and_process(paths: list[Path]) -> list[ReplayResult]:
    return list(_process_paths(paths, _WORKER["sides"], _WORKER["switches"], _WORKER["rerunner"]))


def _process_paths(
    paths: Iterable[Path], sides: str, switches: bool, rerunner: Rerunner
) -> Iterator[ReplayResult]:
    """Each replay's result in order. The next replay's re-run is submitted before this
    one is parsed, so the simulator and poke-env work at the same time."""
    pending: deque[tuple[Path, dict[str, Any] | None, bool]] = deque()

    def submit(path: Path) -> None:
        try:
            replay = load_replay(path)
        except (OSError, ValueError) as err:
            log.debug("cannot read %s: %s", path, err)
            pending.append((path, None, False))
            return
        inputlog = replay.get("inputlog")
        if inputlog:
            rerunner.submit(str(replay.get("id") or path.name), str(inputlog))
        pending.append((path, replay, bool(inputlog)))

    def finish() -> ReplayResult:
        path, replay, submitted = pending.popleft()
        # Always take the answer of a submitted re-run, even if it goes unused: the
        # answers come in order.
        out = rerunner.receive() if submitted else None
        if replay is None:
            return ReplayResult(battle_id=path.name, format="unknown", skipped="unreadable file")
        return process_replay(
            replay, sides=sides, switches=switches, rerun=None if out is None else lambda: out
        )

    for path in paths:
        submit(path)
        if len(pending) > 1:
            yield finish()
    while pending:
        yield finish()


def iter_results(
    paths: list[Path], *, sides: str, switches: bool, workers: int = 1
) -> Iterator[ReplayResult]:
    """Each replay's result, in input order; several processes when `workers` > 1."""
    if workers <= 1 or len(paths) < 4 * workers:
        with Rerunner() as rerunner:
            yield from _process_paths(paths, sides, switches, rerunner)
        return
    from concurrent.futures import ProcessPoolExecutor

    chunks = [paths[i : i + 16] for i in range(0, len(paths), 16)]
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_worker_init, initargs=(sides, switches)
    ) as pool:
        for results in pool.map(_read_and_process, chunks):
            yield from results


# --------------------------------------------------------------------------- building


def split_of(battle_id: str, seed: int, val_fraction: float) -> str:
    """ "val" or "train": a hash of the seed and battle id, so a battle never straddles."""
    digest = hashlib.sha256(f"{seed}:{battle_id}".encode()).digest()
    return "val" if int.from_bytes(digest[:8], "big") / 2**64 < val_fraction else "train"


def check_config(config: Config) -> None:
    if not config.replays.is_dir():
        raise DatasetError(f"replay folder {config.replays} does not exist")
    if not 0 <= config.val_fraction < 1:
        raise DatasetError(f"--val-fraction must be in [0, 1), got {config.val_fraction}")
    if config.sides not in {"winner", "both"}:
        raise DatasetError(f"--sides must be winner or both, got {config.sides!r}")
    if config.workers < 1:
        raise DatasetError(f"--workers must be at least 1, got {config.workers}")


def build(config: Config, on_progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Write train.jsonl, val.jsonl and stats.json under `config.out`; return the stats."""
    check_config(config)
    paths = find_replays(config.replays)
    if not paths:
        raise DatasetError(f"no replays (*.json, *.json.gz) found under {config.replays}")
    config.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    counts: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    fallbacks: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    per_format: dict[str, Counter[str]] = {}
    files = {
        name: (config.out / f"{name}.jsonl").open("w", encoding="utf-8")
        for name in ("train", "val")
    }
    try:
        results = iter_results(
            paths, sides=config.sides, switches=config.switches, workers=config.workers
        )
        for done, result in enumerate(results, 1):
            counts["replays_read"] += 1
            fmt_counts = per_format.setdefault(result.format, Counter())
            fmt_counts["replays"] += 1
            dropped.update(result.dropped)
            if result.fallback is not None:
                fallbacks[result.fallback] += 1
            pairs = _filter(result, config.min_rating, skipped)
            if pairs is not None:
                counts[f"parsed_{result.method}"] += 1
                split = split_of(result.battle_id, config.seed, config.val_fraction)
                for pair in pairs:
                    files[split].write(json.dumps(asdict(pair), ensure_ascii=False) + "\n")
                counts[f"pairs_{split}"] += len(pairs)
                counts[f"battles_{split}"] += 1
                fmt_counts["pairs"] += len(pairs)
            if on_progress is not None:
                on_progress(done, len(paths))
    finally:
        for f in files.values():
            f.close()
    elapsed = time.perf_counter() - start
    stats = {
        "replays_found": len(paths),
        "replays_read": counts["replays_read"],
        "parsed_rerun": counts["parsed_rerun"],
        "parsed_spectator": counts["parsed_spectator"],
        "skipped": dict(sorted(skipped.items())),
        "rerun_fallbacks": dict(sorted(fallbacks.items())),
        "decisions_dropped": dict(sorted(dropped.items())),
        "pairs": {"train": counts["pairs_train"], "val": counts["pairs_val"]},
        "battles": {"train": counts["battles_train"], "val": counts["battles_val"]},
        "per_format": {k: dict(v) for k, v in sorted(per_format.items())},
        "config": {
            "sides": config.sides,
            "min_rating": config.min_rating,
            "switches": config.switches,
            "seed": config.seed,
            "val_fraction": config.val_fraction,
        },
        "seconds": round(elapsed, 3),
        "replays_per_second": round(len(paths) / elapsed, 2) if elapsed > 0 else None,
    }
    (config.out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    return stats


def _filter(
    result: ReplayResult, min_rating: int | None, skipped: Counter[str]
) -> list[Pair] | None:
    if result.skipped is not None:
        skipped[result.skipped] += 1
        return None
    if min_rating is not None:
        rating = result.pairs[0].rating if result.pairs else None
        if rating is None or rating < min_rating:
            skipped["below --min-rating (or unrated)"] += 1
            return None
    return result.pairs


# --------------------------------------------------------------------------- CLI


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m finetune.dataset",
        description="Showdown replays to (prompt, completion) JSONL: train.jsonl, val.jsonl, "
        "stats.json.",
    )
    parser.add_argument("--replays", type=Path, required=True, help="folder of replay JSON")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--sides", default="winner", help="winner (default): the winner's decisions; both"
    )
    parser.add_argument("--min-rating", type=int, default=None, help="keep rated replays >= R")
    parser.add_argument("--switches", action="store_true", help="switches are pairs too")
    parser.add_argument("--seed", type=int, default=0, help="seed of the train/val split")
    parser.add_argument("--val-fraction", type=float, default=0.05, help="share of battles in val")
    parser.add_argument(
        "--workers", type=int, default=max(1, os.cpu_count() or 1), help="parallel processes"
    )
    parser.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING, ERROR")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    config = Config(
        replays=args.replays,
        out=args.out,
        sides=args.sides,
        min_rating=args.min_rating,
        switches=args.switches,
        seed=args.seed,
        val_fraction=args.val_fraction,
        workers=args.workers,
    )
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    try:
        check_config(config)
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("replays", total=None)

            def on_progress(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            stats = build(config, on_progress)
    except DatasetError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    console.print(
        f"{stats['replays_read']} replays: {stats['parsed_rerun']} re-run, "
        f"{stats['parsed_spectator']} as a spectator, {sum(stats['skipped'].values())} skipped "
        f"· {stats['pairs']['train']} train / {stats['pairs']['val']} val pairs "
        f"· {stats['seconds']} s ({stats['replays_per_second']} replays/s)"
    )
    console.print(f"wrote {config.out}/train.jsonl, val.jsonl, stats.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

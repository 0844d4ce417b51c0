"""Matches: N battles between two agents, through poke-env players, journaled as they end.

poke-env runs every player on its own event loop thread (`POKE_LOOP`); the two players'
decisions, websockets and the journal all live there. The caller's loop only watches:
it reports progress, notices a dead server and ends battles that ran past their timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poke_env.battle.move import Move
from poke_env.concurrency import POKE_LOOP
from poke_env.data.normalize import to_id_str
from poke_env.player.battle_order import BattleOrder, SingleBattleOrder
from poke_env.player.player import Player
from poke_env.ps_client import AccountConfiguration, ServerConfiguration
from poke_env.teambuilder import ConstantTeambuilder, Teambuilder
from websockets.exceptions import ConnectionClosed

from agents.base import (
    Agent,
    Decision,
    action_name,
    is_legal,
    random_legal_order,
    team_preview_message,
)
from arena.server import AUTH_URL, ServerError, ShowdownServer
from arena.simulator import SimulatorEngine, run_in_poke_loop
from arena.teams import TEAMS_DIR, Team
from arena.trajectories import TrajectoryRecorder
from battle.record import (
    SIDES,
    BattleRecord,
    DecisionRecord,
    Journal,
    RunPaths,
    Side,
    StorageError,
)
from battle.state import move_effectiveness

if TYPE_CHECKING:
    import random

    from poke_env.battle.abstract_battle import AbstractBattle

log = logging.getLogger(__name__)

DEFAULT_BATTLE_TIMEOUT_S = 600.0
DEFAULT_DECISION_TIMEOUT_S = 60.0


def inputlog_path(paths: RunPaths, battle_tag: str) -> Path:
    """`runs/<run>/replays/<tag>.inputlog`: the simulator's input log of a battle, next to
    its replay (`>start` with the seed, `>player`s, every choice): it re-runs the battle."""
    return paths.replay_dir / f"{battle_tag}.inputlog"


class FormatError(ValueError):
    """A battle format the arena cannot play (yet)."""


def check_format(battle_format: str) -> None:
    """The arena plays singles formats: random battles, or tiers with teams (arena.teams)."""
    fmt = battle_format.lower()
    if not re.fullmatch(r"gen[1-9][a-z0-9]+", fmt):
        raise FormatError(
            f"{battle_format!r} is not a Showdown format id: use e.g. gen9randombattle"
        )
    if "doubles" in fmt or "vgc" in fmt or "multi" in fmt or "triples" in fmt:
        raise FormatError(
            f"{battle_format!r} is not a singles format: the arena plays singles only, "
            "e.g. gen9randombattle"
        )


def showdown_username(agent_name: str, side: Side, tag: str) -> str:
    """A Showdown username, unique per run session and at most 18 characters."""
    base = re.sub(r"[^a-z0-9]", "", agent_name.lower())[:9] or "agent"
    return f"{base} {side} {tag}"


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


def _set_keys(species: str, item: str | None, moves: Iterable[str]) -> set[str]:
    """What identifies a set among a side's teams: its species, item and moves (as ids)."""
    keys = {f"species:{to_id_str(species)}"}
    if item:
        keys.add(f"{to_id_str(species)}@{to_id_str(item)}")
    keys.update(f"{to_id_str(species)}:{_move_key(move)}" for move in moves)
    return keys


def _move_key(move: str) -> str:
    # Requests name Hidden Power with its type and power ("hiddenpowerfire60"), team
    # files with its type only ("Hidden Power [Fire]"): compare the type.
    return re.sub(r"^(hiddenpower[a-z]*?)\d*$", r"\1", to_id_str(move))


def _team_keys(builder: ConstantTeambuilder) -> set[str]:
    keys: set[str] = set()
    for mon in builder.team:
        keys |= _set_keys(mon.species or mon.nickname or "", mon.item, mon.moves or ())
    return keys


def _battle_keys(battle: AbstractBattle) -> set[str]:
    keys: set[str] = set()
    for mon in battle.team.values():
        item = mon.item if mon.item not in (None, "", "unknown_item") else None
        keys |= _set_keys(mon.species, item, mon.moves)
    return keys


class PlanTeambuilder(Teambuilder):
    """A side's teams for the server engine: the k-th team asked for is the side's team of
    the k-th battle of the plan (poke-env asks once per challenge sent or accepted).

    Battles start concurrently, so which battle got which team is read back from the
    battle itself: the player's own sets (species, items and moves, from Showdown's
    requests) name the team among the side's candidates (`identify`)."""

    def __init__(self, teams: list[Team]):
        self.teams = teams
        self._builders = {id(t): ConstantTeambuilder(t.text) for t in teams}
        self._keys = {id(t): _team_keys(self._builders[id(t)]) for t in teams}
        self._next = 0

    def yield_team(self) -> str:
        team = self.teams[self._next % len(self.teams)]
        self._next += 1
        return self._builders[id(team)].yield_team()

    def identify(self, battle: AbstractBattle) -> str | None:
        """The name of the candidate whose sets match the battle's own team best."""
        own = _battle_keys(battle)
        if not own:
            return None
        candidates = list(dict.fromkeys(self.teams))
        scores = [len(own & self._keys[id(t)]) for t in candidates]
        best = max(scores)
        found = [t for t, score in zip(candidates, scores, strict=True) if score == best]
        if len({team_name(t) for t in found}) > 1:
            log.warning(
                "%s: teams %s have the same sets; recording the first",
                battle.battle_tag, ", ".join(team_name(t) for t in found),
            )  # fmt: skip
        return team_name(found[0])


@dataclass
class MatchConfig:
    n: int
    battle_format: str = "gen9randombattle"
    concurrency: int = 4
    move_delay: float = 0.0
    battle_timeout_s: float = DEFAULT_BATTLE_TIMEOUT_S
    decision_timeout_s: float = DEFAULT_DECISION_TIMEOUT_S
    session: int = 0
    trajectories_dir: Path | None = None  # --save-trajectories: Metamon files go here


@dataclass
class MatchProgress:
    """A snapshot for the caller's progress display (read on the caller's thread)."""

    done: int
    total: int
    wins: dict[str, int]
    draws: int
    errors: int
    live: list[str]  # battle tags being played
    # Tournaments: per pair (a, b) in the order of the agent list, [a wins, b wins, draws,
    # errors]; empty for a match.
    pairs: dict[tuple[str, str], list[int]] = field(default_factory=dict)


@dataclass
class _LiveBattle:
    started: float
    decisions: list[DecisionRecord] = field(default_factory=list)


class Recorder:
    """Collects decisions per battle and journals each battle the moment it ends.

    All methods run on poke-env's loop thread; the caller's thread only reads counters.
    """

    def __init__(self, journal: Journal, paths: RunPaths, session: int):
        self.journal = journal
        self.paths = paths
        self.session = session
        self.live: dict[str, _LiveBattle] = {}
        # tag -> the battle's error (None: a result): all a finished battle leaves here, so a
        # run's memory stays flat however many battles it plays (the records are journaled)
        self.finished: dict[str, str | None] = {}
        self.wins: dict[str, int] = defaultdict(int)
        self.draws = 0
        self.errors = 0
        self.pairs: dict[tuple[str, str], list[int]] = {}
        # Team formats: the team (as records name it) each side plays, per battle tag.
        self.teams: dict[str, dict[Side, str]] = defaultdict(dict)
        # A battle that could not be kept (disk full): the run stops with this error.
        self.storage_error: StorageError | None = None

    def note_team(self, battle_tag: str, side: Side, name: str | None) -> None:
        if name is not None and battle_tag not in self.finished:
            self.teams[battle_tag].setdefault(side, name)

    def seen(self, battle_tag: str) -> _LiveBattle:
        """The live entry of a battle, created when the battle is first seen."""
        if battle_tag in self.finished:
            return _LiveBattle(started=time.monotonic())  # a late message: not tracked
        if battle_tag not in self.live:
            self.live[battle_tag] = _LiveBattle(started=time.monotonic())
        return self.live[battle_tag]

    def add_decision(self, record: DecisionRecord) -> None:
        self.seen(record.battle_tag).decisions.append(record)

    def finish(
        self,
        battle: AbstractBattle,
        error: str | None = None,
        names: dict[Side, str] | None = None,
    ) -> None:
        """Journal a battle from p1's view: its result, decisions and protocol log;
        `names` (tournaments) are the agents on each side, recorded with the battle."""
        tag = battle.battle_tag
        if tag in self.finished or self.storage_error is not None:
            return
        live = self.live.pop(tag, None) or _LiveBattle(started=time.monotonic())
        teams = self.teams.pop(tag, {})
        winner = None
        if error is None:
            winner = "p1" if battle.won else "p2" if battle.lost else "draw"
        replay = self.paths.replay_path(tag)
        try:
            replay.parent.mkdir(parents=True, exist_ok=True)
            replay.write_text(battle._build_replay_log() + "\n", encoding="utf-8")
        except OSError as exc:
            replay.unlink(missing_ok=True)
            message = f"could not write the replay {replay}: {exc.strerror or exc}"
            self.storage_error = StorageError(exc.errno, message)
            return
        record = BattleRecord(
            battle_tag=tag,
            winner=winner,
            turns=battle.turn,
            duration_s=round(time.monotonic() - live.started, 3),
            replay=str(replay.relative_to(self.paths.output_dir)),
            error=error,
            finished_at=time.time(),
            session=self.session,
            p1_agent=None if names is None else names["p1"],
            p2_agent=None if names is None else names["p2"],
            p1_team=teams.get("p1"),
            p2_team=teams.get("p2"),
        )
        try:
            decisions = sorted(live.decisions, key=lambda d: (d.turn, d.side))
            self.journal.write_battle(record, decisions)
        except StorageError as exc:  # the journal still ends on its last whole battle
            self.storage_error = exc
            return
        self.finished[tag] = error
        if winner == "draw":
            self.draws += 1
        elif winner is None:
            self.errors += 1
        else:
            self.wins[winner] += 1
        if names is not None:
            self._count_pair(names, winner)
        log.debug("battle %s finished: winner %s in %d turns", tag, winner, battle.turn)

    def _count_pair(self, names: dict[Side, str], winner: str | None) -> None:
        key = next((k for k in self.pairs if set(k) == {names["p1"], names["p2"]}), None)
        if key is None:
            key = (names["p1"], names["p2"])
            self.pairs[key] = [0, 0, 0, 0]
        if winner is None:
            self.pairs[key][3] += 1
        elif winner == "draw":
            self.pairs[key][2] += 1
        else:
            self.pairs[key][0 if names[winner] == key[0] else 1] += 1  # type: ignore[index]

    def progress(self, total: int) -> MatchProgress:
        return MatchProgress(
            done=len(self.finished),
            total=total,
            wins=dict(self.wins),
            draws=self.draws,
            errors=self.errors,
            live=list(self.live),
            pairs={k: list(v) for k, v in self.pairs.items()},
        )


FORGET_AFTER_S = 60.0  # a finished battle's object is dropped this long after it ended


class ArenaPlayer(Player):
    """A poke-env player that asks an agent, checks legality, and records every decision.

    With a `teacher` (`--teacher`, saved trajectories only), that agent is also asked at
    every decision, on the same battle, after the player's own agent has decided: its
    choice labels the trajectory's step and goes nowhere else (not sent, not recorded as
    a decision, not timed).
    """

    def __init__(
        self,
        agent: Agent,
        side: Side,
        recorder: Recorder,
        rng: random.Random,
        config: MatchConfig,
        names: dict[Side, str] | None = None,
        teacher: Agent | None = None,
        **kwargs,
    ):
        self.agent = agent
        self.side = side
        self.names = names  # tournaments: the agents (as given) on both sides
        self.recorder = recorder
        self.rng = rng
        self.move_delay = config.move_delay
        self.decision_timeout_s = config.decision_timeout_s
        self.trajectories = (
            None
            if config.trajectories_dir is None
            else TrajectoryRecorder(config.trajectories_dir, labelled=teacher is not None)
        )
        self.teacher = teacher if self.trajectories is not None else None
        # Server engine, tournaments: the team of the one battle this player's lane plays.
        self.current_team: Team | None = None
        self._finished_at: dict[str, float] = {}  # recorded battles, until forgotten
        super().__init__(**kwargs)
        _route_player_logger(self.logger)

    def play_team(self, team: Team) -> None:
        """Bring `team` to the next battle (a lane plays one battle at a time)."""
        self.current_team = team
        self.update_team(team.text)

    def _note_team(self, battle: AbstractBattle) -> None:
        """Server engine, team formats: record which of the side's teams this battle got."""
        if self.side in self.recorder.teams.get(battle.battle_tag, {}):
            return
        builder = self._team
        if isinstance(builder, PlanTeambuilder):
            self.recorder.note_team(battle.battle_tag, self.side, builder.identify(battle))
        elif self.current_team is not None:
            self.recorder.note_team(battle.battle_tag, self.side, team_name(self.current_team))

    def teampreview(self, battle: AbstractBattle) -> str | Awaitable[str]:
        """The agent's team order (its `team_order` hook), else the team as written."""
        self._note_team(battle)
        return team_preview_message(self.agent, battle)

    async def choose_move(self, battle: AbstractBattle) -> BattleOrder:
        self.recorder.seen(battle.battle_tag)
        self._note_team(battle)
        if self.move_delay > 0:
            await asyncio.sleep(self.move_delay)  # for spectators; never blocks the loop
        start = time.perf_counter()
        decision = await self._decide(battle)
        latency_ms = (time.perf_counter() - start) * 1000
        if not is_legal(decision.order, battle):
            log.warning(
                "%s (%s) chose an illegal action %r in %s; playing a random legal one",
                self.agent.name, self.side, decision.order.message, battle.battle_tag,
            )  # fmt: skip
            decision = Decision(
                order=random_legal_order(battle, self.rng),
                fallback=True,
                fallback_reason="illegal_action",
                reasoning=decision.reasoning,
                tokens=decision.tokens,
                candidates=decision.candidates,
            )
        self.recorder.add_decision(
            DecisionRecord(
                battle_tag=battle.battle_tag,
                turn=battle.turn,
                side=self.side,
                action=action_name(decision.order),
                latency_ms=round(latency_ms, 3),
                fallback=decision.fallback,
                fallback_reason=decision.fallback_reason,
                reasoning=decision.reasoning,
                tokens=decision.tokens,
                effectiveness=_effectiveness(decision.order, battle),
                candidates=decision.candidates,
            )
        )
        if self.trajectories is not None:
            label = None if self.teacher is None else await self._teach(self.teacher, battle)
            self.trajectories.record(battle, decision.order, label)  # never raises
        return decision.order

    async def _teach(self, teacher: Agent, battle: AbstractBattle) -> BattleOrder | None:
        """The teacher's legal order for this decision, asked like the player's agent
        (`_decide`); None, with a warning, when it fails, times out, falls back or
        chooses an illegal order (the step's label is then -1). Never raises."""
        where = f"teacher {teacher.name} ({self.side}) in {battle.battle_tag}"
        try:
            decision = await asyncio.wait_for(teacher.decide(battle), self.decision_timeout_s)
        except TimeoutError:
            log.warning("%s took over %gs; labelling the step -1", where, self.decision_timeout_s)
            return None
        except Exception as exc:
            log.warning("%s failed (%s: %s); labelling the step -1", where, type(exc).__name__, exc)
            log.debug("%s failed", where, exc_info=True)
            return None
        order = getattr(decision, "order", None)
        if not isinstance(order, BattleOrder) or not is_legal(order, battle):
            shown = order.message if isinstance(order, BattleOrder) else repr(order)
            log.warning("%s chose an illegal action %s; labelling the step -1", where, shown)
            return None
        if decision.fallback:
            log.warning("%s fell back (%s); labelling the step -1", where, decision.fallback_reason)
            return None
        return order

    async def _decide(self, battle: AbstractBattle) -> Decision:
        """The agent's decision within the deadline; a random legal one if it fails."""
        try:
            return await asyncio.wait_for(self.agent.decide(battle), self.decision_timeout_s)
        except TimeoutError:
            reason = "timeout"
        except Exception:
            log.exception(
                "agent %s (%s) failed in %s", self.agent.name, self.side, battle.battle_tag
            )
            reason = "agent_error"
        return Decision(
            order=random_legal_order(battle, self.rng), fallback=True, fallback_reason=reason
        )

    def _battle_finished_callback(self, battle: AbstractBattle) -> None:
        self._note_team(battle)
        if self.side == "p1":
            self.recorder.finish(battle, names=self.names)
        if self.trajectories is not None:
            # Each side writes its own view; a battle the run records as an error
            # (timed out, forfeited by the arena) is no trajectory to learn from.
            if self.recorder.finished.get(battle.battle_tag) is not None:  # an error
                self.trajectories.discard(battle.battle_tag)
            else:
                self.trajectories.finish(battle)  # never raises
        self._release(battle)

    def _release(self, battle: AbstractBattle) -> None:
        """Let a recorded battle leave memory. poke-env keeps every battle object it has
        seen (~0.3 MB each with its protocol log, requests and teams), so a long run would
        grow without bound: the bulky parts go now, and the object itself once it has been
        finished for a while (a late message for a battle poke-env no longer knows would
        wait for it forever)."""
        battle._replay_data = []
        battle._last_request = {}
        battle._team, battle._opponent_team = {}, {}
        battle._teampreview_team, battle._teampreview_opponent_team = [], []
        now = time.monotonic()
        self._finished_at[battle.battle_tag] = now
        for tag, at in list(self._finished_at.items()):  # oldest first
            if now - at < FORGET_AFTER_S:
                break
            del self._finished_at[tag]
            self._battles.pop(tag, None)
            locks = getattr(self.ps_client, "_battle_locks", None)
            if locks is not None:
                locks.pop(tag, None)


class _DisconnectFilter(logging.Filter):
    """A closed websocket is reported by the arena as one line; drop poke-env's traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (ConnectionClosed, OSError)):
            record.exc_info = None
            record.msg, record.args = "websocket closed: %s", (exc,)
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


_DISCONNECT_FILTER = _DisconnectFilter()


def _route_player_logger(logger: logging.Logger) -> None:
    """poke-env gives each player a logger with its own stream handler; send it to ours."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    logger.propagate = True
    logger.addFilter(_DISCONNECT_FILTER)
    # Its message tasks that die on a closed socket are reported by asyncio, too.
    asyncio_logger = logging.getLogger("asyncio")
    if _DISCONNECT_FILTER not in asyncio_logger.filters:
        asyncio_logger.addFilter(_DISCONNECT_FILTER)


def _effectiveness(order: BattleOrder, battle: AbstractBattle) -> float | None:
    """The chosen move's type multiplier on the opponent's active, as prompts show it."""
    opponent = battle.opponent_active_pokemon
    if isinstance(order, SingleBattleOrder) and opponent is not None:
        move = order.order
        if isinstance(move, Move):
            return move_effectiveness(move, move.type, opponent)
    return None


class ServerEngine:
    """Battles on a Showdown server, through poke-env's websocket players."""

    def __init__(self, server: ShowdownServer):
        self.server = server
        self.description = server.url

    def player_kwargs(self, concurrency: int) -> dict:
        return {
            "server_configuration": ServerConfiguration(self.server.url, AUTH_URL),
            "max_concurrent_battles": concurrency,
        }

    def attach(self, side: Side, player: ArenaPlayer) -> None:
        pass

    def keep_inputlogs(self, paths: RunPaths) -> None:
        pass  # the server keeps the input log to itself

    async def start(self) -> None:
        pass

    async def run(
        self,
        players: dict[Side, ArenaPlayer],
        config: MatchConfig,
        team_plan: TeamPlan | None = None,
    ) -> None:
        """Play `config.n` battles; the players' teambuilders (see `Match`) bring the teams."""
        with self._server_gone():
            await players["p1"].battle_against(players["p2"], n_battles=config.n)

    @contextlib.contextmanager
    def _server_gone(self) -> Iterator[None]:
        """A websocket that closes under poke-env (e.g. while it sends a challenge) means
        the server went away: the run's one-line ServerError, not a traceback."""
        try:
            yield
        except (ConnectionClosed, OSError) as exc:
            raise ServerError(
                f"the Showdown server at {self.server.url} stopped answering during the run"
            ) from exc

    async def run_schedule(
        self,
        order: list[Pairing],
        lane_for: Callable[[Pairing], Lane],
        config: MatchConfig,
        team_plan: TeamPlan | None = None,
    ) -> None:
        """Play one battle per entry of `order`, started in that order, at most
        `config.concurrency` at once over all pairs. A lane (two logged-in players) plays
        one battle at a time, with the teams `team_plan` gives that battle; lanes are
        opened as the pairs' battles need them."""
        slots = asyncio.Semaphore(config.concurrency)
        idle: dict[Pairing, list[Lane]] = defaultdict(list)
        tasks: list[asyncio.Future[None]] = []

        async def one(i: int, pairing: Pairing) -> None:
            lane = idle[pairing].pop() if idle[pairing] else lane_for(pairing)
            if team_plan is not None:
                for side, player in lane.players.items():
                    player.play_team(team_plan[i][side])
            try:
                with self._server_gone():
                    await lane.players["p1"].battle_against(lane.players["p2"], n_battles=1)
            finally:
                idle[pairing].append(lane)
                slots.release()

        try:
            for i, pairing in enumerate(order):
                await slots.acquire()
                tasks.append(asyncio.ensure_future(one(i, pairing)))
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    def check(self, players: dict[Side, ArenaPlayer]) -> None:
        """A server we started has exited, or a player's websocket has closed."""
        owned_died = self.server.owned and not self.server.alive()
        listeners = [p.ps_client._listening_coroutine for p in players.values()]
        if owned_died or any(f is not None and f.done() for f in listeners):
            raise ServerError(
                f"the Showdown server at {self.server.url} stopped answering during the run"
            )

    async def close(self, players: dict[Side, ArenaPlayer]) -> None:
        for player in players.values():
            try:
                await asyncio.wait_for(player.ps_client.stop_listening(), timeout=5)
            except Exception:  # the server may already be gone
                log.debug("could not close %s's websocket cleanly", player.username)


class DirectEngine:
    """Battles in Showdown's simulator processes, without a server (arena.simulator)."""

    def __init__(self, processes: int | None = None):
        self.pool = SimulatorEngine(processes)
        self.description = self.pool.description

    def player_kwargs(self, concurrency: int) -> dict:
        # The pool decides how many battles run at once; poke-env must not hold any back.
        return {"start_listening": False, "max_concurrent_battles": 0}

    def attach(self, side: Side, player: ArenaPlayer) -> None:
        self.pool.attach(side, player)

    def keep_inputlogs(self, paths: RunPaths) -> None:
        """Write each battle's input log next to its replay: `<tag>.inputlog`."""

        def write(tag: str, text: str) -> None:
            path = inputlog_path(paths, tag)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text + "\n", encoding="utf-8")

        self.pool.on_inputlog = write

    async def start(self) -> None:
        await run_in_poke_loop(self.pool.start())

    async def run(
        self,
        players: dict[Side, ArenaPlayer],
        config: MatchConfig,
        team_plan: TeamPlan | None = None,
    ) -> None:
        """Play `config.n` battles; battle i gets the teams `team_plan[i]` (team formats),
        sent packed in its `>player` lines, and recorded under its tag."""
        base = f"battle-{config.battle_format}-{secrets.token_hex(3)}"
        tags = [f"{base}{i}" for i in range(config.n)]
        if team_plan is not None:
            self._give_teams(tags, team_plan, players["p1"].recorder)
        await run_in_poke_loop(self.pool.play(tags, config.battle_format, config.concurrency))

    def _give_teams(self, tags: list[str], team_plan: TeamPlan, recorder: Recorder) -> None:
        """Battle `tags[i]` gets the teams `team_plan[i]`, packed into its `>player` lines."""
        for tag, teams in zip(tags, team_plan, strict=True):
            self.pool.teams[tag] = {side: packed(team) for side, team in teams.items()}
            for side, team in teams.items():
                recorder.note_team(tag, side, team_name(team))

    async def run_schedule(
        self,
        order: list[Pairing],
        lane_for: Callable[[Pairing], Lane],
        config: MatchConfig,
        team_plan: TeamPlan | None = None,
    ) -> None:
        """Play one battle per entry of `order`, started in that order, at most
        `config.concurrency` at once over all pairs (one lane per pairing: the simulator
        plays many battles of the same two players at once); battle i gets the teams
        `team_plan[i]`."""
        lanes = {pairing: lane_for(pairing) for pairing in dict.fromkeys(order)}
        base = f"battle-{config.battle_format}-{secrets.token_hex(3)}"
        players = {f"{base}{i}": lanes[pairing].players for i, pairing in enumerate(order)}
        if team_plan is not None:
            recorder = next(iter(lanes.values())).players["p1"].recorder
            self._give_teams(list(players), team_plan, recorder)
        await run_in_poke_loop(
            self.pool.play(list(players), config.battle_format, config.concurrency, players)
        )

    def check(self, players: dict[Side, ArenaPlayer]) -> None:
        if not self.pool.alive():
            raise ServerError("a Showdown simulator process exited during the run")

    async def close(self, players: dict[Side, ArenaPlayer]) -> None:
        await run_in_poke_loop(self.pool.close())


Engine = ServerEngine | DirectEngine

# --- tournaments ---------------------------------------------------------------------------

Pairing = tuple[str, str]  # (agent on p1, agent on p2), agents as given


@dataclass
class Lane:
    """Two players, one per side, for one pairing; the server engine opens several."""

    pairing: Pairing
    players: dict[Side, ArenaPlayer]


def schedule(
    agent_names: list[str], n: int, done: dict[Pairing, int] | None = None
) -> list[Pairing]:
    """The battles a round robin still has to play, in the order they should start.

    Every pair (a, b), a listed before b, gets `n` battles: a is p1 in ceil(n/2) of them
    and b in the rest. `done` counts the battles already played per pairing (a resume).
    Each pair's battles alternate sides, and the pairs take turns, so every pair makes
    progress from the start instead of one pair after another.
    """
    done = done or {}
    queues: list[list[Pairing]] = []
    for i, a in enumerate(agent_names):
        for b in agent_names[i + 1 :]:
            left = {
                (a, b): max(0, (n + 1) // 2 - done.get((a, b), 0)),
                (b, a): max(0, n // 2 - done.get((b, a), 0)),
            }
            queue: list[Pairing] = []
            while any(left.values()):
                for pairing in ((a, b), (b, a)):
                    if left[pairing]:
                        queue.append(pairing)
                        left[pairing] -= 1
            queues.append(queue)
    order: list[Pairing] = []
    for k in range(max((len(q) for q in queues), default=0)):
        order.extend(q[k] for q in queues if k < len(q))
    return order


class Tournament:
    """Plays a round robin's battles (`order`, from `schedule`) on one engine, all pairs
    sharing `config.concurrency` battle slots, journaling each battle with its agents.

    Each agent is built once and plays in every lane it is part of; agents keep their
    per-battle state by battle tag.
    """

    def __init__(
        self,
        agents: dict[str, Agent],
        rngs: dict[str, random.Random],
        order: list[Pairing],
        pairs: list[Pairing],
        config: MatchConfig,
        engine: Engine,
        journal: Journal,
        paths: RunPaths,
        team_plan: TeamPlan | None = None,
        teachers: dict[Side, Agent] | None = None,
    ):
        self.agents = agents
        self.rngs = rngs
        self.teachers = teachers  # --teacher: one per side, shared by every lane
        self.order = order
        self.team_plan = team_plan  # team formats: the teams of each battle of `order`
        self.config = config
        self.engine = engine
        self.recorder = Recorder(journal, paths, config.session)
        self.recorder.pairs = {pair: [0, 0, 0, 0] for pair in pairs}
        self.lanes: list[Lane] = []
        self._tag = secrets.token_hex(1)
        engine.keep_inputlogs(paths)

    def _open_lane(self, pairing: Pairing) -> Lane:
        names: dict[Side, str] = {"p1": pairing[0], "p2": pairing[1]}
        tag = f"{self._tag}{len(self.lanes):02x}"
        players = _players(
            {side: self.agents[names[side]] for side in SIDES},
            {side: self.rngs[names[side]] for side in SIDES},
            {side: showdown_username(names[side], side, tag) for side in SIDES},
            self.recorder,
            self.config,
            self.engine,
            concurrency=1,
            names=names,
            teachers=self.teachers,
        )
        lane = Lane(pairing, players)
        self.lanes.append(lane)
        log.debug("opened lane %s: %s vs %s", tag, *pairing)
        return lane

    def _all_players(self) -> dict[str, ArenaPlayer]:
        return {p.username: p for lane in self.lanes for p in lane.players.values()}

    async def play(
        self,
        on_progress: Callable[[MatchProgress], None] | None = None,
        poll_s: float = 0.25,
    ) -> MatchProgress:
        """Play every scheduled battle; raise ServerError if the engine dies."""

        def watch() -> None:
            self.engine.check(self._all_players())  # type: ignore[arg-type]
            for lane in list(self.lanes):
                _end_overdue_battles(lane.players["p1"], self.recorder, self.config)

        return await _drive(
            self.engine,
            lambda: self.engine.run_schedule(
                self.order, self._open_lane, self.config, self.team_plan
            ),
            watch,
            self._all_players,
            self.recorder,
            len(self.order),
            on_progress,
            poll_s,
        )


async def _drive(
    engine: Engine,
    start: Callable[[], Awaitable[None]],
    watch: Callable[[], None],
    players: Callable[[], dict[Any, ArenaPlayer]],
    recorder: Recorder,
    total: int,
    on_progress: Callable[[MatchProgress], None] | None,
    poll_s: float,
) -> MatchProgress:
    """Run `start()`'s battles on `engine`, reporting progress and calling `watch()` (engine
    health, overdue battles) every `poll_s` until they end; the engine is always closed.
    A battle that could not be journaled (disk full) stops the run with its StorageError:
    the battles after it could not be kept either."""
    battles: asyncio.Future[None] | None = None
    try:
        await engine.start()
        battles = asyncio.ensure_future(start())
        while not battles.done():
            await asyncio.wait({battles}, timeout=poll_s)
            if on_progress is not None:
                on_progress(recorder.progress(total))
            if recorder.storage_error is not None:
                raise recorder.storage_error
            if not battles.done():
                watch()
        if recorder.storage_error is not None:
            raise recorder.storage_error
        battles.result()
    finally:
        if battles is not None and not battles.done():
            battles.cancel()
        await engine.close(players())
    progress = recorder.progress(total)
    if on_progress is not None:
        on_progress(progress)
    return progress


def _end_overdue_battles(p1: ArenaPlayer, recorder: Recorder, config: MatchConfig) -> None:
    """Record `p1`'s battles past their timeout as errors and end them (a forfeit)."""
    now = time.monotonic()
    for tag, battle in list(p1.battles.items()):
        live = recorder.live.get(tag)
        if battle.finished or live is None or tag in recorder.finished:
            continue
        playing = now - live.started - config.move_delay * battle.turn
        if playing > config.battle_timeout_s:
            log.warning("battle %s passed its %.0fs timeout", tag, config.battle_timeout_s)
            message = f"timed out after {config.battle_timeout_s:.0f}s"
            POKE_LOOP.call_soon_threadsafe(recorder.finish, battle, message, p1.names)
            asyncio.run_coroutine_threadsafe(p1.ps_client.send_message("/forfeit", tag), POKE_LOOP)


def _players(
    agents: dict[Side, Agent],
    rngs: dict[Side, random.Random],
    usernames: dict[Side, str],
    recorder: Recorder,
    config: MatchConfig,
    engine: Engine,
    concurrency: int,
    names: dict[Side, str] | None = None,
    teams: dict[Side, Teambuilder] | None = None,
    teachers: dict[Side, Agent] | None = None,
) -> dict[Side, ArenaPlayer]:
    """Both sides' players for a match or a tournament lane, attached to `engine`;
    `teachers` (`--teacher`) label each side's trajectories."""
    quiet = logging.getLogger().getEffectiveLevel() > logging.DEBUG
    players = {
        side: ArenaPlayer(
            agents[side],
            side,
            recorder,
            rngs[side],
            config,
            names=names,
            teacher=None if teachers is None else teachers[side],
            account_configuration=AccountConfiguration(usernames[side], None),
            battle_format=config.battle_format,
            log_level=logging.WARNING if quiet else logging.DEBUG,
            **engine.player_kwargs(concurrency),
            **({} if teams is None else {"team": teams[side]}),
        )
        for side in SIDES
    }
    for side, player in players.items():
        engine.attach(side, player)
    return players


class Match:
    """Plays `config.n` battles between two agents on an engine, journaling each one."""

    def __init__(
        self,
        agents: dict[Side, Agent],
        rngs: dict[Side, random.Random],
        config: MatchConfig,
        engine: Engine,
        journal: Journal,
        paths: RunPaths,
        team_plan: TeamPlan | None = None,
        teachers: dict[Side, Agent] | None = None,
    ):
        self.config = config
        self.engine = engine
        self.team_plan = team_plan
        self.recorder = Recorder(journal, paths, config.session)
        tag = secrets.token_hex(2)
        # Team formats, server engine: each side's teambuilder hands out its plan's teams.
        builders = None
        if team_plan is not None and isinstance(engine, ServerEngine):
            builders = {side: PlanTeambuilder([t[side] for t in team_plan]) for side in SIDES}
        if config.move_delay > 0:
            config.concurrency = 1
        self.players = _players(
            agents,
            rngs,
            {side: showdown_username(agents[side].name, side, tag) for side in SIDES},
            self.recorder,
            config,
            engine,
            concurrency=config.concurrency,
            teams=builders,
            teachers=teachers,
        )
        engine.keep_inputlogs(paths)

    @property
    def usernames(self) -> dict[Side, str]:
        return {side: p.username for side, p in self.players.items()}

    async def play(
        self,
        on_progress: Callable[[MatchProgress], None] | None = None,
        poll_s: float = 0.25,
    ) -> MatchProgress:
        """Play every battle; raise ServerError if the engine dies (finished ones are kept)."""

        def watch() -> None:
            self.engine.check(self.players)
            self._end_overdue_battles()

        return await _drive(
            self.engine,
            lambda: self.engine.run(self.players, self.config, self.team_plan),
            watch,
            lambda: self.players,
            self.recorder,
            self.config.n,
            on_progress,
            poll_s,
        )

    def _end_overdue_battles(self) -> None:
        _end_overdue_battles(self.players["p1"], self.recorder, self.config)

"""The arena's players' trajectory recorders (`main.py --save-trajectories DIR`): a step
per decision, one file when a battle ends (`battle.trajectory`); with `--teacher AGENT` a
step's action is the teacher's choice (see `battle.metamon`, "Arena extensions"); with
`--trajectory-format metamon` the files follow Metamon's own conventions
(`battle.metamon_convention`). The checks of these options, before a run starts, are here
too (`trajectory_folder`, `check_teacher`, `check_trajectory_format`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import agents
from battle.metamon import metamon_state, opponent_name
from battle.metamon_actions import NO_ACTION, action_index
from battle.metamon_convention import FirstNames, metamon_battle_step
from battle.record import AgentSpec, RunSpec
from battle.trajectory import (
    FILE_FORMATS,
    LZ4_FORMAT,
    METAMON_FORMAT,
    TrajectoryFile,
    write_trajectory,
)

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle
    from poke_env.player.battle_order import BattleOrder

log = logging.getLogger(__name__)


@dataclass
class _Trajectory:
    states: list[dict[str, Any]] = field(default_factory=list)
    actions: list[int] = field(default_factory=list)
    played: list[int] = field(default_factory=list)  # labelled recorders only
    last_rqid: Any = None
    broken: bool = False
    names: FirstNames = field(default_factory=FirstNames)  # metamon files: first names


# --------------------------------------------------------------------------- options


def trajectory_folder(folder: Path | str | None) -> str | None:
    """`--save-trajectories DIR` as the spec stores it (None: off); never a file."""
    if folder is None:
        return None
    if Path(folder).exists() and not Path(folder).is_dir():
        raise ValueError(f"--save-trajectories {folder} is a file: pass a folder")
    return str(folder)


def check_teacher(name: str | None, trajectories: str | None) -> AgentSpec | None:
    """`--teacher`: a registry name (checked like `--p1`), only with saved trajectories."""
    if name is None:
        return None
    if trajectories is None:
        raise ValueError("--teacher labels the saved trajectories: add --save-trajectories DIR")
    parsed = agents.preflight(name)
    return AgentSpec(given=parsed.given, resolved=parsed.given)


def check_trajectory_format(
    given: str | None, trajectories: str | None, resumed: RunSpec | None = None
) -> str | None:
    """`--trajectory-format` as the spec stores it: None for the default (lz4, so records
    without the option are unchanged), else the format; only with saved trajectories. A
    `resumed` run that saved trajectories keeps its own format (another one is an error)."""
    if given is not None and given not in FILE_FORMATS:
        raise ValueError(f"--trajectory-format must be one of {', '.join(FILE_FORMATS)}")
    if given is not None and trajectories is None:
        raise ValueError(
            "--trajectory-format says how the trajectories are saved: add --save-trajectories DIR"
        )
    if resumed is not None and resumed.save_trajectories is not None:
        kept = resumed.trajectory_format or LZ4_FORMAT
        if given is not None and given != kept:
            raise ValueError(
                f"--resume keeps the run's trajectory format ({kept}): "
                "leave out --trajectory-format"
            )
        return resumed.trajectory_format
    return None if given in (None, LZ4_FORMAT) else given


# --------------------------------------------------------------------------- recorder

# (battle tag, file name parts, states, actions, played actions or None)
TrajectorySink = Callable[[str, TrajectoryFile, list, list[int], list[int] | None], None]


class TrajectoryRecorder:
    """One player's trajectories: a step per decision, a file when a battle ends.

    Used by the arena's players (all on poke-env's loop thread). Never raises: a state
    that cannot be built or a file that cannot be written is a logged warning, and that
    battle's trajectory is dropped rather than written with a gap.

    A `labelled` recorder (`main.py --teacher AGENT`) writes a teacher's choices as the
    actions and the orders played as `played_actions` (see "Arena extensions").
    `file_format` "metamon" (`--trajectory-format`) writes plain JSON files in Metamon's
    own conventions (`battle.metamon_convention`), without `played_actions`.
    """

    def __init__(
        self,
        folder: Path | str,
        rating: int | None = None,
        labelled: bool = False,
        file_format: str = LZ4_FORMAT,
    ):
        if file_format not in FILE_FORMATS:
            raise ValueError(f"unknown trajectory format {file_format!r}: one of {FILE_FORMATS}")
        self.folder = Path(folder)
        self.rating = rating
        self.labelled = labelled
        self.file_format = file_format
        self._live: dict[str, _Trajectory] = {}
        self.written = 0  # files written (or handed to `sink`) so far
        # Set by a Ray worker (`arena.ray_worker`): a finished trajectory goes here instead
        # of to a file, and the driver writes it (so a battle played twice is written once).
        self.sink: TrajectorySink | None = None

    def record(
        self,
        battle: AbstractBattle,
        order: BattleOrder,
        teacher_order: BattleOrder | None = None,
    ) -> None:
        """Add the step (state now, index of `order`) to `battle`'s trajectory.

        A labelled recorder takes the action from `teacher_order` instead (-1 when None:
        the teacher had no usable order) and keeps `order`'s index as the played action;
        an unlabelled one ignores `teacher_order`.
        """
        trajectory = self._live.setdefault(battle.battle_tag, _Trajectory())
        if trajectory.broken:
            return
        try:
            state = metamon_state(battle)
            played = action_index(order, battle)
            action = played
            if self.labelled:
                action = NO_ACTION if teacher_order is None else action_index(teacher_order, battle)
            if self.file_format == METAMON_FORMAT:
                step = metamon_battle_step(state, battle, trajectory.names)
                state, action, played = step.state, step.action(action), step.action(played)
        except Exception:
            log.warning(
                "trajectory of %s dropped: its state could not be built",
                battle.battle_tag,
                exc_info=True,
            )
            trajectory.broken = True
            return
        rqid = (battle.last_request or {}).get("rqid")
        if rqid is not None and rqid == trajectory.last_rqid and trajectory.actions:
            trajectory.states[-1], trajectory.actions[-1] = state, action  # asked again
            if self.labelled:
                trajectory.played[-1] = played
            return
        trajectory.last_rqid = rqid
        trajectory.states.append(state)
        trajectory.actions.append(action)
        if self.labelled:
            trajectory.played.append(played)

    def discard(self, battle_tag: str) -> None:
        self._live.pop(battle_tag, None)

    def finish(self, battle: AbstractBattle) -> Path | None:
        """Add the terminal state and write the battle's file; None if nothing was written."""
        prepared = self._prepare(battle)
        return None if prepared is None else self._write(*prepared)

    def finish_later(
        self, battle: AbstractBattle, submit: Callable[[Callable[[], object]], None]
    ) -> None:
        """`finish`, the file written through `submit` (the run's writer thread): the
        states are built now, while the battle object still holds them."""
        prepared = self._prepare(battle)
        if prepared is not None:
            submit(lambda: self._write(*prepared))

    def _prepare(
        self, battle: AbstractBattle
    ) -> tuple[str, TrajectoryFile, list[dict[str, Any]], list[int], list[int] | None] | None:
        trajectory = self._live.pop(battle.battle_tag, None)
        if trajectory is None or trajectory.broken or not trajectory.actions:
            return None
        try:
            last = metamon_state(battle)
            if self.file_format == METAMON_FORMAT:
                last = metamon_battle_step(last, battle, trajectory.names).state
            states = [*trajectory.states, last]
            name = TrajectoryFile(
                format=battle.format or "",
                battle_id=battle.battle_tag,
                rating=self.rating,
                p1=battle.player_username,
                p2=opponent_name(battle) or "",
                when=datetime.now(UTC),
                won=battle.won is True,
            )
        except Exception as exc:
            log.warning("trajectory of %s not written: %s", battle.battle_tag, exc)
            return None
        keep_played = self.labelled and self.file_format == LZ4_FORMAT
        played = trajectory.played if keep_played else None
        return battle.battle_tag, name, states, trajectory.actions, played

    def _write(
        self,
        tag: str,
        name: TrajectoryFile,
        states: list[dict[str, Any]],
        actions: list[int],
        played: list[int] | None,
    ) -> Path | None:
        """Never raises: a file that cannot be written is a warning (a trajectory is data
        to learn from, not the run's record)."""
        if self.sink is not None:
            self.sink(tag, name, states, actions, played)
            self.written += 1
            return None
        try:
            compress = self.file_format == LZ4_FORMAT
            path = write_trajectory(self.folder, name, states, actions, played, compress=compress)
        except Exception as exc:
            log.warning("trajectory of %s not written: %s", tag, exc)
            return None
        self.written += 1
        return path

"""Win rate by team: how each team did, per agent that played it and over all agents.

Runs in team formats (gen9ou, ...) record the team each side played (`p1_team`,
`p2_team`: a bundled team's name such as `gen9ou/garchomp-scizor-offense`, or the path
of a user's team file). Random-battle runs have none, and their report has no Teams
section. Every number here is counted per side: a battle in which both sides played the
same team counts once for each side (one win and one loss, or two draws).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from battle.record import SIDES, BattleRecord, RunSpec
from battle.summary import wilson_interval

log = logging.getLogger(__name__)


@dataclass
class TeamScore:
    """Results of the sides that played one team (with one agent, or with any)."""

    wins: int = 0
    losses: int = 0
    draws: int = 0

    @property
    def battles(self) -> int:
        return self.wins + self.losses + self.draws

    @property
    def win_rate(self) -> float | None:
        """Share of the battles won, a draw counting half; None before any battle."""
        return (self.wins + 0.5 * self.draws) / self.battles if self.battles else None

    @property
    def ci95(self) -> tuple[float, float] | None:
        """95% Wilson interval of `win_rate`; None before any battle."""
        if not self.battles:
            return None
        return wilson_interval(self.wins + 0.5 * self.draws, self.battles)

    def add(self, outcome: str) -> None:
        """Count one side's result: "win", "loss" or "draw"."""
        if outcome == "win":
            self.wins += 1
        elif outcome == "loss":
            self.losses += 1
        else:
            self.draws += 1


@dataclass
class TeamRow:
    """One team: its results with each agent that played it, and over all of them."""

    team: str
    by_agent: dict[str, TeamScore] = field(default_factory=dict)  # only agents that played it
    total: TeamScore = field(default_factory=TeamScore)


def has_teams(battles: Sequence[BattleRecord]) -> bool:
    """Whether any battle of the run names a team (a team format's run)."""
    return any(b.p1_team is not None or b.p2_team is not None for b in battles)


def _outcome(winner: str, side: str) -> str:
    if winner == "draw":
        return "draw"
    return "win" if winner == side else "loss"


def team_stats(battles: Sequence[BattleRecord], spec: RunSpec) -> list[TeamRow]:
    """Per-team results of the battles that have a winner (errors are left out), most
    played team first (ties by name). The agent of a side is `BattleRecord.agent`: the
    battle's own (tournaments) or the spec's (matches)."""
    rows: dict[str, TeamRow] = {}
    skipped = 0
    for b in battles:
        if b.winner is None:
            skipped += 1
            continue
        for side in SIDES:
            team = b.p1_team if side == "p1" else b.p2_team
            if team is None:
                continue
            row = rows.setdefault(team, TeamRow(team))
            outcome = _outcome(b.winner, side)
            row.by_agent.setdefault(b.agent(side, spec), TeamScore()).add(outcome)
            row.total.add(outcome)
    if skipped:
        log.debug("team stats leave out %d battle(s) without a result", skipped)
    return sorted(rows.values(), key=lambda r: (-r.total.battles, r.team))


def team_agents(rows: Sequence[TeamRow], spec: RunSpec) -> list[str]:
    """The agents that played any team in `rows`: in the spec's order (p1 then p2, or a
    tournament's list), then any other, by name."""
    played = {agent for row in rows for agent in row.by_agent}
    named = [a.given for a in spec.agents] if spec.agents else [spec.p1.given, spec.p2.given]
    ordered = list(dict.fromkeys(a for a in named if a in played))
    return ordered + sorted(played - set(ordered))


__all__ = ["TeamRow", "TeamScore", "has_teams", "team_agents", "team_stats"]

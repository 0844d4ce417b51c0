"""Which team each battle gets: seeded draws, paired swaps, matches and round robins."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest
from poke_env.teambuilder import ConstantTeambuilder

from arena.match import round_robin_pairs, schedule
from arena.plan import RunRequest, plan_run
from arena.teams import TEAMS_DIR, Team, TeamError, bundled_pool, team_name, team_plan

POOL = bundled_pool("gen9ou")
MATCH = [("p1", "p2")]  # a match's one pairing: its entrants are its sides


def names(plan: list[dict[str, Team]]) -> list[tuple[str, str]]:
    return [(battle["p1"].name, battle["p2"].name) for battle in plan]


def test_one_pool_for_both_sides_pairs_battles_with_the_teams_swapped() -> None:
    plan = names(team_plan(MATCH * 9, {"p1": POOL, "p2": POOL}, seed=3, session=0))
    assert len(plan) == 9
    for k in range(0, 8, 2):
        assert plan[k + 1] == plan[k][::-1]  # each agent plays both teams of the draw
    assert len(set(plan[0::2])) > 1  # the draws differ from pair to pair
    assert plan == names(team_plan(MATCH * 9, {"p1": POOL, "p2": POOL}, seed=3, session=0))
    assert plan != names(team_plan(MATCH * 9, {"p1": POOL, "p2": POOL}, seed=3, session=1))


def test_own_pools_are_drawn_independently_per_side() -> None:
    mine = POOL[:2]
    plan = team_plan(MATCH * 20, {"p1": mine, "p2": POOL}, seed=1, session=0)
    assert {b["p1"].name for b in plan} <= {t.name for t in mine}
    assert len({b["p2"].name for b in plan}) > 2


def test_a_round_robin_gives_both_orders_of_a_pair_the_same_draw() -> None:
    order = schedule(round_robin_pairs(["a", "b", "c"]), 4)
    plan = team_plan(order, {"p1": POOL, "p2": POOL}, seed=8, session=0)
    assert len(plan) == len(order)
    rounds: dict[tuple[str, str], list[tuple[str, str]]] = collections.defaultdict(list)
    for pairing, battle in zip(order, plan, strict=True):
        rounds[pairing].append((battle["p1"].name, battle["p2"].name))
    for a, b in [("a", "b"), ("a", "c"), ("b", "c")]:
        # Same teams on the same sides, agents swapped: each agent plays both teams.
        assert rounds[(a, b)] == rounds[(b, a)]
        assert len(rounds[(a, b)]) == 2
    assert len({r for draws in rounds.values() for r in draws}) > 1
    assert names(plan) == names(team_plan(order, {"p1": POOL, "p2": POOL}, seed=8, session=0))


def test_a_pair_left_with_battles_on_one_side_still_pairs_its_draws() -> None:
    """A resumed round robin can have a pair's remaining battles all with a on p1: they
    still come in twos in which each agent plays both teams of a draw."""
    order = [("a", "b"), ("b", "a"), ("b", "a"), ("b", "a")]
    plan = names(team_plan(order, {"p1": POOL, "p2": POOL}, seed=2, session=0))
    assert plan[1] == plan[0]  # sides swapped: the teams stay on their sides
    assert plan[3] == plan[2][::-1]  # the same sides again: the teams swap


def test_bundled_team_names_are_format_and_stem() -> None:
    assert team_name(POOL[0]) == f"gen9ou/{POOL[0].name}"
    assert (TEAMS_DIR / "gen9ou" / f"{POOL[0].name}.txt").exists()


# --- planning a run (validation runs the bundled Showdown's validator in node) -----------


@pytest.mark.usefixtures("bundled_showdown")
class TestPlans:
    def test_a_round_robin_in_a_team_format_draws_from_the_bundled_pool(
        self, tmp_path: Path
    ) -> None:
        plan = plan_run(
            RunRequest(agents=["random", "heuristic"], battle_format="gen2ou", output_dir=tmp_path)
        )
        assert plan.teams is not None and plan.spec.teams is None
        assert plan.teams["p1"] == plan.teams["p2"] == bundled_pool("gen2ou")

    def test_teams_are_stored_as_absolute_paths(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        folder = tmp_path / "mine"
        folder.mkdir()
        for team in POOL[:2]:
            (folder / f"{team.name}.txt").write_text(team.text)
        monkeypatch.chdir(tmp_path)
        plan = plan_run(
            RunRequest(
                p1="random", p2="random", battle_format="gen9ou", teams="mine", output_dir=tmp_path
            )
        )
        assert plan.spec.team1 == plan.spec.team2 == str(folder.resolve())
        assert plan.teams is not None and len(plan.teams["p1"]) == 2
        own = plan_run(
            RunRequest(
                battle_format="gen9ou", teams="mine", team2="mine/" + POOL[0].name + ".txt",
                agents=None, output_dir=tmp_path,
            )
        )  # fmt: skip
        assert own.spec.team2 == str((folder / f"{POOL[0].name}.txt").resolve())
        assert own.teams is not None and len(own.teams["p2"]) == 1

    def test_a_round_robin_takes_teams_not_sides(self, tmp_path: Path) -> None:
        with pytest.raises(ValueError, match="--teams FILE_OR_DIR instead of --team1/--team2"):
            plan_run(
                RunRequest(
                    agents=["random", "heuristic"], battle_format="gen9ou", team1="teams/gen9ou",
                    output_dir=tmp_path,
                )
            )  # fmt: skip

    def test_teams_in_a_random_battle_format_are_refused(self, tmp_path: Path) -> None:
        with pytest.raises(TeamError, match="generates its own teams: leave out --teams"):
            plan_run(
                RunRequest(
                    agents=["random", "heuristic"], teams="teams/gen9ou", output_dir=tmp_path
                )
            )


# --- teams generated from Showdown's random-battle sets ------------------------------------


@pytest.mark.usefixtures("bundled_showdown")
class TestGenerated:
    def test_generated_teams_are_legal_six_and_seeded(self) -> None:
        from arena.teams import _validate_texts, generate_teams

        texts = generate_teams("gen8ou", seed=4, count=3)
        assert len(texts) == 3
        assert all(len(ConstantTeambuilder(t).team) == 6 for t in texts)
        assert all(answer["ok"] for answer in _validate_texts(tuple(texts), "gen8ou"))
        assert generate_teams("gen8ou", seed=4, count=3) == texts
        assert generate_teams("gen8ou", seed=5, count=3) != texts

    def test_a_format_its_sets_cannot_fill_is_one_line(self) -> None:
        from arena.teams import generate_teams

        with pytest.raises(TeamError, match=r"cannot generate teams for gen9lc: .* --teams FILE"):
            generate_teams("gen9lc", seed=1)

    def test_a_run_keeps_its_generated_teams_and_names_them(self, tmp_path: Path) -> None:
        plan = plan_run(
            RunRequest(battle_format="gen5ou", teams="generated", seed=3, output_dir=tmp_path)
        )
        folder = tmp_path / plan.spec.run_id / "teams"
        assert plan.spec.team1 == plan.spec.team2 == str(folder.resolve())
        assert plan.teams is not None and len(plan.teams["p1"]) == 10
        assert sorted(p.name for p in folder.iterdir())[0] == "gen5ou-generated-01.txt"

    def test_generated_teams_are_removed_when_planning_fails(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.txt"
        bad.write_text("Koraidon\n- Flare Blitz\n")
        with pytest.raises(TeamError, match=r"bad\.txt is not legal in gen9ou"):
            plan_run(
                RunRequest(
                    battle_format="gen9ou", team1="generated", team2=str(bad),
                    output_dir=tmp_path / "runs",
                )
            )  # fmt: skip
        assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("*.txt"))

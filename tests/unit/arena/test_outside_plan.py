"""Planning a run with an outside user (`user:NAME`): where it may play, on which side,
and how its pairs are scheduled. Its battles are played in
tests/integration/test_outside_user.py."""

from __future__ import annotations

import pytest

from arena.match import schedule
from arena.outside import DEFAULT_CHALLENGE_TIMEOUT_S
from arena.plan import RunRequest, plan_run


def test_a_match_plays_the_user_on_p2_with_the_default_timeout(tmp_path):
    plan = plan_run(RunRequest(p1="random", p2="user:SomeBot", n=3, output_dir=tmp_path))
    assert plan.spec.challenge_timeout_s == DEFAULT_CHALLENGE_TIMEOUT_S
    assert plan.order == [("p1", "p2")] * 3
    timed = plan_run(
        RunRequest(p1="random", p2="user:SomeBot", output_dir=tmp_path, challenge_timeout_s=5)
    )
    assert timed.spec.challenge_timeout_s == 5
    assert "challenge_timeout_s" in timed.spec.to_dict()


def test_runs_without_a_user_record_no_challenge_timeout(tmp_path):
    plan = plan_run(RunRequest(p1="random", p2="random", output_dir=tmp_path))
    assert plan.spec.challenge_timeout_s is None
    assert "challenge_timeout_s" not in plan.spec.to_dict()  # records stay as they were


def test_a_round_robin_keeps_the_user_on_p2_and_swaps_the_other_pairs(tmp_path):
    plan = plan_run(
        RunRequest(agents=["user:SomeBot", "random", "heuristic"], n=4, output_dir=tmp_path)
    )
    with_user = [pairing for pairing in plan.order if "user:SomeBot" in pairing]
    assert len(with_user) == 8 and all(p2 == "user:SomeBot" for _, p2 in with_user)
    others = [pairing for pairing in plan.order if "user:SomeBot" not in pairing]
    assert sorted(others) == sorted([("random", "heuristic")] * 2 + [("heuristic", "random")] * 2)


def test_schedule_keeps_the_sides_of_fixed_pairs():
    order = schedule([("a", "b"), ("c", "d")], 4, fixed=[("c", "d")])
    assert order.count(("c", "d")) == 4 and ("d", "c") not in order
    assert order.count(("a", "b")) == 2 and order.count(("b", "a")) == 2


@pytest.mark.parametrize(
    ("request_args", "message"),
    [
        ({"p1": "random", "p2": "user:Bot", "engine": "sim"}, "needs the server engine"),
        ({"p1": "user:Bot", "p2": "random"}, "use --p1 random --p2 user:Bot"),
        ({"p1": "user:A", "p2": "user:B"}, "one side must be an agent"),
        ({"agents": ["random", "user:A", "user:B"]}, "list one per round robin"),
        ({"p1": "random", "p2": "user:"}, "needs the Showdown username"),
        ({"p1": "random", "p2": "user:" + "x" * 19}, "at most 18 characters"),
        ({"p1": "random", "p2": "user:Bot", "challenge_timeout_s": 0}, "more than 0 seconds"),
        (
            {"p1": "random", "p2": "random", "teacher": "user:Bot", "save_trajectories": "t"},
            "a teacher must be an agent",
        ),
    ],
)
def test_what_cannot_be_played_is_one_line(tmp_path, request_args, message):
    with pytest.raises(ValueError, match=message) as info:
        plan_run(RunRequest(output_dir=tmp_path, **request_args))
    assert "\n" not in str(info.value)
    assert not list(tmp_path.glob("*.jsonl"))  # no run id left claimed

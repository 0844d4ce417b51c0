"""training.data: Metamon file names, the name-only index and its cache, reads of .json /
.json.lz4 / tar members, the windowed Dataset, the shaped reward, and a 2-worker loader."""

from __future__ import annotations

import builtins
import copy
import datetime as dt
import io
import json
import logging
import os
import pickle
import random
import tarfile
import time
from pathlib import Path

import lz4.frame
import numpy as np
import pytest
import torch

from training import data as D
from training import index_scan
from training import reading as R
from training.data import (
    Batch,
    IndexFilter,
    StateWindow,
    TrajectoryDataset,
    TrajectoryName,
    base_species,
    build_index,
    collate,
    make_loader,
    parse_name,
    read_entry,
    shaped_reward,
)
from training.dataset import UnreadableData
from training.synthetic import synthetic_trajectory, trajectory_name, write_dataset

# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def _traj(seed: int = 0, turns: int = 8, won: bool = True, equal_counts: bool = True) -> dict:
    return synthetic_trajectory(
        random.Random(seed), won=won, turns=turns, equal_counts=equal_counts
    )


def _write(path: Path, trajectory: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = json.dumps(trajectory).encode()
    path.write_bytes(lz4.frame.compress(raw) if path.name.endswith(".lz4") else raw)
    return path


def _age(root: Path, seconds: float = 60.0) -> None:
    """Backdate every folder and tar under root, as for data written a while ago.

    (The index does not trust a folder changed within the last 2 s of a scan.)
    """
    when = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        if path.is_dir() or path.suffix == ".tar":
            os.utime(path, (when, when))


# name -> (rating, won, date); the format is the battle id's prefix, also the folder
NAMES = {
    "gen9ou-1_1500_alice_vs_bob_01-15-2024_WIN.json": (1500, True, "2024-01-15"),
    "gen9ou-2_Unrated_alice_vs_bob_02-15-2024_LOSS.json.lz4": (1000, False, "2024-02-15"),
    "gen9ou-3_1800_a_b_vs_c_d_03-15-2024-12:30:00_WIN.json.lz4": (1800, True, "2024-03-15"),
    "gen9ou-4_1200_x_vs_y_12-31-2023_LOSS.json": (1200, False, "2023-12-31"),
    "gen1ou-5_1350_p_vs_q_06-01-2024_WIN.json.lz4": (1350, True, "2024-06-01"),
    "gen1ou-6_Unrated_p_vs_q_06-02-2024-01:02:03_LOSS.json": (1000, False, "2024-06-02"),
    "gen1ou-7_1650_p_vs_q_07-04-2024_WIN.json": (1650, True, "2024-07-04"),
}


@pytest.fixture
def named_root(tmp_path: Path) -> Path:
    """NAMES as files, plus a tar shard of three more gen2ou members and one stray file."""
    root = tmp_path / "data"
    for i, name in enumerate(NAMES):
        _write(root / name.split("-")[0] / name, _traj(i))
    with tarfile.open(root / "gen2ou.tar", "w") as tar:
        for i, (rating, result) in enumerate(
            [("1100", "WIN"), ("1900", "LOSS"), ("Unrated", "WIN")]
        ):
            name = f"gen2ou/gen2ou-{10 + i}_{rating}_m_vs_n_05-0{i + 1}-2024_{result}.json.lz4"
            blob = lz4.frame.compress(json.dumps(_traj(10 + i)).encode())
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    (root / "gen9ou" / "README.txt").write_text("not a trajectory")
    (root / "gen9ou" / "notes.json").write_text("{}")  # a .json whose name is not Metamon's
    _age(root)
    return root


@pytest.fixture
def no_trajectory_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fail any attempt to open, decompress or parse a trajectory; return the attempts."""
    attempts: list[str] = []
    real_open = builtins.open

    def guarded_open(file, *args, **kwargs):
        name = os.fspath(file) if isinstance(file, (str, os.PathLike)) else ""
        if str(name).endswith((".json", ".lz4")):
            attempts.append(str(name))
            raise AssertionError(f"the index opened {name}")
        return real_open(file, *args, **kwargs)

    def refuse(*args, **kwargs):
        attempts.append("decode")
        raise AssertionError("the index decoded a trajectory")

    monkeypatch.setattr(builtins, "open", guarded_open)
    monkeypatch.setattr(io, "open", guarded_open)
    monkeypatch.setattr(lz4.frame, "open", refuse)
    monkeypatch.setattr(lz4.frame, "decompress", refuse)
    monkeypatch.setattr(R, "decode_trajectory", refuse)
    monkeypatch.setattr(R, "read_entry", refuse)
    monkeypatch.setattr(R, "read_bytes", refuse)
    return attempts


# --------------------------------------------------------------------------------------
# parse_name
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "gen9ou-2013324985_1544_alice_vs_bob_04-12-2024_WIN.json",
            TrajectoryName(
                "gen9ou", "gen9ou-2013324985", 1544, "alice", "bob", dt.date(2024, 4, 12), True
            ),
        ),
        (
            "gen1ou-77_Unrated_alice_vs_bob_01-02-2023_LOSS.json.lz4",
            TrajectoryName("gen1ou", "gen1ou-77", 1000, "alice", "bob", dt.date(2023, 1, 2), False),
        ),
        (  # Metamon's own environment puts a time in the date
            "gen4ou-5_1200_me_vs_you_11-30-2025-23:59:01_WIN.json.lz4",
            TrajectoryName("gen4ou", "gen4ou-5", 1200, "me", "you", dt.date(2025, 11, 30), True),
        ),
        (  # underscores in both usernames
            "gen9ou-9_1500_team_rocket_vs_prof_oak_x_06-06-2024_LOSS.json",
            TrajectoryName(
                "gen9ou", "gen9ou-9", 1500, "team_rocket", "prof_oak_x", dt.date(2024, 6, 6), False
            ),
        ),
        (  # spaces, dots, dashes, digits, non-ASCII
            "gen9ou-9_1500_Gary Oak.2_vs_ré-d 99_06-06-2024_WIN.json",
            TrajectoryName(
                "gen9ou", "gen9ou-9", 1500, "Gary Oak.2", "ré-d 99", dt.date(2024, 6, 6), True
            ),
        ),
        (  # a username that is itself "vs"-ish: the last "_vs_" splits
            "gen9ou-9_1500_a_vs_b_vs_c_06-06-2024_WIN.json",
            TrajectoryName("gen9ou", "gen9ou-9", 1500, "a_vs_b", "c", dt.date(2024, 6, 6), True),
        ),
        (  # empty usernames (anonymised replays)
            "gen9ou-9_1500__vs__06-06-2024_WIN.json",
            TrajectoryName("gen9ou", "gen9ou-9", 1500, "", "", dt.date(2024, 6, 6), True),
        ),
        (  # a poke-env battle tag as the id, private-room suffix
            "battle-gen9randombattle-123-abcdef_Unrated_p1_vs_p2_01-01-2026_WIN.json.lz4",
            TrajectoryName(
                "gen9randombattle",
                "battle-gen9randombattle-123-abcdef",
                1000,
                "p1",
                "p2",
                dt.date(2026, 1, 1),
                True,
            ),
        ),
        (  # lower-case result, a rating written as a float
            "gen9ou-1_1500.0_a_vs_b_01-01-2024_win.json",
            TrajectoryName("gen9ou", "gen9ou-1", 1500, "a", "b", dt.date(2024, 1, 1), True),
        ),
    ],
)
def test_parse_name_variants(name: str, expected: TrajectoryName) -> None:
    assert parse_name(name) == expected
    assert parse_name(Path("some/folder") / name) == expected


def test_parse_name_takes_the_format_from_the_folder_when_the_id_has_none() -> None:
    parsed = parse_name(Path("/data/gen3ou/12345_1400_a_vs_b_01-01-2024_WIN.json"))
    assert parsed is not None and parsed.format == "gen3ou" and parsed.battle_id == "12345"
    # a tar member name works the same way
    parsed = parse_name("gen2ou/777_1400_a_vs_b_01-01-2024_LOSS.json.lz4")
    assert parsed is not None and parsed.format == "gen2ou" and not parsed.won


@pytest.mark.parametrize(
    "name",
    [
        "gen9ou-1_1500_a_vs_b_01-01-2024_WIN.txt",
        "gen9ou-1_1500_a_vs_b_01-01-2024_WIN.json.gz",
        "gen9ou-1_1500_a_vs_b_01-01-2024_DRAW.json",
        "gen9ou-1_1500_a_vs_b_01-01-2024.json",
        "gen9ou-1_1500_a_b_01-01-2024_WIN.json",  # no _vs_
        "gen9ou-1_1500_a_vs_b_13-40-2024_WIN.json",  # no such date
        "gen9ou-1_1500_a_vs_b_2024-01-01_WIN.json",  # ISO, not Metamon's
        "gen9ou-1_1500_a_vs_b_01-01-2024x12:00:00_WIN.json",
        "_1500_a_vs_b_01-01-2024_WIN.json",
        "index.json",
        "",
    ],
)
def test_parse_name_rejects_other_names(name: str) -> None:
    assert parse_name(name) is None


def test_synthetic_names_round_trip() -> None:
    when = dt.datetime(2024, 5, 6, 7, 8, 9)
    name = trajectory_name("gen9ou-42", None, "x_y", "z", when, won=False)
    assert parse_name(name) == TrajectoryName(
        "gen9ou", "gen9ou-42", 1000, "x_y", "z", dt.date(2024, 5, 6), False
    )


# --------------------------------------------------------------------------------------
# build_index: filters from names alone, cache
# --------------------------------------------------------------------------------------


def _expected(pred) -> set[str]:
    """Names in NAMES for which pred(format, rating, won, date) holds."""
    return {
        name
        for name, (rating, won, date) in NAMES.items()
        if pred(name.split("-")[0], rating, won, dt.date.fromisoformat(date))
    }


def _names(index) -> set[str]:
    return {(e.member or e.path).rpartition("/")[2] for e in (index[i] for i in range(len(index)))}


def test_index_lists_files_and_tar_members(named_root: Path, tmp_path: Path) -> None:
    index = build_index(named_root, cache_dir=tmp_path / "cache")
    assert len(index) == len(NAMES) + 3  # README.txt and notes.json skipped
    assert sorted(index.formats) == ["gen1ou", "gen2ou", "gen9ou"]
    members = [index[i] for i in range(len(index)) if index[i].member is not None]
    assert len(members) == 3
    assert all(m.path.endswith("gen2ou.tar") and m.offset > 0 and m.size > 0 for m in members)
    assert "10 trajectories" in index.summary()


def test_index_filters_by_name_without_reading_a_file(
    named_root: Path, tmp_path: Path, no_trajectory_reads: list[str]
) -> None:
    cache = tmp_path / "cache"
    both = build_index(named_root, IndexFilter(), cache_dir=cache)
    assert len(both) == 10

    gen9 = build_index(named_root, IndexFilter(formats=("gen9ou",)), cache_dir=cache)
    assert _names(gen9) == _expected(lambda fmt, *_: fmt == "gen9ou")

    two = build_index(named_root, IndexFilter(formats=("GEN9OU", "gen1ou")), cache_dir=cache)
    assert len(two) == len(NAMES)

    wins = build_index(
        named_root, IndexFilter(result="win", formats=("gen9ou", "gen1ou")), cache_dir=cache
    )
    assert _names(wins) == _expected(lambda fmt, rating, won, date: won)
    losses = build_index(named_root, IndexFilter(result="loss"), cache_dir=cache)
    assert len(losses) == len(_expected(lambda fmt, rating, won, date: not won)) + 1  # + gen2ou

    # Unrated counts as 1000: in for min 1000, out for min 1001
    rated = IndexFilter(formats=("gen9ou", "gen1ou"), min_rating=1000, max_rating=1500)
    assert _names(build_index(named_root, rated, cache_dir=cache)) == _expected(
        lambda fmt, rating, won, date: 1000 <= rating <= 1500
    )
    above = IndexFilter(formats=("gen9ou", "gen1ou"), min_rating=1001)
    assert _names(build_index(named_root, above, cache_dir=cache)) == _expected(
        lambda fmt, rating, won, date: rating >= 1001
    )

    # date bounds are inclusive; a time in the name does not matter
    window = IndexFilter(
        formats=("gen9ou", "gen1ou"), min_date=dt.date(2024, 1, 15), max_date=dt.date(2024, 6, 2)
    )
    assert _names(build_index(named_root, window, cache_dir=cache)) == _expected(
        lambda fmt, rating, won, date: dt.date(2024, 1, 15) <= date <= dt.date(2024, 6, 2)
    )

    tar_only = build_index(
        named_root, IndexFilter(formats=("gen2ou",), result="win"), cache_dir=cache
    )
    assert sorted(e.member for e in (tar_only[i] for i in range(len(tar_only)))) == [
        "gen2ou/gen2ou-10_1100_m_vs_n_05-01-2024_WIN.json.lz4",
        "gen2ou/gen2ou-12_Unrated_m_vs_n_05-03-2024_WIN.json.lz4",
    ]
    assert no_trajectory_reads == []


def test_index_filters_by_point_of_view_player(
    named_root: Path, tmp_path: Path, no_trajectory_reads: list[str]
) -> None:
    cache = tmp_path / "cache"
    alice = build_index(named_root, IndexFilter(players=("Alice",)), cache_dir=cache)
    assert _names(alice) == {n for n in NAMES if "_alice_vs_" in n}
    # a prefix, compared as a Showdown user id: "A B" matches the player "a_b"
    several = build_index(named_root, IndexFilter(players=("p", "A B")), cache_dir=cache)
    assert _names(several) == {n for n in NAMES if "_p_vs_" in n or "_a_b_vs_" in n}
    # the opponent's name does not count
    assert len(build_index(named_root, IndexFilter(players=("bob",)), cache_dir=cache)) == 0
    with pytest.raises(ValueError, match="no letters"):
        IndexFilter(players=("--",))
    assert no_trajectory_reads == []


def _pairs_root(root: Path, battles: int) -> Path:
    """Both players' files of `battles` battles (names only matter to the index)."""
    for b in range(battles):
        for me, them, result in (("ann", "ben", "WIN"), ("ben", "ann", "LOSS")):
            name = f"gen9ou-{b}_Unrated_{me}_vs_{them}_01-02-2024_{result}.json"
            _write(root / "gen9ou" / name, _traj(b))
    return root


def test_split_by_battle_keeps_a_battles_files_together(tmp_path: Path) -> None:
    root = _pairs_root(tmp_path / "data", 200)
    index = build_index(root, cache_dir=tmp_path / "cache")
    train, held = index.split_by_battle(0.1, seed=0)
    assert len(train) + len(held) == 400
    train_ids, held_ids = set(train.battle_ids()), set(held.battle_ids())
    assert not train_ids & held_ids
    assert len(held) == 2 * len(held_ids)  # both views of each held-out battle
    assert 8 <= len(held_ids) <= 35  # about 10% of 200
    # stable: the same battles are held out when more data arrives, and for the same seed
    bigger = build_index(_pairs_root(tmp_path / "data", 300), cache_dir=tmp_path / "cache")
    _, held_more = bigger.split_by_battle(0.1, seed=0)
    assert held_ids <= set(held_more.battle_ids())
    assert set(index.split_by_battle(0.1, seed=1)[1].battle_ids()) != held_ids
    assert len(index.split_by_battle(0.0)[1]) == 0
    with pytest.raises(ValueError, match="fraction"):
        index.split_by_battle(1.0)


def test_index_cache_hit_and_invalidation(
    named_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = build_index(named_root, cache_dir=cache)
    assert not first.from_cache and len(list(cache.iterdir())) == 1

    # second start: no directory listing, no tar listing
    with monkeypatch.context() as m:
        m.setattr(os, "scandir", lambda *a: pytest.fail("rescanned"))
        m.setattr(index_scan, "_list_tar", lambda *a: pytest.fail("relisted the tar"))
        again = build_index(named_root, IndexFilter(result="win"), cache_dir=cache)
    assert again.from_cache and len(again) == 6
    for i in range(len(again)):
        assert read_entry(again[i])["states"]

    # a new file changes its folder's mtime: rescan, and the new file is there
    _write(named_root / "gen9ou" / "gen9ou-99_1500_a_vs_b_01-01-2025_WIN.json", _traj(99))
    _age(named_root, seconds=30)  # later than the first _age: the folder's mtime moved
    third = build_index(named_root, cache_dir=cache)
    assert not third.from_cache and len(third) == len(first) + 1
    assert build_index(named_root, cache_dir=cache).from_cache

    # a folder changed just before the scan is not trusted next time ("racy" stamp)
    os.utime(named_root / "gen1ou")
    assert not build_index(named_root, cache_dir=cache).from_cache
    assert not build_index(named_root, cache_dir=cache).from_cache
    # different roots, different cache; use_cache=False writes nothing
    build_index(named_root / "gen1ou", cache_dir=cache)
    assert len(list(cache.iterdir())) == 2
    build_index(named_root / "gen9ou", cache_dir=tmp_path / "none", use_cache=False)
    assert not (tmp_path / "none").exists()


def test_index_of_several_roots_and_a_bare_tar(named_root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    _write(other / "gen9ou-50_1500_a_vs_b_01-01-2024_WIN.json", _traj(50))
    index = build_index([named_root / "gen9ou", other, named_root / "gen2ou.tar"], use_cache=False)
    assert len(index) == 4 + 1 + 3
    with pytest.raises(FileNotFoundError):
        build_index(tmp_path / "missing", use_cache=False)


def test_index_select_split_and_pickle(named_root: Path) -> None:
    index = build_index(named_root, use_cache=False)
    rest, held = index.split(0.3, seed=1)
    assert len(rest) + len(held) == len(index) and len(held) == 3
    assert _names(rest) | _names(held) == _names(index)
    clone = pickle.loads(pickle.dumps(index))
    assert [clone[i] for i in range(len(clone))] == [index[i] for i in range(len(index))]


def test_index_filter_validates() -> None:
    with pytest.raises(ValueError):
        IndexFilter(result="wins")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        IndexFilter(formats="gen9ou")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# read_entry: .json, .json.lz4 and tar members read the same
# --------------------------------------------------------------------------------------


def test_json_lz4_and_tar_members_read_identically(tmp_path: Path) -> None:
    trajectory = _traj(3, turns=12)
    name = "gen9ou-3_1500_a_vs_b_01-01-2024_WIN"
    _write(tmp_path / "plain" / f"{name}.json", trajectory)
    _write(tmp_path / "lz4" / f"{name}.json.lz4", trajectory)
    with tarfile.open(tmp_path / "gen9ou.tar", "w") as tar:
        for suffix in (".json", ".json.lz4"):  # both kinds of member, after some padding
            raw = json.dumps(trajectory).encode()
            blob = lz4.frame.compress(raw) if suffix.endswith("lz4") else raw
            info = tarfile.TarInfo(f"gen9ou/{'x' * 120}/{name}{suffix}")  # long: pax header
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    index = build_index(tmp_path, use_cache=False)
    assert len(index) == 4
    entries = [index[i] for i in range(len(index))]
    assert sum(e.member is not None for e in entries) == 2
    for entry in entries:
        assert read_entry(entry) == trajectory
        assert entry.name == parse_name(f"{name}.json")
    D.close_shards()


# --------------------------------------------------------------------------------------
# shaped reward
# --------------------------------------------------------------------------------------


def _mon(name: str, hp: float, status: str = "nostatus") -> dict:
    return {"name": name, "hp_pct": hp, "status": status}


def _state(active, opponent, switches, opponents_remaining, won=False, lost=False) -> dict:
    return {
        "player_active_pokemon": active,
        "opponent_active_pokemon": opponent,
        "available_switches": switches,
        "opponents_remaining": opponents_remaining,
        "battle_won": won,
        "battle_lost": lost,
    }


def _three_states(won: bool) -> list[dict]:
    return [
        # turn 1: our A (full) faces their X (full); bench B (full), C (half)
        _state(_mon("a", 1.0), _mon("x", 1.0), [_mon("b", 1.0), _mon("c", 0.5)], 6),
        # A hits X for 60% and burns it; X hits A for 30% and paralyses it
        _state(_mon("a", 0.7, "par"), _mon("x", 0.4, "brn"), [_mon("b", 1.0), _mon("c", 0.5)], 6),
        # X faints, Y comes in; A faints, B comes in and takes 10%; the battle ends
        _state(_mon("b", 0.9), _mon("y", 1.0), [_mon("c", 0.5)], 5, won=won, lost=not won),
    ]


def test_shaped_reward_by_hand() -> None:
    s0, s1, s2 = _three_states(won=True)
    # damage 0.6 + own hp -0.3 + 0.5 x (1 status given - 1 taken) + (0 removed - 0 lost)
    assert shaped_reward(s0, s1) == pytest.approx(0.3)
    # damage 0 (X left) + B's hp -0.1 (found on the bench) + 0 + (1 removed - 1 lost) + 100
    assert shaped_reward(s1, s2) == pytest.approx(99.9)
    _, _, lost = _three_states(won=False)
    assert shaped_reward(s1, lost) == pytest.approx(-100.1)
    # only the first status counts; a pokemon not seen before gives no hp change
    s3 = copy.deepcopy(s1)
    s3["player_active_pokemon"] = _mon("z", 0.2, "slp")
    assert shaped_reward(s1, s3) == pytest.approx(0.0)


def test_shaped_reward_matches_pokemon_by_base_species() -> None:
    """A forme change (Mimikyu's disguise breaking, Aegislash's stance) keeps the terms."""
    before = _state(_mon("mimikyu", 1.0), _mon("aegislash", 1.0), [], 6)
    after = _state(_mon("mimikyubusted", 0.875), _mon("aegislashblade", 0.6), [], 6)
    # damage 0.4 + own hp -0.125
    assert shaped_reward(before, after) == pytest.approx(0.275)
    assert base_species("mimikyubusted") == "mimikyu" and base_species("x") == "x"


def test_dataset_rewards_match_the_hand_computed_ones() -> None:
    trajectory = {"states": _three_states(won=True), "actions": [0, -1]}
    sample = TrajectoryDataset(index=None, max_seq_len=10).window(trajectory)  # type: ignore[arg-type]
    assert sample.rewards.tolist() == pytest.approx([0.3, 99.9])
    assert sample.actions.tolist() == [0, -1] and sample.mask.tolist() == [True, False]
    assert sample.dones.tolist() == [False, True]


# --------------------------------------------------------------------------------------
# Dataset windows, collate
# --------------------------------------------------------------------------------------


@pytest.fixture
def synth_index(tmp_path: Path):
    root = tmp_path / "synth"
    write_dataset(
        root, 24, formats=("gen9ou", "gen1ou"), kinds=("json", "lz4", "tar"), turns=(5, 30)
    )
    return build_index(root, use_cache=False)


@pytest.mark.parametrize("equal_counts", [True, False])
def test_window_handles_both_count_conventions(equal_counts: bool) -> None:
    trajectory = _traj(5, turns=10, equal_counts=equal_counts)
    states, actions = trajectory["states"], trajectory["actions"]
    assert len(actions) == len(states) - (0 if equal_counts else 1)
    ds = TrajectoryDataset(index=None, max_seq_len=1000)  # type: ignore[arg-type]
    sample = ds.window(trajectory)
    n = len(states) - 1
    assert len(sample.states) == n + 1 and sample.actions.shape == (n,)
    assert sample.actions.tolist() == actions[:n]
    assert sample.mask.tolist() == [a != -1 for a in actions[:n]]
    assert sample.dones.tolist() == [False] * (n - 1) + [True]
    assert sample.rewards[-1] > 90  # the synthetic player won


def test_window_rejects_mismatched_counts() -> None:
    trajectory = _traj(5, turns=10)
    trajectory["actions"] = trajectory["actions"][:-3]
    with pytest.raises(ValueError, match="actions"):
        TrajectoryDataset(None, 10).window(trajectory)  # type: ignore[arg-type]


def test_windows_never_exceed_max_seq_len() -> None:
    trajectory = _traj(6, turns=30)
    states, actions = trajectory["states"], trajectory["actions"]
    n = len(states) - 1
    ds = TrajectoryDataset(None, max_seq_len=7)  # type: ignore[arg-type]
    random.seed(0)
    starts = set()
    for _ in range(200):
        s = ds.window(trajectory)
        assert s.actions.shape == (7,) and len(s.states) == 8
        assert s.states == states[s.start : s.start + 8]
        assert s.actions.tolist() == actions[s.start : s.start + 7]
        assert s.dones.any().item() == (s.start + 7 == n)
        assert s.rewards.tolist() == pytest.approx(
            [shaped_reward(a, b) for a, b in zip(s.states, s.states[1:], strict=False)]
        )
        starts.add(s.start)
    assert min(starts) == 0 and max(starts) == n - 7 and len(starts) > 5


def test_dataset_reads_every_kind_and_collates(synth_index) -> None:
    ds = TrajectoryDataset(synth_index, max_seq_len=16)
    samples = [ds[i] for i in range(len(ds))]
    for s in samples:
        t = len(s.actions)
        assert 1 <= t <= 16 and len(s.states) == t + 1
        assert s.mask.tolist() == (s.actions >= 0).tolist()
        assert isinstance(s.states[0], dict) and "player_active_pokemon" in s.states[0]
    batch = collate(samples[:5])
    b, t = batch.actions.shape
    assert b == 5 and t == int(batch.lengths.max()) <= 16
    for i, s in enumerate(samples[:5]):
        n = len(s.actions)
        assert batch.actions[i, :n].tolist() == s.actions.tolist()
        assert (batch.actions[i, n:] == -1).all() and not batch.mask[i, n:].any()
        assert batch.valid[i].tolist() == [True] * n + [False] * (t - n)
        assert (batch.rewards[i, n:] == 0).all() and not batch.dones[i, n:].any()
        assert len(batch.states[i]) == n + 1
    assert (batch.mask <= batch.valid).all()


def test_encode_runs_per_state_and_is_padded(synth_index) -> None:
    ds = TrajectoryDataset(synth_index, max_seq_len=12, encode=_encode)
    batch = collate([ds[i] for i in range(6)])
    b, t = batch.actions.shape
    assert batch.states["hp"].shape == (b, t + 1, 2)
    assert batch.states["name"].shape == (b, t + 1) and batch.states["name"].dtype == torch.int64
    for i in range(b):
        n = int(batch.lengths[i])
        assert (batch.states["name"][i, : n + 1] > 0).all()
        assert (batch.states["name"][i, n + 1 :] == 0).all()


def _encode(state: dict) -> dict:
    """A toy per-state encoder (module level, so it pickles into workers)."""
    mine, theirs = state["player_active_pokemon"], state["opponent_active_pokemon"]
    return {
        "hp": np.array([mine["hp_pct"], theirs["hp_pct"]], dtype=np.float32),
        "name": torch.tensor(len(mine["name"]) + 1),
    }


def test_state_window_pickles_as_bytes(synth_index) -> None:
    ds = TrajectoryDataset(synth_index, max_seq_len=5)
    s = ds[0]
    assert isinstance(s.states, StateWindow)
    blob = pickle.dumps(s.states)
    assert len(blob) < len(json.dumps(list(s.states)))  # bytes, not the dicts
    again = pickle.loads(blob)
    assert again == s.states and len(again) == len(s.states)
    assert list(again) == list(s.states) and again[-1] == s.states[-1]


def test_unreadable_trajectory_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    root = tmp_path / "d"
    (root / "gen9ou").mkdir(parents=True)
    (root / "gen9ou" / "gen9ou-1_1500_a_vs_b_01-01-2024_WIN.json.lz4").write_bytes(b"not lz4")
    _write(root / "gen9ou" / "gen9ou-2_1500_a_vs_b_01-01-2024_WIN.json", _traj(2))
    index = build_index(root, use_cache=False)
    with caplog.at_level(logging.WARNING, logger="training.data"):
        sample = TrajectoryDataset(index, 50)[0]
    assert sample.index == 1 and "skipping unreadable" in caplog.text
    with pytest.raises(UnreadableData, match="none of the 1 trajectories could be read"):
        TrajectoryDataset(index.select(np.array([0])), 50)[0]


def test_many_bad_files_in_a_row_are_skipped_with_one_warning_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """12 unreadable trajectories in a row out of 24: every sample still comes from a
    readable one, and each bad file is named once, not once per sample."""
    root = tmp_path / "d"
    (root / "gen9ou").mkdir(parents=True)
    for k in range(24):
        name = f"gen9ou-{k:02d}_1500_a_vs_b_01-01-2024_WIN.json"
        if 4 <= k < 16:
            (root / "gen9ou" / (name + ".lz4")).write_bytes(b"garbage")
        else:
            _write(root / "gen9ou" / name, _traj(2))
    index = build_index(root, use_cache=False)
    dataset = TrajectoryDataset(index, 50)
    with caplog.at_level(logging.WARNING, logger="training.data"):
        rows = [dataset[i].index for i in range(24) for _ in range(3)]
    bad = {i for i in range(24) if index[i].path.endswith(".lz4")}
    assert len(bad) == 12 and not bad & set(rows)
    warnings = [r for r in caplog.records if "skipping unreadable" in r.getMessage()]
    assert len(warnings) == 12 and dataset.unreadable == bad


# --------------------------------------------------------------------------------------
# DataLoader with workers
# --------------------------------------------------------------------------------------


def test_loader_with_two_workers_yields_every_trajectory(synth_index) -> None:
    loader = make_loader(
        synth_index,
        batch_size=5,
        max_seq_len=10,
        num_workers=2,
        prefetch_factor=2,
        persistent_workers=False,
        seed=0,
    )
    seen, batches = [], 0
    for batch in loader:
        assert isinstance(batch, Batch) and batch.actions.shape[1] <= 10
        assert len(batch.states) == len(batch) and isinstance(batch.states[0], StateWindow)
        assert batch.states[0][0]["format"] in ("gen9ou", "gen1ou")  # decoded here
        seen += batch.index.tolist()
        batches += 1
    assert sorted(seen) == list(range(len(synth_index))) and batches == 5


def test_loader_with_workers_and_encode(synth_index) -> None:
    loader = make_loader(
        synth_index, batch_size=8, max_seq_len=6, encode=_encode, num_workers=2, seed=1
    )
    batch = next(iter(loader))
    assert batch.states["hp"].shape == (8, batch.actions.shape[1] + 1, 2)
    assert loader.persistent_workers and loader.prefetch_factor == 4
    moved = batch.to("cpu")
    assert torch.equal(moved.states["hp"], batch.states["hp"])


def test_loader_in_process_and_pickled_dataset(synth_index) -> None:
    loader = make_loader(synth_index, batch_size=24, num_workers=0, shuffle=False)
    batch = next(iter(loader))
    assert batch.index.tolist() == list(range(24))
    # after reading tar members (an fd is open in this process) the dataset still pickles
    ds = loader.dataset
    clone = pickle.loads(pickle.dumps(ds))
    assert len(clone) == len(ds)
    D.close_shards()

"""Metamon's own files as its code writes them (../shared/reference/metamon.md): the public
set's `.tar.gz` per format, Struggle / Recharge as action 0, `battle_won` / `battle_lost`
on the last state only, forme changes in the reward, and 9-action (no tera) files.

Fixtures are hand-written from the reference's facts, not Metamon's code.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
import time
from pathlib import Path

import pytest
import torch

from training import index_scan
from training import reading as R
from training.index_scan import build_index
from training.reading import read_entry

# --------------------------------------------------------------------------------------
# Metamon-convention fixtures
# --------------------------------------------------------------------------------------


def move(name: str, type_: str = "NORMAL", category: str = "PHYSICAL", pp: int = 16) -> dict:
    return {
        "name": name,
        "move_type": type_,
        "category": category,
        "base_power": 80,
        "accuracy": 1.0,
        "priority": 0,
        "current_pp": pp,
        "max_pp": 16,
    }


NO_MOVE = {
    "name": "nomove",
    "move_type": "nomove",
    "category": "nomove",
    "base_power": 0,
    "accuracy": 1.0,
    "priority": 0,
    "current_pp": 0,
    "max_pp": 0,
}


def mon(
    name: str, hp: float = 1.0, status: str = "nostatus", moves=None, types="normal notype"
) -> dict:
    out = {
        "name": name,
        "hp_pct": hp,
        "types": types,
        "item": "leftovers",
        "ability": "unknownability",
        "lvl": 100,
        "status": status,
        "effect": "noeffect",
        "moves": moves if moves is not None else [move("bodyslam"), move("earthquake", "GROUND")],
    }
    for stat in ("atk", "spa", "def", "spd", "spe", "accuracy", "evasion"):
        out[f"{stat}_boost"] = 0
    for stat in ("atk", "spa", "def", "spd", "spe", "hp"):
        out[f"base_{stat}"] = 100
    return out


def state(
    active: dict,
    opponent: dict,
    switches: list[dict],
    remaining: int = 6,
    *,
    fmt: str = "gen4ou",
    won: bool = False,
    lost: bool = False,
    forced: bool = False,
) -> dict:
    return {
        "format": fmt,
        "player_active_pokemon": active,
        "opponent_active_pokemon": opponent,
        "available_switches": switches,
        "player_prev_move": NO_MOVE,
        "opponent_prev_move": NO_MOVE,
        "opponents_remaining": remaining,
        "player_conditions": "noconditions",
        "opponent_conditions": "noconditions",
        "weather": "noweather",
        "battle_field": "nofield",
        "forced_switch": forced,
        "battle_won": won,
        "battle_lost": lost,
    }


def member(name: str, trajectory: dict) -> tuple[tarfile.TarInfo, bytes]:
    blob = json.dumps(trajectory).encode()
    info = tarfile.TarInfo(name)
    info.size = len(blob)
    return info, blob


def _battle(seed: int) -> dict:
    s0 = state(mon("snorlax"), mon("gengar", types="ghost poison"), [mon("jirachi")])
    s1 = state(mon("snorlax", 0.8), mon("gengar", 0.5 - seed / 100), [mon("jirachi")], won=True)
    return {"states": [s0, s1], "actions": [seed % 2, 0]}


# --------------------------------------------------------------------------------------
# 1. the public set's .tar.gz, one per format
# --------------------------------------------------------------------------------------

GZ_NAMES = [
    f"gen4ou/gen4ou-{100 + i}_{rating}_p{i}_vs_q{i}_05-0{i + 1}-2024_{result}.json"
    for i, (rating, result) in enumerate([("1500", "WIN"), ("Unrated", "LOSS"), ("1320", "WIN")])
]


def _write_tar_gz(path: Path) -> dict[str, dict]:
    members = {name: _battle(i) for i, name in enumerate(GZ_NAMES)}
    with tarfile.open(path, "w:gz") as tar:
        for name, trajectory in members.items():
            info, blob = member(name, trajectory)
            tar.addfile(info, io.BytesIO(blob))
        info = tarfile.TarInfo("gen4ou/README.txt")  # not a trajectory: skipped
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    when = time.time() - 60  # old data: the cache can trust its stamp
    os.utime(path, (when, when))
    return members


def test_tar_gz_is_indexed_and_read_back_like_a_tar(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    members = _write_tar_gz(root / "gen4ou.tar.gz")
    cache = tmp_path / "cache"
    index = build_index(root, cache_dir=cache)
    assert len(index) == 3 and index.formats == ["gen4ou"]
    assert sorted(index.rating.tolist()) == [1000, 1320, 1500]
    entries = [index[i] for i in range(len(index))]
    # read back by offset from the uncompressed copy in the cache folder
    (copy,) = (cache / "tars").iterdir()
    assert copy.name.startswith("gen4ou-") and copy.suffix == ".tar"
    for entry in entries:
        assert entry.path == str(copy) and entry.member in members
        assert read_entry(entry) == members[entry.member]
    R.close_shards()
    # a bare .tar.gz root reads the same, reusing the copy (no second decompression)
    calls: list[str] = []
    real = gzip.open
    index_scan.gzip.open = lambda *a, **k: calls.append(a[0]) or real(*a, **k)  # type: ignore[assignment]
    try:
        again = build_index(root / "gen4ou.tar.gz", cache_dir=cache, use_cache=False)
    finally:
        index_scan.gzip.open = real  # type: ignore[assignment]
    assert calls == [] and len(again) == 3


def test_tar_gz_is_decompressed_in_chunks_and_a_changed_archive_gets_a_new_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "gen4ou.tar.gz"
    _write_tar_gz(path)
    reads: list[int] = []
    real_open = gzip.open

    class Spy:
        def __init__(self, f) -> None:
            self.f = f

        def read(self, n: int = -1) -> bytes:
            assert n > 0, "the archive must be read in chunks, never whole"
            reads.append(n)
            return self.f.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.f.close()

    monkeypatch.setattr(index_scan.gzip, "open", lambda *a, **k: Spy(real_open(*a, **k)))
    cache = tmp_path / "cache"
    first = index_scan.unpacked_tar(str(path), cache)
    assert reads and max(reads) <= 1 << 20
    with tarfile.open(first) as tar:
        assert len(tar.getnames()) == 4
    # an archive rewritten later gets a new copy
    _write_tar_gz(path)
    os.utime(path, (time.time(), time.time()))
    assert index_scan.unpacked_tar(str(path), cache) != first


# --------------------------------------------------------------------------------------
# 2. Struggle and Recharge are action 0 in Metamon's files (-1 in ours)
# --------------------------------------------------------------------------------------


def _prev(name: str) -> dict:
    return {**NO_MOVE, "name": name, "move_type": "NORMAL", "category": "PHYSICAL"}


def test_struggle_and_recharge_as_zero_are_not_labelled_choices() -> None:
    from training.dataset import TrajectoryDataset
    from training.reading import forced_zero, states_and_actions

    foe = mon("gengar", types="ghost poison")
    s = [state(mon("snorlax"), foe, [mon("jirachi")]) for _ in range(7)]
    s[1]["player_active_pokemon"] = mon(
        "snorlax", moves=[move("bodyslam", pp=0), move("earthquake", "GROUND", pp=0)]
    )  # 1: no pp left: Struggle
    s[3]["player_prev_move"] = _prev("struggle")  # 2: the next state says Struggle
    s[4]["player_prev_move"] = _prev("hyperbeam")  # 4: used Hyper Beam: must Recharge
    s[6]["player_prev_move"] = _prev("recharge")  # 5: the next state says Recharge
    s[6].update(battle_won=True)
    # parser-style: one action per state (the last one has no successor and is dropped)
    trajectory = {"states": s, "actions": [0, 0, 0, 0, 0, 0, 0]}
    _, actions, n = states_and_actions(trajectory)
    assert n == 6
    assert actions == [0, -1, -1, 0, -1, -1]
    assert forced_zero(state(mon("snorlax"), foe, [mon("jirachi")], forced=True), None)
    assert not forced_zero(s[0], s[1])
    # Gen 1: a Hyper Beam that KOs needs no recharge; the next state shows move 0 used
    used = state(mon("snorlax"), foe, [mon("jirachi")])
    used["player_prev_move"] = _prev("bodyslam")
    assert not forced_zero(s[4], used) and forced_zero(s[4], s[5])
    # a state without a moves list (not Metamon's) keeps its 0
    assert not forced_zero({"player_active_pokemon": {"name": "snorlax"}}, None)
    # a switch or another move is never touched, nor is our own -1
    assert states_and_actions({"states": s, "actions": [4, 1, -1, 0, 2, 3]})[1] == [
        4, 1, -1, 0, 2, 3,
    ]  # fmt: skip
    sample = TrajectoryDataset(None, max_seq_len=10).window(trajectory)  # type: ignore[arg-type]
    assert sample.mask.tolist() == [True, False, False, True, False, False]


def test_struggle_zero_is_not_forced_legal_in_shards() -> None:
    """The shard encoder sees the same -1: move 0 is not made legal where it was Struggle."""
    from training.entities import EntityEncoder
    from training.shard_writer import encode_trajectory
    from training.tokenizer import Vocabulary

    foe = mon("gengar", types="ghost poison")
    struggling = mon("snorlax", moves=[move("bodyslam", pp=0), move("earthquake", "GROUND", pp=0)])
    s0 = state(struggling, foe, [mon("jirachi")])
    s1 = state(struggling, foe, [mon("jirachi")], won=True)
    s1["player_prev_move"] = _prev("struggle")
    encoded = encode_trajectory(
        {"states": [s0, s1], "actions": [0]}, EntityEncoder(Vocabulary.build()), int
    )
    assert encoded.actions.tolist() == [-1]
    assert not encoded.legal[0, 0]  # no pp: move 0 is not legal, and nothing forces it


# --------------------------------------------------------------------------------------
# 3. battle_won / battle_lost only on the last state, for both count conventions
# --------------------------------------------------------------------------------------


def _ending(won: bool, play_style: bool) -> dict:
    """Three decisions; the last state alone carries the result (Metamon's writers)."""
    foe = mon("gengar", types="ghost poison")
    states = [
        state(mon("snorlax"), foe, [mon("jirachi")]),
        state(mon("snorlax", 0.9), mon("gengar", 0.5, types="ghost poison"), [mon("jirachi")]),
        state(mon("snorlax", 0.9), mon("gengar", 0.2, types="ghost poison"), [mon("jirachi")]),
    ]
    last = state(
        mon("snorlax", 0.9), mon("gengar", 0.0, "fnt", types="ghost poison"), [mon("jirachi")],
        remaining=5, won=won, lost=not won,
    )  # fmt: skip
    if play_style:  # a state at reset and after every step: n + 1 states, n actions
        return {"states": [*states, last], "actions": [1, 1, 1]}
    # parser: one state per action; the last state is the end, its action unused
    return {"states": [*states, last], "actions": [1, 1, 1, 0]}


@pytest.mark.parametrize("play_style", [False, True])
@pytest.mark.parametrize("won", [True, False])
def test_terminal_reward_from_the_last_state_only(won: bool, play_style: bool) -> None:
    from training.dataset import TrajectoryDataset
    from training.entities import EntityEncoder
    from training.shard_writer import encode_trajectory
    from training.tokenizer import Vocabulary

    trajectory = _ending(won, play_style)
    sample = TrajectoryDataset(None, max_seq_len=10).window(trajectory)  # type: ignore[arg-type]
    # damage 0.5 - 0.1 own hp; 0.3; 0.2 + 0.5 status (fnt) + 1 removed, then +-100
    end = 0.2 + 0.5 + 1.0 + (100.0 if won else -100.0)
    assert sample.rewards.tolist() == pytest.approx([0.4, 0.3, end])
    assert sample.dones.tolist() == [False, False, True]
    assert sample.actions.tolist() == [1, 1, 1]
    encoded = encode_trajectory(trajectory, EntityEncoder(Vocabulary.build()), int)
    assert encoded.rewards.tolist() == pytest.approx([0.4, 0.3, end])
    # a window that stops short of the end carries no terminal reward and no done
    short = TrajectoryDataset(None, max_seq_len=2)  # type: ignore[arg-type]
    for _ in range(20):
        w = short.window(trajectory)
        assert (abs(w.rewards) > 50).tolist() == w.dones.tolist()


# --------------------------------------------------------------------------------------
# 4. the shaped reward matches Pokémon by base species (forme changes)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("eiscue", "eiscuenoice"),  # Ice Face broken
        ("Eiscue", "Eiscue-Noice"),  # the same, as display names
        ("miniormeteor", "minior"),  # Shields Down: Meteor -> (Red) Core
        ("Minior-Meteor", "Minior-Indigo"),
        ("minior", "miniorviolet"),
        ("mimikyu", "mimikyubusted"),
        ("Mimikyu", "Mimikyu-Busted"),
        ("darmanitan", "darmanitanzen"),
    ],
)
def test_a_renamed_forme_is_neither_a_faint_nor_a_new_pokemon(before: str, after: str) -> None:
    from training.reward import base_species, shaped_reward

    assert base_species(before) == base_species(after)
    # our active changes forme while taking 30%; the opponent's changes forme taking 40%
    prev = state(mon(before), mon(before, types="ice notype"), [mon("jirachi")])
    now = state(mon(after, 0.7), mon(after, 0.6, types="ice notype"), [mon("jirachi")])
    assert shaped_reward(prev, now) == pytest.approx(0.4 - 0.3)
    # it came in from the bench already renamed: its hp change is still found
    prev = state(mon("snorlax"), mon("gengar"), [mon(before, 0.9), mon("jirachi")])
    now = state(mon(after, 0.5), mon("gengar"), [mon("snorlax"), mon("jirachi")])
    assert shaped_reward(prev, now) == pytest.approx(-0.4)


def test_a_different_pokemon_is_still_a_switch() -> None:
    from training.reward import shaped_reward

    prev = state(mon("snorlax"), mon("gengar", 0.5), [mon("jirachi")])
    now = state(mon("snorlax"), mon("eiscuenoice", 0.6), [mon("jirachi")])  # they switched
    assert shaped_reward(prev, now) == pytest.approx(0.0)
    now = state(mon("zapdos", 0.2, "par"), mon("gengar", 0.5), [mon("jirachi")])  # unseen
    assert shaped_reward(prev, now) == pytest.approx(0.0)


# --------------------------------------------------------------------------------------
# 5. 9-action files (no tera) on a 13-action model
# --------------------------------------------------------------------------------------


def _nine_action_battle(won: bool) -> dict:
    """A gen 4 battle as Metamon 1.1 writes it: actions 0-8 only, -1 where hidden."""
    foe = mon("gengar", types="ghost poison")
    lax = mon(
        "snorlax",
        moves=[move("bodyslam"), move("crunch", "DARK"), move("earthquake", "GROUND"), NO_MOVE],
    )
    bench = [mon("jirachi", types="psychic steel"), mon("skarmory", types="flying steel")]
    states = [
        state(lax, foe, bench),  # 2: earthquake
        state({**lax, "hp_pct": 0.8}, {**foe, "hp_pct": 0.6}, bench),  # 5: skarmory
        state(bench[1], {**foe, "hp_pct": 0.6}, [lax, bench[0]]),  # -1: hidden
        state(bench[1], {**foe, "hp_pct": 0.3}, [lax, bench[0]]),  # 1: the second move
        state(bench[1], {**foe, "hp_pct": 0.1}, [lax, bench[0]], won=won, lost=not won),
    ]
    return {"states": states, "actions": [2, 5, -1, 1]}


def test_nine_action_files_index_mask_reward_and_train_a_13_action_model(tmp_path: Path) -> None:
    from training.dataset import TrajectoryDataset, collate
    from training.entities import EntityEncoder
    from training.features import StateEncoder as TextEncoder
    from training.model import ModelConfig, PolicyModel
    from training.offline_rl import OfflineRL
    from training.tokenizer import Vocabulary

    root = tmp_path / "gen4ou"
    root.mkdir()
    for i, won in enumerate((True, False)):
        name = f"gen4ou-{i}_1400_a_vs_b_01-0{i + 1}-2024_{'WIN' if won else 'LOSS'}.json"
        (root / name).write_text(json.dumps(_nine_action_battle(won)))
    index = build_index(tmp_path, use_cache=False)
    vocab = Vocabulary.build()
    encoder = EntityEncoder(vocab)
    ds = TrajectoryDataset(index, max_seq_len=10, encode=encoder)
    batch = collate([ds[0], ds[1]])
    legal = batch.states["legal"]
    assert legal.shape == (2, 5, 13)
    assert not legal[..., 9:].any()  # gen 4: no tera slots, ever
    text_masks = [TextEncoder.legal_mask(s) for s in _nine_action_battle(True)["states"]]
    assert not any(m[9:].any() for m in text_masks)  # the text view's mask agrees
    # moves 0-2 exist (slot 3 is "nomove"), two switches; a forced switch is switches only
    assert legal[0, 0, :9].tolist() == [True, True, True, False, True, True, False, False, False]
    # every labelled action is one the mask already allows (none had to be forced)
    rows, steps = torch.nonzero(batch.mask, as_tuple=True)
    assert legal[rows, steps, batch.actions[rows, steps]].all()
    assert sorted(batch.actions[0].tolist()) == [-1, 1, 2, 5]
    assert batch.mask[0].tolist() == [True, True, False, True]
    assert sorted(float(r) for r in batch.rewards[:, -1]) == pytest.approx([-99.8, 100.2])
    # a 13-action model takes a step on them
    torch.manual_seed(0)
    config = ModelConfig.preset("tiny", vocab_size=len(vocab), gammas=(0.5, 0.9))
    assert config.n_actions == 13
    model = PolicyModel(config)
    rl = OfflineRL(model, filter_gamma=0.9, actor_filter="none")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in model.parameters()]
    loss, _ = rl.loss(batch)
    assert torch.isfinite(loss)
    loss.backward()
    optimizer.step()
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))


# --------------------------------------------------------------------------------------
# 6. Metamon's spellings encode with no unknown word
# --------------------------------------------------------------------------------------


def test_metamon_spellings_encode_with_no_unknown_word() -> None:
    """Every text field in Metamon's own spelling (reference: upper-case move enums, sorted
    types padded with notype, its blank move, digit-less effects, hiddenpower, the ???
    type's enum name) finds its word, in both observations."""
    from training.entities import EntityEncoder
    from training.features import StateEncoder
    from training.tokenizer import Vocabulary

    curse = move("curse", "THREE_QUESTION_MARKS", "STATUS")
    lax = {
        **mon("snorlax", moves=[curse, move("hiddenpower", "NORMAL", "SPECIAL"), NO_MOVE]),
        "item": "leftovers",
        "ability": "thickfat",
        "effect": "perish",
        "status": "slp",
    }
    foe = {**mon("gengar", types="ghost poison"), "item": "unknownitem", "effect": "confusion"}
    bench = [
        {**mon("jirachi", types="psychic steel"), "item": "noitem", "ability": "serenegrace"},
        {
            **mon("porygonz", types="normal notype"),
            "moves": [move("triattack", "NORMAL", "SPECIAL")],
        },
        mon("skarmory", types="flying steel", status="fnt"),
    ]
    first = state(lax, foe, bench)
    first.update(
        player_conditions="stealthrock",
        opponent_conditions="spikes",
        weather="raindance",
        battle_field="trickroom",
        player_prev_move=move("bodyslam"),
        opponent_prev_move=move("shadowball", "GHOST", "SPECIAL"),
    )
    states = [first, state(lax, foe, bench, forced=True), state(lax, foe, bench, won=True)]
    vocab = Vocabulary.build()
    vocab.unknown_counts.clear()
    for encoder in (EntityEncoder(vocab), StateEncoder(vocab)):
        for s in states:
            encoder(s)
    assert not vocab.unknown_counts, vocab.unknown_counts.most_common()

"""training.shards: pre-tokenized shards built from synthetic trajectories read back exactly
as the raw files + StateEncoder would be (windows, index rows, filters, loader batches), the
trainer on shards, a vocabulary mismatch and bad command lines ending in one line."""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import training.data as D
from training import dataset as DS
from training import shard_format as SF
from training import shards as S
from training.data import IndexFilter, TrajectoryDataset, build_index, make_loader, read_bytes
from training.features import StateEncoder
from training.synthetic import write_dataset
from training.tokenizer import Vocabulary
from training.train import main as train_main
from training.train import make_parser as train_parser

REPO = Path(__file__).resolve().parents[3]
TINY = REPO / "training" / "configs" / "tiny_test.yaml"
N = 24
PER_PART = 7

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.build()


@pytest.fixture(autouse=True)
def fast_vocab(vocab, monkeypatch, tmp_path_factory):
    """Vocabulary.build() takes seconds: hand out copies of the one built for the module.

    Also points the index cache at a temporary folder, as the other training tests do.
    """
    monkeypatch.setattr(Vocabulary, "build", classmethod(lambda cls: cls(vocab.words)))
    monkeypatch.setenv("TRAINING_INDEX_CACHE", str(tmp_path_factory.getbasetemp() / "index"))


@pytest.fixture(scope="module")
def raw(tmp_path_factory) -> Path:
    """24 trajectories as .json, .json.lz4 and tar members; both count conventions."""
    root = tmp_path_factory.mktemp("raw")
    write_dataset(
        root, N, formats=("gen9ou", "gen1ou"), kinds=("json", "lz4", "tar"), turns=(5, 30)
    )
    return root


@pytest.fixture(scope="module")
def built(raw, vocab, tmp_path_factory) -> S.BuildStats:
    """The text observation: its windows are compared with raw files + StateEncoder."""
    out = tmp_path_factory.mktemp("shards") / "shards"
    return S.build_shards(
        [raw], out, vocab=vocab, per_part=PER_PART, workers=2, use_cache=False,
        observation="text",
    )  # fmt: skip


@pytest.fixture(scope="module")
def raw_index(raw):
    return build_index(raw, use_cache=False)


@pytest.fixture(scope="module")
def shard_index(built):
    return build_index(built.out, use_cache=False)


def basename(entry: D.IndexEntry) -> str:
    return (entry.member or entry.path).rpartition("/")[2]


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


# --------------------------------------------------------------------------------------
# the folder


def test_layout_and_manifest(built, raw, vocab) -> None:
    out = built.out
    manifest = json.loads((out / SF.MANIFEST).read_text())
    assert manifest["format"] == SF.FORMAT and manifest["version"] == SF.VERSION
    assert manifest["vocab_digest"] == vocab.digest() and manifest["vocab_size"] == len(vocab)
    assert (manifest["n_tokens"], manifest["n_numbers"], manifest["n_actions"]) == (87, 48, 13)
    assert manifest["trajectories"] == N and manifest["skipped"] == 0
    assert [p["trajectories"] for p in manifest["parts"]] == [7, 7, 7, 3]
    assert sorted(p.name for p in out.iterdir()) == [SF.MANIFEST] + [
        f"part-{i:05d}" for i in range(4)
    ]
    states = transitions = 0
    for meta in manifest["parts"]:
        part = out / meta["name"]
        arrays = {k: np.load(part / f"{k}.npy", mmap_mode="r") for k in SF.ARRAYS}
        s, a = meta["states"], meta["transitions"]
        assert arrays["tokens"].shape == (s, 87) and arrays["tokens"].dtype == np.int16
        assert arrays["numbers"].shape == (s, 48) and arrays["numbers"].dtype == np.float32
        assert arrays["legal"].shape == (s, 13) and arrays["legal"].dtype == np.bool_
        assert arrays["actions"].shape == (a,) and arrays["actions"].dtype == np.int8
        assert arrays["rewards"].shape == (a,) and arrays["rewards"].dtype == np.float32
        n = meta["trajectories"]
        so, ao = arrays["state_offsets"], arrays["action_offsets"]
        assert so[0] == ao[0] == 0 and so[-1] == s and ao[-1] == a and len(so) == n + 1
        assert (np.diff(so) - np.diff(ao) == 1).all()  # T + 1 states for T actions
        assert len((part / SF.NAMES).read_text().splitlines()) == n
        assert (arrays["tokens"] > 0).any(axis=1).all()  # no state is all padding
        assert arrays["tokens"].max() < len(vocab)
        states, transitions = states + s, transitions + a
    assert (states, transitions) == (manifest["states"], manifest["transitions"])
    # T actions per trajectory whichever convention its file used (T or T + 1 actions)
    assert transitions == states - N


def test_index_rows_match_the_raw_files(raw_index, shard_index) -> None:
    assert len(shard_index) == len(raw_index) == N
    for i in range(N):
        a, b = raw_index[i], shard_index[i]
        assert basename(a) == basename(b)  # built in index order
        assert b.in_shard and not a.in_shard
        assert os.path.basename(b.path).startswith("part-") and b.offset == i % PER_PART
        assert b.name == a.name  # format, rating, players, date, result
    for col in ("format", "rating", "day", "won"):
        assert np.array_equal(getattr(raw_index, col), getattr(shard_index, col))
    assert raw_index.formats == shard_index.formats
    assert raw_index.battle_ids() == shard_index.battle_ids()
    with pytest.raises(ValueError, match="pre-tokenized"):
        read_bytes(shard_index[0])


def test_cached_index_of_shards_is_rebuilt_after_an_overwrite(built, raw, tmp_path) -> None:
    out = tmp_path / "copy"
    shutil.copytree(built.out, out)
    cache = tmp_path / "cache"
    first = build_index(out, cache_dir=cache)
    assert len(first) == N
    S.build_shards(
        [raw], out, IndexFilter(formats=("gen1ou",)), overwrite=True, workers=0,
        observation="text",
    )  # fmt: skip
    again = build_index(out, cache_dir=cache)
    assert len(again) == N // 2 and set(again.formats[f] for f in again.format) == {"gen1ou"}


# --------------------------------------------------------------------------------------
# windows and batches


@pytest.mark.parametrize("max_seq_len", [4, 200])
def test_shard_window_equals_the_raw_window(raw_index, shard_index, vocab, max_seq_len) -> None:
    raw_ds = TrajectoryDataset(raw_index, max_seq_len, encode=StateEncoder(vocab))
    shard_ds = TrajectoryDataset(shard_index, max_seq_len)
    starts = set()
    for i in range(N):
        for k in range(3):
            random.seed(1000 * i + k)
            a = raw_ds[i]
            random.seed(1000 * i + k)
            b = shard_ds[i]
            assert a.start == b.start and a.index == b.index == i
            starts.add(a.start)
            assert list(b.states) == ["tokens", "numbers", "legal"] == list(a.states)
            for key in a.states:
                x, y = a.states[key], b.states[key]
                assert x.dtype == y.dtype and x.shape == y.shape, key
                assert torch.equal(x, y), key
            for key in ("actions", "mask", "rewards", "dones"):
                x, y = getattr(a, key), getattr(b, key)
                assert x.dtype == y.dtype and torch.equal(x, y), key
            assert len(b.actions) == min(max_seq_len, len(b.states["tokens"]) - 1)
    if max_seq_len == 4:
        assert len(starts) > 3  # the windows really moved
    else:
        assert all(s == 0 for s in starts)  # whole trajectories, the last one done


def test_loader_with_two_workers_matches_the_raw_path(raw_index, shard_index, vocab) -> None:
    def batches(index, encode):
        loader = make_loader(
            index,
            batch_size=8,
            max_seq_len=10,
            encode=encode,
            num_workers=2,
            prefetch_factor=2,
            persistent_workers=False,
            seed=7,
        )
        return list(loader)

    from_raw = batches(raw_index, StateEncoder(vocab))
    from_shards = batches(shard_index, None)
    assert len(from_raw) == len(from_shards) == N // 8
    seen = []
    for a, b in zip(from_raw, from_shards, strict=True):
        assert isinstance(b.states, dict) and list(b.states) == list(a.states)
        for key in a.states:
            assert a.states[key].dtype == b.states[key].dtype
            assert a.states[key].shape == b.states[key].shape
            assert b.states[key].shape[:2] == (8, b.actions.shape[1] + 1)
            assert torch.equal(a.states[key], b.states[key])  # same rows, same windows
        for key in ("actions", "mask", "valid", "rewards", "dones", "lengths", "index"):
            x, y = getattr(a, key), getattr(b, key)
            assert x.dtype == y.dtype and torch.equal(x, y), key
        seen += b.index.tolist()
    assert sorted(seen) == list(range(N))


def test_encode_is_ignored_for_shards_and_logged_once(shard_index, vocab, caplog, monkeypatch):
    monkeypatch.setattr(DS, "_shards_logged", False)
    with caplog.at_level(logging.INFO, logger="training.data"):
        for _ in range(2):
            ds = TrajectoryDataset(shard_index, 8, encode=lambda state: 1 / 0)
            assert ds[3].states["tokens"].dtype == torch.int64  # the lambda never ran
    lines = [r.message for r in caplog.records if "pre-tokenized shards" in r.message]
    assert len(lines) == 1 and "encode applies to raw files only" in lines[0]


def test_mixed_roots_need_an_encoder(raw, built, vocab) -> None:
    mixed = build_index([raw, built.out], use_cache=False)
    assert len(mixed) == 2 * N and 0 < int((mixed.size == SF.SHARD_ROW).sum()) < len(mixed)
    with pytest.raises(ValueError, match="mixes pre-tokenized shards with raw"):
        TrajectoryDataset(mixed, 8)
    with pytest.raises(ValueError, match="encode=StateEncoder"):
        make_loader(mixed, num_workers=0)
    loader = make_loader(
        mixed, batch_size=2 * N, max_seq_len=200, encode=StateEncoder(vocab), num_workers=0
    )
    batch = next(iter(loader))
    assert batch.states["tokens"].dtype == torch.int64 and len(batch) == 2 * N
    # every raw trajectory and its shard twin: the same whole trajectory (max_seq_len 200)
    order = batch.index.tolist()
    for i in range(N):
        a, b = order.index(i), order.index(N + i)
        n = int(batch.lengths[a])
        assert n == int(batch.lengths[b])
        assert torch.equal(batch.states["tokens"][a], batch.states["tokens"][b])
        assert torch.equal(batch.rewards[a, :n], batch.rewards[b, :n])


# --------------------------------------------------------------------------------------
# filters


def test_filters_and_split_by_battle_on_shards(raw_index, shard_index) -> None:
    for filters in (
        IndexFilter(formats=("gen9ou",)),
        IndexFilter(min_rating=1400, result="win"),
        IndexFilter(players=(raw_index._parts(0)[2],)),
    ):
        a, b = raw_index.filter(filters), shard_index.filter(filters)
        assert 0 < len(b) < N
        assert [basename(a[i]) for i in range(len(a))] == [basename(b[i]) for i in range(len(b))]
    rest, held = shard_index.split_by_battle(0.3, seed=1)
    _, raw_held = raw_index.split_by_battle(0.3, seed=1)
    assert len(held) == len(raw_held) > 0 and len(rest) + len(held) == N
    assert set(held.battle_ids()) == set(raw_held.battle_ids())
    assert not set(held.battle_ids()) & set(rest.battle_ids())
    sample = TrajectoryDataset(held, 8)[0]  # a sub-index still reads its own rows
    assert sample.index == 0 and sample.states["tokens"].shape[1] == 87


def test_unreadable_trajectories_are_skipped_and_counted(tmp_path, vocab, caplog) -> None:
    root = tmp_path / "raw"
    write_dataset(root, 3, turns=(5, 8))
    (root / "gen9ou" / "gen9ou-9_1500_a_vs_b_01-01-2024_WIN.json.lz4").write_bytes(b"not lz4")
    with caplog.at_level(logging.WARNING, logger="training.shards"):
        stats = S.build_shards([root], tmp_path / "out", vocab=vocab, workers=0, use_cache=False)
    assert (stats.trajectories, stats.skipped) == (3, 1)
    assert "gen9ou-9_1500" in caplog.text and "skipping unreadable" in caplog.text
    assert len(build_index(tmp_path / "out", use_cache=False)) == 3


# --------------------------------------------------------------------------------------
# the trainer


def train(data: Path, out: Path, *extra: str) -> int:
    argv = ["--config", str(TINY), "--data_path", str(data), "--out", str(out), *extra]
    return train_main(train_parser().parse_args(argv))


def test_trainer_runs_on_shards(built, tmp_path) -> None:
    out = tmp_path / "run"
    assert train(
        built.out, out, "--max_steps", "3", "--data.val_fraction", "0.2",
        "--model.observation", "text",
    ) == 0  # fmt: skip
    assert (out / "model.safetensors").exists()
    rows = (out / "log.csv").read_text().splitlines()
    assert len(rows) == 1 + 3 + 1  # header, 3 steps, one validation row


def test_entity_shards_hold_the_entity_encoder_and_the_model_must_match(
    raw, raw_index, vocab, tmp_path, capsys
) -> None:
    from training.entities import EntityEncoder

    out = tmp_path / "entities"
    S.build_shards([raw], out, vocab=vocab, workers=0, use_cache=False)  # the default
    manifest = json.loads((out / SF.MANIFEST).read_text())
    assert manifest["observation"] == "entities"
    assert (manifest["n_tokens"], manifest["n_numbers"]) == (152, 475)
    shard_ds = TrajectoryDataset(build_index(out, use_cache=False), 200)
    raw_ds = TrajectoryDataset(raw_index, 200, encode=EntityEncoder(vocab))
    names = {basename(raw_index[i]): i for i in range(N)}
    random.seed(3)
    a = shard_ds[0]
    random.seed(3)
    b = raw_ds[names[basename(shard_ds.index[0])]]
    for key in ("tokens", "numbers", "legal"):
        assert torch.equal(torch.as_tensor(a.states[key]), torch.as_tensor(b.states[key])), key
    # a model of the other observation is told to rebuild, in one line
    assert train(out, tmp_path / "run", "--max_steps", "1", "--model.observation", "text") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the log lines
    assert "'entities' observation" in err and "--observation text" in err
    assert train(out, tmp_path / "run2", "--max_steps", "2", "--data.val_fraction", "0") == 0


def test_trainer_refuses_shards_of_another_vocabulary(built, tmp_path, capsys) -> None:
    shards = tmp_path / "shards"
    shutil.copytree(built.out, shards)
    manifest = json.loads((shards / SF.MANIFEST).read_text())
    manifest["vocab_digest"] = "0" * 64
    (shards / SF.MANIFEST).write_text(json.dumps(manifest))
    assert train(shards, tmp_path / "run", "--max_steps", "2", "--model.observation", "text") == 2
    err = capsys.readouterr().err
    (line,) = error_lines(err)
    assert "another vocabulary" in line and "rebuild" in line and "Traceback" not in err


def test_trainer_refuses_shards_of_another_version(built, tmp_path, capsys) -> None:
    shards = tmp_path / "shards"
    shutil.copytree(built.out, shards)
    manifest = json.loads((shards / SF.MANIFEST).read_text())
    manifest["version"] = 99
    (shards / SF.MANIFEST).write_text(json.dumps(manifest))
    assert train(shards, tmp_path / "run") == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "version 99" in line and "--overwrite" in line


# --------------------------------------------------------------------------------------
# the command line


def test_cli_builds_with_filters(raw, tmp_path, capsys) -> None:
    out = tmp_path / "out"
    code = S.main([str(raw), "--out", str(out), "--formats", "gen9ou", "--workers", "1"])
    assert code == 0
    manifest = json.loads((out / SF.MANIFEST).read_text())
    assert manifest["trajectories"] == N // 2 and manifest["filters"]["formats"] == ["gen9ou"]
    assert f"{N // 2} trajectories" in capsys.readouterr().out
    # again without --overwrite: refused; with it: rebuilt
    assert S.main([str(raw), "--out", str(out)]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "--overwrite" in line
    assert S.main([str(raw), "--out", str(out), "--overwrite", "--workers", "0"]) == 0
    assert json.loads((out / SF.MANIFEST).read_text())["trajectories"] == N


@pytest.mark.parametrize(
    "case, expected",
    [
        ("missing", "no such file or folder"),
        ("no-match", "no trajectories"),
        ("other-files", "holds other files"),
        ("bad-per-part", "--per-part"),
    ],
)
def test_cli_bad_input_is_one_line(raw, tmp_path, capsys, case, expected) -> None:
    out = tmp_path / "out"
    argv = [str(raw), "--out", str(out)]
    if case == "missing":
        argv[0] = str(tmp_path / "nope")
    elif case == "no-match":
        argv += ["--formats", "gen5ou"]
    elif case == "other-files":
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    else:
        argv += ["--per-part", "0"]
    assert S.main(argv) == 2
    err = capsys.readouterr().err
    assert error_lines(err) == err.strip().splitlines()  # nothing but the one line
    (line,) = error_lines(err)
    assert expected in line and "Traceback" not in err
    assert not (out / SF.MANIFEST).exists()

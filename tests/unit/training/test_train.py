"""training.offline_rl and training.train: the loss terms on hand-made tensors, the config,
a short run on synthetic trajectories (the loss falls, checkpoints and log.csv appear),
--resume, and bad input ending in one line."""

from __future__ import annotations

import csv
import logging
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from training.checkpoint import load_checkpoint
from training.model import ModelConfig, ModelOutput, PolicyModel
from training.offline_rl import (
    OfflineRL,
    actor_loss,
    actor_weights,
    critic_loss,
    legal_with_taken,
    model_inputs,
    policy_values,
    shift_right,
    taken,
    td_targets,
)
from training.synthetic import write_dataset
from training.tokenizer import Vocabulary
from training.train import (
    Config,
    ConfigError,
    OptimArgs,
    load_yaml,
    lr_at,
    main,
    make_parser,
    resolve_config,
    validate,
)

REPO = Path(__file__).resolve().parents[3]
CONFIGS = REPO / "training" / "configs"
TINY = CONFIGS / "tiny_test.yaml"
STEPS = 40


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def run(argv: list[str]) -> int:
    return main(make_parser().parse_args(argv))


def train(dataset: Path, out: Path, *extra: str) -> int:
    """The trainer on the tiny test config: `--data_path dataset --out out` plus `extra`."""
    return run(["--config", str(TINY), "--data_path", str(dataset), "--out", str(out), *extra])


# --------------------------------------------------------------------------------------
# loss terms on hand-made tensors


def test_shift_right_and_inputs():
    actions = torch.tensor([[2, -1, 5], [7, -1, -1]])  # second row: 1 turn, then padding
    rewards = torch.tensor([[0.5, -1.0, 100.0], [0.25, 0.0, 0.0]])
    legal = torch.zeros(2, 4, 13, dtype=torch.bool)
    legal[0, :, 0] = True
    legal[1, :2, 0] = True  # row 1: two real states, then padding (all False)
    batch = SimpleNamespace(
        states={"tokens": torch.zeros(2, 4, 87), "numbers": torch.zeros(2, 4, 48), "legal": legal},
        actions=actions,
        rewards=rewards,
    )
    inputs = model_inputs(batch)
    assert inputs["prev_action"].tolist() == [[-1, 2, -1, 5], [-1, 7, -1, -1]]
    assert inputs["prev_reward"].tolist() == [[0.0, 0.5, -1.0, 100.0], [0.0, 0.25, 0.0, 0.0]]
    assert shift_right(torch.tensor([[1.0]]), 9.0).tolist() == [[9.0, 1.0]]

    fixed = inputs["legal"]
    assert fixed[0, 0, 2] and fixed[0, 2, 5] and fixed[1, 0, 7]  # the taken actions
    assert fixed[0, 1].tolist() == legal[0, 1].tolist()  # a hidden action changes nothing
    assert not fixed[1, 2:].any()  # padding stays all-False
    assert not legal[0, 0, 2]  # the input mask is not modified in place
    assert torch.equal(legal_with_taken(legal, torch.full((2, 3), -1)), legal)


def test_td_targets():
    rewards = torch.tensor([[1.0, 2.0]])
    dones = torch.tensor([[False, True]])
    next_values = torch.tensor([[[10.0, 20.0], [30.0, 40.0]]])  # (B, T, G)
    gammas = torch.tensor([0.5, 0.9])
    y = td_targets(rewards, dones, next_values, gammas)
    # y = r + gamma * (1 - done) * V(s'); the terminal transition does not bootstrap
    assert torch.allclose(y, torch.tensor([[[1.0 + 5.0, 1.0 + 18.0], [2.0, 2.0]]]))


def test_critic_loss_only_on_real_turns():
    values = torch.tensor([[[1.0], [2.0], [50.0]]])
    targets = torch.tensor([[[0.0], [0.0], [0.0]]])
    valid = torch.tensor([[True, True, False]])
    assert critic_loss(values, targets, valid).item() == pytest.approx((1 + 4) / 2)


def test_binary_filter_zeros_negative_advantages():
    adv = torch.tensor([[0.5, -0.1, 0.0, 2.0]])
    assert actor_weights(adv, "binary").tolist() == [[1.0, 0.0, 0.0, 1.0]]
    assert actor_weights(adv, "none").tolist() == [[1.0, 1.0, 1.0, 1.0]]
    with pytest.raises(ValueError):
        actor_weights(adv, "awr")


def test_actor_loss_excludes_hidden_actions_and_padding():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 13, requires_grad=True)
    actions = torch.tensor([[3, -1, 5, 0], [1, 2, -1, -1]])
    mask = torch.tensor([[True, False, True, True], [True, True, False, False]])
    mask[0, 3] = False  # a padded turn whose action slot happens to hold 0: still excluded
    weights = torch.ones(2, 4)
    loss, stats = actor_loss(logits, actions, mask, weights)
    known = [(0, 0), (0, 2), (1, 0), (1, 1)]
    expected = torch.stack(
        [F.cross_entropy(logits[b, t : t + 1], actions[b, t : t + 1]) for b, t in known]
    ).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert stats["bc"].item() == pytest.approx(expected.item(), rel=1e-6)
    assert stats["filtered"].item() == 1.0
    loss.backward()
    for b, t in [(0, 1), (0, 3), (1, 2), (1, 3)]:
        assert not logits.grad[b, t].any()  # no gradient from excluded turns
    # accuracy counts argmax hits among known actions only
    hits = sum(int(logits[b, t].argmax() == actions[b, t]) for b, t in known)
    assert stats["accuracy"].item() == pytest.approx(hits / 4)


def test_actor_loss_with_masked_logits_stays_finite():
    logits = torch.full((1, 2, 13), torch.finfo(torch.float32).min)
    logits[0, 0, 4] = 0.0  # one legal action in turn 0; turn 1 is padding (all masked)
    loss, _ = actor_loss(
        logits, torch.tensor([[4, -1]]), torch.tensor([[True, False]]), torch.ones(1, 2)
    )
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def _tiny(seed: int = 0, **overrides) -> PolicyModel:
    torch.manual_seed(seed)
    return PolicyModel(ModelConfig.preset("tiny", vocab_size=20, gammas=(0.5, 0.9), **overrides))


def _legal_logits(T: int, legal: tuple[int, ...] = (0, 1, 2, 3)) -> torch.Tensor:
    """(1, T, 13) logits: 0 on the legal actions, masked elsewhere (pi uniform on them)."""
    logits = torch.full((1, T, 13), torch.finfo(torch.float32).min)
    logits[..., list(legal)] = 0.0
    return logits


def test_policy_values_and_taken():
    logits = _legal_logits(1)  # pi = 1/4 on actions 0-3
    q = torch.zeros(1, 1, 13, 2)
    q[0, 0, :4, 1] = torch.tensor([4.0, 0.0, 0.0, 0.0])
    q[0, 0, 7, :] = 1000.0  # an illegal action's Q weighs nothing
    assert policy_values(logits, q).tolist() == [[[0.0, 1.0]]]
    assert taken(q, torch.tensor([[0]])).tolist() == [[[0.0, 4.0]]]
    assert taken(q, torch.tensor([[-1]])).tolist() == [[[0.0, 4.0]]]  # -1 reads 0: mask it


def test_learner_filters_by_the_advantage_of_q():
    """A(s, a) = Q(s, a) - sum_b pi(b|s) Q(s, b), at the chosen gamma."""
    rl = OfflineRL(_tiny(), filter_gamma=0.9, reward_scale=0.1, critic_coef=2.0)
    T = 3
    logits = _legal_logits(T + 1).requires_grad_(True)
    q = torch.zeros(1, T + 1, 13, 2)  # gammas (0.5, 0.9); only the 0.9 column is set
    q[0, 0, :4, 1] = torch.tensor([1.0, 0.0, 0.0, 0.0])  # took 0: A = 1 - 0.25 > 0
    q[0, 1, :4, 1] = torch.tensor([1.0, 0.0, 0.0, 0.0])  # took 2: A = 0 - 0.25 < 0
    q[0, 2, :4, 1] = torch.tensor([0.0, 0.0, 0.0, 2.0])  # took 3: A = 2 - 0.5 > 0
    q[0, 3, :4, 1] = 4.0  # the bootstrap state (after a terminal transition: unused)
    q.requires_grad_(True)
    batch = SimpleNamespace(
        actions=torch.tensor([[0, 2, 3]]),
        mask=torch.tensor([[True, True, True]]),
        valid=torch.tensor([[True, True, True]]),
        rewards=torch.tensor([[0.0, 0.0, 10.0]]),  # scaled by 0.1 -> 1.0 at the end
        dones=torch.tensor([[False, False, True]]),
    )
    out = ModelOutput(logits, q, None)
    loss, stats = rl.loss_from_outputs(out, q.detach().clone(), batch)
    assert stats["filtered"].item() == pytest.approx(2 / 3)
    assert stats["advantage"].item() == pytest.approx((0.75 - 0.25 + 1.5) / 3)
    loss.backward()
    assert logits.grad[0, 0].any() and logits.grad[0, 2].any()
    assert not logits.grad[0, 1].any()  # negative advantage: not imitated
    assert not logits.grad[0, 3].any()  # the bootstrap state is no decision
    # critic: Q(s_t, a_t) against y = r + g (1 - d) sum_b pi(b|s') Q_target(s', b)
    v_next = [[0.0, 0.25], [0.0, 0.5], [0.0, 0.0]]  # V of s1, s2 (s3: done)
    r, gammas = [0.0, 0.0, 1.0], [0.5, 0.9]
    q_taken = [[0.0, 1.0], [0.0, 0.0], [0.0, 2.0]]
    terms = [
        (q_taken[t][g] - (r[t] + (t < 2) * gammas[g] * v_next[t][g])) ** 2
        for t in range(3)
        for g in range(2)
    ]
    assert stats["critic"].item() == pytest.approx(sum(terms) / 6)
    assert q.grad[0, 0, 0, 1] != 0 and q.grad[0, 1, 2, 1] != 0  # only taken actions learn
    assert not q.grad[0, 0, 1:].any() and not q.grad[0, 3].any()
    assert stats["loss"].item() == pytest.approx(
        stats["actor"].item() + 2.0 * stats["critic"].item()
    )


def _one_decision() -> SimpleNamespace:
    """One known decision (action 1), then padding."""
    return SimpleNamespace(
        actions=torch.tensor([[1, -1]]),
        mask=torch.tensor([[True, False]]),
        valid=torch.tensor([[True, True]]),
        rewards=torch.zeros(1, 2),
        dones=torch.tensor([[False, True]]),
    )


def test_learner_plain_bc_keeps_every_known_action():
    rl = OfflineRL(_tiny(), actor_filter="none", filter_gamma=0.9)
    logits = torch.zeros(1, 3, 13)
    q = torch.zeros(1, 3, 13, 2)
    q[0, 0, 1, 1] = -9.0  # a large negative advantage of the taken action
    batch = _one_decision()
    _, stats = rl.loss_from_outputs(ModelOutput(logits, q, None), q, batch)
    assert stats["filtered"].item() == 1.0
    assert stats["bc"].item() == pytest.approx(math.log(13))


def test_bc_coef_adds_plain_bc_to_the_filtered_actor():
    """A taken action the filter drops (negative advantage) still pulls the policy with
    bc_coef x its cross-entropy; bc_coef 0 is the filter alone."""
    q = torch.zeros(1, 3, 13, 2)
    q[0, 0, 1, 1] = -9.0  # the taken action: advantage < 0, filtered out
    batch = _one_decision()
    losses = {}
    for coef in (0.0, 0.5):
        rl = OfflineRL(_tiny(), actor_filter="binary", filter_gamma=0.9, bc_coef=coef)
        logits = torch.zeros(1, 3, 13, requires_grad=True)
        _, stats = rl.loss_from_outputs(ModelOutput(logits, q, None), q, batch)
        assert stats["filtered"].item() == 0.0
        losses[coef] = stats["actor"].item()
    assert losses[0.0] == 0.0
    assert losses[0.5] == pytest.approx(0.5 * math.log(13))
    with pytest.raises(ValueError, match="bc_coef"):
        OfflineRL(_tiny(), filter_gamma=0.9, bc_coef=-1.0)


def test_target_critic_head_polyak_and_periodic_copy():
    model = _tiny()
    rl = OfflineRL(model, filter_gamma=0.9, target_tau=0.5, target_every=2)
    # the target is a copy of the critic head only, not of the whole model
    assert set(rl.target.state_dict()) == set(model.critic_head.state_dict())
    before = {k: v.clone() for k, v in rl.target.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    rl.update_target()  # the first of every 2 calls: nothing moves
    assert all(torch.equal(before[k], v) for k, v in rl.target.state_dict().items())
    rl.update_target()
    online = model.critic_head.state_dict()
    for k, v in rl.target.state_dict().items():
        assert torch.allclose(v, (before[k] + online[k]) / 2)
    assert all(not p.requires_grad for p in rl.target.parameters())
    # tau 1 every step: the target is the online head itself, no copy kept
    assert OfflineRL(model, filter_gamma=0.9, target_tau=1.0).target is None


def test_learner_on_a_real_forward_pass():
    model = _tiny()
    rl = OfflineRL(model, filter_gamma=0.9)
    B, T = 2, 5
    g = torch.Generator().manual_seed(0)
    legal = torch.rand(B, T + 1, 13, generator=g) < 0.5
    legal[..., 0] = True
    legal[1, 3:] = False  # row 1 has 2 actions: its states 3.. are padding
    actions = torch.randint(0, 13, (B, T), generator=g)  # often outside `legal`: forced legal
    actions[1, 2:] = -1
    actions[0, 1] = -1
    c = model.config
    batch = SimpleNamespace(
        states={
            "tokens": torch.randint(0, 20, (B, T + 1, c.n_tokens), generator=g),
            "numbers": torch.randn(B, T + 1, c.n_numbers, generator=g),
            "legal": legal,
        },
        actions=actions,
        mask=actions >= 0,
        valid=torch.tensor([[True] * 5, [True, True, False, False, False]]),
        rewards=torch.randn(B, T, generator=g),
        dones=torch.tensor([[False] * 4 + [True], [False] * 5]),
    )
    loss, stats = rl.loss(batch)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert model.critic_head.out.weight.grad.abs().sum() > 0
    assert model.turn_encoder.token_emb.weight.grad.abs().sum() > 0
    assert set(stats) >= {"loss", "actor", "critic", "bc", "filtered", "accuracy", "value"}


def test_learner_rejects_a_gamma_the_model_lacks():
    with pytest.raises(ValueError, match="filter_gamma"):
        OfflineRL(_tiny(), filter_gamma=0.999)
    assert OfflineRL(_tiny(), filter_gamma=None).gamma_index is None


# --------------------------------------------------------------------------------------
# config


def test_shipped_configs_load():
    for path in sorted(CONFIGS.glob("*.yaml")):
        cfg = Config()
        load_yaml(cfg, path)
        validate(cfg)
    cfg = Config()
    load_yaml(cfg, CONFIGS / "h100_1gpu.yaml")  # the seed's run
    assert (cfg.model.size, cfg.data.batch_size, cfg.data.grad_accum) == ("base", 64, 2)
    assert (cfg.optim.lr, cfg.train.epochs, cfg.train.precision) == (3e-4, 3, "bf16")
    assert (cfg.data.num_workers, cfg.data.pin_memory, cfg.data.prefetch_factor) == (12, True, 4)
    assert cfg.data.max_seq_len == 200 and cfg.train.compile and cfg.data.pack


def test_flags_override_the_yaml():
    args = make_parser().parse_args(
        [
            "--config",
            str(TINY),
            "--data.batch_size",
            "7",
            "--optim.lr",
            "1e-4",
            "--max_steps",
            "3",
            "--data.formats",
            "gen9ou",
            "--model.overrides",
            "{d_model: 64}",
        ]
    )
    cfg = resolve_config(args)
    assert cfg.data.batch_size == 7 and cfg.optim.lr == 1e-4 and cfg.train.max_steps == 3
    assert cfg.data.formats == ["gen9ou"] and cfg.model.overrides == {"d_model": 64}
    assert cfg.model.size == "tiny"  # from the YAML


def test_bad_config_values():
    for flags, match in [
        (["--data.batch_size", "0"], "at least 1"),
        (["--train.precision", "fp8"], "choose one of"),
        (["--optim.lr", "fast"], "expected float"),
        (["--data.min_date", "yesterday"], "YYYY-MM-DD"),
    ]:
        with pytest.raises(ConfigError, match=match):
            resolve_config(make_parser().parse_args(flags))


def test_lr_schedule():
    o = OptimArgs(lr=1.0, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, 100, o) == pytest.approx(0.1)
    assert lr_at(9, 100, o) == pytest.approx(1.0)
    assert lr_at(10, 100, o) == pytest.approx(1.0)
    assert lr_at(55, 100, o) == pytest.approx(0.55)
    assert lr_at(100, 100, o) == pytest.approx(0.1)


# --------------------------------------------------------------------------------------
# a real run on synthetic trajectories


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("trajectories")
    write_dataset(root, 48, seed=3, turns=(15, 40))
    return root


@pytest.fixture(autouse=True)
def index_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TRAINING_INDEX_CACHE", str(tmp_path_factory.getbasetemp() / "index"))


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory) -> Path:
    """A 40-step run of the tiny model (plain BC, lr 3e-3, checkpoints at 20 and 40)."""
    out = tmp_path_factory.mktemp("run") / "out"
    mp = pytest.MonkeyPatch()
    mp.setenv("TRAINING_INDEX_CACHE", str(tmp_path_factory.getbasetemp() / "index"))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        code = train(dataset, out)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        mp.undo()
    assert code == 0
    return out


def read_log(out: Path) -> list[dict[str, float]]:
    with open(out / "log.csv", newline="") as f:
        return [{k: float(v) for k, v in row.items() if v} for row in csv.DictReader(f)]


@pytest.mark.slow  # trains a model
def test_training_lowers_the_loss(trained):
    rows = read_log(trained)
    assert [int(r["step"]) for r in rows] == list(range(1, STEPS + 1))
    first = sum(r["actor"] for r in rows[:5]) / 5
    last = sum(r["actor"] for r in rows[-5:]) / 5
    assert last < first - 0.25, (first, last)
    assert all(math.isfinite(r["loss"]) and math.isfinite(r["critic"]) for r in rows)


@pytest.mark.slow  # trains a model
def test_training_writes_checkpoints_and_logs(trained):
    names = {p.name for p in trained.iterdir()}
    assert {"config.yaml", "vocab.json", "log.csv", "optimizer.pt", "model.safetensors"} <= names
    assert {"step_0000020.safetensors", "step_0000040.safetensors"} <= names
    model, config, extra = load_checkpoint(trained / "model.safetensors")
    assert extra["step"] == STEPS and extra["size"] == "tiny"
    vocab = Vocabulary.from_dict(extra["vocabulary"])
    assert len(vocab) == config.vocab_size == model.turn_encoder.token_emb.num_embeddings
    assert extra["train_config"]["rl"]["actor_filter"] == "none"
    assert config.max_turns == 33  # max_seq_len 32 actions -> 33 states


@pytest.mark.slow  # trains a model
def test_resume_continues_the_run(trained, dataset, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(trained, out)
    before = torch.load(out / "optimizer.pt", weights_only=True)
    assert before["step"] == STEPS
    code = train(dataset, out, "--resume", "--max_steps", "45", "--rl.actor_filter", "binary")
    assert code == 0
    steps = [int(r["step"]) for r in read_log(out)]
    assert steps == list(range(1, 46))  # appended: 41..45 after the first run's 1..40
    after = torch.load(out / "optimizer.pt", weights_only=True)
    assert after["step"] == 45 and after["checkpoint"] == "step_0000045.safetensors"
    # AdamW's per-parameter step counts went on from the restored 40, not from 0
    counts = {float(s["step"]) for s in after["optimizer"]["state"].values()}
    assert counts == {45.0}
    _, _, extra = load_checkpoint(out / "model.safetensors")
    assert extra["step"] == 45 and "vocabulary" in extra
    assert extra["epoch"] == 3  # 12 steps an epoch (48 trajectories / 4): step 45 is in the 4th


@pytest.mark.slow  # trains a model
def test_init_from_starts_a_new_run_from_a_checkpoints_weights(trained, dataset, tmp_path):
    """A DAgger round or a fine-tune: a new run (step 0, new optimizer) whose weights,
    config and vocabulary are the checkpoint's."""
    start, config, _ = load_checkpoint(trained / "model.safetensors")
    out = tmp_path / "out"
    init = str(trained / "model.safetensors")
    code = train(dataset, out, "--max_steps", "3", "--model.init_from", init,
                 "--model.size", "small")  # fmt: skip
    assert code == 0
    assert [int(r["step"]) for r in read_log(out)] == [1, 2, 3]
    model, new_config, extra = load_checkpoint(out / "model.safetensors")
    assert new_config == config and extra["step"] == 3  # the checkpoint's size, not "small"
    before, after = start.state_dict(), model.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed  # trained on from the checkpoint's weights ...
    drift = max((before[k] - after[k]).abs().max().item() for k in before)
    assert drift < 0.1  # ... three small steps away from them, not a new random model


@pytest.mark.slow  # trains a model
def test_init_from_an_unreadable_checkpoint(dataset, tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_text("not a checkpoint")
    assert train(dataset, tmp_path / "out", "--model.init_from", str(bad)) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "model.init_from" in line and str(bad) in line


@pytest.mark.slow  # trains a model
def test_validation_split_is_evaluated_and_logged(dataset, tmp_path):
    out = tmp_path / "out"
    code = train(
        dataset, out, "--max_steps", "12", "--data.val_fraction", "0.25",
        "--train.eval_every", "6", "--train.save_every", "100",
    )  # fmt: skip
    assert code == 0
    rows = read_log_raw(out)
    val = [r for r in rows if r["val_accuracy"]]
    assert [int(r["step"]) for r in val] == [6, 12]
    for r in val:
        assert 0.0 <= float(r["val_accuracy"]) <= 1.0 and math.isfinite(float(r["val_actor"]))
        assert r["loss"] == ""  # a validation row carries validation terms only
    _, _, extra = load_checkpoint(out / "model.safetensors")
    logged = float(val[-1]["val_accuracy"])  # log.csv keeps 6 significant digits
    assert extra["metrics"]["val_accuracy"] == pytest.approx(logged, rel=1e-5)


@pytest.mark.slow  # trains a model
def test_a_small_folder_trains_holding_out_one_battle(tmp_path):
    """Six battles with the shipped 5% and batch 16: one battle is held out rather than
    none, and the batch fits the five left."""
    data = tmp_path / "small"
    write_dataset(data, 6, seed=5, turns=(10, 20))
    code = train(data, tmp_path / "out", "--max_steps", "2", "--train.eval_every", "2",
                 "--data.val_fraction", "0.05", "--data.batch_size", "16")  # fmt: skip
    assert code == 0
    val = [r for r in read_log_raw(tmp_path / "out") if r["val_accuracy"]]
    assert len(val) == 1


@pytest.mark.slow  # trains a model
def test_a_tiny_folder_trains_without_validation_after_one_warning(tmp_path, capsys):
    data = tmp_path / "tiny"
    write_dataset(data, 2, seed=6, turns=(10, 20))
    assert train(data, tmp_path / "out", "--max_steps", "2", "--data.val_fraction", "0.05") == 0
    said = " ".join(capsys.readouterr().err.split())
    assert said.count("without validation") == 1, said
    assert not [r for r in read_log_raw(tmp_path / "out") if r["val_accuracy"]]


@pytest.mark.slow  # trains a model
def test_training_skips_bad_files_and_fails_in_one_line_when_none_is_readable(tmp_path, capsys):
    data = tmp_path / "half-bad"
    paths = sorted(write_dataset(data, 24, seed=7, turns=(10, 20)))
    for path in paths[4:16]:  # 12 in a row
        path.write_bytes(b"not a trajectory")
    assert train(data, tmp_path / "out", "--max_steps", "3") == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and " ".join(err.split()).count("skipping unreadable") <= 12
    for path in paths:
        path.write_bytes(b"not a trajectory")
    assert train(data, tmp_path / "out2", "--max_steps", "3") == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "none of the 24 trajectories could be read" in line


@pytest.mark.slow  # trains a model
def test_validation_fraction_too_large_for_the_data(dataset, tmp_path, capsys):
    assert train(dataset, tmp_path / "out", "--data.val_fraction", "0.999") == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "val_fraction" in line and "add data" in line


def read_log_raw(out: Path) -> list[dict[str, str]]:
    with open(out / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------------------
# bad input: one line on stderr, exit status 2


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


@pytest.mark.slow  # trains a model
def test_missing_data_path(tmp_path, capsys):
    code = run(["--config", str(TINY), "--data_path", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert code == 2 and error_lines(err) == [
        f"error: --data_path {tmp_path / 'nope'}: no such file or folder"
    ]
    assert run(["--config", str(TINY)]) == 2
    assert "--data_path is required" in capsys.readouterr().err


@pytest.mark.slow  # trains a model
def test_empty_index(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    code = train(tmp_path / "data", tmp_path / "out")
    err = capsys.readouterr().err
    assert code == 2
    [line] = error_lines(err)
    assert "no trajectories" in line and "Traceback" not in err


@pytest.mark.slow  # trains a model
def test_existing_run_needs_resume(trained, dataset, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(trained, out)
    code = train(dataset, out)
    assert code == 2 and "--resume" in error_lines(capsys.readouterr().err)[0]
    code = train(dataset, tmp_path / "empty", "--resume")
    assert code == 2 and "no run to continue" in error_lines(capsys.readouterr().err)[0]


@pytest.mark.slow
def test_bad_config_key_in_a_subprocess(tmp_path, dataset):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  batchsize: 8\n")
    proc = subprocess.run(
        [sys.executable, "-m", "training.train", "--config", str(bad), "--data_path", str(dataset)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0, proc.stderr  # one line, no traceback
    assert "unknown key 'data.batchsize'" in proc.stderr and "batch_size" in proc.stderr


@pytest.mark.slow  # two training processes
def test_torchrun_ddp_on_two_cpu_processes(tmp_path, dataset, tmp_path_factory):
    """The DDP path (gloo on the CPU): two processes, packed batches of different row
    counts per process, one validation pass; rank 0 writes the log and the model."""
    out = tmp_path / "ddp"
    proc = subprocess.run(
        [
            sys.executable, "-m", "torch.distributed.run", "--standalone",
            "--nproc_per_node", "2", "-m", "training.train", "--config", str(TINY),
            "--data_path", str(dataset), "--out", str(out), "--train.max_steps", "6",
            "--train.log_every", "2", "--data.val_fraction", "0.2", "--train.eval_every", "6",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "TRAINING_INDEX_CACHE": str(tmp_path_factory.getbasetemp() / "index"),
            "OMP_NUM_THREADS": "1",
        },
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_log(out)
    assert [int(r["step"]) for r in rows if "loss" in r] == [2, 4, 6]
    assert any("val_accuracy" in r for r in rows)
    assert (out / "model.safetensors").exists()

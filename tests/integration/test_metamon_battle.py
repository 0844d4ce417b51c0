"""The `metamon` agent (a tiny random checkpoint) plays real battles on the bundled server."""

from __future__ import annotations

from pathlib import Path

import torch

from arena.engines import ServerEngine
from arena.plan import RunRequest, plan_run
from arena.run import finalize, play_session
from training.checkpoint import save_checkpoint
from training.model import ModelConfig, PolicyModel
from training.tokenizer import Vocabulary


def tiny_checkpoint(path: Path) -> Path:
    torch.manual_seed(0)
    vocab = Vocabulary.build()
    config = ModelConfig.preset("tiny", len(vocab))
    save_checkpoint(path, PolicyModel(config), config, {"vocabulary": vocab.to_dict(), "step": 1})
    return path


async def test_metamon_plays_legal_complete_battles(showdown_server, tmp_path):
    checkpoint = tiny_checkpoint(tmp_path / "tiny.safetensors")
    name = f"metamon:{checkpoint}"
    request = RunRequest(p1=name, p2="random", n=2, output_dir=tmp_path / "runs", seed=7,
                         concurrency=2)  # fmt: skip
    plan = plan_run(request)
    await play_session(plan, ServerEngine(showdown_server))
    record = finalize(plan.paths, finished=True)
    assert record is not None

    assert record.spec.p1.given == name
    assert record.spec.p1.resolved == str(checkpoint.resolve())
    assert record.spec.p1.params["size"] == "tiny" and record.spec.p1.params["step"] == 1
    assert len(record.battles) == 2
    for battle in record.battles:
        assert battle.error is None
        assert battle.winner in {"p1", "p2", "draw"}
        assert battle.turns >= 1
    mine = [d for d in record.decisions if d.side == "p1"]
    assert mine and {d.battle_tag for d in mine} == {b.battle_tag for b in record.battles}
    # Every order the model chose was legal and in time; the only fallback allowed is a
    # state with no action index (Struggle, Recharge), where a random legal order plays.
    assert all(d.fallback_reason in (None, "no_action_index") for d in mine), [
        d.fallback_reason for d in mine if d.fallback
    ]
    assert sum(not d.fallback for d in mine) >= len(mine) - 4

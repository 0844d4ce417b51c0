"""The `alphastral` agent (tiny model) in real battles: the prompts it scored are the
dataset's prompts for the same states, and `main.py` plays it with zero fallbacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")

from agents.alphastral import AlphastralAgent
from arena.engines import SimEngine
from arena.plan import RunRequest, plan_run
from arena.run import finalize, play_session
from battle.record import load_record
from finetune import dataset
from finetune.scraper import import_runs
from finetune.tiny import build_tiny_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("alphastral") / "tiny", seed=0)


@dataclass(frozen=True)
class Seen:
    side: str
    turn: int
    prompt: str
    options: list[str]
    chosen: str
    moves: bool  # a move decision (not a forced switch)


@pytest.mark.parametrize("battle_format", ["gen9randombattle", "gen4ou"])
async def test_agent_prompts_equal_the_dataset_prompts_of_its_battle(
    tiny, tmp_path, monkeypatch, torch_one_thread, battle_format
):
    seen: list[Seen] = []
    choose = AlphastralAgent.choose

    async def recording(self, battle):
        choice = await choose(self, battle)
        if choice is not None:
            options = [o.text for o in choice.options]
            seen.append(
                Seen(battle.player_role, battle.turn, choice.prompt, options,
                     options[choice.chosen], choice.options[0].kind == "move")
            )  # fmt: skip
        return choice

    monkeypatch.setattr(AlphastralAgent, "choose", recording)
    request = RunRequest(p1=f"alphastral:{tiny}", p2="random", n=1, concurrency=1,
                         output_dir=tmp_path / "runs", engine="sim", seed=7,
                         battle_format=battle_format)  # fmt: skip
    plan = plan_run(request)
    await play_session(plan, SimEngine(processes=1))
    record = finalize(plan.paths, finished=True)
    assert [b.error for b in record.battles] == [None]
    mine = [d for d in record.decisions if d.side == "p1"]
    assert mine and not any(d.fallback for d in mine)
    assert all(d.candidates and d.reasoning for d in mine)

    assert import_runs([plan.paths.record], tmp_path / "replays").written == 1
    out = tmp_path / "dataset"
    stats = dataset.build(
        dataset.Config(replays=tmp_path / "replays", out=out, sides="both", val_fraction=0.0)
    )
    assert stats["parsed_rerun"] == 1, stats  # the exact view: the battle re-ran
    pairs = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    ours = [p for p in pairs if p["side"] == "p1"]
    assert {p["side"] for p in pairs} == {"p1", "p2"}

    decided = [s for s in seen if s.side == "p1" and s.moves and len(s.options) > 1]
    assert len(ours) == len(decided) > 3
    for pair, agent in zip(ours, decided, strict=True):
        assert pair["turn"] == agent.turn
        assert pair["prompt"] == agent.prompt  # the same renderer on the same state
        assert pair["options"] == agent.options
        assert pair["completion"] == agent.chosen


def run_main(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "main.py", "--output", str(tmp_path / "runs"),
         "--reports", str(tmp_path / "reports"), "--log-level", "WARNING", *args],
        cwd=REPO, capture_output=True, text=True, timeout=280,
        env={**os.environ, "ALPHASTRAL_THREADS": "1"},
    )  # fmt: skip


def test_main_plays_alphastral_on_the_server_without_fallbacks(showdown_server, tiny, tmp_path):
    proc = run_main(tmp_path, "--p1", f"alphastral:{tiny}", "--p2", "random", "--n", "2",
                    "--concurrency", "2", "--server", showdown_server.url)  # fmt: skip
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    [path] = (tmp_path / "runs").glob("*.json")
    record = load_record(path)
    assert len(record.battles) == 2 and all(b.error is None for b in record.battles)
    mine = [d for d in record.decisions if d.side == "p1"]
    assert mine and record.summary.sides["p1"].fallback_rate == 0.0
    assert all(d.candidates for d in mine)
    assert record.spec.p1.resolved == str(tiny) and record.spec.p1.params["parameters"] > 0
    raw = json.loads(path.read_text())
    assert all("candidates" not in d for d in raw["decisions"] if d["side"] == "p2")


def test_main_with_missing_weights_is_one_line_before_any_battle(tmp_path):
    proc = run_main(tmp_path, "--p1", "alphastral:/no/such/dir", "--p2", "random")
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: alphastral: ") and "/no/such/dir" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").glob("*.json*"))

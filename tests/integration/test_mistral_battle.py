"""A Mistral agent (real SDK, local stand-in API) plays real battles, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mistral_standin import Reply, running_standin

from battle.record import load_record

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-integration-SECRET-5f1d2c9a"


def test_mistral_agent_plays_random_to_a_report_without_leaking_the_key(showdown_server, tmp_path):
    with running_standin() as standin:
        # Every fourth answer is unusable, so fallbacks show up in the record too.
        standin.script.extend([Reply(), Reply(), Reply(), Reply(content="<b>hmm</b>")] * 40)
        env = {**os.environ, "MISTRAL_API_KEY": KEY, "MISTRAL_SERVER_URL": standin.url,
               "MISTRAL_RPS": "200"}  # fmt: skip
        result = subprocess.run(
            [sys.executable, "main.py", "--p1", "mistral-large", "--p2", "random", "--n", "2",
             "--server", showdown_server.url, "--output", str(tmp_path / "runs"),
             "--reports", str(tmp_path / "reports"), "--log-level", "DEBUG"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    record = load_record(next((tmp_path / "runs").glob("*.json")))
    assert record.spec.p1.given == "mistral-large"
    assert record.spec.p1.resolved == "mistral-large-latest"
    assert len(record.battles) == 2 and all(b.error is None for b in record.battles)

    mine = [d for d in record.decisions if d.side == "p1"]
    answered = [d for d in mine if not d.fallback]
    assert answered and all(d.tokens == 150 and d.reasoning for d in answered)
    fallbacks = [d for d in mine if d.fallback]
    assert fallbacks and {d.fallback_reason for d in fallbacks} == {"unparseable"}
    assert record.summary.sides["p1"].fallback_rate == len(fallbacks) / len(mine)
    assert len(standin.received) >= len(mine)

    report = (tmp_path / "reports" / f"{record.spec.run_id}.html").read_text()
    assert "&lt;b&gt;hmm&lt;/b&gt;" in report and "<b>hmm</b>" not in report

    # The key is in no file the run wrote, nor in anything it printed (even at DEBUG).
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="replace"), path
    assert KEY not in result.stdout and KEY not in result.stderr


def test_mistral_agent_plays_gen9ou_seeing_the_team_preview(tmp_path):
    """A team format: the prompts carry the format, the opponent's previewed team and the
    own bench's full sets, and every answer is legal (no fallback)."""
    with running_standin() as standin:
        env = {**os.environ, "MISTRAL_API_KEY": KEY, "MISTRAL_SERVER_URL": standin.url,
               "MISTRAL_RPS": "200"}  # fmt: skip
        result = subprocess.run(
            [sys.executable, "main.py", "--format", "gen9ou", "--p1", "mistral-small",
             "--p2", "heuristic", "--n", "1", "--seed", "2", "--engine", "sim",
             "--output", str(tmp_path / "runs"), "--reports", str(tmp_path / "reports"),
             "--log-level", "WARNING"],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    record = load_record(next((tmp_path / "runs").glob("*.json")))
    (battle,) = record.battles
    assert battle.error is None and battle.p1_team and battle.p2_team
    mine = [d for d in record.decisions if d.side == "p1"]
    assert mine and not any(d.fallback for d in mine)
    prompts = [m["content"] for r in standin.received for m in r.body["messages"]
               if m["role"] == "user"]  # fmt: skip
    first = prompts[0]
    assert "Format: gen9ou" in first
    assert "Opponent's team (team preview): " in first
    assert "Your bench:\n- " in first and " | moves " in first

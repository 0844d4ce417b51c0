"""Agents that misbehave cannot break a battle or hang a run."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from poke_env.player.battle_order import SingleBattleOrder

from agents import BaseAgent, Decision, registry
from arena import server as showdown
from arena.engines import ServerEngine, SimEngine
from arena.plan import RunRequest, plan_run
from arena.run import finalize, play_session
from battle.record import load_record


class SlowAgent(BaseAgent):
    name = "test-slow"

    def __init__(self, seed=None, delay: float = 0.3):
        super().__init__(seed)
        self.delay = delay

    async def decide(self, battle):
        await asyncio.sleep(self.delay)
        return Decision(order=self.random_order(battle))


class IllegalAgent(BaseAgent):
    """Always asks for Splash, which no gen 9 random-battle set has."""

    name = "test-illegal"

    async def decide(self, battle):
        from poke_env.battle.move import Move

        return Decision(order=SingleBattleOrder(Move("splash", gen=9)))


class CrashingAgent(BaseAgent):
    name = "test-crash"

    async def decide(self, battle):
        raise RuntimeError("boom")


@pytest.fixture
def test_agents() -> Iterator[None]:
    registry._load_builtins()
    agents = {"test-slow": SlowAgent, "test-illegal": IllegalAgent, "test-crash": CrashingAgent}
    for name, cls in agents.items():
        registry.register(name)(cls)
    yield
    for name in agents:
        registry._REGISTRY.pop(name, None)


async def run(server, tmp_path, p1: str, p2: str = "random", n: int = 1, engine="server", **kw):
    decision_timeout = kw.pop("decision_timeout_s", 60.0)
    request = RunRequest(
        p1=p1, p2=p2, n=n, output_dir=tmp_path, decision_timeout_s=decision_timeout, **kw
    )
    plan = plan_run(request)
    play_on = ServerEngine(server) if engine == "server" else SimEngine(processes=1)
    await play_session(plan, play_on)
    return finalize(plan.paths, finished=True)


@pytest.mark.parametrize(
    ("agent", "reason"), [("test-illegal", "illegal_action"), ("test-crash", "agent_error")]
)
async def test_bad_decisions_fall_back_to_legal_ones(
    showdown_server, tmp_path, test_agents, agent, reason
):
    record = await run(showdown_server, tmp_path, agent)
    battle = record.battles[0]
    assert battle.error is None and battle.winner in {"p1", "p2", "draw"}
    mine = [d for d in record.decisions if d.side == "p1"]
    assert mine and all(d.fallback and d.fallback_reason == reason for d in mine)
    assert record.summary.sides["p1"].fallback_rate == 1.0
    assert record.summary.sides["p2"].fallback_rate == 0.0


async def test_slow_decision_times_out_to_a_fallback(showdown_server, tmp_path, test_agents):
    registry._REGISTRY["test-slow"] = registry.Registration(
        "test-slow", lambda seed=None: SlowAgent(seed, delay=5.0), "", takes_arg=False
    )
    record = await run(showdown_server, tmp_path, "test-slow", decision_timeout_s=0.05)
    mine = [d for d in record.decisions if d.side == "p1"]
    assert mine and all(d.fallback_reason == "timeout" for d in mine)
    assert all(d.latency_ms < 1000 for d in mine)
    assert record.battles[0].winner is not None


@pytest.mark.parametrize("engine", ["server", "sim"])
async def test_stuck_battle_is_ended_by_the_battle_timeout(
    showdown_server, tmp_path, test_agents, engine
):
    # 0.3 s per decision: well inside the decision deadline, but the battle overruns 1 s.
    record = await run(
        showdown_server, tmp_path, "test-slow", n=2, concurrency=2, battle_timeout_s=1.0,
        engine=engine,
    )  # fmt: skip
    assert len(record.battles) == 2
    for battle in record.battles:
        assert battle.winner is None and battle.error == "timed out after 1s"
    assert record.summary.errors == 2 and record.summary.battles == 0


async def room_open(url: str, room: str) -> bool:
    """Whether the server still has `room`, asked as a guest joining it."""
    import websockets

    async with websockets.connect(url) as ws:
        await ws.send(f"|/join {room}")
        while True:
            message = str(await asyncio.wait_for(ws.recv(), 10))
            if message.startswith(f">{room}\n|init|"):
                return True
            if message.startswith(f">{room}\n|noinit|"):
                return False


async def test_a_finished_battle_room_closes_once_its_players_leave(showdown_server, tmp_path):
    """Showdown keeps an empty battle room 10 minutes; the bundled server closes it
    seconds after the end, so its memory does not grow with a long run's battles."""
    record = await run(showdown_server, tmp_path, "random")
    tag = record.battles[0].battle_tag
    deadline = time.monotonic() + showdown.EMPTY_ROOM_EXPIRY_S + 10
    while await room_open(showdown_server.url, tag):
        assert time.monotonic() < deadline, f"{tag} still open"
        await asyncio.sleep(0.5)


# --------------------------------------------------------------------------------------
# runs that survive crashes (issue 14): each case as a user meets it, through main.py

REPO = Path(__file__).resolve().parents[2]


def main_py(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "main.py", "--engine", "sim", "--concurrency", "2",
         "--output", str(tmp_path / "runs"), "--reports", str(tmp_path / "reports"),
         "--log-level", "WARNING", *args],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_resume_after_a_torn_journal_line_keeps_every_battle(tmp_path):
    """Case 1: the last journal line was cut mid-write (kill -9, power loss). The resume
    sets the torn tail aside in one line, plays on, and every battle is counted once."""
    first = main_py(tmp_path, "--p1", "random", "--p2", "max-damage", "--n", "2", "--seed", "5")
    assert first.returncode == 0, first.stderr
    journal = next((tmp_path / "runs").glob("*.jsonl"))
    lines = journal.read_text().splitlines()
    battle_line = next(line for line in lines if '"type":"battle"' in line)
    torn = battle_line[: len(battle_line) // 2]
    with open(journal, "a") as fh:
        fh.write(torn)  # a third battle's line, cut short

    resumed = main_py(tmp_path, "--resume", str(journal), "--n", "4")
    assert resumed.returncode == 0, (resumed.stdout, resumed.stderr)
    said = resumed.stdout + resumed.stderr
    assert "Traceback" not in said
    assert "cut short" in " ".join(said.split()) and "set aside in" in " ".join(said.split())
    assert journal.with_name(journal.name + ".torn").read_text() == torn + "\n"
    record = load_record(journal.with_suffix(".json"))
    assert len(record.battles) == 4 and len({b.battle_tag for b in record.battles}) == 4
    again = main_py(tmp_path, "--resume", str(journal))  # the journal reads whole
    assert again.returncode == 0 and "already played" in again.stdout, again.stderr


# Files capped at argv[1] bytes, SIGXFSZ ignored: a write past the cap fails as on a full
# disk (EFBIG instead of ENOSPC, the same OSError path), and nothing needs root.
FULL_DISK = """
import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]),) * 2)
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


def test_a_full_disk_stops_the_run_in_one_line_and_resume_finishes_it(tmp_path):
    """A journal write that fails (disk full) stops the run with one line and exit 1; the
    journal still ends on its last whole battle, and a resume, on the run's own engine,
    plays the rest with every battle counted once."""
    out = tmp_path / "runs"
    full = subprocess.run(
        [sys.executable, "-c", FULL_DISK, "30000", "main.py", "--engine", "sim",
         "--concurrency", "2", "--output", str(out), "--reports", str(tmp_path / "reports"),
         "--log-level", "WARNING", "--p1", "random", "--p2", "heuristic", "--n", "8"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    said = " ".join((full.stdout + full.stderr).split())
    assert full.returncode == 1, said
    assert "Traceback" not in said
    assert "could not write" in said and "File too large" in said, said
    assert "--resume" in said
    journal = next(out.glob("*.jsonl"))
    text = journal.read_text()
    assert text.endswith("\n") and not journal.with_name(journal.name + ".torn").exists()
    kept = [json.loads(line) for line in text.splitlines()]  # every line whole
    battles = [e for e in kept if e["type"] == "battle"]
    assert 1 <= len(battles) < 8

    resumed = main_py_as_given(tmp_path, "--resume", str(journal))  # no --engine
    assert resumed.returncode == 0, resumed.stderr
    record = load_record(journal.with_suffix(".json"))
    assert record.spec.engine == "sim"  # the run's own engine, not the default server
    assert len(record.battles) == 8 and len({b.battle_tag for b in record.battles}) == 8
    assert {b.session for b in record.battles} == {0, 1}


def main_py_as_given(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """main.py with only the output folders and `args` (no engine chosen)."""
    return subprocess.run(
        [sys.executable, "main.py", "--output", str(tmp_path / "runs"), "--reports",
         str(tmp_path / "reports"), "--log-level", "WARNING", *args],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def start_main_py(out: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "main.py", "--output", str(out / "runs"), "--reports",
         str(out / "reports"), "--log-level", "WARNING", *args],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def bundled_pgid(url: str) -> int:
    port = urlparse(url).port
    state = json.loads((showdown.SERVERS_DIR / str(port) / "server.json").read_text())
    return int(state["pgid"])


def test_two_runs_share_the_bundled_server_and_it_stops_with_the_last(tmp_path):
    """Case 3: the second run uses the server the first started; when the first ends the
    server stays up for the second, which plays all its battles; then it stops."""
    url = showdown.websocket_url("127.0.0.1", showdown.free_port())
    first = start_main_py(tmp_path / "a", "--server", url, "--n", "1", "--concurrency", "1")
    wait_until(lambda: showdown.answers(url) or first.poll() is not None, 120, "the server")
    pgid = bundled_pgid(url)
    second = start_main_py(tmp_path / "b", "--server", url, "--n", "12", "--concurrency", "2")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert "left running for 1 other run" in " ".join(out.split()), out
    assert showdown.answers(url)  # the second run still uses it
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, (out, err)
    record = load_record(next((tmp_path / "b" / "runs").glob("*.json")))
    assert len(record.battles) == 12 and all(b.error is None for b in record.battles)
    assert not showdown.answers(url) and not group_alive(pgid)  # stopped with the last user


def test_kill_9_of_the_arena_stops_the_server_it_started(tmp_path):
    """Case 5: however the arena dies, the server it started does not outlive it."""
    url = showdown.websocket_url("127.0.0.1", showdown.free_port())
    proc = start_main_py(tmp_path, "--server", url, "--n", "200", "--concurrency", "2")
    journal = lambda: next((tmp_path / "runs").glob("*.jsonl"), None)  # noqa: E731
    wait_until(
        lambda: (j := journal()) is not None and '"type":"battle"' in j.read_text(), 120,
        "a battle",
    )  # fmt: skip
    pgid = bundled_pgid(url)
    proc.kill()  # SIGKILL: no handler, no finally
    proc.communicate(timeout=30)
    wait_until(lambda: not group_alive(pgid), 30, "the server's process group to end")
    assert not showdown.answers(url)


def test_something_else_on_the_port_is_not_taken_for_showdown(tmp_path):
    """Case 4: a web server on the port. At an address the user named: a one-line error;
    at the default address: the bundled server starts on a free port instead."""
    port = showdown.free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = showdown.websocket_url("127.0.0.1", port)
        wait_until(lambda: not showdown._port_free(port), 30, "the web server")
        assert not showdown.answers(url)
        with pytest.raises(showdown.ServerError, match="not a Showdown server"):
            showdown.find_or_start(url, named=True)
        server = showdown.find_or_start(url, named=False, simulators=1)
        try:
            assert server.owned and urlparse(server.url).port != port
            assert showdown.answers(server.url)
        finally:
            server.release()
        assert not showdown.answers(server.url)
        named = main_py(tmp_path, "--engine", "server", "--server", url, "--n", "1")
        assert named.returncode == 2 and "Traceback" not in named.stderr
        lines = [line for line in named.stderr.splitlines() if "error:" in line]
        assert len(lines) == 1 and "not a Showdown server" in named.stderr, named.stderr
        assert not list((tmp_path / "runs").glob("*.jsonl"))  # no empty run left behind
    finally:
        web.terminate()
        web.wait(timeout=10)


def test_resume_plays_on_the_recorded_server(tmp_path):
    """Case 6: a run started with --server resumes there, not on the default address,
    unless --server says otherwise."""
    url = showdown.websocket_url("127.0.0.1", showdown.free_port())
    first = start_main_py(tmp_path, "--server", url, "--n", "1", "--p1", "random")
    _, err = first.communicate(timeout=180)
    assert first.returncode == 0, err
    record_path = next((tmp_path / "runs").glob("*.json"))
    resumed = subprocess.run(
        [sys.executable, "main.py", "--resume", str(record_path), "--n", "2",
         "--reports", str(tmp_path / "reports"), "--log-level", "INFO"],
        cwd=REPO, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    said = " ".join((resumed.stdout + resumed.stderr).split())
    assert f"port {urlparse(url).port}" in said, said  # the bundled server started there
    record = load_record(record_path)
    assert record.spec.server == url and len(record.battles) == 2


async def test_the_record_names_the_showdown_installed_after_the_plan(tmp_path, monkeypatch):
    """Case 10: on a fresh clone the bundled server is installed after the run is planned;
    the record names its version, not "unknown", and wall_s covers the battles only."""
    import arena.plan

    monkeypatch.setattr(arena.plan, "showdown_version", lambda: None)  # not installed yet
    request = RunRequest(p1="random", p2="random", n=2, output_dir=tmp_path, engine="sim")
    plan = plan_run(request)
    assert plan.spec.versions["showdown"] == "unknown"
    monkeypatch.undo()
    await asyncio.sleep(1.0)  # setup time that is not the battle phase
    await play_session(plan, SimEngine(processes=1))
    record = finalize(plan.paths, finished=True)
    assert record.spec.versions["showdown"] == showdown.showdown_version() != "unknown"
    first_start = min(b.finished_at - b.duration_s for b in record.battles)
    assert record.summary.wall_s == pytest.approx(
        max(b.finished_at for b in record.battles) - first_start
    )
    assert first_start - record.spec.started_at >= 1.0  # the setup before it is not counted


async def test_finished_battles_leave_memory(tmp_path, monkeypatch):
    """Case 11: poke-env keeps every battle object; the arena empties each one once it is
    recorded and forgets it a while later, so memory stays flat whatever --n is."""
    import arena.player

    monkeypatch.setattr(arena.player, "FORGET_AFTER_S", 0.0)
    released: list[tuple[object, object]] = []
    release = arena.player.ArenaPlayer._release

    def spy(self, battle):
        release(self, battle)
        released.append((self, battle))

    monkeypatch.setattr(arena.player.ArenaPlayer, "_release", spy)
    request = RunRequest(p1="random", p2="heuristic", n=6, concurrency=3, output_dir=tmp_path,
                         engine="sim")  # fmt: skip
    plan = plan_run(request)
    await play_session(plan, SimEngine(processes=1))
    record = finalize(plan.paths, finished=True)
    assert len(record.battles) == 6 and all(b.winner for b in record.battles)
    assert len(released) == 12  # each side's view of each battle
    for player, battle in released:
        assert battle._replay_data == [] and battle.team == {} and battle.opponent_team == {}
        assert battle.battle_tag not in player._battles  # forgotten (here: at once)
    assert all((tmp_path / b.replay).read_text().count("|turn|") for b in record.battles)

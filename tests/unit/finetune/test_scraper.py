"""finetune/scraper.py against a real local stand-in of the replay site, and --from-runs.

The stand-in is an `http.server.ThreadingHTTPServer` on 127.0.0.1 (port 0) serving
`/search.json` (newest first, `before=` pagination, pages of PAGE_SIZE) and `/{id}.json`,
that counts every request and can be told to fail: 503 a few times, 429 with
`Retry-After: 0`, a dropped connection, a permanent 404.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from battle.record import (
    AgentSpec,
    BattleRecord,
    RunRecord,
    RunRecordError,
    RunSpec,
    load_record,
    write_record,
)
from battle.summary import summarize
from finetune.from_runs import import_runs
from finetune.polite_http import RateLimiter, parse_retry_after
from finetune.replay_site import ScrapeConfig, SiteUnreachableError, scrape
from finetune.replays import ConfigError
from finetune.scraper import main

REPO = Path(__file__).resolve().parents[3]
FIXTURE_LOGS = REPO / "tests" / "fixtures" / "viz"
FORMAT = "gen9randombattle"
PAGE_SIZE = 10
N_REPLAYS = 25
# Ratings cycle through these: 1500 is kept at --min-rating 1500, None never is.
RATINGS = [1650, None, 1480, 1500, 1820]


def _fake_replays() -> list[dict]:
    replays = []
    for i in range(N_REPLAYS):
        rid = f"{FORMAT}-{1000 + i}"
        replays.append(
            {
                "id": rid,
                "format": FORMAT,
                "players": [f"alice{i}", f"bob{i}"],
                "log": f"|j|☆alice{i}\n|player|p1|alice{i}|1|\n|turn|1\n|win|alice{i}\n",
                "inputlog": '>start {"formatid":"gen9randombattle","seed":[1,2,3,4]}\n',
                "uploadtime": 1_700_000_000 + 60 * i,
                "rating": RATINGS[i % len(RATINGS)],
                "views": i,
                "private": 0,
            }
        )
    return replays


class StandIn:
    """The fake replay site's state: replays, scripted failures, request counts."""

    def __init__(self) -> None:
        self.replays = {r["id"]: r for r in _fake_replays()}
        # Bodies as served, with the server's own formatting: saved files must equal these.
        self.bodies = {rid: json.dumps(r, indent=1).encode() for rid, r in self.replays.items()}
        self.fail: dict[str, list[str]] = {}  # id -> actions to take before success
        self.missing: set[str] = set()  # listed by the search, 404 on download
        self.search_fail: list[str] = []  # actions for the next search requests
        self.counts: Counter[str] = Counter()
        self.times: list[float] = []
        self.delay_s = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()

    def replay_requests(self) -> int:
        return sum(n for path, n in self.counts.items() if path != "/search.json")

    def search_page(self, query: dict[str, list[str]]) -> list[dict]:
        fmt = query.get("format", [None])[0]
        user = query.get("user", [None])[0]
        before = query.get("before", [None])[0]
        rows = sorted(self.replays.values(), key=lambda r: -r["uploadtime"])
        if fmt:
            rows = [r for r in rows if r["format"] == fmt]
        if user:
            rows = [r for r in rows if user in r["players"]]
        if before is not None:
            rows = [r for r in rows if r["uploadtime"] < float(before)]
        keys = ("id", "format", "players", "uploadtime", "rating", "private")
        return [{k: r[k] for k in keys} for r in rows[:PAGE_SIZE]]


def _handler(site: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _act(self, action: str) -> None:
            if action == "503":
                self._send(503, b'{"error": "busy"}')
            elif action == "429":
                self._send(429, b'{"error": "slow down"}', {"Retry-After": "0"})
            elif action == "drop":  # close the connection without an answer
                self.close_connection = True
            else:
                raise AssertionError(action)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            with site.lock:
                site.counts[url.path] += 1
                site.times.append(time.monotonic())
                site.in_flight += 1
                site.max_in_flight = max(site.max_in_flight, site.in_flight)
            try:
                if site.delay_s:
                    time.sleep(site.delay_s)
                self._route(url.path, parse_qs(url.query))
            finally:
                with site.lock:
                    site.in_flight -= 1

        def _route(self, path: str, query: dict[str, list[str]]) -> None:
            if path == "/search.json":
                with site.lock:
                    action = site.search_fail.pop(0) if site.search_fail else None
                if action:
                    return self._act(action)
                return self._send(200, json.dumps(site.search_page(query)).encode())
            rid = path.strip("/").removesuffix(".json")
            with site.lock:
                actions = site.fail.get(rid)
                action = actions.pop(0) if actions else None
            if action:
                return self._act(action)
            if rid in site.missing or rid not in site.bodies:
                return self._send(404, b'{"error": "Not found"}')
            return self._send(200, site.bodies[rid])

    return Handler


@pytest.fixture
def site() -> Iterator[tuple[StandIn, str]]:
    state = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _config(base: str, out: Path, **kw) -> ScrapeConfig:
    defaults = dict(rate=1000.0, concurrency=4, backoff_s=0.01, max_backoff_s=0.05, timeout_s=5)
    return ScrapeConfig(out=out, base_url=base, **{**defaults, **kw})


def _rated(min_rating: float) -> set[str]:
    return {
        r["id"] for r in _fake_replays() if r["rating"] is not None and r["rating"] >= min_rating
    }


def _saved(out: Path) -> set[str]:
    return {p.stem for p in (out / FORMAT).glob("*.json")}


# --- scraping -----------------------------------------------------------------------------


async def test_pagination_walks_every_page_and_stops(site, tmp_path):
    state, base = site
    stats = await scrape(_config(base, tmp_path))
    # 25 replays in pages of 10: three pages with items, then an empty one ends the search.
    assert state.counts["/search.json"] == 4
    assert stats.pages == 3
    assert stats.found == stats.kept == N_REPLAYS  # no --min-rating: unrated ones too
    assert stats.downloaded == N_REPLAYS and stats.failed == 0 and stats.skipped == 0
    assert _saved(tmp_path) == set(state.replays)
    assert state.replay_requests() == N_REPLAYS


async def test_pages_limit_stops_the_search(site, tmp_path):
    state, base = site
    stats = await scrape(_config(base, tmp_path, pages=2))
    assert state.counts["/search.json"] == 2
    assert stats.pages == 2 and stats.found == 2 * PAGE_SIZE
    newest = sorted(state.replays.values(), key=lambda r: -r["uploadtime"])[: 2 * PAGE_SIZE]
    assert _saved(tmp_path) == {r["id"] for r in newest}


async def test_rating_filter_drops_low_and_unrated(site, tmp_path):
    state, base = site
    stats = await scrape(_config(base, tmp_path, min_rating=1500))
    expected = _rated(1500)
    assert 0 < len(expected) < N_REPLAYS
    assert stats.found == N_REPLAYS
    assert stats.kept == stats.downloaded == len(expected)
    assert _saved(tmp_path) == expected
    # Nothing outside the filter was even requested.
    assert state.replay_requests() == len(expected)
    for rid in expected:
        assert state.replays[rid]["rating"] >= 1500


async def test_saved_bodies_are_exactly_what_the_site_served(site, tmp_path):
    state, base = site
    await scrape(_config(base, tmp_path))
    for rid, body in state.bodies.items():
        assert (tmp_path / FORMAT / f"{rid}.json").read_bytes() == body
    # No temporary files are left behind.
    assert [p.name for p in (tmp_path / FORMAT).iterdir() if not p.name.endswith(".json")] == []


async def test_retries_then_success(site, tmp_path):
    state, base = site
    ids = sorted(state.replays)
    state.fail = {ids[0]: ["503", "503", "503"], ids[1]: ["429"], ids[2]: ["drop"]}
    state.search_fail = ["503"]
    stats = await scrape(_config(base, tmp_path))
    assert stats.failed == 0 and stats.downloaded == N_REPLAYS
    assert state.counts[f"/{ids[0]}.json"] == 4
    assert state.counts[f"/{ids[1]}.json"] == 2
    assert state.counts[f"/{ids[2]}.json"] == 2
    assert stats.retries == 3 + 1 + 1 + 1  # the search's 503 too
    assert (tmp_path / FORMAT / f"{ids[0]}.json").read_bytes() == state.bodies[ids[0]]


async def test_permanent_failures_are_counted_not_fatal(site, tmp_path):
    state, base = site
    ids = sorted(state.replays)
    state.missing = {ids[3]}  # 404: not retried
    state.fail = {ids[4]: ["503"] * 10}  # 5xx beyond the retries
    stats = await scrape(_config(base, tmp_path, retries=2))
    assert stats.failed == 2
    assert stats.downloaded == N_REPLAYS - 2
    assert set(stats.failures) == {ids[3], ids[4]}
    assert "404" in stats.failures[ids[3]] and "503" in stats.failures[ids[4]]
    assert state.counts[f"/{ids[3]}.json"] == 1  # a 404 is asked once
    assert state.counts[f"/{ids[4]}.json"] == 3  # first try + 2 retries
    assert _saved(tmp_path) == set(state.replays) - {ids[3], ids[4]}


async def test_resume_makes_no_requests_for_saved_replays(site, tmp_path):
    state, base = site
    first = await scrape(_config(base, tmp_path, pages=1))
    assert first.downloaded == PAGE_SIZE
    before = state.replay_requests()
    second = await scrape(_config(base, tmp_path))
    assert second.skipped == PAGE_SIZE
    assert second.downloaded == N_REPLAYS - PAGE_SIZE
    assert state.replay_requests() - before == N_REPLAYS - PAGE_SIZE
    third_before = state.replay_requests()
    third = await scrape(_config(base, tmp_path))
    assert third.skipped == N_REPLAYS and third.downloaded == 0
    assert state.replay_requests() == third_before  # only search pages were asked


async def test_rate_limit_is_respected(site, tmp_path):
    state, base = site
    rate = 20.0
    stats = await scrape(_config(base, tmp_path, rate=rate, pages=1, concurrency=4))
    n = len(state.times)
    assert n == stats.requests == 1 + PAGE_SIZE
    span = max(state.times) - min(state.times)
    assert span >= (n - 1) / rate - 0.02, f"{n} requests in {span:.3f} s at {rate}/s"


async def test_concurrency_cap(site, tmp_path):
    state, base = site
    state.delay_s = 0.05
    await scrape(_config(base, tmp_path, concurrency=2, pages=1))
    assert state.max_in_flight == 2


async def test_user_filter_is_passed_through(site, tmp_path):
    state, base = site
    stats = await scrape(_config(base, tmp_path, user="alice7"))
    assert _saved(tmp_path) == {f"{FORMAT}-1007"}
    assert stats.found == 1 and state.replay_requests() == 1


async def test_unreachable_site_is_one_clear_error(tmp_path):
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SiteUnreachableError, match=r"could not be reached.*--from-runs"):
        await scrape(_config(f"http://127.0.0.1:{port}", tmp_path))


async def test_rate_limiter_spaces_starts():
    limiter = RateLimiter(50.0)
    start = time.monotonic()
    for _ in range(6):
        await limiter.wait()
    assert time.monotonic() - start >= 5 / 50 - 0.005


def test_retry_after_parsing():
    assert parse_retry_after("0") == 0.0
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= parse_retry_after(future) <= 31


# --- the arena's own battles --------------------------------------------------------------


def _make_run(runs: Path, run_id: str, tags: dict[str, str | None]) -> Path:
    """A run record like main.py writes, with real protocol logs from tests/fixtures/viz.

    `tags` maps a battle tag to the fixture log to use (None: the battle ended in an error).
    """
    paths_dir = runs / run_id / "replays"
    paths_dir.mkdir(parents=True)
    battles = []
    for i, (tag, fixture) in enumerate(tags.items()):
        replay = None
        if fixture is not None:
            shutil.copy(FIXTURE_LOGS / fixture, paths_dir / f"{tag}.log")
            replay = f"{run_id}/replays/{tag}.log"
        battles.append(
            BattleRecord(
                battle_tag=tag,
                winner="p1" if fixture else None,
                turns=10,
                duration_s=3.0,
                replay=replay,
                error=None if fixture else "battle timed out after 30.0s",
                finished_at=1_732_240_000.5 + i,
            )
        )
    spec = RunSpec(
        run_id=run_id,
        p1=AgentSpec(given="heuristic", resolved="heuristic"),
        p2=AgentSpec(given="random", resolved="random"),
        format=FORMAT,
        n=len(tags),
        seed=1,
        concurrency=1,
        move_delay=0.0,
        battle_timeout_s=30.0,
        server="ws://127.0.0.1:8000/showdown/websocket",
        versions={},
        started_at=1_732_239_990.0,
        finished_at=1_732_240_100.0,
    )
    record = RunRecord(spec=spec, battles=battles, decisions=[], summary=summarize(battles, [], 1))
    path = runs / f"{run_id}.json"
    write_record(record, path)
    return path


def test_from_runs_writes_site_shaped_files(tmp_path):
    runs = tmp_path / "runs"
    out = tmp_path / "replays"
    record = _make_run(
        runs,
        "run-a",
        {
            "battle-gen9randombattle-52": "battle-gen9randombattle-52.log",
            "battle-gen9randombattle-53": "battle-gen9randombattle-53.log",
            "battle-gen9randombattle-55": None,  # errored
        },
    )
    inputlog = '>start {"formatid":"gen9randombattle","seed":[1,2,3,4]}\n>p1 move 1\n'
    (runs / "run-a" / "replays" / "battle-gen9randombattle-52.inputlog").write_text(inputlog)
    # A file in runs/ that is not a run record is skipped, not fatal.
    (runs / "other-notes.json").write_text('{"not": "a run record"}')

    stats = import_runs([runs], out)
    assert stats.runs == 1 and stats.battles == 3
    assert stats.written == 2 and stats.errored == 1 and stats.with_inputlog == 1
    assert stats.not_runs == [str(runs / "other-notes.json")]
    assert _saved(out) == {"gen9randombattle-52", "gen9randombattle-53"}

    saved = json.loads((out / FORMAT / "gen9randombattle-52.json").read_text())
    source_log = (FIXTURE_LOGS / "battle-gen9randombattle-52.log").read_text()
    assert source_log.startswith(">battle-gen9randombattle-52\n")
    assert saved["id"] == "gen9randombattle-52"
    assert saved["format"] == FORMAT
    assert saved["players"] == ["vizrec1", "vizrec2"]
    assert saved["log"] == source_log.split("\n", 1)[1]
    assert saved["log"].startswith("|init|battle\n") and "|win|vizrec1" in saved["log"]
    assert saved["inputlog"] == inputlog
    assert saved["uploadtime"] == 1_732_240_000
    assert saved["rating"] is None
    assert saved["source"] == "arena" and saved["run"] == record.name
    assert saved["winner"] == "p1"

    other = json.loads((out / FORMAT / "gen9randombattle-53.json").read_text())
    assert "inputlog" not in other
    assert other["uploadtime"] == 1_732_240_001


def test_from_runs_names_each_tournament_battles_own_agents(tmp_path):
    runs = tmp_path / "runs"
    record = _make_run(
        runs, "run-t", {"battle-gen9randombattle-52": "battle-gen9randombattle-52.log"}
    )
    loaded = load_record(record)
    loaded.battles[0].p1_agent, loaded.battles[0].p2_agent = "max-damage", "heuristic"
    write_record(loaded, record)
    import_runs([runs], tmp_path / "replays")
    saved = json.loads((tmp_path / "replays" / FORMAT / "gen9randombattle-52.json").read_text())
    assert saved["agents"] == {"p1": "max-damage", "p2": "heuristic"}  # not the spec's


def test_from_runs_resumes_and_keeps_colliding_tags_apart(tmp_path):
    runs = tmp_path / "runs"
    out = tmp_path / "replays"
    first = _make_run(
        runs, "run-a", {"battle-gen9randombattle-52": "battle-gen9randombattle-52.log"}
    )
    assert import_runs([first], out).written == 1
    again = import_runs([first], out)
    assert again.written == 0 and again.skipped == 1
    # A later run on a fresh server reuses the tag: it must not overwrite run-a's battle.
    _make_run(
        runs,
        "run-b",
        {
            "battle-gen9randombattle-52": "battle-gen9randombattle-54.log",
            "battle-gen9randombattle-56": "battle-gen9randombattle-53.log",
        },
    )
    (runs / "run-b" / "replays" / "battle-gen9randombattle-56.log").unlink()  # log gone
    stats = import_runs([runs], out)
    assert (stats.written, stats.skipped, stats.renamed, stats.no_replay) == (1, 1, 1, 1)
    assert _saved(out) == {"gen9randombattle-52", "gen9randombattle-52-run-b"}
    a = json.loads((out / FORMAT / "gen9randombattle-52.json").read_text())
    b = json.loads((out / FORMAT / "gen9randombattle-52-run-b.json").read_text())
    assert a["run"] == "run-a.json" and b["run"] == "run-b.json"
    assert b["id"] == "gen9randombattle-52-run-b"
    assert a["log"] != b["log"]
    assert import_runs([runs], out).written == 0


def test_from_runs_missing_path_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        import_runs([tmp_path / "nope"], tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no run records"):
        import_runs([empty], tmp_path / "out")
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(RunRecordError, match="not a run record"):
        import_runs([bad], tmp_path / "out")  # named explicitly: an error, not a skip


# --- the CLI ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--pages", "0"], "--pages"),
        (["--base-url", "replay.pokemonshowdown.com"], "--base-url"),
        (["--rate", "0"], "--rate"),
        (["--format", "Gen 9 Random"], "--format"),
        (["--from-runs", "/no/such/runs"], "does not exist"),
    ],
)
def test_cli_bad_input_is_one_error_line(args, needle, tmp_path, capsys):
    code = main([*args, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and needle in err[0]
    assert "Traceback" not in err[0]


def test_cli_out_that_is_a_file(tmp_path, capsys):
    file = tmp_path / "file.txt"
    file.write_text("x")
    assert main(["--out", str(file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --out") and "is a file" in err[0]


_CLI = [sys.executable, "-m", "finetune.scraper"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_CLI, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_cli_subprocess_bad_input_and_unreachable(tmp_path):
    bad = _cli("--pages", "0", "--out", str(tmp_path / "out"))
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("error: --pages must be at least 1")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = _cli("--base-url", f"http://127.0.0.1:{port}", "--out", str(tmp_path / "out"))
    assert down.returncode == 1
    lines = down.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not be reached" in lines[0] and "--from-runs" in lines[0]


def test_cli_scrapes_and_prints_the_summary(site, tmp_path, capsys):
    state, base = site
    out = tmp_path / "out"
    code = main(["--base-url", base, "--out", str(out), "--min-rating", "1500", "--rate", "500"])
    assert code == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    kept = len(_rated(1500))
    assert summary.startswith(f"found {N_REPLAYS} replays on 3 search pages, kept {kept}")
    assert f"downloaded {kept}, skipped 0 already saved, failed 0" in summary
    assert _saved(out) == _rated(1500)
    assert state.replay_requests() == kept


def test_cli_from_runs(tmp_path, capsys):
    runs = tmp_path / "runs"
    _make_run(runs, "run-a", {"battle-gen9randombattle-54": "battle-gen9randombattle-54.log"})
    assert main(["--from-runs", str(runs), "--out", str(tmp_path / "out")]) == 0
    assert "imported 1 battles from 1 runs" in capsys.readouterr().out
    assert _saved(tmp_path / "out") == {"gen9randombattle-54"}


@pytest.mark.slow
def test_cli_ctrl_c_keeps_what_was_saved(site, tmp_path):
    state, base = site
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*_CLI, "--base-url", base, "--out", str(out), "--rate", "10", "--concurrency", "2"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while len(_saved(out)) < 3 and time.monotonic() < deadline:  # let a few land first
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    saved = _saved(out)
    assert 3 <= len(saved) < N_REPLAYS
    for rid in saved:  # every file that exists is whole
        assert (out / FORMAT / f"{rid}.json").read_bytes() == state.bodies[rid]
    assert not [p for p in (out / FORMAT).iterdir() if p.suffix != ".json"]

"""The HTML report: content, escaping, self-containment, and the command line."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import plotly.offline
import pytest

from battle.record import RunRecord, load_record
from viz import render_report, write_report
from viz.__main__ import main
from viz.charts import charts_for
from viz.report import MAX_DECISION_ROWS, verdict

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "viz"
FIXTURE = FIXTURES / "vizfixture.json"
PLOTLY_HEADER = plotly.offline.get_plotlyjs()[:40]


@pytest.fixture(scope="module")
def record() -> RunRecord:
    return load_record(FIXTURE)


@pytest.fixture(scope="module")
def page(record: RunRecord) -> str:
    return render_report(record, FIXTURES)


class Resources(HTMLParser):
    """Collects everything in a page that could make a browser load something."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.scripts: list[int] = []  # length of each inline script
        self.styles: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "srcset", "poster", "data", "action", "background"):
                self.loads.append(f"<{tag} {name}={value}>")
            if name == "href" and not (value or "").startswith("#"):
                self.loads.append(f"<{tag} href={value}>")
            if name == "style" and "url(" in (value or ""):
                self.loads.append(f"<{tag} style={value}>")
        if tag in ("link", "img", "iframe", "object", "embed", "base"):
            self.loads.append(f"<{tag}>")
        if tag in ("script", "style"):
            self._in = tag
            if tag == "script":
                self.scripts.append(0)

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "script":
            self.scripts[-1] += len(data)
        elif self._in == "style":
            self.styles.append(data)


def resources(page: str) -> Resources:
    parser = Resources()
    parser.feed(page)
    parser.close()
    return parser


def test_page_has_the_run(page: str, record: RunRecord):
    assert page.startswith("<!DOCTYPE html>")
    assert "llm:mini" in page and "llm:mini-2024" in page and "random" in page
    assert "gen9randombattle" in page
    assert "pokemon-showdown 0.11.11" in page
    assert "2024-11-22 01:46:40 UTC" in page  # started_at
    assert "75.0% (95% CI 30.1%–95.4%)" in page
    assert "Inconclusive" in page
    assert page.count('class="chart"') == len(charts_for(record)) == 9
    for tag in (b.battle_tag for b in record.battles):
        assert f"{tag} ·" in page  # one option per battle
    assert "Tyranitar (p1) used Knock Off → Lunala (p2): 88% → 0% (super effective)" in page
    assert "Replay not available" in page  # battle 56's file is missing
    assert "No replay was saved for this battle." in page  # battle 55 failed
    assert "battle timed out after 30.0s" in page


def test_reasoning_is_escaped(page: str):
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "status move &amp; &#34;pressure&#34; them" in page


def test_plotly_js_once_and_nothing_loaded(page: str):
    assert page.count(PLOTLY_HEADER) == 1
    found = resources(page)
    assert found.loads == []
    big = [n for n in found.scripts if n > 1_000_000]
    assert len(big) == 1
    assert not any("url(" in css or "@import" in css for css in found.styles)
    assert "Content-Security-Policy" in page


def test_decision_rows_are_capped(record: RunRecord):
    many = dataclasses.replace(record, decisions=record.decisions * 7)
    assert len(many.decisions) > MAX_DECISION_ROWS
    page = render_report(many, FIXTURES)
    assert page.count('<td class="tag">') == MAX_DECISION_ROWS
    assert f"Showing the first {MAX_DECISION_ROWS} of {len(many.decisions)} decisions" in page


def test_empty_record_renders(record: RunRecord):
    empty = dataclasses.replace(
        record,
        battles=[],
        decisions=[],
        summary=dataclasses.replace(
            record.summary,
            battles=0,
            errors=0,
            p1_wins=0,
            p2_wins=0,
            p1_win_rate=None,
            p1_win_rate_ci95=None,
            mean_turns=None,
            battles_per_s=None,
        ),
    )
    page = render_report(empty, FIXTURES)
    assert "No battle finished" in page
    assert "No decision was recorded." in page
    assert "No battle was recorded." in page


@pytest.mark.parametrize(
    ("rate", "ci", "kind", "words"),
    [
        (0.75, [0.30, 0.95], "inconclusive", "Inconclusive"),
        (0.9, [0.7, 0.97], "p1", "llm:mini plays better than random"),
        (0.1, [0.03, 0.3], "p2", "random plays better than llm:mini"),
        (None, None, "none", "No battle finished"),
    ],
)
def test_verdict(record: RunRecord, rate, ci, kind, words):
    summary = dataclasses.replace(record.summary, p1_win_rate=rate, p1_win_rate_ci95=ci)
    result = verdict(dataclasses.replace(record, summary=summary))
    assert result.kind == kind
    assert words in result.text
    assert "1 battle(s) ended in an error" in result.text


def test_write_report_default_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    path = write_report(FIXTURE)
    assert path == Path("reports") / "vizfixture.html"
    assert (tmp_path / path).read_text().startswith("<!DOCTYPE html>")
    assert list((tmp_path / "reports").iterdir()) == [tmp_path / path]  # no temp file left


def test_cli_success(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "deep" / "r.html"
    assert main([str(FIXTURE), "--output", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.stat().st_size > 1_000_000


def bad_inputs(tmp: Path) -> dict[str, list[str]]:
    text = FIXTURE.read_text()
    (tmp / "truncated.json").write_text(text[: len(text) // 2])
    (tmp / "other.json").write_text(json.dumps({"hello": "world"}))
    (tmp / "list.json").write_text("[1, 2, 3]")
    newer = json.loads(text)
    newer["schema_version"] = 99
    (tmp / "newer.json").write_text(json.dumps(newer))
    broken = json.loads(text)
    del broken["summary"]
    (tmp / "broken.json").write_text(json.dumps(broken))
    (tmp / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    (tmp / "a-file").write_text("not a folder")
    (tmp / "a-folder.html").mkdir()
    return {
        "missing": [str(tmp / "nope.json")],
        "folder": [str(tmp)],
        "truncated": [str(tmp / "truncated.json")],
        "not-a-record": [str(tmp / "other.json")],
        "a-list": [str(tmp / "list.json")],
        "newer-schema": [str(tmp / "newer.json")],
        "missing-fields": [str(tmp / "broken.json")],
        "binary": [str(tmp / "binary.json")],
        "output-under-a-file": [str(FIXTURE), "-o", str(tmp / "a-file" / "r.html")],
        "output-is-a-folder": [str(FIXTURE), "-o", str(tmp / "a-folder.html")],
    }


@pytest.mark.parametrize(
    "case",
    [
        "missing",
        "folder",
        "truncated",
        "not-a-record",
        "a-list",
        "newer-schema",
        "missing-fields",
        "binary",
        "output-under-a-file",
        "output-is-a-folder",
    ],
)
def test_cli_bad_input(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    argv = bad_inputs(tmp_path)[case]
    assert main(argv) != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in captured.err
    assert not list(tmp_path.rglob(".*.tmp"))  # no temporary file left behind


@pytest.mark.slow
def test_cli_as_a_process(tmp_path: Path):
    """The real entry point: `python -m viz` on a truncated record, then a good one."""
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1, "spec": ')
    run = subprocess.run(
        [sys.executable, "-m", "viz", str(bad)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("error: ")
    assert "Traceback" not in run.stderr
    run = subprocess.run(
        [sys.executable, "-m", "viz", str(FIXTURE)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(Path("reports") / "vizfixture.html")
    assert (tmp_path / "reports" / "vizfixture.html").exists()

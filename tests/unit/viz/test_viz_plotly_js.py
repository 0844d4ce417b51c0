"""`plotly_js="file"` (`--plotly-js file`): plotly.js written once next to the reports and
loaded from there by a relative <script src>, instead of embedded in every page."""

from __future__ import annotations

import os
from pathlib import Path

import plotly.offline
import pytest

from battle.record import load_record
from tests.fixture_tournament import tournament_record
from viz import render_report, write_report
from viz.__main__ import main
from viz.report import ReportError, plotly_js_filename, write_plotly_js

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "viz" / "vizfixture.json"
BUNDLE = plotly.offline.get_plotlyjs()
NAME = f"plotly-{plotly.offline.get_plotlyjs_version()}.min.js"


def test_the_file_is_named_for_plotly_js_version():
    assert plotly_js_filename() == NAME
    assert NAME.startswith("plotly-") and NAME.endswith(".min.js")


def test_inline_is_the_default(tmp_path: Path):
    out = write_report(FIXTURE, tmp_path / "r.html")
    page = out.read_text()
    assert BUNDLE[:200] in page and "<script src=" not in page
    assert "script-src 'unsafe-inline';" in page  # nothing but inline scripts may run
    assert out.stat().st_size > 4_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_file_mode_writes_plotly_once_and_pages_share_it(tmp_path: Path):
    folder = tmp_path / "reports"
    first = write_report(FIXTURE, folder / "a.html", plotly_js="file")
    shared = folder / NAME
    assert shared.read_text() == BUNDLE
    stamp = shared.stat().st_mtime_ns
    os.utime(shared, ns=(stamp - 10**9, stamp - 10**9))  # so a rewrite would show
    second = write_report(FIXTURE, folder / "b.html", plotly_js="file")
    assert shared.stat().st_mtime_ns == stamp - 10**9  # reused, not rewritten
    assert sorted(p.name for p in folder.iterdir()) == sorted(["a.html", "b.html", NAME])
    for page in (first, second):
        text = page.read_text()
        assert BUNDLE[:200] not in text
        assert text.count("<script src=") == 1
        assert f'<script src="{NAME}"></script>' in text  # relative: next to the page
        assert "'self'" in text  # the page's policy lets it load that file, nothing else
        assert page.stat().st_size < 1_000_000  # the fixture: ~330 KB against ~5 MB inline


def test_a_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The file is written atomically: a failed write leaves no file (nor temporary one)."""

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("battle.files.os.replace", fail)
    with pytest.raises(ReportError, match=r"cannot write plotly\.js to .*No space left"):
        write_report(FIXTURE, tmp_path / "r.html", plotly_js="file")
    assert list(tmp_path.iterdir()) == []  # neither the page nor a piece of plotly.js


def test_write_plotly_js_returns_the_path(tmp_path: Path):
    assert write_plotly_js(tmp_path) == tmp_path / NAME
    assert write_plotly_js(tmp_path) == tmp_path / NAME


def test_tournament_page_in_file_mode(tmp_path: Path):
    record = load_record(tournament_record(tmp_path))
    page = render_report(record, tmp_path, plotly_js="file")
    assert f'<script src="{NAME}"></script>' in page and BUNDLE[:200] not in page


def test_unknown_mode_is_refused():
    record = load_record(FIXTURE)
    with pytest.raises(ValueError, match="inline, file"):
        render_report(record, FIXTURE.parent, plotly_js="cdn")


def test_cli_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / "r.html"
    assert main([str(FIXTURE), "-o", str(out), "--plotly-js", "file"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert (tmp_path / NAME).exists() and out.stat().st_size < 1_000_000
    with pytest.raises(SystemExit):
        main([str(FIXTURE), "-o", str(out), "--plotly-js", "cdn"])
    assert "invalid choice" in capsys.readouterr().err

"""`python -m viz leaderboard runs/ --plotly-js file`: as for a report, plotly.js is written
once next to the page and loaded from there instead of embedded."""

from __future__ import annotations

import os
from pathlib import Path

import plotly.offline
import pytest

from battle.record import AgentSpec
from tests.unit.viz.test_leaderboard import mb, spec, tournament_battles, write_run
from viz import write_report
from viz.__main__ import main
from viz.leaderboard import rate_pool, read_pool, render_leaderboard, write_leaderboard

BUNDLE = plotly.offline.get_plotlyjs()
NAME = f"plotly-{plotly.offline.get_plotlyjs_version()}.min.js"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A gen9randombattle tournament and a gen4ou match."""
    folder = tmp_path / "runs"
    folder.mkdir()
    t = spec("t1", "gen9randombattle", agents=["random", "heuristic", "max-damage"])
    write_run(folder, t, tournament_battles("t"))
    ou = spec("o1", "gen4ou", p1=AgentSpec("heuristic", "heuristic"),
              p2=AgentSpec("random", "random"), started_at=50.0)  # fmt: skip
    write_run(folder, ou, [mb(f"o-{i}", "p1" if i < 4 else "p2") for i in range(5)])
    return folder


def test_inline_is_the_default(runs: Path, tmp_path: Path):
    pool = rate_pool(read_pool(runs), resamples=20)
    out = write_leaderboard(pool, tmp_path / "out" / "lb.html")
    page = out.read_text()
    assert BUNDLE[:200] in page and "<script src=" not in page
    assert "script-src 'unsafe-inline';" in page and "Self-contained page" in page
    assert [p.name for p in out.parent.iterdir()] == ["lb.html"]


def test_file_mode_writes_plotly_once_beside_the_page(
    runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    folder = tmp_path / "reports"
    out = folder / "leaderboard.html"
    assert main(["leaderboard", str(runs), "-o", str(out), "--resamples", "20",
                 "--plotly-js", "file"]) == 0  # fmt: skip
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)
    shared = folder / NAME
    assert shared.read_text() == BUNDLE
    assert sorted(p.name for p in folder.iterdir()) == sorted(["leaderboard.html", NAME])
    page = out.read_text()
    assert BUNDLE[:200] not in page
    assert page.count("<script src=") == 1 and f'<script src="{NAME}"></script>' in page
    assert "'self'" in page  # the page's policy lets it load that file, nothing else
    assert f"only <code>{NAME}</code>" in page
    assert out.stat().st_size < 1_000_000

    stamp = shared.stat().st_mtime_ns
    os.utime(shared, ns=(stamp - 10**9, stamp - 10**9))  # so a rewrite would show
    assert main(["leaderboard", str(runs), "-o", str(out), "--resamples", "20",
                 "--plotly-js", "file"]) == 0  # fmt: skip
    write_report(runs / "t1.json", folder / "t1.html", plotly_js="file")  # a report beside it
    assert shared.stat().st_mtime_ns == stamp - 10**9  # reused, not rewritten
    assert sorted(p.name for p in folder.iterdir()) == sorted(["leaderboard.html", "t1.html", NAME])


def test_a_failed_plotly_write_is_one_line_and_leaves_nothing(
    runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("battle.files.os.replace", fail)
    folder = tmp_path / "reports"
    argv = ["leaderboard", str(runs), "-o", str(folder / "lb.html"), "--resamples", "10"]
    assert main([*argv, "--plotly-js", "file"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot write plotly.js to "), err
    assert "No space left on device" in err[0]
    assert not folder.exists() or list(folder.iterdir()) == []  # no page, no piece of plotly.js


def test_unknown_mode_is_refused(runs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    pool = rate_pool(read_pool(runs), resamples=10)
    with pytest.raises(ValueError, match="inline, file"):
        render_leaderboard(pool, plotly_js="cdn")
    with pytest.raises(SystemExit):
        main(["leaderboard", str(runs), "-o", str(tmp_path / "lb.html"), "--plotly-js", "cdn"])
    assert "invalid choice" in capsys.readouterr().err
    assert not (tmp_path / "lb.html").exists()

"""The server module's decisions that need no running server."""

from __future__ import annotations

import asyncio

import pytest

from arena import server as showdown
from arena.simulator import SimulatorPool


def test_http_url_from_websocket():
    assert showdown.http_url("ws://127.0.0.1:8000/showdown/websocket") == "http://127.0.0.1:8000/"
    assert showdown.http_url("wss://sim3.psim.us/showdown/websocket") == "https://sim3.psim.us/"


def test_nothing_answers_on_a_closed_port():
    assert not showdown.answers(showdown.websocket_url("127.0.0.1", showdown.free_port()))


def test_remote_server_that_does_not_answer_is_a_clear_error():
    with pytest.raises(showdown.ServerError, match="no Showdown server answers"):
        showdown.find_or_start("ws://arena-test.invalid:8000/showdown/websocket")


def test_missing_node_says_what_to_install(monkeypatch):
    monkeypatch.setattr(showdown.shutil, "which", lambda name: None)
    with pytest.raises(showdown.ServerError, match=r"install Node\.js 20"):
        showdown.install()
    with pytest.raises(showdown.ServerError, match=r"install Node\.js 20"):
        showdown.start_bundled()
    with pytest.raises(showdown.ServerError, match=r"install Node\.js 20"):
        asyncio.run(SimulatorPool(processes=1).start())


def test_config_binds_loopback_without_repl(tmp_path, monkeypatch):
    monkeypatch.setattr(showdown, "PACKAGE_DIR", tmp_path)
    config = showdown.write_config(simulators=3)
    text = config.read_text()
    assert "exports.bindaddress = '127.0.0.1';" in text
    assert "exports.repl = false;" in text
    assert "simulator: 3" in text
    assert (tmp_path / "logs" / "repl").is_dir()
    assert (tmp_path / "config" / "chat-plugins").is_dir()

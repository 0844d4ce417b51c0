"""Agents from another package: found through the `showdown_arena.agents` entry points of
an installed distribution (a real dist-info folder on sys.path), with no edit to this
repository; a plugin that fails to import is a warning, not a broken arena."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents import registry

REPO = Path(__file__).resolve().parents[3]

PLUGIN = """
from agents import BaseAgent, Decision, register
from agents.base import legal_orders


@register("echo-first", help="plays the first legal order")
class EchoFirst(BaseAgent):
    name = "echo-first"

    async def decide(self, battle):
        return Decision(order=legal_orders(battle)[0])
"""


def install_plugin(site: Path, module: str, source: str) -> None:
    """What `pip install` leaves for a package: its module and a dist-info with METADATA and
    entry_points.txt naming the module in the arena's group."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{module.replace('_', '-')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\n{module} = {module}\n")


@pytest.fixture
def fresh_registry(monkeypatch, tmp_path):
    """The registry as a new process has it, with `tmp_path/site` on sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    registry.registered()  # the built-ins, imported once per process (as in a real one)
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_loaded", False)
    yield site
    for name in ("arena_echo_plugin", "arena_broken_plugin"):
        sys.modules.pop(name, None)


def test_an_installed_package_adds_an_agent(fresh_registry):
    install_plugin(fresh_registry, "arena_echo_plugin", PLUGIN)
    known = registry.registered()
    assert "echo-first" in known and known["echo-first"].help == "plays the first legal order"
    assert {"random", "heuristic", "search", "metamon"} <= set(known)
    modules = registry.agent_modules()  # the built-ins come through the same group
    assert modules["arena_echo_plugin"] == "arena_echo_plugin"
    assert {"agents.baselines", "agents.search", "agents.metamon"} <= set(modules.values())
    assert registry.create("echo-first", seed=1).name == "echo-first"


def test_a_broken_plugin_is_one_warning_and_the_rest_still_load(fresh_registry, caplog):
    install_plugin(fresh_registry, "arena_broken_plugin", "raise RuntimeError('no GPU here')\n")
    with caplog.at_level("WARNING", logger="agents.registry"):
        known = registry.registered()
    assert "random" in known
    (warning,) = [r for r in caplog.records if "arena_broken_plugin" in r.getMessage()]
    assert "no GPU here" in warning.getMessage()


@pytest.mark.slow
def test_main_plays_a_plugin_agent(tmp_path):
    """The whole way: main.py finds the package's agent by name and plays it."""
    site = tmp_path / "site"
    site.mkdir()
    install_plugin(site, "arena_echo_plugin", PLUGIN)
    result = subprocess.run(
        [sys.executable, "main.py", "--p1", "echo-first", "--p2", "random", "--n", "1",
         "--engine", "sim", "--output", str(tmp_path / "runs"),
         "--reports", str(tmp_path / "reports"), "--log-level", "WARNING"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(site)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (record,) = (tmp_path / "runs").glob("*.json")
    spec = json.loads(record.read_text())["spec"]
    assert spec["p1"]["given"] == "echo-first" and spec["p1"]["resolved"] == "echo-first"


def test_a_source_tree_never_installed_reads_its_own_pyproject(monkeypatch):
    """Without the project's metadata (plain `pip install` of the dependencies), the same
    entry-point table is read from pyproject.toml."""
    monkeypatch.setattr(registry, "entry_points", lambda group: [])
    modules = registry.agent_modules()
    assert modules["search"] == "agents.search" and modules["baselines"] == "agents.baselines"

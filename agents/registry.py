"""One registry of agents by name.

Agents register with a decorator, built-in or not:

    @register("my-agent", help="what it does")
    class MyAgent(BaseAgent): ...

The registry finds the modules that hold them through the entry-point group
`showdown_arena.agents`: this project lists its built-in modules there (pyproject.toml),
and any installed package can list its own, so adding an agent never means editing this
repository. Each entry point names a module; importing it registers its agents. A module
that fails to import is a logged warning, and the other agents stay available.

A name on the command line is `kind` or `kind:arg` (e.g. `metamon:ckpt.pt`,
`mistral:ft:model-id`): the part before the first colon picks the registered factory,
the rest is passed to it as `arg`.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from agents.base import Agent

log = logging.getLogger(__name__)

AgentFactory = Callable[..., Agent]


class UnknownAgentError(ValueError):
    """An agent name the registry does not know; the message lists the known ones."""


@dataclass(frozen=True)
class Registration:
    name: str
    factory: AgentFactory
    help: str
    takes_arg: bool
    # Raises (with a one-line message) when the agent cannot run here, e.g. a missing
    # API key: called before any battle starts. Receives the `arg` of `kind:arg`.
    check: Callable[[str | None], None] | None = None
    # A user on the Showdown server (`user:NAME`) that the arena challenges instead of
    # playing: it needs the server engine, and no player of the arena decides for it.
    outside: bool = False
    example: str | None = None  # `kind:arg` as --help shows it, e.g. "search:300"


_REGISTRY: dict[str, Registration] = {}
ENTRY_POINT_GROUP = "showdown_arena.agents"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
_loaded = False


def register(
    name: str,
    *,
    help: str = "",
    check: Callable[[str | None], None] | None = None,
    outside: bool = False,
    example: str | None = None,
) -> Callable[[AgentFactory], AgentFactory]:
    """Class or function decorator: make `factory` available as agent `name`.

    The factory is called as `factory(seed=..., arg=...)`; `arg` only if it accepts one.
    `check(arg)`, if given, runs before any battle and raises when the agent cannot run.
    `outside`: the name stands for a user on the server that the arena challenges.
    `example`: a `name:arg` for --help.
    """

    if not name or ":" in name or name != name.strip():
        raise ValueError(f"agent name {name!r} must be non-empty, without ':' or spaces")

    def decorator(factory: AgentFactory) -> AgentFactory:
        if name in _REGISTRY and _REGISTRY[name].factory is not factory:
            raise ValueError(f"agent {name!r} is registered twice")
        params = inspect.signature(factory).parameters
        takes_arg = "arg" in params
        _REGISTRY[name] = Registration(name, factory, help, takes_arg, check, outside, example)
        return factory

    return decorator


def agent_modules() -> dict[str, str]:
    """Entry-point name -> module, of every installed package's `showdown_arena.agents`.

    This project's own entry points come from its installed metadata (`uv sync` installs
    it); run from a source tree that was never installed, they are read from its
    pyproject.toml, the same table."""
    modules = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if not any(value.startswith("agents.") for value in modules.values()) and PYPROJECT.is_file():
        project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8")).get("project", {})
        modules = {**project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {}), **modules}
    return modules


def _load_builtins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name, module in agent_modules().items():
        try:
            importlib.import_module(module.partition(":")[0])
        except Exception as exc:  # one broken plugin must not take the others down
            log.warning("agents from %r (%s) could not be loaded: %s", name, module, exc)


def registered() -> dict[str, Registration]:
    _load_builtins()
    return dict(sorted(_REGISTRY.items()))


@dataclass(frozen=True)
class ParsedName:
    given: str
    kind: str
    arg: str | None


def parse(name: str) -> ParsedName:
    """Split `kind:arg` and check that `kind` is registered."""
    _load_builtins()
    kind, sep, arg = name.strip().partition(":")
    if kind not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        close = difflib.get_close_matches(kind, list(_REGISTRY), n=1, cutoff=0.4)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UnknownAgentError(f"unknown agent {name!r}: {hint}registered agents: {known}")
    reg = _REGISTRY[kind]
    if sep and not reg.takes_arg:
        raise UnknownAgentError(f"agent {kind!r} takes no argument, got {name!r}: use {kind!r}")
    return ParsedName(given=name, kind=kind, arg=arg if sep else None)


def is_outside(name: str) -> bool:
    """Whether `name` is a user on the server that the arena challenges (`user:NAME`)."""
    return _REGISTRY[parse(name).kind].outside


def preflight(name: str) -> ParsedName:
    """Parse `name` and run its agent's check (e.g. that an API key is set)."""
    parsed = parse(name)
    check = _REGISTRY[parsed.kind].check
    if check is not None:
        check(parsed.arg)
    return parsed


def create(name: str, *, seed: int | None = None, **kwargs: Any) -> Agent:
    """Build the agent registered under `name` (`kind` or `kind:arg`)."""
    parsed = parse(name)
    reg = _REGISTRY[parsed.kind]
    if reg.takes_arg:
        kwargs["arg"] = parsed.arg
    return reg.factory(seed=seed, **kwargs)

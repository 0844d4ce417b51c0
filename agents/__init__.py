"""Agents: one async protocol (`agents.base`), one registry (`agents.registry`)."""

from agents.base import Agent, BaseAgent, Decision
from agents.registry import (
    UnknownAgentError,
    create,
    is_outside,
    parse,
    preflight,
    register,
    registered,
)

__all__ = [
    "Agent",
    "BaseAgent",
    "Decision",
    "UnknownAgentError",
    "create",
    "is_outside",
    "parse",
    "preflight",
    "register",
    "registered",
]

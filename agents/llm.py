"""Answers of language-model agents: parsing and short memory. The prompt they are shown
(`SYSTEM_PROMPT`, `render_state`, `build_prompt`, the answer schema) is `battle.prompts`.

- `parse_answer(text, legal)`: a model's text to a legal label, or the reason it is not
  one ("empty", "unparseable", "illegal_action"), for the agent's fallback record.
- `Conversation`: per-battle short memory of the last exchanges.

Action labels are the canonical names of `battle.state` / `agents.base.action_name`:
"move thunderbolt", "move thunderbolt tera", "switch pikachu", "default".
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from battle.prompts import SYSTEM_PROMPT

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)

REASONING_LIMIT = 1000
"""Reasoning kept from an answer is cut to this many characters."""

# --------------------------------------------------------------------------- parsing


@dataclass
class ParsedAnswer:
    """A model's answer read against the legal labels.

    `failure` is None exactly when `action` is a legal label; otherwise "empty" (no text),
    "unparseable" (no action could be read) or "illegal_action" (an action was read but
    names no legal label: it is kept in `raw_action`).
    """

    action: str | None
    reasoning: str | None
    failure: str | None
    raw_action: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


_TOKEN = re.compile(r"[a-z0-9]+")
_TERA_WORDS = frozenset(
    {"tera", "terastal", "terastalize", "terastallize", "terastallise", "terastallizing"}
    | {"terastalizing", "terastallising", "terastallized", "terastalized", "terastallization"}
)
_SWITCH_WORDS = frozenset({"switch", "switching", "swap", "send", "sendout"})
_MOVE_WORDS = frozenset({"move", "use", "using", "attack", "attacking"})
# Words allowed around a bare id in an "action" value ("switch to Pikachu", "use Thunderbolt
# with tera"); anything else there makes the value illegal rather than guessed at.
_FILLER = (
    _TERA_WORDS
    | _SWITCH_WORDS
    | _MOVE_WORDS
    | {"to", "into", "in", "out", "with", "and", "then", "go", "choose", "select", "action"}
    | {"i", "ll", "d", "will", "would", "let", "lets", "s", "we", "the", "a", "now", "pokemon"}
)
_NO_TERA = re.compile(r"(?<![a-z0-9])(?:no|not|without|don ?t|do not)\s+(?:to\s+)?tera[a-z]*")
_MAX_ID_TOKENS = 6  # "Baby-Doll Eyes", "King's Shield": a display name is a few tokens
_ACTION_FIELD = re.compile(r'"action"\s*:\s*"((?:[^"\\]|\\.)*)"')
_REASONING_FIELD = re.compile(r'"reasoning"\s*:\s*"((?:[^"\\]|\\.)*)"')
_MAX_JSON_STARTS = 32
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class _Label:
    label: str
    kind: str  # "move" | "switch" | "default" | other first word
    id: str
    tera: bool


@dataclass(frozen=True)
class _Legal:
    """The legal labels of one decision, indexed for matching."""

    labels: tuple[str, ...]
    by_norm: dict[str, str]  # normalised label -> label
    by_id: dict[str, tuple[_Label, ...]]  # move / species id -> its labels
    pattern: re.Pattern[str] | None  # any label, as whole words in normalised text


@lru_cache(maxsize=512)
def _index(labels: tuple[str, ...]) -> _Legal:
    by_id: dict[str, list[_Label]] = {}
    for label in labels:
        parts = label.split()
        if len(parts) < 2:
            continue
        entry = _Label(label, parts[0], parts[1], len(parts) == 3 and parts[2] == "tera")
        by_id.setdefault(parts[1], []).append(entry)
    alternatives = sorted({_norm(label) for label in labels if label.strip()}, key=len)[::-1]
    pattern = (
        re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, alternatives)) + r")(?![a-z0-9])")
        if alternatives
        else None
    )
    return _Legal(
        labels=labels,
        by_norm={_norm(label): label for label in labels},
        by_id={k: tuple(v) for k, v in by_id.items()},
        pattern=pattern,
    )


def _norm(text: str) -> str:
    """Lower case ASCII ("Flabébé" -> "flabebe"), single spaces, no quotes around."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(text.lower().split()).strip(" \"'`.,;!()[]<>*")


def _spans(tokens: list[str], ids: dict[str, Any]) -> list[tuple[int, int, str]]:
    """(start, end, id) for every run of tokens that joins to a known id, longest runs only."""
    found = []
    for i in range(len(tokens)):
        joined = ""
        for j in range(i, min(len(tokens), i + _MAX_ID_TOKENS)):
            joined += tokens[j]
            if joined in ids:
                found.append((i, j + 1, joined))
    return [
        (s, e, k)
        for s, e, k in found
        if not any(s2 <= s and e <= e2 and (s2, e2) != (s, e) for s2, e2, _ in found)
    ]


def _pick(candidates: Sequence[_Label], tera: bool, kind: str | None) -> list[_Label]:
    return [c for c in candidates if c.tera == tera and (kind is None or c.kind == kind)]


def _match_action(value: str, legal: _Legal) -> str | None:
    """The one legal label an "action" value means, or None.

    Accepts the label itself in any case and spacing, a label followed by ": details", or
    a bare id / display name with a few words around it ("Thunderbolt", "switch to
    Pikachu", "Close Combat with tera"). Tera variants only when tera is asked for.
    """
    norm = _norm(value)
    if norm in legal.by_norm:
        return legal.by_norm[norm]
    if ":" in norm:
        head = _norm(norm.split(":", 1)[0])
        if head in legal.by_norm:
            return legal.by_norm[head]
    tokens = _TOKEN.findall(_NO_TERA.sub(" ", norm))
    matches: set[str] = set()
    for start, end, id_ in _spans(tokens, legal.by_id):
        rest = tokens[:start] + tokens[end:]
        if not all(t in _FILLER for t in rest):
            continue
        kind = None
        if any(t in _SWITCH_WORDS for t in rest):
            kind = "switch"
        elif any(t in _MOVE_WORDS for t in rest):
            kind = "move"
        tera = any(t in _TERA_WORDS for t in rest)
        matches.update(c.label for c in _pick(legal.by_id[id_], tera, kind))
    return matches.pop() if len(matches) == 1 else None


def _match_prose(text: str, legal: _Legal) -> list[str]:
    """The legal labels free text names: whole labels if any, else ids / display names."""
    norm = _norm(text)
    if legal.pattern is not None:
        named = {legal.by_norm[m.group(0)] for m in legal.pattern.finditer(norm)}
        if named:
            return sorted(named)
    tokens = _TOKEN.findall(_NO_TERA.sub(" ", norm))
    named = set()
    for start, end, id_ in _spans(tokens, legal.by_id):
        near = tokens[max(start - 2, 0) : start] + tokens[end : end + 2]
        tera = any(t in _TERA_WORDS for t in near)
        named.update(c.label for c in _pick(legal.by_id[id_], tera, None))
    return sorted(named)


def _json_objects(text: str) -> Iterator[dict[str, Any]]:
    """JSON objects in `text`, first to last: each balanced {...} that parses."""
    start = text.find("{")
    tries = 0
    while start != -1 and tries < _MAX_JSON_STARTS:
        tries += 1
        try:
            obj, end = _DECODER.raw_decode(text, start)
        except ValueError:
            start = text.find("{", start + 1)
            continue
        if isinstance(obj, dict):
            yield obj
        start = text.find("{", end)


def _unescape(fragment: str) -> str:
    try:
        return str(json.loads(f'"{fragment}"'))
    except ValueError:
        return fragment


def _reasoning(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value[:REASONING_LIMIT] if value else None


def _from_action(action: Any, reasoning: str | None, legal: _Legal) -> ParsedAnswer:
    if not isinstance(action, str) or not action.strip():
        raw = None if action is None else str(action)
        return ParsedAnswer(None, reasoning, "unparseable", raw_action=raw)
    label = _match_action(action, legal)
    if label is None:
        return ParsedAnswer(None, reasoning, "illegal_action", raw_action=action)
    return ParsedAnswer(label, reasoning, None)


def parse_answer(text: str | None, legal: Sequence[str]) -> ParsedAnswer:
    """Read a model's answer against the legal labels (see `ParsedAnswer`).

    JSON first: the first {...} object in the text (code fences and prose around it are
    fine) with an "action" key, or failing a whole object, an `"action": "..."` pair
    (a truncated or malformed answer). Its action is matched by `_match_action`. Without
    JSON, prose that names exactly one legal label (or one move / species of one) counts.
    """
    if text is None or not text.strip():
        return ParsedAnswer(None, None, "empty")
    index = _index(tuple(legal))
    objects = list(_json_objects(text))
    if objects:
        objects = [{str(k).lower(): v for k, v in o.items()} for o in objects]
        chosen = next((o for o in objects if "action" in o), objects[0])
        return _from_action(chosen.get("action"), _reasoning(chosen.get("reasoning")), index)
    field_match = _ACTION_FIELD.search(text)
    if field_match is not None:
        reasoning_match = _REASONING_FIELD.search(text)
        reasoning = _reasoning(_unescape(reasoning_match.group(1))) if reasoning_match else None
        return _from_action(_unescape(field_match.group(1)), reasoning, index)
    named = _match_prose(text, index)
    reasoning = _reasoning(text)
    if len(named) == 1:
        return ParsedAnswer(named[0], reasoning, None)
    logger.debug("unparseable answer (%d labels named): %.200r", len(named), text)
    return ParsedAnswer(None, reasoning, "unparseable")


# --------------------------------------------------------------------------- memory


@dataclass
class Conversation:
    """Per-battle short memory for chat models.

    The last `history` (prompt, answer) exchanges of the same battle are sent before the
    new prompt (0: none). Battles are kept apart by tag; `forget` a battle when it ends.
    At most `max_battles` battles are remembered (the least recently used goes first), so
    a battle that is never forgotten cannot grow memory without bound.
    """

    history: int = 1
    system_prompt: str = SYSTEM_PROMPT
    max_battles: int = 1024
    _log: OrderedDict[str, deque[tuple[str, str]]] = field(
        default_factory=OrderedDict, init=False, repr=False
    )

    def __post_init__(self) -> None:
        if self.history < 0:
            raise ValueError(f"history must be 0 or more, got {self.history}")
        if self.max_battles < 1:
            raise ValueError(f"max_battles must be 1 or more, got {self.max_battles}")

    def messages(self, battle_tag: str, prompt: str) -> list[dict[str, str]]:
        """System message, the battle's remembered exchanges, then `prompt` as the user."""
        out = [{"role": "system", "content": self.system_prompt}]
        for past_prompt, past_answer in self._log.get(battle_tag, ()):
            out.append({"role": "user", "content": past_prompt})
            out.append({"role": "assistant", "content": past_answer})
        out.append({"role": "user", "content": prompt})
        return out

    def record(self, battle_tag: str, prompt: str, answer: str) -> None:
        """Remember one exchange of `battle_tag` (only the last `history` are kept)."""
        if self.history == 0:
            return
        log = self._log.get(battle_tag)
        if log is None:
            log = self._log[battle_tag] = deque(maxlen=self.history)
            while len(self._log) > self.max_battles:
                self._log.popitem(last=False)
        else:
            self._log.move_to_end(battle_tag)
        log.append((prompt, answer))

    def forget(self, battle_tag: str) -> None:
        """Drop everything remembered about `battle_tag`."""
        self._log.pop(battle_tag, None)

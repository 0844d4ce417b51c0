"""One Metamon state -> 87 token ids, 48 numbers and a 13-action legality mask.

    encoder = StateEncoder(Vocabulary.build())
    turn = encoder.encode(state)            # EncodedTurn(tokens, numbers, legal)
    make_loader(index, encode=encoder)      # per state, inside the DataLoader workers

Every position has a fixed meaning, so a model can give each position its own embedding.
An empty slot (a second type, a fifth switch, a move not revealed) is `Vocabulary.PAD`;
the state's own "no..." words ("noeffect", "nomove", "nopokemon") are ordinary words.
Space-joined fields are split into words (`types` "fire flying" -> "fire", "flying").

Tokens (87)
    ====  ===========================================================================
    0     format ("gen9randombattle")
    1     phase: "<won>" / "<lost>" (terminal state), "<forceswitch>", else "<choose>"
    2-21  our active: name, item, ability, status, effect x2, type x2 (2-9), then its
          4 moves in action order, each name, move_type, category (10-21)
    22-41 the opponent's active, the same (its revealed moves, in the state's order)
    42-71 our 5 switches in action order, each name, item, ability, status, type x2
    72-75 our previous move (name, move_type), the opponent's (name, move_type)
    76    weather
    77-78 battle_field, 2 words
    79-82 our side conditions, 4 words ("spikes spikes stealthrock" keeps its repeats)
    83-86 the opponent's side conditions, 4 words
    ====  ===========================================================================

    Words beyond a group's slots are dropped (a third effect, a fifth side condition).

Numbers (48), float32, every value finite: clipped to [-2, 2], NaN and null read as 0
    ====  ===========================================================================
    0-14  our active: hp_pct, lvl / 100, boosts / 6 (atk spa def spd spe accuracy
          evasion), base stats / 255 (atk spa def spd spe hp)
    15-29 the opponent's active, the same
    30-41 our 4 moves in action order, each base_power / 150, accuracy (a fraction),
          priority / 5 (zeros for an empty slot)
    42-46 hp_pct of our 5 switches in action order (0 for an empty slot)
    47    opponents_remaining / 6
    ====  ===========================================================================

    Forgiving about other producers of the format: a missing or null number is 0, an
    `hp_pct` or `accuracy` above 1 is read as a percentage, `accuracy` true is 1.

Legal actions (13), Metamon's space: 0-3 moves, 4-8 switches, 9-12 moves with tera
    A move slot is legal when our active has a move there ("nomove" is none) with pp left
    (`max_pp` 0 means the pp is unknown: legal). A switch slot is legal when that switch
    exists. A forced switch allows the switches only. The state says neither whether tera
    is still available nor whether we are trapped, disabled or choice-locked, so the mask
    is a superset of the real legal set: tera slots mirror the move slots in gen9 formats
    (and formats not named "genN"), unless our active's type is already "stellar"; switch
    slots stay legal while trapped. The live agent intersects the mask with the battle's
    real legal orders. A state where nothing would be legal (a terminal state with no
    active and no switches) gets an all-True mask, so a masked softmax is never empty.

`StateEncoder` is a picklable callable: `encoder(state)` returns the `{"tokens",
"numbers", "legal"}` arrays that `training.dataset` stacks per trajectory and pads per batch.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np

from training.tokenizer import (
    PHASE_CHOOSE,
    PHASE_FORCE_SWITCH,
    PHASE_LOST,
    PHASE_WON,
    Vocabulary,
)

logger = logging.getLogger(__name__)

N_TOKENS = 87
N_NUMBERS = 48
N_ACTIONS = 13
N_MOVES = 4
N_SWITCHES = 5
TERA_OFFSET = N_MOVES + N_SWITCHES  # 9

# token layout: (first position, width)
POKEMON_TOKENS = 8  # name, item, ability, status, effect x2, type x2
MOVE_TOKENS = 3  # name, move_type, category
ACTIVE_TOKENS = POKEMON_TOKENS + N_MOVES * MOVE_TOKENS  # 20
SWITCH_TOKENS = 6  # name, item, ability, status, type x2
CONDITION_SLOTS = 4
FIELD_SLOTS = 2
TOKEN_SLICES: dict[str, slice] = {}
_at = 0
for _name, _width in (
    ("format", 1),
    ("phase", 1),
    ("player_active", ACTIVE_TOKENS),
    ("opponent_active", ACTIVE_TOKENS),
    ("switches", N_SWITCHES * SWITCH_TOKENS),
    ("prev_moves", 4),
    ("weather", 1),
    ("battle_field", FIELD_SLOTS),
    ("player_conditions", CONDITION_SLOTS),
    ("opponent_conditions", CONDITION_SLOTS),
):
    TOKEN_SLICES[_name] = slice(_at, _at + _width)
    _at += _width
assert _at == N_TOKENS, _at

POKEMON_NUMBERS = 15  # hp, lvl, 7 boosts, 6 base stats
MOVE_NUMBERS = 3  # base_power, accuracy, priority
NUMBER_SLICES: dict[str, slice] = {}
_at = 0
for _name, _width in (
    ("player_active", POKEMON_NUMBERS),
    ("opponent_active", POKEMON_NUMBERS),
    ("moves", N_MOVES * MOVE_NUMBERS),
    ("switch_hp", N_SWITCHES),
    ("opponents_remaining", 1),
):
    NUMBER_SLICES[_name] = slice(_at, _at + _width)
    _at += _width
assert _at == N_NUMBERS, _at
del _at, _name, _width

BOOST_KEYS = tuple(f"{s}_boost" for s in ("atk", "spa", "def", "spd", "spe", "accuracy", "evasion"))
BASE_STAT_KEYS = tuple(f"base_{s}" for s in ("atk", "spa", "def", "spd", "spe", "hp"))
NUMBER_CLIP = 2.0
NO_MOVE_WORDS = frozenset({"nomove", "", "<blank>"})


@dataclass(frozen=True)
class EncodedTurn:
    tokens: np.ndarray  # (87,) int64, ids in [0, len(vocab))
    numbers: np.ndarray  # (48,) float32, finite, in [-2, 2]
    legal: np.ndarray  # (13,) bool, at least one True


# What each number is divided by, and which numbers are fractions (percentages above 1).
def _number_scales() -> tuple[np.ndarray, np.ndarray]:
    pokemon = [1.0, 100.0, *[6.0] * len(BOOST_KEYS), *[255.0] * len(BASE_STAT_KEYS)]
    scales = [*pokemon, *pokemon, *[150.0, 1.0, 5.0] * N_MOVES, *[1.0] * N_SWITCHES, 6.0]
    fractions = [0, POKEMON_NUMBERS]  # the actives' hp
    fractions += [NUMBER_SLICES["moves"].start + 1 + MOVE_NUMBERS * i for i in range(N_MOVES)]
    fractions += list(range(NUMBER_SLICES["switch_hp"].start, NUMBER_SLICES["switch_hp"].stop))
    return np.array(scales, dtype=np.float64), np.array(fractions, dtype=np.intp)


NUMBER_SCALES, FRACTION_INDICES = _number_scales()
assert NUMBER_SCALES.shape == (N_NUMBERS,)

_MON_WORDS = itemgetter("name", "item", "ability", "status")
_SWITCH_FIELDS = itemgetter("name", "item", "ability", "status", "types")
_MOVE_WORDS = itemgetter("name", "move_type", "category")
_PREV_MOVE_WORDS = itemgetter("name", "move_type")
_MON_NUMBERS = itemgetter("hp_pct", "lvl", *BOOST_KEYS, *BASE_STAT_KEYS)
_MOVE_NUMBERS = itemgetter("base_power", "accuracy", "priority")
_PP = itemgetter("name", "current_pp", "max_pp")
_MALFORMED = (KeyError, TypeError, AttributeError, ValueError, IndexError)
_PADS = ("<pad>",) * N_TOKENS  # "<pad>" is Vocabulary.PAD's word
_ZEROS = (0.0,) * N_NUMBERS
_FALSES = (False,) * N_ACTIONS
_SPACE_JOINED = (
    ("weather", 1),
    ("battle_field", FIELD_SLOTS),
    ("player_conditions", CONDITION_SLOTS),
    ("opponent_conditions", CONDITION_SLOTS),
)


def as_number(value: Any) -> float:
    """A JSON number as a float; null, strings and bools other than true are 0."""
    if value.__class__ is int or value.__class__ is float:
        return value
    if value is True:
        return 1.0
    return 0.0


def as_fraction(value: Any) -> float:
    """hp_pct / accuracy: a fraction; above 1 it was a percentage."""
    x = as_number(value)
    return x / 100.0 if x > 1.0 else x


def tera_possible(state: dict[str, Any], active: dict[str, Any]) -> bool:
    """Tera may still be available: a gen9 (or unnamed) format, not already stellar."""
    fmt = state.get("format")
    if isinstance(fmt, str) and fmt.startswith("gen") and not fmt.startswith("gen9"):
        return False
    return active.get("types") != "stellar"


def phase_word(state: dict[str, Any]) -> str:
    """The battle phase of a state: "<won>", "<lost>", "<forceswitch>" or "<choose>"."""
    if state.get("battle_won"):
        return PHASE_WON
    if state.get("battle_lost"):
        return PHASE_LOST
    if state.get("forced_switch"):
        return PHASE_FORCE_SWITCH
    return PHASE_CHOOSE


def _finish_numbers(numbers: np.ndarray) -> np.ndarray:
    """float64 -> float32 clipped to [-NUMBER_CLIP, NUMBER_CLIP], NaN to 0."""
    np.minimum(numbers, NUMBER_CLIP, out=numbers)  # NaN stays NaN, inf is clipped
    np.maximum(numbers, -NUMBER_CLIP, out=numbers)
    if math.isnan(numbers.sum()):  # a NaN (or null) read from someone's file
        numbers[np.isnan(numbers)] = 0.0
    return numbers.astype(np.float32)


class StateEncoder:
    """Metamon state dict -> `EncodedTurn` (see the module doc for the layout).

    A fast path reads a well-formed state (every field present, as `battle.metamon`
    builds it) with C-level item getters; a state it cannot read (a field
    missing, null where a list or string should be) goes through a slower, forgiving path
    that gives the same result on well-formed states (tested).
    """

    observation = "text"
    n_tokens = N_TOKENS
    n_numbers = N_NUMBERS

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self._pad = Vocabulary.PAD
        self._phase = {
            word: vocab.encode_word(word)
            for word in (PHASE_CHOOSE, PHASE_FORCE_SWITCH, PHASE_WON, PHASE_LOST)
        }

    def __getstate__(self) -> dict[str, Any]:
        return {"vocab": self.vocab}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["vocab"])

    # -- the API -----------------------------------------------------------------------

    def encode(self, state: dict[str, Any]) -> EncodedTurn:
        """The tokens, numbers and legal mask of one Metamon state."""
        try:
            return self._encode_fast(state)
        except _MALFORMED:
            return self._encode_robust(state)

    def __call__(self, state: dict[str, Any]) -> dict[str, np.ndarray]:
        """`encode` as the arrays `training.dataset.TrajectoryDataset(encode=...)` stacks."""
        turn = self.encode(state)
        return {"tokens": turn.tokens, "numbers": turn.numbers, "legal": turn.legal}

    # -- fast path -----------------------------------------------------------------------

    def _encode_fast(self, state: dict[str, Any]) -> EncodedTurn:
        if state["battle_won"]:
            phase = PHASE_WON
        elif state["battle_lost"]:
            phase = PHASE_LOST
        elif state["forced_switch"]:
            phase = PHASE_FORCE_SWITCH
        else:
            phase = PHASE_CHOOSE
        words: list[str] = [state["format"], phase]
        raw: list[Any] = []
        player = state["player_active_pokemon"]
        for mon in (player, state["opponent_active_pokemon"]):
            words += _MON_WORDS(mon)
            for text in (mon["effect"], mon["types"]):
                parts = text.split()[:2]
                words += parts
                words += _PADS[: 2 - len(parts)]
            moves = mon["moves"][:N_MOVES]
            for move in moves:
                words += _MOVE_WORDS(move)
            words += _PADS[: MOVE_TOKENS * (N_MOVES - len(moves))]
            raw += _MON_NUMBERS(mon)
        moves = player["moves"][:N_MOVES]
        for move in moves:
            raw += _MOVE_NUMBERS(move)
        raw += _ZEROS[: MOVE_NUMBERS * (N_MOVES - len(moves))]
        switches = state["available_switches"][:N_SWITCHES]
        for mon in switches:
            name, item, ability, status, types = _SWITCH_FIELDS(mon)
            parts = types.split()[:2]
            words += (name, item, ability, status, *parts)
            words += _PADS[: 2 - len(parts)]
            raw.append(mon["hp_pct"])
        n_switches = len(switches)
        words += _PADS[: SWITCH_TOKENS * (N_SWITCHES - n_switches)]
        raw += _ZEROS[: N_SWITCHES - n_switches]
        raw.append(state["opponents_remaining"])
        words += _PREV_MOVE_WORDS(state["player_prev_move"])
        words += _PREV_MOVE_WORDS(state["opponent_prev_move"])
        for key, slots in _SPACE_JOINED:
            parts = state[key].split()[:slots]
            words += parts
            words += _PADS[: slots - len(parts)]

        # tokens: one C-level pass over the lookup table; the rare miss goes the slow way
        if len(words) != N_TOKENS:  # a layout bug, never the data's fault
            raise AssertionError(f"{len(words)} tokens, expected {N_TOKENS}")
        ids = list(map(self.vocab._lookup.get, words))
        try:
            tokens = np.array(ids, dtype=np.int64)
        except TypeError:  # a None: a word to look up the slow way (or UNK, counted)
            word = self.vocab.encode_word
            tokens = np.array(list(map(word, words)), dtype=np.int64)

        # numbers: null reads as NaN (then 0), a bool as 0/1; other strings than numerals
        # fail here and go the forgiving way (where they read as 0)
        numbers = np.array(raw, dtype=np.float64)
        fractions = numbers[FRACTION_INDICES]
        if fractions.max() > 1.0:
            numbers[FRACTION_INDICES] = np.where(fractions > 1.0, fractions / 100.0, fractions)
        numbers /= NUMBER_SCALES

        # legal actions
        legal = list(_FALSES)
        legal[N_MOVES : N_MOVES + n_switches] = (True,) * n_switches
        if not state["forced_switch"]:
            any_move = False
            for i, move in enumerate(moves):
                name, pp, max_pp = _PP(move)
                if name not in NO_MOVE_WORDS and (pp > 0 or max_pp <= 0):
                    legal[i] = any_move = True
            if any_move and tera_possible(state, player):
                legal[TERA_OFFSET:] = legal[:N_MOVES]
        if not any(legal):
            legal = [True] * N_ACTIONS
        return EncodedTurn(tokens, _finish_numbers(numbers), np.array(legal, dtype=np.bool_))

    # -- forgiving path ------------------------------------------------------------------

    def _encode_robust(self, state: dict[str, Any]) -> EncodedTurn:
        tokens = np.array(self._tokens(state), dtype=np.int64)
        if tokens.shape != (N_TOKENS,):  # a layout bug, never the data's fault
            raise AssertionError(f"{tokens.shape[0]} tokens, expected {N_TOKENS}")
        return EncodedTurn(tokens, self._numbers(state), self.legal_mask(state))

    def _words(self, text: Any, slots: int, out: list[int]) -> None:
        """Append the ids of the first `slots` words of a space-joined field, PAD-filled."""
        word = self.vocab.encode_word
        parts = text.split() if isinstance(text, str) else []
        n = min(len(parts), slots)
        for i in range(n):
            out.append(word(parts[i]))
        if n < slots:
            out.extend([self._pad] * (slots - n))

    def _pokemon_tokens(self, mon: dict[str, Any], out: list[int]) -> None:
        word = self.vocab.encode_word
        out.append(word(mon.get("name", "")))
        out.append(word(mon.get("item", "")))
        out.append(word(mon.get("ability", "")))
        out.append(word(mon.get("status", "")))
        self._words(mon.get("effect"), 2, out)
        self._words(mon.get("types"), 2, out)

    def _move_tokens(self, moves: Any, out: list[int]) -> None:
        word = self.vocab.encode_word
        n = 0
        if isinstance(moves, list):
            for move in moves[:N_MOVES]:
                out.append(word(move.get("name", "")))
                out.append(word(move.get("move_type", "")))
                out.append(word(move.get("category", "")))
                n += 1
        if n < N_MOVES:
            out.extend([self._pad] * ((N_MOVES - n) * MOVE_TOKENS))

    def _tokens(self, state: dict[str, Any]) -> list[int]:
        word = self.vocab.encode_word
        out: list[int] = [word(state.get("format", "")), self._phase[phase_word(state)]]
        for key in ("player_active_pokemon", "opponent_active_pokemon"):
            mon = state.get(key) or {}
            self._pokemon_tokens(mon, out)
            self._move_tokens(mon.get("moves"), out)
        switches = state.get("available_switches") or []
        n = 0
        for mon in switches[:N_SWITCHES]:
            out.append(word(mon.get("name", "")))
            out.append(word(mon.get("item", "")))
            out.append(word(mon.get("ability", "")))
            out.append(word(mon.get("status", "")))
            self._words(mon.get("types"), 2, out)
            n += 1
        if n < N_SWITCHES:
            out.extend([self._pad] * ((N_SWITCHES - n) * SWITCH_TOKENS))
        for key in ("player_prev_move", "opponent_prev_move"):
            move = state.get(key) or {}
            out.append(word(move.get("name", "nomove")))
            out.append(word(move.get("move_type", "notype")))
        self._words(state.get("weather"), 1, out)
        self._words(state.get("battle_field"), FIELD_SLOTS, out)
        self._words(state.get("player_conditions"), CONDITION_SLOTS, out)
        self._words(state.get("opponent_conditions"), CONDITION_SLOTS, out)
        return out

    @staticmethod
    def _pokemon_numbers(mon: dict[str, Any], out: list[float]) -> None:
        out.append(as_fraction(mon.get("hp_pct")))
        out.append(as_number(mon.get("lvl")) / 100.0)
        for key in BOOST_KEYS:
            out.append(as_number(mon.get(key)) / 6.0)
        for key in BASE_STAT_KEYS:
            out.append(as_number(mon.get(key)) / 255.0)

    def _numbers(self, state: dict[str, Any]) -> np.ndarray:
        out: list[float] = []
        active = state.get("player_active_pokemon") or {}
        self._pokemon_numbers(active, out)
        self._pokemon_numbers(state.get("opponent_active_pokemon") or {}, out)
        moves = active.get("moves")
        n = 0
        if isinstance(moves, list):
            for move in moves[:N_MOVES]:
                out.append(as_number(move.get("base_power")) / 150.0)
                out.append(as_fraction(move.get("accuracy")))
                out.append(as_number(move.get("priority")) / 5.0)
                n += 1
        out.extend([0.0] * ((N_MOVES - n) * MOVE_NUMBERS))
        switches = state.get("available_switches") or []
        n = 0
        for mon in switches[:N_SWITCHES]:
            out.append(as_fraction(mon.get("hp_pct")))
            n += 1
        out.extend([0.0] * (N_SWITCHES - n))
        out.append(as_number(state.get("opponents_remaining")) / 6.0)
        return _finish_numbers(np.array(out, dtype=np.float64))

    @staticmethod
    def legal_mask(state: dict[str, Any]) -> np.ndarray:
        """The 13-action legal mask of a state (see the module doc), on its own."""
        legal = np.zeros(N_ACTIONS, dtype=np.bool_)
        switches = state.get("available_switches") or []
        legal[N_MOVES : N_MOVES + min(len(switches), N_SWITCHES)] = True
        if not state.get("forced_switch"):
            active = state.get("player_active_pokemon") or {}
            moves = active.get("moves")
            any_move = False
            if isinstance(moves, list):
                for i, move in enumerate(moves[:N_MOVES]):
                    if move.get("name", "nomove") in NO_MOVE_WORDS:
                        continue
                    if as_number(move.get("current_pp")) > 0 or as_number(move.get("max_pp")) <= 0:
                        legal[i] = True
                        any_move = True
            if any_move and tera_possible(state, active):
                legal[TERA_OFFSET:] = legal[:N_MOVES]
        if not legal.any():
            legal[:] = True
        return legal

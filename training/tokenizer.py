"""The word vocabulary of Metamon states: every word a state can hold has an id.

    vocab = Vocabulary.build()          # from poke-env's bundled data, all generations
    vocab.encode_word("thunderbolt")    # -> an id in [0, len(vocab))
    vocab.save("vocab.json"); Vocabulary.load("vocab.json")

Built once from data, not learned from replays, so it covers its inputs by construction:

- species: every key of every generation's poke-env Pokédex, plus the ids of each entry's
  name, base species, other formes and cosmetic formes ("gastrodoneast");
- moves: every key of every generation's poke-env move data, plus "recharge" (a move in
  the protocol, not in the data) and the old `hiddenpower<type><60|70>` spellings;
- abilities: every ability of every Pokédex entry (that is all of Showdown's), "noability";
- items: `training/vocab_items.txt`, the item ids of the pinned Showdown server (poke-env
  ships no item data);
- types (poke-env's `PokemonType` and every type chart), move categories, statuses,
  weathers, fields, side conditions and volatile effects (poke-env's enums, spelt as
  `battle.state.enum_id` spells them, plus Showdown's "snow");
- formats: gen1..gen9 × common tiers and random-battle formats;
- the fixed words of `battle.metamon` ("unknownitem", "noitem", "nostatus",
  "noeffect", "nomove", "notype", "???", ...) and a few of our own ("<blank>" for an empty
  string; the battle-phase words "<choose>", "<forceswitch>", "<won>", "<lost>").

Ids: `PAD` = 0 ("<pad>", an empty slot), `UNK` = 1 ("<unk>"), then the words above in a
fixed order (so two builds are identical). Every id `encode_word` returns is in
`[0, len(vocab))`: there is nothing to clamp. A word not found as given is looked up again
as a Showdown id (lower-case letters and digits: "Thunderbolt", "FIRE", "Choice Scarf");
a word still unknown maps to `UNK`, is counted in `unknown_counts` (per process: in a
DataLoader worker, the worker's copy counts) and, the first time, logged as a warning.

The vocabulary is saved with a checkpoint (`to_dict` / `save`), so a model always reads the
ids it was trained on, whatever poke-env version builds the next one.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import Any

from battle.files import atomic_write_text

logger = logging.getLogger(__name__)

VERSION = 1
ITEMS_FILE = Path(__file__).resolve().parent / "vocab_items.txt"
GENERATIONS = range(1, 10)
MAX_LOGGED_UNKNOWN = 50  # distinct unknown words logged per process; all are counted

PAD_WORD = "<pad>"
UNK_WORD = "<unk>"
BLANK_WORD = "<blank>"  # an empty string where a word was expected
PHASE_CHOOSE = "<choose>"  # a normal decision
PHASE_FORCE_SWITCH = "<forceswitch>"
PHASE_WON = "<won>"
PHASE_LOST = "<lost>"

# The fixed words of battle/metamon.py's states (kept in sync by a test), and a
# few spellings other producers of the format may use.
STATE_WORDS = (
    "unknownitem",
    "noitem",
    "unknownability",
    "noability",
    "nostatus",
    "noeffect",
    "noweather",
    "nofield",
    "noconditions",
    "nomove",
    "nopokemon",
    "notype",
    "nocategory",
    "???",
    "none",
    "unknown",
)
SPECIAL_WORDS = (
    PAD_WORD,
    UNK_WORD,
    BLANK_WORD,
    PHASE_CHOOSE,
    PHASE_FORCE_SWITCH,
    PHASE_WON,
    PHASE_LOST,
)
TIERS = (
    "ou",
    "uu",
    "ru",
    "nu",
    "pu",
    "zu",
    "ubers",
    "uber",
    "lc",
    "nfe",
    "cap",
    "1v1",
    "2v2doubles",
    "monotype",
    "anythinggoes",
    "nationaldex",
    "nationaldexou",
    "nationaldexubers",
    "nationaldexmonotype",
    "doublesou",
    "doublesubers",
    "doublesuu",
    "vgc",
    "battlestadiumsingles",
    "randombattle",
    "randomdoublesbattle",
    "randombattleblitz",
    "challengecup1v1",
    "hackmonscup",
    "battlefactory",
    "bssfactory",
    "customgame",
    "almostanyability",
    "balancedhackmons",
    "stabmons",
    "purehackmons",
)
EXTRA_WEATHERS = ("snow", "none")
# Other producers' spellings of words the vocabulary has (no new ids, the digest unchanged):
# Metamon's writer strips digits from effects ("perish3" -> "perish") and spells the
# typeless type as its enum name.
ALIASES = {"perish": "perish3", "threequestionmarks": "???"}
NO_HIDDEN_POWER = frozenset({"normal", "fairy", "stellar"})

_NON_ID = re.compile(r"[^a-z0-9]+")


def to_id(text: str) -> str:
    """Showdown's id of a name: lower-case letters and digits only ("Mr. Mime" -> "mrmime")."""
    return _NON_ID.sub("", text.lower())


def _enum_ids(enum: type[Enum]) -> list[str]:
    # battle.state.enum_id's spelling; "unknown" members are poke-env's placeholders
    return [member.name.lower().replace("_", "") for member in enum]


def _items() -> list[str]:
    lines = ITEMS_FILE.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _game_words() -> dict[str, list[str]]:
    """Word groups from poke-env's bundled data, all generations (a deterministic order)."""
    from poke_env.battle import (
        Effect,
        Field,
        MoveCategory,
        PokemonType,
        SideCondition,
        Status,
        Weather,
    )
    from poke_env.data import GenData

    species: set[str] = set()
    moves: set[str] = {"recharge"}
    abilities: set[str] = {"noability"}
    types: set[str] = {
        to_id(t.name) for t in PokemonType if t is not PokemonType.THREE_QUESTION_MARKS
    }
    for gen in GENERATIONS:
        data = GenData.from_gen(gen)
        for key, entry in data.pokedex.items():
            species.add(key)
            for name in (
                entry.get("name", ""),
                entry.get("baseSpecies", ""),
                *entry.get("otherFormes", ()),
                *entry.get("cosmeticFormes", ()),
            ):
                species.add(to_id(name))
            for ability in entry.get("abilities", {}).values():
                abilities.add(to_id(ability))
        moves.update(data.moves)
        types.update(to_id(t) for t in data.type_chart)
    for kind in sorted(types - NO_HIDDEN_POWER):
        moves.update((f"hiddenpower{kind}", f"hiddenpower{kind}60", f"hiddenpower{kind}70"))
    formats = [f"gen{gen}{tier}" for gen in GENERATIONS for tier in TIERS]
    groups = {
        "formats": formats,
        "types": sorted(types),
        "categories": sorted(_enum_ids(MoveCategory)),
        "statuses": sorted(_enum_ids(Status)),
        "weathers": sorted({*_enum_ids(Weather), *EXTRA_WEATHERS}),
        "fields": sorted(_enum_ids(Field)),
        "side_conditions": sorted(_enum_ids(SideCondition)),
        "effects": sorted(_enum_ids(Effect)),
        "abilities": sorted(abilities),
        "items": sorted(set(_items())),
        "moves": sorted(moves),
        "species": sorted(species),
    }
    return {name: [w for w in words if w] for name, words in groups.items()}


class Vocabulary:
    """Word <-> id. `PAD` (0) and `UNK` (1) are fixed; see the module doc for the rest."""

    PAD = 0
    UNK = 1

    def __init__(self, words: Iterable[str]) -> None:
        words = list(dict.fromkeys(words))
        if words[:2] != [PAD_WORD, UNK_WORD]:
            raise ValueError(f"a vocabulary starts with {PAD_WORD!r}, {UNK_WORD!r}")
        self.words: list[str] = words
        self._ids: dict[str, int] = {w: i for i, w in enumerate(words)}
        if BLANK_WORD in self._ids:
            self._ids.setdefault("", self._ids[BLANK_WORD])
        for alias, word in ALIASES.items():
            if word in self._ids:
                self._ids.setdefault(alias, self._ids[word])
        # words found through `to_id` (e.g. "FIRE" -> "fire"), remembered per process
        self._lookup: dict[str, int] = dict(self._ids)
        self.unknown_counts: collections.Counter[str] = collections.Counter()

    # -- building and saving -----------------------------------------------------------

    @classmethod
    def build(cls) -> Vocabulary:
        """The vocabulary of poke-env's bundled data, all generations (deterministic)."""
        words: list[str] = [*SPECIAL_WORDS, *STATE_WORDS]
        groups = _game_words()
        for group in groups.values():
            words.extend(group)
        vocab = cls(words)
        logger.debug(
            "vocabulary: %d words (%s)",
            len(vocab),
            ", ".join(f"{name} {len(group)}" for name, group in groups.items()),
        )
        return vocab

    def to_dict(self) -> dict[str, Any]:
        return {"version": VERSION, "words": list(self.words)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Vocabulary:
        if data.get("version") != VERSION:
            raise ValueError(f"vocabulary version {data.get('version')!r}, expected {VERSION}")
        return cls(data["words"])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the vocabulary as JSON, atomically (a temporary file, then a rename)."""
        atomic_write_text(path, json.dumps(self.to_dict()), sync=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocabulary:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def digest(self) -> str:
        """sha256 of the words in id order: equal digests, equal ids for every word."""
        return hashlib.sha256("\n".join(self.words).encode()).hexdigest()

    # -- lookups -----------------------------------------------------------------------

    def encode_word(self, word: str) -> int:
        """The id of `word`; `UNK` (counted in `unknown_counts`) if the vocabulary lacks it."""
        try:
            found = self._lookup.get(word)
        except TypeError:  # not a string, not even hashable
            found = None
        if found is not None:
            return found
        return self._slow_lookup(word)

    def _slow_lookup(self, word: str) -> int:
        found = self._ids.get(to_id(word)) if isinstance(word, str) else None
        if found is None:
            key = str(word)
            self.unknown_counts[key] += 1
            if self.unknown_counts[key] == 1 and len(self.unknown_counts) <= MAX_LOGGED_UNKNOWN:
                logger.warning("word %r is not in the vocabulary: encoded as %s", key, UNK_WORD)
            return self.UNK
        self._lookup[word] = found
        return found

    def __contains__(self, word: object) -> bool:
        return word in self._ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The words of `ids` (for inspection)."""
        return [self.words[int(i)] for i in ids]

    def __len__(self) -> int:
        return len(self.words)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.words == other.words

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} words)"

    def __getstate__(self) -> dict[str, Any]:  # pickled into DataLoader workers
        return {"words": self.words, "unknown_counts": self.unknown_counts}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["words"])
        self.unknown_counts.update(state["unknown_counts"])

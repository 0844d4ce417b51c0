"""How the viewer reads and words the values in Showdown protocol lines.

The names of statuses, stats, weather and effects (`quarkdrivespe` -> "Quark Drive
(Speed)"), HP strings as percentages, a line's `[from] EFFECT` source, and a species'
types from poke-env's pokedex.
"""

from __future__ import annotations

import re
from functools import cache

from poke_env.data import GenData
from poke_env.data.normalize import to_id_str

STATUS_NAMES = {
    "par": "paralyzed",
    "brn": "burned",
    "psn": "poisoned",
    "tox": "badly poisoned",
    "slp": "asleep",
    "frz": "frozen",
}
STAT_NAMES = {
    "atk": "Attack",
    "def": "Defense",
    "spa": "Sp. Atk",
    "spd": "Sp. Def",
    "spe": "Speed",
    "accuracy": "Accuracy",
    "evasion": "Evasion",
}
WEATHER_NAMES = {
    "raindance": "Rain",
    "sunnyday": "Sun",
    "sandstorm": "Sandstorm",
    "hail": "Hail",
    "snow": "Snow",
    "snowscape": "Snow",
    "desolateland": "Harsh sunshine",
    "primordialsea": "Heavy rain",
    "deltastream": "Strong winds",
}
# Effect ids Showdown writes as ids rather than names, and names worth rewording.
_EFFECT_NAMES = {
    "confusion": "Confusion",
    "typechange": "Type change",
    "typeadd": "Added type",
    "mustrecharge": "Recharging",
    "lockedmove": "Locked into its move",
    "dynamax": "Dynamax",
    "slowstart": "Slow Start",
    "flashfire": "Flash Fire",
}
COUNTED = {  # effect id prefix followed by a number -> its name
    "perish": "Perish count {}",
    "stockpile": "Stockpile {}",
    "fallen": "Supreme Overlord ({} fainted)",
}
_BOOSTERS = {"quarkdrive": "Quark Drive", "protosynthesis": "Protosynthesis"}


def parse_hp(value: str) -> int | None:
    """'250/300 par' -> 83, '35/100' -> 35, '0 fnt' -> 0; None when unreadable."""
    hp = value.split(" ", 1)[0]
    try:
        if "/" not in hp:
            return 0 if int(float(hp)) == 0 else None
        cur_text, max_text = hp.split("/", 1)
        cur, top = float(cur_text), float(max_text)
    except ValueError:
        return None
    if top <= 0:
        return None
    if cur <= 0:
        return 0
    return min(100, max(1, round(100 * cur / top)))  # alive is never shown as 0%


def hp_status(value: str) -> str | None:
    """The status after the HP in '76/100 tox' ('' when none); None for a bare '0'."""
    _, _, status = value.partition(" ")
    status = status.strip()
    if status in STATUS_NAMES or status == "fnt":
        return status
    return "" if "/" in value else None


@cache
def _gen_data(gen: int) -> GenData | None:
    try:
        return GenData.from_gen(gen)
    except Exception:  # an unknown generation: no types, no move names
        return None


def species_types(species: str, gen: int = 9) -> tuple[str, ...]:
    """The types of `species` in generation `gen` from poke-env's pokedex; () if unknown."""
    data = _gen_data(gen) or _gen_data(9)
    if data is None:
        return ()
    key = to_id_str(species.removesuffix("-*"))
    entry = data.pokedex.get(key) or data.pokedex.get(to_id_str(species.split("-", 1)[0]))
    return tuple(entry.get("types", ())) if entry else ()


def effect_name(raw: str) -> str | None:
    """A readable name of a Showdown effect: 'move: Taunt' -> 'Taunt', 'quarkdrivespe' ->
    'Quark Drive (Speed)', 'fallen3' -> 'Supreme Overlord (3 fainted)'; None for what has
    no readable form ('fallenundefined', an unknown id)."""
    text = raw.strip()
    prefix, sep, rest = text.partition(": ")
    if sep and prefix in ("move", "ability", "item", "pokemon"):
        text = rest.strip()
    if not text or "undefined" in text:
        return None
    key = to_id_str(text)
    if key in _EFFECT_NAMES:
        return _EFFECT_NAMES[key]
    for base, name in _BOOSTERS.items():
        stat = key.removeprefix(base)
        if key.startswith(base) and (not stat or stat in STAT_NAMES):
            return f"{name} ({STAT_NAMES[stat]})" if stat else name
    match = re.fullmatch(r"([a-z]+)(\d+)", key)
    if match and match[1] in COUNTED:
        return COUNTED[match[1]].format(match[2])
    if text != key:  # already a display name ("Substitute", "Stealth Rock")
        return text
    data = _gen_data(9)
    move = data.moves.get(key) if data is not None else None
    return move["name"] if move else None


def effect_base(raw: str) -> str:
    """The id an effect is tracked under, the same when it starts and ends:
    'quarkdrivespe' and 'Quark Drive' -> 'quarkdrive', 'fallen2' -> 'fallen'."""
    text = raw.strip().split(": ", 1)[-1]
    key = to_id_str(text)
    for base in (*_BOOSTERS, *COUNTED):
        if key.startswith(base):
            return base
    return key


def from_source(parts: list[str]) -> str | None:
    """The readable `[from] EFFECT` of a line ('item: Leftovers' -> 'Leftovers')."""
    for part in parts:
        if part.startswith("[from]"):
            effect = part.removeprefix("[from]").strip()
            if effect in STATUS_NAMES:
                return STATUS_NAMES[effect]
            return effect_name(effect)
    return None


def with_source(text: str, parts: list[str]) -> str:
    source = from_source(parts)
    return f"{text} ({source})" if source else text


def species_of(details: str) -> str:
    return details.split(",", 1)[0].strip()

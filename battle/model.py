"""A small, mutable picture of a singles battle that search can play forward.

Unlike `battle.state.BattleState` (what a player *knows*, frozen, JSON-ready), these
objects are one concrete *hypothesis*: every Pokémon has real stats, an ability, an item
and its moves, so damage can be computed and turns simulated. Search builds one `Battle`
per sampled opponent hypothesis and copies it (`Battle.copy`) at every branch.

Conventions: every id is Showdown's lower-case id (`"thunderbolt"`, `"electric"`,
`"choicescarf"`, `"stealthrock"`); "" means none or unknown; HP is in points of the
Pokémon's own max HP (the opponent's percentage is turned into points of its
hypothesised max HP).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from poke_env.data import GenData

STATS = ("hp", "atk", "def", "spa", "spd", "spe")
BOOSTABLE = ("atk", "def", "spa", "spd", "spe", "accuracy", "evasion")


@lru_cache(maxsize=65536)
def to_id(text: str) -> str:
    """Showdown's id: lower case, letters and digits only ("U-turn" -> "uturn"). Cached:
    the same few thousand names are asked for at every turn of every battle."""
    return "".join(c for c in text.lower() if c.isalnum())


def _fraction(value: Any) -> float:
    """Showdown's [numerator, denominator] pairs (drain, recoil, heal) as a float."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and value[1]:
        return value[0] / value[1]
    return 0.0


@dataclass(frozen=True, slots=True)
class MoveData:
    """What a move does, read once from Showdown's move data (`move_data`)."""

    id: str
    name: str
    type: str  # "electric"
    category: str  # "physical" | "special" | "status"
    base_power: int
    accuracy: float  # 0..1; 1.0 also for moves that never miss (`always_hits`)
    always_hits: bool
    priority: int
    flags: frozenset[str]  # "contact", "punch", "bite", "sound", "slicing", "pulse", ...
    target: str  # "normal", "self", "allySide", "foeSide", "all", ...
    drain: float = 0.0  # fraction of damage dealt healed
    recoil: float = 0.0  # fraction of damage dealt taken back
    heal: float = 0.0  # fraction of the user's max HP healed (recover, roost, ...)
    status: str = ""  # status a status move inflicts ("par", "brn", "tox", "slp", "psn")
    volatile: str = ""  # volatile a move starts ("substitute", "protect", "leechseed", ...)
    boosts: tuple[tuple[str, int], ...] = ()  # status moves: boosts to the target (or self)
    self_boosts: tuple[tuple[str, int], ...] = ()  # boosts to the user on use
    secondary_chance: float = 0.0  # 0..1
    secondary_status: str = ""
    secondary_volatile: str = ""  # "flinch", "confusion"
    secondary_boosts: tuple[tuple[str, int], ...] = ()  # to the target
    secondary_self_boosts: tuple[tuple[str, int], ...] = ()  # to the user (rapid spin)
    side_condition: str = ""  # "stealthrock", "spikes", "reflect", "tailwind", ...
    weather: str = ""  # "sunnyday", "raindance", "sandstorm", "snowscape", "hail"
    terrain: str = ""  # "electricterrain", ...
    pseudo_weather: str = ""  # "trickroom", "gravity"
    self_switch: bool = False  # u-turn, volt switch, flip turn, parting shot
    force_switch: bool = False  # roar, whirlwind, dragon tail, circle throw
    multihit: tuple[int, int] | None = None  # (min, max) hits
    crit_ratio: int = 1
    will_crit: bool = False
    ohko: bool = False
    fixed_damage: str | int | None = None  # "level" (seismic toss) or a number (dragon rage)
    recharge: bool = False  # hyper beam
    breaks_protect: bool = False
    ignore_immunity: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_damaging(self) -> bool:
        return self.category != "status"


def _boost_tuple(boosts: dict[str, int] | None) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((boosts or {}).items()))


def _self_volatile(self_effect: dict[str, Any]) -> str:
    volatile = self_effect.get("volatileStatus", "") or ""
    return "" if volatile == "mustrecharge" else volatile  # recharge has its own field


@lru_cache(maxsize=8192)
def move_data(gen: int, move_id: str) -> MoveData:
    """The move `move_id` as Showdown's data for generation `gen` describes it.

    Raises KeyError for a move the data does not know.
    """
    entry = GenData.from_gen(gen).moves[to_id(move_id)]
    accuracy = entry.get("accuracy", True)
    secondary = entry.get("secondary") or {}
    secondaries = entry.get("secondaries") or ([secondary] if secondary else [])
    first = secondaries[0] if secondaries else {}
    self_effect = entry.get("self") or {}
    self_boost = entry.get("selfBoost") or {}
    multihit = entry.get("multihit")
    if isinstance(multihit, int):
        multihit = (multihit, multihit)
    elif isinstance(multihit, list):
        multihit = (int(multihit[0]), int(multihit[1]))
    damage = entry.get("damage")
    return MoveData(
        id=to_id(move_id),
        name=entry.get("name", move_id),
        type=str(entry.get("type", "Normal")).lower(),
        category=str(entry.get("category", "Status")).lower(),
        base_power=int(entry.get("basePower", 0) or 0),
        accuracy=1.0 if accuracy is True else float(accuracy) / 100,
        always_hits=accuracy is True,
        priority=int(entry.get("priority", 0)),
        flags=frozenset(entry.get("flags", {})),
        target=entry.get("target", "normal"),
        drain=_fraction(entry.get("drain")),
        recoil=_fraction(entry.get("recoil")),
        heal=_fraction(entry.get("heal")),
        status=entry.get("status", "") or "",
        volatile=entry.get("volatileStatus", "") or _self_volatile(self_effect),
        boosts=_boost_tuple(entry.get("boosts")),
        self_boosts=_boost_tuple(self_effect.get("boosts") or self_boost.get("boosts")),
        secondary_chance=float(first.get("chance", 100)) / 100 if first else 0.0,
        secondary_status=first.get("status", "") or "",
        secondary_volatile=first.get("volatileStatus", "") or "",
        secondary_boosts=_boost_tuple(first.get("boosts")),
        secondary_self_boosts=_boost_tuple((first.get("self") or {}).get("boosts")),
        side_condition=to_id(entry.get("sideCondition", "") or ""),
        weather=to_id(entry.get("weather", "") or ""),
        terrain=to_id(entry.get("terrain", "") or ""),
        pseudo_weather=to_id(entry.get("pseudoWeather", "") or ""),
        self_switch=bool(entry.get("selfSwitch")),
        force_switch=bool(entry.get("forceSwitch")),
        multihit=multihit,
        crit_ratio=int(entry.get("critRatio", 1)),
        will_crit=bool(entry.get("willCrit")),
        ohko=bool(entry.get("ohko")),
        fixed_damage=damage if isinstance(damage, (str, int)) else None,
        recharge=bool(self_effect.get("volatileStatus") == "mustrecharge"),
        breaks_protect=bool(entry.get("breaksProtect")),
        ignore_immunity=bool(entry.get("ignoreImmunity")),
        raw=entry,
    )


# Natures by the stat they raise and the one they lower (neutral ones are absent).
NATURES: dict[str, tuple[str, str]] = {
    "lonely": ("atk", "def"), "brave": ("atk", "spe"), "adamant": ("atk", "spa"),
    "naughty": ("atk", "spd"), "bold": ("def", "atk"), "relaxed": ("def", "spe"),
    "impish": ("def", "spa"), "lax": ("def", "spd"), "timid": ("spe", "atk"),
    "hasty": ("spe", "def"), "jolly": ("spe", "spa"), "naive": ("spe", "spd"),
    "modest": ("spa", "atk"), "mild": ("spa", "def"), "quiet": ("spa", "spe"),
    "rash": ("spa", "spd"), "calm": ("spd", "atk"), "gentle": ("spd", "def"),
    "sassy": ("spd", "spe"), "careful": ("spd", "spa"),
}  # fmt: skip


def compute_stats(
    base: dict[str, int],
    level: int,
    evs: dict[str, int] | None = None,
    ivs: dict[str, int] | None = None,
    nature: str = "",
) -> dict[str, int]:
    """Real stats as Showdown's simulator computes them (`spreadModify`), every gen.

    evs default to 0 and ivs to 31 per stat (Showdown's 0-31 scale also in gens 1-2, where
    a DV is iv // 2); `nature` is a name ("Adamant") or "" for neutral. A base HP of 1
    (Shedinja) gives 1 HP.
    """
    evs = evs or {}
    ivs = ivs or {}
    up, down = NATURES.get(to_id(nature), ("", ""))
    stats: dict[str, int] = {}
    for stat in STATS:
        b = base.get(stat, base.get("spa", 0) if stat == "spd" else 0)
        core = 2 * b + ivs.get(stat, 31) + evs.get(stat, 0) // 4
        if stat == "hp":
            stats[stat] = 1 if b == 1 else core * level // 100 + level + 10
        else:
            value = core * level // 100 + 5
            if stat == up:
                value = value * 110 // 100
            elif stat == down:
                value = value * 90 // 100
            stats[stat] = value
    return stats


@lru_cache(maxsize=4096)
def species_data(gen: int, species: str) -> dict[str, Any]:
    """Showdown's pokedex entry of `species` (base stats, types, abilities, weight)."""
    return GenData.from_gen(gen).pokedex[to_id(species)]


@dataclass(slots=True)
class Mon:
    """One Pokémon with everything damage and turn order need.

    `stats` are the real stats (not boosted), `hp` the current HP in points of `max_hp`.
    """

    species: str
    level: int
    types: tuple[str, ...]  # the species' types (before tera)
    stats: dict[str, int]  # hp, atk, def, spa, spd, spe
    hp: int
    ability: str = ""
    item: str = ""
    status: str = ""  # "" | "brn" | "par" | "slp" | "frz" | "psn" | "tox"
    boosts: dict[str, int] = field(default_factory=dict)  # only non-zero entries needed
    moves: tuple[MoveData, ...] = ()
    tera_type: str = ""  # "" when unknown or none
    terastallized: bool = False
    weight: float = 0.0  # kg
    volatiles: set[str] = field(default_factory=set)  # "substitute", "leechseed", ...
    toxic_turns: int = 0  # turns badly poisoned so far (toxic damage grows with it)
    sleep_turns: int = 0  # turns asleep so far
    first_turn: bool = False  # switched in this turn or last (fake out, first impression)
    substitute_hp: int = 0
    protect_count: int = 0  # Protect-like moves used successfully in a row

    @property
    def max_hp(self) -> int:
        return self.stats["hp"]

    @property
    def fainted(self) -> bool:
        return self.hp <= 0

    @property
    def hp_fraction(self) -> float:
        return self.hp / self.max_hp if self.max_hp else 0.0

    def current_types(self) -> tuple[str, ...]:
        """The types it has now: its tera type alone once terastallized (not Stellar)."""
        if self.terastallized and self.tera_type and self.tera_type != "stellar":
            return (self.tera_type,)
        return self.types

    def boost(self, stat: str) -> int:
        return self.boosts.get(stat, 0)

    def copy(self) -> Mon:
        return Mon(
            species=self.species,
            level=self.level,
            types=self.types,
            stats=self.stats,  # never mutated: shared
            hp=self.hp,
            ability=self.ability,
            item=self.item,
            status=self.status,
            boosts=dict(self.boosts),
            moves=self.moves,  # tuple of frozen moves: shared
            tera_type=self.tera_type,
            terastallized=self.terastallized,
            weight=self.weight,
            volatiles=set(self.volatiles),
            toxic_turns=self.toxic_turns,
            sleep_turns=self.sleep_turns,
            first_turn=self.first_turn,
            substitute_hp=self.substitute_hp,
            protect_count=self.protect_count,
        )


@dataclass(slots=True)
class Side:
    """One side: its team (the active one at `active`), hazards, screens."""

    mons: list[Mon]
    active: int = 0
    stealth_rock: bool = False
    spikes: int = 0
    toxic_spikes: int = 0
    sticky_web: bool = False
    reflect: int = 0  # turns left; 0 = none
    light_screen: int = 0
    aurora_veil: int = 0
    tailwind: int = 0
    can_tera: bool = False
    # Pokémon of this side not yet seen (the opponent's unrevealed bench): they count as
    # healthy in evaluation but cannot be switched to by search.
    unseen: int = 0

    @property
    def mon(self) -> Mon:
        return self.mons[self.active]

    def alive(self) -> list[int]:
        return [i for i, m in enumerate(self.mons) if m.hp > 0]

    def copy(self) -> Side:
        """A deep copy: every Pokémon copied."""
        return self._with([m.copy() for m in self.mons])

    def fork(self) -> Side:
        """A copy that shares the benched Pokémon and copies only the active one: whoever
        changes a benched Pokémon later (a switch-in) must copy it first (`own`)."""
        mons = list(self.mons)
        mons[self.active] = mons[self.active].copy()
        return self._with(mons)

    def own(self, index: int) -> Mon:
        """Replace `mons[index]` by a private copy (after `fork`) and return it."""
        mon = self.mons[index] = self.mons[index].copy()
        return mon

    def _with(self, mons: list[Mon]) -> Side:
        return Side(
            mons=mons,
            active=self.active,
            stealth_rock=self.stealth_rock,
            spikes=self.spikes,
            toxic_spikes=self.toxic_spikes,
            sticky_web=self.sticky_web,
            reflect=self.reflect,
            light_screen=self.light_screen,
            aurora_veil=self.aurora_veil,
            tailwind=self.tailwind,
            can_tera=self.can_tera,
            unseen=self.unseen,
        )


@dataclass(slots=True)
class Field:
    """What is on the whole field."""

    weather: str = ""  # "sunnyday", "raindance", "sandstorm", "snowscape", "hail",
    # "desolateland", "primordialsea", "deltastream"
    terrain: str = ""  # "electricterrain", "grassyterrain", "mistyterrain", "psychicterrain"
    trick_room: int = 0  # turns left
    gravity: int = 0

    def copy(self) -> Field:
        return Field(self.weather, self.terrain, self.trick_room, self.gravity)


@dataclass(slots=True)
class Battle:
    """Both sides and the field: sides[0] is the searching player, sides[1] its opponent."""

    gen: int
    sides: tuple[Side, Side]
    field: Field = field(default_factory=Field)
    turn: int = 0

    def copy(self) -> Battle:
        """A deep copy."""
        sides = (self.sides[0].copy(), self.sides[1].copy())
        return Battle(self.gen, sides, self.field.copy(), self.turn)

    def fork(self) -> Battle:
        """A cheap copy for search: both actives and all scalars copied, benches shared
        (see `Side.fork`)."""
        return Battle(
            self.gen, (self.sides[0].fork(), self.sides[1].fork()), self.field.copy(), self.turn
        )

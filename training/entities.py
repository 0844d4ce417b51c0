"""One Metamon state -> per-entity tokens: the observation metamon v2 learns from.

    encoder = EntityEncoder(Vocabulary.build())
    arrays = encoder(state)     # {"tokens": (19 * 8,) int64, "numbers": (19 * 25,) float32,
                                #  "legal": (13,) bool}

The text view (`training.features`) sends all 48 numbers of a turn through one projection,
so a move's power never meets its own type; here every Pokémon and every move slot is one
entity that carries its own words and its own numbers, and the numbers are the ones a
player reasons with: type matchups against the opposing active, level-aware stats,
expected damage and KO chances from `battle.damage` (the search agent's calculator).

Entities (19), each 8 word slots and 25 numbers (flattened row-major into `tokens` and
`numbers`, so the data pipeline stores them as it stores the text view):

    ======  ==============================================================================
    0       global: format, phase, weather, 2 field words
    1, 2    our side, the opponent's: 4 side-condition words, its previous move and type
    3, 4    our active, the opponent's active (a Pokémon entity, below)
    5-9     our 5 switches in action order (actions 4-8)
    10-14   the opponent's revealed bench (sorted by species; needs the arena's
            `opponent_bench` extension, else empty)
    15-18   our active's 4 move slots in action order (actions 0-3, and 9-12 with tera)
    ======  ==============================================================================

Pokémon words: name, item, ability, status, type x2, tera type, first effect.
Pokémon numbers: hp, alive, level / 100, 7 boosts / 6, level-aware stats (hp atk def spa
spd spe, estimated from base stats and level with 84 EVs and 31 IVs, / 400),
terastallized, offence (best type multiplier of its types against the opposing active,
log2 / 2), defence (best multiplier of the opposing active's types against it), faster
than the opposing active (1, 0.5 tie, 0), its known moves' best expected damage and best
KO chance against the opposing active, the opposing active's known moves' best expected
damage and KO chance against it, known moves / 4. "The opposing active" of our Pokémon is
the opponent's active and of the opponent's Pokémon ours.

Move words: name, type, category. Move numbers: base power / 150, accuracy, priority / 5,
pp left (fraction), damaging, STAB, type multiplier against the opposing active (log2 /
2), attack / defence ratio of the stats it uses (boosts included, log2 / 2), expected
damage (fraction of the target's max HP, accuracy included) and KO chance, the same two
with tera, present, legal.

Side numbers: stealth rock, spikes / 3, toxic spikes / 2, sticky web, reflect, light
screen, aurora veil, tailwind, Pokémon left / 6, tera available, previous move's power /
150. Global numbers: forced switch, generation / 9, trick room, weather, terrain, the
opponent's Pokémon left / 6, ours / 6, won, lost.

Legal actions as the text view gives them, except that tera slots follow the state's
`can_tera` when the state has it (the arena's extension; files without it fall back to
"a gen 9 format and not already Stellar").

Simplifications: a Pokémon counts as terastallized when it shows its tera type alone and
tera is used up (so a mono-type Pokémon whose tera type is its own type counts too, once
its side has terastallized); stats are estimates (random-battle EVs, neutral nature) for both sides;
damage ignores crits and the opponent's unrevealed ability and item; a Pokémon's STAB types
are its current types; values are clipped to [-2, 2].
"""

from __future__ import annotations

import logging
import math
from functools import lru_cache
from typing import Any

import numpy as np

from battle.damage import (
    damage_rolls,
    effective_speed,
    ko_probability,
    stat_multiplier,
    type_effectiveness,
)
from battle.model import Battle, Field, Mon, MoveData, Side, compute_stats, move_data, to_id
from battle.sets import format_gen
from training.features import (
    N_ACTIONS,
    N_MOVES,
    N_SWITCHES,
    TERA_OFFSET,
    EncodedTurn,
    StateEncoder,
    as_fraction,
    as_number,
    phase_word,
    tera_possible,
)
from training.tokenizer import Vocabulary

logger = logging.getLogger(__name__)

N_ENTITIES = 19
N_WORDS = 8  # word slots per entity
N_FEATURES = 25  # numbers per entity
N_BENCH = 5  # the opponent's revealed bench slots
GLOBAL, OUR_SIDE, OPP_SIDE, OUR_ACTIVE, OPP_ACTIVE = 0, 1, 2, 3, 4
OUR_BENCH = 5  # .. 9
OPP_BENCH = OUR_BENCH + N_SWITCHES  # 10 .. 14
MOVES = OPP_BENCH + N_BENCH  # 15 .. 18
assert MOVES + N_MOVES == N_ENTITIES

# The kind of each entity: its numbers mean different things per kind.
KIND_GLOBAL, KIND_SIDE, KIND_POKEMON, KIND_MOVE = 0, 1, 2, 3
N_KINDS = 4
ENTITY_KINDS = (
    KIND_GLOBAL,
    KIND_SIDE,
    KIND_SIDE,
    *[KIND_POKEMON] * (2 + N_SWITCHES + N_BENCH),
    *[KIND_MOVE] * N_MOVES,
)
assert len(ENTITY_KINDS) == N_ENTITIES
# The role of each entity (its learned embedding): slots of one group share a role, so
# the model sees no order among our switches, the opponent's bench or the move slots
# (their order is alphabetical, which means nothing), and a Pokémon or move scores the
# same whichever slot it sits in.
ENTITY_ROLES = (0, 1, 2, 3, 4, *[5] * N_SWITCHES, *[6] * N_BENCH, *[7] * N_MOVES)
N_ROLES = 8
assert len(ENTITY_ROLES) == N_ENTITIES

# The entity whose output scores each action: moves 0-3 -> move slots, 4-8 -> our switches,
# 9-12 -> the move slots again (with the tera modifier).
ACTION_ENTITIES = (
    *range(MOVES, MOVES + N_MOVES),
    *range(OUR_BENCH, OUR_BENCH + N_SWITCHES),
    *range(MOVES, MOVES + N_MOVES),
)
ACTION_IS_TERA = tuple(a >= TERA_OFFSET for a in range(N_ACTIONS))
assert len(ACTION_ENTITIES) == N_ACTIONS

# numbers of a Pokémon entity
P_HP, P_ALIVE, P_LEVEL, P_BOOSTS, P_STATS = 0, 1, 2, 3, 10
P_TERA = 16
P_OFFENCE, P_DEFENCE, P_FASTER = 17, 18, 19
P_DAMAGE, P_KO, P_TAKEN, P_TAKEN_KO, P_KNOWN = 20, 21, 22, 23, 24
# numbers of a move entity
(
    M_POWER,
    M_ACCURACY,
    M_PRIORITY,
    M_PP,
    M_DAMAGING,
    M_STAB,
    M_MULT,
    M_RATIO,
    M_DAMAGE,
    M_KO,
    M_TERA_DAMAGE,
    M_TERA_KO,
    M_PRESENT,
    M_LEGAL,
) = range(14)
# numbers of a side and of the global entity
SIDE_CONDITIONS = (
    "stealthrock",
    "spikes",
    "toxicspikes",
    "stickyweb",
    "reflect",
    "lightscreen",
    "auroraveil",
    "tailwind",
)
S_LEFT, S_TERA, S_PREV_POWER = 8, 9, 10
G_FORCED, G_GEN, G_TRICKROOM, G_WEATHER, G_TERRAIN, G_OPP_LEFT, G_OUR_LEFT, G_WON, G_LOST = range(9)

BOOSTS = ("atk", "spa", "def", "spd", "spe", "accuracy", "evasion")
STATS = ("hp", "atk", "def", "spa", "spd", "spe")
EVS = dict.fromkeys(STATS, 84)
CLIP = 2.0
_NONE_WORDS = frozenset({"", "nostatus", "noeffect", "notype", "nomove", "nopokemon", "???"})
_TERRAINS = frozenset({"electricterrain", "grassyterrain", "mistyterrain", "psychicterrain"})
_WEATHERS = {
    "raindance": "raindance",
    "sunnyday": "sunnyday",
    "sandstorm": "sandstorm",
    "hail": "hail",
    "snow": "snowscape",
    "snowscape": "snowscape",
    "desolateland": "desolateland",
    "primordialsea": "primordialsea",
    "deltastream": "deltastream",
}


def _id(text: Any) -> str:
    """A field read as a Showdown id ("" for null)."""
    return to_id(str(text)) if text else ""


def _log_mult(x: float) -> float:
    """A multiplier on a log scale: x 1 -> 0, x 2 -> 0.5, x 4 -> 1, immune -> -1.5."""
    return math.log2(max(x, 0.125)) / 2


def state_gen(state: dict[str, Any]) -> int:
    """The generation of a state's format (9 when it names none)."""
    return format_gen(str(state.get("format") or ""))


def _words(text: Any) -> list[str]:
    return text.split() if isinstance(text, str) else []


def _types(text: Any) -> tuple[str, ...]:
    return tuple(w for w in (_id(t) for t in _words(text)) if w and w not in _NONE_WORDS)


@lru_cache(maxsize=65536)
def _move(gen: int, move_id: str) -> MoveData | None:
    try:
        return move_data(gen, move_id)
    except KeyError:
        return None


def _status(mon: dict[str, Any]) -> str:
    status = _id(mon.get("status"))
    return "" if status in ("", "nostatus", "fnt") else status


def _alive(mon: dict[str, Any]) -> bool:
    return (
        as_fraction(mon.get("hp_pct")) > 0
        and mon.get("status") != "fnt"
        and mon.get("name") not in ("nopokemon", None, "")
    )


def _mon(gen: int, mon: dict[str, Any], *, can_tera: bool) -> Mon:
    """A `battle.model.Mon` from a state's pokemon dict (estimated stats)."""
    level = int(as_number(mon.get("lvl"))) or 100
    base = {s: int(as_number(mon.get(f"base_{s}"))) for s in STATS}
    stats = compute_stats(base, level, EVS, None)
    types = _types(mon.get("types")) or ("normal",)
    tera = _id(mon.get("tera_type"))
    tera = "" if tera in _NONE_WORDS else tera
    # a Pokémon already terastallized shows its tera type alone (and its tera is used up)
    terastallized = bool(tera) and types == (tera,) and not can_tera
    moves = []
    for move in mon.get("moves") or ():
        data = _move(gen, _id(move.get("name")))
        if data is not None:
            moves.append(data)
    item = _id(mon.get("item"))
    ability = _id(mon.get("ability"))
    return Mon(
        species=_id(mon.get("name")),
        level=level,
        types=types,
        stats=stats,
        hp=round(as_fraction(mon.get("hp_pct")) * stats["hp"]),
        ability="" if ability in ("unknownability", "noability") else ability,
        item="" if item in ("unknownitem", "noitem") else item,
        status=_status(mon),
        boosts={b: int(as_number(mon.get(f"{b}_boost"))) for b in BOOSTS if mon.get(f"{b}_boost")},
        moves=tuple(moves),
        tera_type=tera,
        terastallized=terastallized,
    )


def _side(state: dict[str, Any], key: str, mon: Mon) -> Side:
    words = _words(state.get(key))
    side = Side(mons=[mon])
    side.stealth_rock = "stealthrock" in words
    side.spikes = words.count("spikes")
    side.reflect = 5 * ("reflect" in words)
    side.light_screen = 5 * ("lightscreen" in words)
    side.aurora_veil = 5 * ("auroraveil" in words)
    side.tailwind = 4 * ("tailwind" in words)
    return side


class _Matchups:
    """Damage and speed between Pokémon of one state, with the state's field and screens."""

    def __init__(self, state: dict[str, Any], gen: int) -> None:
        self.gen = gen
        self.state = state
        # (id, id) -> (the two Pokémon, kept alive so that their ids stay theirs, values)
        self._pairs: dict[tuple[int, int], tuple[Mon, Mon, tuple[float, ...] | None]] = {}
        fields = _words(state.get("battle_field"))
        self.field = Field(
            weather=_WEATHERS.get(_id(state.get("weather")), ""),
            terrain=next((f for f in fields if f in _TERRAINS), ""),
            trick_room=5 * ("trickroom" in fields),
            gravity=5 * ("gravity" in fields),
        )

    def battle(self, ours: Mon, theirs: Mon) -> Battle:
        sides = (
            _side(self.state, "player_conditions", ours),
            _side(self.state, "opponent_conditions", theirs),
        )
        return Battle(self.gen, sides, self.field)

    def hit(self, battle: Battle, attacker: int, move: MoveData) -> tuple[float, float]:
        """(expected damage as a fraction of the target's max HP, KO chance)."""
        if move.category == "status":
            return 0.0, 0.0
        try:
            rolls = damage_rolls(battle, attacker, move)
        except Exception:  # a corner of the calculator: no number rather than no state
            logger.debug("damage of %s failed", move.id, exc_info=True)
            return 0.0, 0.0
        target = battle.sides[1 - attacker].mon
        accuracy = 1.0 if move.always_hits else move.accuracy
        mean = sum(rolls) / len(rolls) if rolls else 0.0
        return (
            min(mean / max(target.max_hp, 1), CLIP) * accuracy,
            ko_probability(rolls, target.hp) * accuracy if target.hp > 0 else 0.0,
        )

    def best(self, battle: Battle, attacker: int) -> tuple[float, float]:
        """The best (expected damage, KO chance) of the attacker's known moves."""
        damage = ko = 0.0
        for move in battle.sides[attacker].mon.moves:
            d, k = self.hit(battle, attacker, move)
            damage, ko = max(damage, d), max(ko, k)
        return damage, ko

    def speed_order(self, battle: Battle) -> float:
        """1 when our side's active is faster, 0.5 on a tie, 0 when slower."""
        ours, theirs = effective_speed(battle, 0), effective_speed(battle, 1)
        return 1.0 if ours > theirs else 0.5 if ours == theirs else 0.0

    def pair(self, ours: Mon, theirs: Mon) -> tuple[float, ...] | None:
        """(offence, defence, faster, damage, KO, taken, taken KO) of `ours` facing `theirs`,
        seen from our side: computed once per pair (the two actives' entities share it).
        None when either is no Pokémon (an empty slot)."""
        key = (id(ours), id(theirs))
        if key not in self._pairs:
            self._pairs[key] = (ours, theirs, self._pair(ours, theirs))
        return self._pairs[key][2]

    def _pair(self, ours: Mon, theirs: Mon) -> tuple[float, ...] | None:
        if not (_real(ours) and _real(theirs)):
            return None
        battle = self.battle(ours, theirs)
        return (
            _log_mult(_best_type_mult(self.gen, ours.current_types(), theirs.current_types())),
            _log_mult(_best_type_mult(self.gen, theirs.current_types(), ours.current_types())),
            self.speed_order(battle),
            *self.best(battle, 0),
            *self.best(battle, 1),
        )


def can_terastallize(state: dict[str, Any]) -> bool:
    """The state's `can_tera` (the arena's extension); in files without it, the text
    view's guess (a gen 9 format, the active not already Stellar)."""
    can_tera = state.get("can_tera")
    if can_tera is None:
        return tera_possible(state, state.get("player_active_pokemon") or {})
    return bool(can_tera)


def _real(mon: Mon) -> bool:
    return mon.species not in ("", "nopokemon")


def _best_type_mult(gen: int, attacking: tuple[str, ...], defending: tuple[str, ...]) -> float:
    if not attacking or not defending:
        return 1.0
    return max(type_effectiveness(gen, t, defending) for t in attacking)


class EntityEncoder:
    """Metamon state dict -> the entity arrays (see the module doc). Picklable."""

    observation = "entities"
    n_tokens = N_ENTITIES * N_WORDS
    n_numbers = N_ENTITIES * N_FEATURES

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab

    def encode(self, state: dict[str, Any]) -> EncodedTurn:
        """The tokens, numbers and legal mask of one Metamon state."""
        legal = self.legal(state)
        tokens, numbers = self.entities(state, legal)
        return EncodedTurn(tokens, numbers, legal)

    def __call__(self, state: dict[str, Any]) -> dict[str, np.ndarray]:
        """`encode` as the arrays `training.dataset.TrajectoryDataset(encode=...)` stacks."""
        turn = self.encode(state)
        return {"tokens": turn.tokens, "numbers": turn.numbers, "legal": turn.legal}

    # ------------------------------------------------------------------ legal actions

    @staticmethod
    def legal(state: dict[str, Any]) -> np.ndarray:
        """The text view's mask, with the tera slots open only while tera is available."""
        legal = StateEncoder.legal_mask(state)
        if not legal.all():  # (all True: nothing is legal, the mask is only kept non-empty)
            open_ = can_terastallize(state) and not state.get("forced_switch")
            legal[TERA_OFFSET:] = legal[:N_MOVES] if open_ else False
            if not legal.any():
                legal[:] = True
        return legal

    # ------------------------------------------------------------------ the entities

    def entities(
        self, state: dict[str, Any], legal: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(tokens (19 * 8,) int64, numbers (19 * 25,) float32) of one state; `legal` is
        its mask when the caller has it already."""
        words = [["<pad>"] * N_WORDS for _ in range(N_ENTITIES)]
        nums = np.zeros((N_ENTITIES, N_FEATURES), dtype=np.float64)
        gen = state_gen(state)
        can_tera = can_terastallize(state)
        if legal is None:
            legal = self.legal(state)
        matchups = _Matchups(state, gen)

        player = state.get("player_active_pokemon") or {}
        opponent = state.get("opponent_active_pokemon") or {}
        switches = list(state.get("available_switches") or [])[:N_SWITCHES]
        bench = list(state.get("opponent_bench") or [])[:N_BENCH]
        ours = _mon(gen, player, can_tera=can_tera)
        theirs = _mon(gen, opponent, can_tera=False)

        # global
        phase = phase_word(state)
        fields = _words(state.get("battle_field"))
        words[GLOBAL][:5] = [str(state.get("format") or ""), phase, str(state.get("weather")),
                             *([*fields, "<pad>", "<pad>"])[:2]]  # fmt: skip
        our_left = sum(_alive(m) for m in [player, *switches])
        g = nums[GLOBAL]
        g[G_FORCED] = bool(state.get("forced_switch"))
        g[G_GEN] = gen / 9
        g[G_TRICKROOM] = "trickroom" in fields
        g[G_WEATHER] = bool(matchups.field.weather)
        g[G_TERRAIN] = bool(matchups.field.terrain)
        g[G_OPP_LEFT] = as_number(state.get("opponents_remaining")) / 6
        g[G_OUR_LEFT] = our_left / 6
        g[G_WON] = bool(state.get("battle_won"))
        g[G_LOST] = bool(state.get("battle_lost"))

        # sides
        opp_tera_used = any(
            _id(m.get("tera_type")) not in _NONE_WORDS for m in [opponent, *bench] if m
        )
        for entity, conditions, prev, left, tera in (
            (OUR_SIDE, "player_conditions", "player_prev_move", our_left, can_tera),
            (OPP_SIDE, "opponent_conditions", "opponent_prev_move",
             as_number(state.get("opponents_remaining")), gen == 9 and not opp_tera_used),
        ):  # fmt: skip
            cond = _words(state.get(conditions))
            move = state.get(prev) or {}
            words[entity][:6] = [*(cond + ["<pad>"] * 4)[:4], str(move.get("name", "nomove")),
                                 str(move.get("move_type", "notype"))]  # fmt: skip
            row = nums[entity]
            for i, name in enumerate(SIDE_CONDITIONS):
                row[i] = cond.count(name)
            row[1] /= 3
            row[2] /= 2
            row[S_LEFT] = left / 6
            row[S_TERA] = tera
            row[S_PREV_POWER] = as_number(move.get("base_power")) / 150

        # Pokémon: ours face the opponent's active, theirs face ours
        for entity, mon_dict, mon, ours_side in (
            (OUR_ACTIVE, player, ours, True),
            (OPP_ACTIVE, opponent, theirs, False),
        ):
            self._pokemon(words[entity], nums[entity], mon_dict, mon, ours_side, ours, theirs,
                          matchups)  # fmt: skip
        for i, mon_dict in enumerate(switches):
            mon = _mon(gen, mon_dict, can_tera=can_tera)
            self._pokemon(words[OUR_BENCH + i], nums[OUR_BENCH + i], mon_dict, mon, True, mon,
                          theirs, matchups)  # fmt: skip
        for i, mon_dict in enumerate(bench):
            mon = _mon(gen, mon_dict, can_tera=False)
            self._pokemon(words[OPP_BENCH + i], nums[OPP_BENCH + i], mon_dict, mon, False, ours,
                          mon, matchups)  # fmt: skip

        # our active's move slots
        moves = list(player.get("moves") or [])[:N_MOVES]
        if moves and _alive(player):
            battle = matchups.battle(ours, theirs)
            tera_battle = None
            if can_tera and ours.tera_type and not ours.terastallized:
                tera_mon = ours.copy()
                tera_mon.terastallized = True
                tera_battle = matchups.battle(tera_mon, theirs)
            for i, move in enumerate(moves):
                self._move(words[MOVES + i], nums[MOVES + i], move, gen, ours, theirs, battle,
                           tera_battle, matchups, bool(legal[i]))  # fmt: skip
        elif moves:
            for i, move in enumerate(moves):
                words[MOVES + i][:3] = [str(move.get(k, "")) for k in ("name", "move_type",
                                                                         "category")]  # fmt: skip
                nums[MOVES + i][M_PRESENT] = 1.0

        flat = [w for entity in words for w in entity]
        lookup = self.vocab._lookup.get
        ids = list(map(lookup, flat))
        if None in ids:
            ids = [
                self.vocab.encode_word(w) if i is None else i
                for w, i in zip(flat, ids, strict=True)
            ]
        tokens = np.array(ids, dtype=np.int64)
        np.clip(nums, -CLIP, CLIP, out=nums)
        nums[np.isnan(nums)] = 0.0
        return tokens, nums.reshape(-1).astype(np.float32)

    @staticmethod
    def _pokemon(
        words: list[str],
        row: np.ndarray,
        mon_dict: dict[str, Any],
        mon: Mon,
        ours_side: bool,
        ours: Mon,
        theirs: Mon,
        matchups: _Matchups,
    ) -> None:
        """One Pokémon entity; `ours` / `theirs` are the two Pokémon facing each other (one
        of them is `mon`)."""
        effect = _words(mon_dict.get("effect"))
        types = _words(mon_dict.get("types"))
        words[:] = [
            str(mon_dict.get("name", "nopokemon")),
            str(mon_dict.get("item", "unknownitem")),
            str(mon_dict.get("ability", "unknownability")),
            str(mon_dict.get("status", "nostatus")),
            *([*types, "<pad>", "<pad>"])[:2],
            str(mon_dict.get("tera_type", "<pad>")),
            ([*effect, "<pad>"])[0],
        ]
        if not mon_dict or mon_dict.get("name") in (None, "", "nopokemon"):
            return
        row[P_HP] = as_fraction(mon_dict.get("hp_pct"))
        row[P_ALIVE] = _alive(mon_dict)
        row[P_LEVEL] = mon.level / 100
        for i, b in enumerate(BOOSTS):
            row[P_BOOSTS + i] = mon.boosts.get(b, 0) / 6
        for i, s in enumerate(STATS):
            row[P_STATS + i] = mon.stats[s] / 400
        row[P_TERA] = mon.terastallized
        row[P_KNOWN] = len(mon.moves) / 4
        if not row[P_ALIVE]:
            return
        values = matchups.pair(ours, theirs)
        if values is None:
            return
        offence, defence, faster, damage, ko, taken, taken_ko = values
        if not ours_side:  # the opponent's Pokémon: the same pair, seen from its side
            offence, defence, faster = defence, offence, 1.0 - faster
            damage, ko, taken, taken_ko = taken, taken_ko, damage, ko
        row[P_OFFENCE : P_TAKEN_KO + 1] = (offence, defence, faster, damage, ko, taken, taken_ko)

    @staticmethod
    def _move(
        words: list[str],
        row: np.ndarray,
        move: dict[str, Any],
        gen: int,
        ours: Mon,
        theirs: Mon,
        battle: Battle,
        tera_battle: Battle | None,
        matchups: _Matchups,
        legal: bool,
    ) -> None:
        words[:3] = [str(move.get(k, "")) for k in ("name", "move_type", "category")]
        row[M_PRESENT] = 1.0
        row[M_LEGAL] = legal
        row[M_POWER] = as_number(move.get("base_power")) / 150
        row[M_ACCURACY] = as_fraction(move.get("accuracy"))
        row[M_PRIORITY] = as_number(move.get("priority")) / 5
        max_pp = as_number(move.get("max_pp"))
        row[M_PP] = as_number(move.get("current_pp")) / max_pp if max_pp > 0 else 1.0
        data = _move(gen, _id(move.get("name")))
        if data is None:
            return
        row[M_DAMAGING] = data.category != "status"
        mtype = data.type
        row[M_STAB] = mtype in ours.current_types() or mtype in ours.types
        if theirs.species and theirs.hp > 0 and data.category != "status":
            row[M_MULT] = _log_mult(type_effectiveness(gen, mtype, theirs.current_types()))
            attack, defence = ("atk", "def") if data.category == "physical" else ("spa", "spd")
            a = ours.stats[attack] * stat_multiplier(ours.boosts.get(attack, 0))
            d = theirs.stats[defence] * stat_multiplier(theirs.boosts.get(defence, 0))
            row[M_RATIO] = math.log2(max(a, 1) / max(d, 1)) / 2
            row[M_DAMAGE], row[M_KO] = matchups.hit(battle, 0, data)
            if tera_battle is not None:
                row[M_TERA_DAMAGE], row[M_TERA_KO] = matchups.hit(tera_battle, 0, data)


LAYOUTS = {  # observation -> (tokens, numbers) per state
    "entities": (EntityEncoder.n_tokens, EntityEncoder.n_numbers),
    "text": (StateEncoder.n_tokens, StateEncoder.n_numbers),
}


def make_encoder(observation: str, vocab: Vocabulary) -> StateEncoder | EntityEncoder:
    """The encoder of an observation name: "entities" (metamon v2) or "text" (the
    Metamon-style 87 tokens and 48 numbers)."""
    if observation == "entities":
        return EntityEncoder(vocab)
    if observation == "text":
        return StateEncoder(vocab)
    raise ValueError(f"observation={observation!r}: choose 'entities' or 'text'")

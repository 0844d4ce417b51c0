"""One Metamon state -> per-entity tokens: the observation metamon v2 learns from.

    encoder = EntityEncoder(Vocabulary.build())
    arrays = encoder(state)     # {"tokens": (19 * 8,) int64, "numbers": (19 * 25,) float32,
                                #  "legal": (13,) bool}

The text view (`training.features`) sends all 48 numbers of a turn through one projection,
so a move's power never meets its own type; here every Pokémon and every move slot is one
entity that carries its own words and its own numbers, and the numbers are the ones a
player reasons with: type matchups against the opposing active, level-aware stats,
expected damage and KO chances from `battle.damage` (the search agent's calculator).

The slots, kinds and roles of the 19 entities and the meaning of each of their 25 numbers
are `training.entity_layout`'s (its docstring draws them); the Pokémon behind the numbers,
with their estimated stats, damage and speed, are `training.matchups`'.

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

import math
from typing import Any

import numpy as np

from battle.damage import stat_multiplier, type_effectiveness
from battle.model import Battle, Mon
from training.entity_layout import (
    G_FORCED,
    G_GEN,
    G_LOST,
    G_OPP_LEFT,
    G_OUR_LEFT,
    G_TERRAIN,
    G_TRICKROOM,
    G_WEATHER,
    G_WON,
    GLOBAL,
    M_ACCURACY,
    M_DAMAGE,
    M_DAMAGING,
    M_KO,
    M_LEGAL,
    M_MULT,
    M_POWER,
    M_PP,
    M_PRESENT,
    M_PRIORITY,
    M_RATIO,
    M_STAB,
    M_TERA_DAMAGE,
    M_TERA_KO,
    MOVES,
    N_BENCH,
    N_ENTITIES,
    N_FEATURES,
    N_WORDS,
    OPP_ACTIVE,
    OPP_BENCH,
    OPP_SIDE,
    OUR_ACTIVE,
    OUR_BENCH,
    OUR_SIDE,
    P_ALIVE,
    P_BOOSTS,
    P_HP,
    P_KNOWN,
    P_LEVEL,
    P_OFFENCE,
    P_STATS,
    P_TAKEN_KO,
    P_TERA,
    S_LEFT,
    S_PREV_POWER,
    S_TERA,
    SIDE_CONDITIONS,
)
from training.features import (
    N_MOVES,
    N_SWITCHES,
    TERA_OFFSET,
    EncodedTurn,
    StateEncoder,
    as_fraction,
    as_number,
    phase_word,
)
from training.matchups import (
    BOOSTS,
    CLIP,
    NONE_WORDS,
    STATS,
    Matchups,
    as_id,
    can_terastallize,
    is_alive,
    known_move,
    log_mult,
    state_gen,
    to_mon,
    words_of,
)
from training.tokenizer import Vocabulary


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
        matchups = Matchups(state, gen)

        player = state.get("player_active_pokemon") or {}
        opponent = state.get("opponent_active_pokemon") or {}
        switches = list(state.get("available_switches") or [])[:N_SWITCHES]
        bench = list(state.get("opponent_bench") or [])[:N_BENCH]
        ours = to_mon(gen, player, can_tera=can_tera)
        theirs = to_mon(gen, opponent, can_tera=False)

        # global
        phase = phase_word(state)
        fields = words_of(state.get("battle_field"))
        words[GLOBAL][:5] = [str(state.get("format") or ""), phase, str(state.get("weather")),
                             *([*fields, "<pad>", "<pad>"])[:2]]  # fmt: skip
        our_left = sum(is_alive(m) for m in [player, *switches])
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
            as_id(m.get("tera_type")) not in NONE_WORDS for m in [opponent, *bench] if m
        )
        for entity, conditions, prev, left, tera in (
            (OUR_SIDE, "player_conditions", "player_prev_move", our_left, can_tera),
            (OPP_SIDE, "opponent_conditions", "opponent_prev_move",
             as_number(state.get("opponents_remaining")), gen == 9 and not opp_tera_used),
        ):  # fmt: skip
            cond = words_of(state.get(conditions))
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
            mon = to_mon(gen, mon_dict, can_tera=can_tera)
            self._pokemon(words[OUR_BENCH + i], nums[OUR_BENCH + i], mon_dict, mon, True, mon,
                          theirs, matchups)  # fmt: skip
        for i, mon_dict in enumerate(bench):
            mon = to_mon(gen, mon_dict, can_tera=False)
            self._pokemon(words[OPP_BENCH + i], nums[OPP_BENCH + i], mon_dict, mon, False, ours,
                          mon, matchups)  # fmt: skip

        # our active's move slots
        moves = list(player.get("moves") or [])[:N_MOVES]
        if moves and is_alive(player):
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
        matchups: Matchups,
    ) -> None:
        """One Pokémon entity; `ours` / `theirs` are the two Pokémon facing each other (one
        of them is `mon`)."""
        effect = words_of(mon_dict.get("effect"))
        types = words_of(mon_dict.get("types"))
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
        row[P_ALIVE] = is_alive(mon_dict)
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
        matchups: Matchups,
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
        data = known_move(gen, as_id(move.get("name")))
        if data is None:
            return
        row[M_DAMAGING] = data.category != "status"
        mtype = data.type
        row[M_STAB] = mtype in ours.current_types() or mtype in ours.types
        if theirs.species and theirs.hp > 0 and data.category != "status":
            row[M_MULT] = log_mult(type_effectiveness(gen, mtype, theirs.current_types()))
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

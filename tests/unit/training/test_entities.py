"""training.entities: the metamon v2 observation, on recorded real states and hand-checked
matchups."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixture_battles import decision_points, fixture_paths

from battle.metamon import blank_pokemon, metamon_state
from battle.model import compute_stats
from training.entities import EntityEncoder, make_encoder
from training.entity_layout import (
    G_FORCED,
    M_DAMAGE,
    M_KO,
    M_LEGAL,
    M_MULT,
    M_PRESENT,
    M_RATIO,
    M_STAB,
    M_TERA_DAMAGE,
    MOVES,
    N_ENTITIES,
    N_FEATURES,
    N_WORDS,
    OPP_ACTIVE,
    OPP_BENCH,
    OUR_ACTIVE,
    OUR_BENCH,
    OUR_SIDE,
    P_ALIVE,
    P_DEFENCE,
    P_FASTER,
    P_HP,
    P_OFFENCE,
    P_STATS,
    P_TAKEN,
    P_TERA,
    S_TERA,
)
from training.features import StateEncoder
from training.tokenizer import Vocabulary

FIXTURES = fixture_paths()


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.build()


@pytest.fixture(scope="module")
def encoder(vocab: Vocabulary) -> EntityEncoder:
    return EntityEncoder(vocab)


def split(encoder: EntityEncoder, state: dict[str, Any]) -> tuple[list[list[str]], np.ndarray]:
    """(words per entity, numbers per entity) of a state."""
    turn = encoder.encode(state)
    assert turn.tokens.shape == (N_ENTITIES * N_WORDS,) and turn.tokens.dtype == np.int64
    assert turn.numbers.shape == (N_ENTITIES * N_FEATURES,) and turn.numbers.dtype == np.float32
    assert np.isfinite(turn.numbers).all() and np.abs(turn.numbers).max() <= 2.0
    words = [encoder.vocab.words[i] for i in turn.tokens]
    return (
        [words[e * N_WORDS : (e + 1) * N_WORDS] for e in range(N_ENTITIES)],
        turn.numbers.reshape(N_ENTITIES, N_FEATURES),
    )


# --------------------------------------------------------------------------------------
# recorded real states


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: Path(p).name[:40])
def test_every_legal_action_has_its_entity(encoder: EntityEncoder, path: Path) -> None:
    for battle, _request in decision_points(path):
        state = metamon_state(battle)
        words, nums = split(encoder, state)
        legal = encoder.legal(state)
        moves = state["player_active_pokemon"]["moves"]
        for a in np.flatnonzero(legal):
            if a < 4 or a >= 9:  # a move (with tera from 9): its move slot
                slot = a % 9 if a >= 9 else a
                assert words[MOVES + slot][0] == moves[slot]["name"], (battle.turn, a)
                assert nums[MOVES + slot][M_PRESENT] == 1.0
                assert nums[MOVES + slot][M_LEGAL] == 1.0
            else:  # a switch: that Pokémon's entity
                mon = state["available_switches"][a - 4]
                assert words[OUR_BENCH + a - 4][0] == mon["name"], (battle.turn, a)
                assert nums[OUR_BENCH + a - 4][P_ALIVE] == 1.0
        # the actives and the revealed bench are where the layout says
        assert words[OUR_ACTIVE][0] == state["player_active_pokemon"]["name"]
        assert words[OPP_ACTIVE][0] == state["opponent_active_pokemon"]["name"]
        bench = [m["name"] for m in state["opponent_bench"]][:5]
        assert [w[0] for w in words[OPP_BENCH : OPP_BENCH + len(bench)]] == bench
        assert nums[0][G_FORCED] == float(state["forced_switch"])
        # legal = the text view's, with tera following the state's can_tera
        text = StateEncoder(encoder.vocab).encode(state).legal
        assert (legal[:9] == text[:9]).all()
        if not text.all():  # (all True: a state where nothing is legal, e.g. waiting)
            assert legal[9:].any() == (state["can_tera"] and legal[:4].any())


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: Path(p).name[:40])
def test_tera_flags_before_and_after_terastallizing(encoder: EntityEncoder, path: Path) -> None:
    seen_before = seen_after = False
    for battle, _request in decision_points(path):
        state = metamon_state(battle)
        _, nums = split(encoder, state)
        legal = encoder.legal(state)
        assert nums[OUR_SIDE][S_TERA] == float(battle.can_tera)
        if battle.can_tera and not battle.force_switch:
            seen_before = True
            assert legal[9:13].tolist() == legal[0:4].tolist()
        if battle.used_tera:
            seen_after = True
            assert legal.all() or not legal[9:].any()  # (all True: nothing legal, waiting)
            if battle.active_pokemon is not None and battle.active_pokemon.is_terastallized:
                assert nums[OUR_ACTIVE][P_TERA] == 1.0
    if battle.format.startswith("gen9"):
        assert seen_before
    else:
        assert not seen_before and not seen_after
    if not seen_after:
        pytest.skip("this recording's player never terastallized")


def test_encoder_is_picklable_and_named(vocab: Vocabulary) -> None:
    import pickle

    encoder = make_encoder("entities", vocab)
    state = metamon_state(next(iter(decision_points(FIXTURES[0])))[0])
    again = pickle.loads(pickle.dumps(encoder))
    assert np.array_equal(encoder(state)["numbers"], again(state)["numbers"])
    assert isinstance(make_encoder("text", vocab), StateEncoder)
    with pytest.raises(ValueError, match="observation"):
        make_encoder("pixels", vocab)


# --------------------------------------------------------------------------------------
# hand-checked matchups


BASE = {
    "charizard": (("fire", "flying"), dict(hp=78, atk=84, def_=78, spa=109, spd=85, spe=100)),
    "venusaur": (("grass", "poison"), dict(hp=80, atk=82, def_=83, spa=100, spd=100, spe=80)),
    "garchomp": (("dragon", "ground"), dict(hp=108, atk=130, def_=95, spa=80, spd=85, spe=102)),
    "snorlax": (("normal",), dict(hp=160, atk=110, def_=65, spa=65, spd=110, spe=30)),
    "jolteon": (("electric",), dict(hp=65, atk=65, def_=60, spa=110, spd=95, spe=130)),
}


def mon(name: str, level: int = 100, hp: float = 1.0, moves: tuple[str, ...] = ()) -> dict:
    types, base = BASE[name]
    data = blank_pokemon()
    data.update(name=name, hp_pct=hp, types=" ".join(types), item="noitem", ability="noability",
                lvl=level, tera_type="notype")  # fmt: skip
    data.update({f"base_{k.rstrip('_')}": v for k, v in base.items()})
    data["moves"] = [move(m) for m in moves]
    return data


MOVE_TYPES = {
    "flamethrower": ("fire", "special", 90),
    "earthquake": ("ground", "physical", 100),
    "bodyslam": ("normal", "physical", 85),
    "thunderbolt": ("electric", "special", 90),
    "gigadrain": ("grass", "special", 75),
}


def move(name: str) -> dict:
    mtype, category, power = MOVE_TYPES[name]
    return {"name": name, "move_type": mtype, "category": category, "base_power": power,
            "accuracy": 1.0, "priority": 0, "current_pp": 10, "max_pp": 16}  # fmt: skip


def state_of(player: dict, opponent: dict, switches: list[dict], **extra: Any) -> dict:
    blank_move = {"name": "nomove", "move_type": "notype", "category": "nocategory",
                  "base_power": 0, "accuracy": 0.0, "priority": 0, "current_pp": 0,
                  "max_pp": 0}  # fmt: skip
    return {
        "format": "gen9randombattle", "player_active_pokemon": player,
        "opponent_active_pokemon": opponent, "available_switches": switches,
        "player_prev_move": blank_move, "opponent_prev_move": blank_move,
        "opponents_remaining": 6, "player_conditions": "noconditions",
        "opponent_conditions": "noconditions", "weather": "noweather",
        "battle_field": "nofield", "forced_switch": False, "battle_won": False,
        "battle_lost": False, "can_tera": False, "opponent_bench": [], **extra,
    }  # fmt: skip


def test_switch_in_type_matchups_both_ways(encoder: EntityEncoder) -> None:
    state = state_of(
        mon("snorlax", moves=("bodyslam",)),
        mon("venusaur", moves=("gigadrain",)),
        [mon("charizard", moves=("flamethrower",)), mon("garchomp", moves=("earthquake",))],
    )
    _, nums = split(encoder, state)
    charizard, garchomp = nums[OUR_BENCH], nums[OUR_BENCH + 1]
    # Charizard's fire vs grass/poison: x2 -> log2(2) / 2; Venusaur's best type against
    # fire/flying: grass x0.25, poison x1 -> 1 -> 0
    assert charizard[P_OFFENCE] == pytest.approx(0.5)
    assert charizard[P_DEFENCE] == pytest.approx(0.0)
    # Garchomp: ground vs grass/poison = 0.5 x 2 = 1, dragon x1 -> 0; Venusaur's grass vs
    # dragon/ground = 0.5 x 2 = 1, poison vs dragon/ground = 1 x 0.5 -> best 1 -> 0
    assert garchomp[P_OFFENCE] == pytest.approx(0.0)
    assert garchomp[P_DEFENCE] == pytest.approx(0.0)
    # Venusaur's known Giga Drain: Charizard resists it (x0.25), Garchomp takes it neutral
    assert 0 < charizard[P_TAKEN] < garchomp[P_TAKEN]
    # level-aware stats: exactly Showdown's formula with 84 EVs, 31 IVs, / 400
    base = {"hp": 78, "atk": 84, "def": 78, "spa": 109, "spd": 85, "spe": 100}
    stats = compute_stats(base, 100, dict.fromkeys(base, 84))
    assert charizard[P_STATS : P_STATS + 6] == pytest.approx(
        [stats[s] / 400 for s in ("hp", "atk", "def", "spa", "spd", "spe")], abs=1e-6
    )


def test_immunity_speed_and_levels(encoder: EntityEncoder) -> None:
    jolteon = mon("jolteon", moves=("thunderbolt",))
    state = state_of(mon("snorlax", moves=("bodyslam",)), mon("garchomp"), [jolteon])
    _, nums = split(encoder, state)
    # electric into a ground type: immune -> the bottom of the scale; Jolteon outspeeds
    assert nums[OUR_BENCH][P_OFFENCE] == pytest.approx(math.log2(0.125) / 2)
    assert nums[OUR_BENCH][P_FASTER] == 1.0
    assert nums[OUR_ACTIVE][P_FASTER] == 0.0  # Snorlax is slower than Garchomp
    assert nums[OPP_ACTIVE][P_FASTER] == 1.0  # seen from the opponent's side

    def body_slam(level: int) -> np.ndarray:
        st = state_of(mon("snorlax", level, moves=("bodyslam",)), mon("snorlax"), [])
        return split(encoder, st)[1][MOVES]

    strong, weak = body_slam(100), body_slam(50)
    assert strong[M_STAB] == weak[M_STAB] == 1.0 and strong[M_MULT] == 0.0
    assert strong[M_RATIO] > 0.2 > weak[M_RATIO] - 0.6  # level 50 attacks with about half
    assert strong[M_DAMAGE] > 2 * weak[M_DAMAGE] > 0
    # KO chance: Body Slam cannot KO a full Snorlax but KOs one at 5% HP
    low = state_of(mon("snorlax", moves=("bodyslam",)), mon("snorlax", hp=0.05), [])
    assert strong[M_KO] == 0.0 and split(encoder, low)[1][MOVES][M_KO] == 1.0


def test_tera_damage_only_while_tera_is_available(encoder: EntityEncoder) -> None:
    player = mon("snorlax", moves=("earthquake",))
    player["tera_type"] = "ground"
    opponent = mon("jolteon")
    without = split(encoder, state_of(player, opponent, [], can_tera=False))[1][MOVES]
    with_tera = split(encoder, state_of(player, opponent, [], can_tera=True))[1][MOVES]
    assert without[M_TERA_DAMAGE] == 0.0
    # tera ground gives Earthquake STAB: x1.5
    assert with_tera[M_TERA_DAMAGE] == pytest.approx(1.5 * with_tera[M_DAMAGE], rel=0.05)
    # a fainted or empty slot carries no numbers
    fainted = mon("jolteon", hp=0.0)
    fainted["status"] = "fnt"
    _, nums = split(encoder, state_of(player, opponent, [fainted]))
    assert nums[OUR_BENCH][P_ALIVE] == 0.0 and nums[OUR_BENCH][P_HP] == 0.0
    assert not nums[OUR_BENCH + 1].any()


def test_each_switch_in_has_its_own_matchup(encoder: EntityEncoder) -> None:
    """Matchups are computed once per pair of Pokémon: each of several switch-ins still
    gets its own numbers, the ones it gets when it is the only one."""
    moves = {
        "charizard": ("flamethrower",),
        "garchomp": ("earthquake",),
        "jolteon": ("thunderbolt",),
        "snorlax": ("bodyslam",),
        "venusaur": ("gigadrain",),
    }
    names = tuple(moves)
    player, opponent = mon("snorlax", moves=("bodyslam",)), mon("venusaur", moves=("gigadrain",))
    together = split(encoder, state_of(player, opponent, [mon(n, moves=moves[n]) for n in names]))[
        1
    ]
    for i, name in enumerate(names):
        alone = split(encoder, state_of(player, opponent, [mon(name, moves=moves[name])]))[1]
        assert together[OUR_BENCH + i] == pytest.approx(alone[OUR_BENCH], abs=1e-6), name

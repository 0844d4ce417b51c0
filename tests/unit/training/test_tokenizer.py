"""The vocabulary and the state encoder: coverage, real states, layout, legality, loader."""

from __future__ import annotations

import copy
import itertools
import math
import pickle
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fixture_battles import decision_points, fixture_paths
from poke_env.battle import Effect, Field, PokemonType, SideCondition, Status, Weather
from poke_env.data import GenData

from battle import metamon as mf
from battle.state import enum_id, type_id
from training.data import build_index, make_loader
from training.features import (
    N_ACTIONS,
    N_NUMBERS,
    N_TOKENS,
    NUMBER_SLICES,
    TOKEN_SLICES,
    EncodedTurn,
    StateEncoder,
)
from training.synthetic import synthetic_trajectory, write_dataset
from training.tokenizer import Vocabulary

FIXTURES = fixture_paths()
MIN_NON_PAD = 20


@pytest.fixture(scope="module")
def vocab() -> Vocabulary:
    return Vocabulary.build()


@pytest.fixture
def encoder(vocab: Vocabulary) -> StateEncoder:
    vocab.unknown_counts.clear()
    return StateEncoder(vocab)


@pytest.fixture(scope="module")
def real_states() -> list[tuple[dict[str, Any], list[int]]]:
    """(state, legal action indices) at every decision point of every recorded battle."""
    out = []
    for path in FIXTURES:
        for battle, _request in decision_points(path):
            out.append((mf.metamon_state(battle), mf.legal_indices(battle)))
    return out


def _synthetic_states() -> list[tuple[dict[str, Any], int]]:
    out = []
    for seed, fmt in enumerate(("gen9ou", "gen9randombattle", "gen1ou", "gen4ou")):
        trajectory = synthetic_trajectory(random.Random(seed), won=seed % 2 == 0, format=fmt)
        out.extend(zip(trajectory["states"], trajectory["actions"], strict=False))
    return out


def _check_turn(turn: EncodedTurn, vocab: Vocabulary, where: str) -> None:
    assert turn.tokens.shape == (N_TOKENS,) and turn.tokens.dtype == np.int64, where
    assert turn.tokens.min() >= 0 and turn.tokens.max() < len(vocab), where
    non_pad = int((turn.tokens != Vocabulary.PAD).sum())
    assert non_pad >= MIN_NON_PAD, (where, non_pad, vocab.decode(turn.tokens))
    assert turn.numbers.shape == (N_NUMBERS,) and turn.numbers.dtype == np.float32, where
    assert np.isfinite(turn.numbers).all(), (where, turn.numbers)
    assert np.abs(turn.numbers).max() <= 2.0, (where, turn.numbers)
    assert turn.legal.shape == (N_ACTIONS,) and turn.legal.dtype == np.bool_, where
    assert turn.legal.any(), where


def _check_unknowns(vocab: Vocabulary, n_tokens: int) -> None:
    unknown = sum(vocab.unknown_counts.values())
    assert unknown <= n_tokens // 1000, (
        f"{unknown} unknown words in {n_tokens} tokens: {vocab.unknown_counts.most_common(20)}"
    )


# --------------------------------------------------------------------------- vocabulary


def test_vocabulary_covers_the_game_data(vocab: Vocabulary) -> None:
    expected: dict[str, list[str]] = {
        "gen9 species": list(GenData.from_gen(9).pokedex),
        "gen1 species": list(GenData.from_gen(1).pokedex),
        "gen9 moves": list(GenData.from_gen(9).moves),
        "types": [type_id(t) for t in PokemonType],
        "statuses": [enum_id(s) for s in Status],
        "weathers": [enum_id(w) for w in Weather],
        "fields": [enum_id(f) for f in Field],
        "side conditions": [enum_id(c) for c in SideCondition],
        "effects": [enum_id(e) for e in Effect],
        "categories": ["physical", "special", "status"],
        "formats": [f"gen{g}{t}" for g in range(1, 10) for t in ("ou", "randombattle")],
    }
    vocab.unknown_counts.clear()
    for group, words in expected.items():
        missing = [w for w in words if vocab.encode_word(w) == Vocabulary.UNK]
        assert not missing, f"{group}: {missing[:20]}"
    assert not vocab.unknown_counts


def test_vocabulary_has_the_state_formats_fixed_words(vocab: Vocabulary) -> None:
    fixed = [
        value
        for name, value in vars(mf).items()
        if name.startswith(("NO_", "UNKNOWN_")) and isinstance(value, str)
    ]
    assert "nopokemon" in fixed and "unknownitem" in fixed
    for word in [*fixed, "???", "<blank>", "recharge", "struggle", "leftovers", "snow"]:
        assert word in vocab, word


def test_fixed_ids_lookup_and_unknown_counting(vocab: Vocabulary) -> None:
    assert Vocabulary.PAD == 0 and Vocabulary.UNK == 1
    assert vocab.words[:2] == ["<pad>", "<unk>"]
    assert len(set(vocab.words)) == len(vocab) > 3000
    fire = vocab.encode_word("fire")
    assert fire not in (Vocabulary.PAD, Vocabulary.UNK)
    # other spellings of a known word find it, and are not counted as unknown
    assert vocab.encode_word("FIRE") == fire
    assert vocab.encode_word("Choice Scarf") == vocab.encode_word("choicescarf")
    assert vocab.encode_word("") == vocab.encode_word("<blank>") != Vocabulary.UNK
    # Metamon's writer's spellings (digits stripped, the enum name of the typeless type)
    assert vocab.encode_word("perish") == vocab.encode_word("perish3")
    assert vocab.encode_word("THREE_QUESTION_MARKS") == vocab.encode_word("???")
    vocab.unknown_counts.clear()
    assert vocab.encode_word("notarealword") == Vocabulary.UNK
    assert vocab.encode_word("notarealword") == Vocabulary.UNK
    assert vocab.unknown_counts == Counter({"notarealword": 2})


def test_vocabulary_is_deterministic_and_round_trips(
    vocab: Vocabulary, tmp_path: Path, real_states: list
) -> None:
    again = Vocabulary.build()
    assert again.words == vocab.words
    path = tmp_path / "ckpt" / "vocab.json"
    vocab.save(path)
    loaded = Vocabulary.load(path)
    assert loaded == vocab and len(loaded) == len(vocab)
    assert Vocabulary.from_dict(vocab.to_dict()) == vocab
    assert pickle.loads(pickle.dumps(vocab)) == vocab
    states = [s for s, _ in real_states[::7]] + [s for s, _ in _synthetic_states()[::7]]
    a, b = StateEncoder(vocab), StateEncoder(loaded)
    for state in states:
        x, y = a.encode(state), b.encode(state)
        assert np.array_equal(x.tokens, y.tokens)
        assert np.array_equal(x.numbers, y.numbers)
        assert np.array_equal(x.legal, y.legal)
    with pytest.raises(ValueError):
        Vocabulary.from_dict({"version": 999, "words": vocab.words})


# --------------------------------------------------------------------------- states


def test_layout_sums_up() -> None:
    spans = sorted(TOKEN_SLICES.values(), key=lambda s: s.start)
    assert spans[0].start == 0 and spans[-1].stop == N_TOKENS
    assert all(a.stop == b.start for a, b in itertools.pairwise(spans))
    spans = sorted(NUMBER_SLICES.values(), key=lambda s: s.start)
    assert spans[0].start == 0 and spans[-1].stop == N_NUMBERS
    assert all(a.stop == b.start for a, b in itertools.pairwise(spans))


def test_real_states_encode_fully_and_their_legal_actions_are_allowed(
    vocab: Vocabulary, encoder: StateEncoder, real_states: list
) -> None:
    assert len(real_states) > 100
    for n, (state, legal_indices) in enumerate(real_states):
        turn = encoder.encode(state)
        where = f"state {n}"
        _check_turn(turn, vocab, where)
        # the live battle's legal actions are all allowed by the mask (a superset)
        allowed = set(np.flatnonzero(turn.legal).tolist())
        assert set(legal_indices) <= allowed, (where, legal_indices, sorted(allowed))
        if state["forced_switch"]:
            assert not turn.legal[:4].any() and not turn.legal[9:].any(), where
    _check_unknowns(vocab, N_TOKENS * len(real_states))


def test_real_state_tokens_sit_where_the_layout_says(
    vocab: Vocabulary, encoder: StateEncoder, real_states: list
) -> None:
    state = next(s for s, _ in real_states if len(s["available_switches"]) >= 2)
    tokens = encoder.encode(state).tokens
    words = vocab.decode(tokens)
    assert words[0] == state["format"]
    active = state["player_active_pokemon"]
    mine = words[TOKEN_SLICES["player_active"]]
    assert mine[0] == active["name"] and mine[1] == active["item"]
    assert mine[6] == active["types"].split()[0]
    for i, move in enumerate(active["moves"]):
        assert mine[8 + 3 * i : 11 + 3 * i] == [move["name"], move["move_type"], move["category"]]
    switches = words[TOKEN_SLICES["switches"]]
    for i, mon in enumerate(state["available_switches"]):
        assert switches[6 * i] == mon["name"]
    numbers = encoder.encode(state).numbers
    assert numbers[NUMBER_SLICES["player_active"]][0] == pytest.approx(active["hp_pct"])
    hp = numbers[NUMBER_SLICES["switch_hp"]]
    for i, mon in enumerate(state["available_switches"]):
        assert hp[i] == pytest.approx(mon["hp_pct"])


def test_synthetic_states_encode_fully(vocab: Vocabulary, encoder: StateEncoder) -> None:
    pairs = _synthetic_states()
    for n, (state, action) in enumerate(pairs):
        turn = encoder.encode(state)
        _check_turn(turn, vocab, f"synthetic state {n}")
        if action < 0 or turn.legal[action]:
            continue
        # the toy battle keeps choosing moves it has run out of pp for; nothing else
        slot = action % 9
        assert slot < 4 and state["player_active_pokemon"]["moves"][slot]["current_pp"] == 0
    _check_unknowns(vocab, N_TOKENS * len(pairs))


def test_fast_and_forgiving_paths_agree(encoder: StateEncoder, real_states: list) -> None:
    states = [s for s, _ in real_states] + [s for s, _ in _synthetic_states()]
    for state in states:
        fast, robust = encoder._encode_fast(state), encoder._encode_robust(state)
        assert np.array_equal(fast.tokens, robust.tokens)
        assert np.array_equal(fast.numbers, robust.numbers)
        assert np.array_equal(fast.legal, robust.legal)


def test_blank_and_odd_states_stay_finite(vocab: Vocabulary, encoder: StateEncoder) -> None:
    blank: dict[str, Any] = {
        "format": "",
        "player_active_pokemon": mf.blank_pokemon(),
        "opponent_active_pokemon": mf.blank_pokemon(),
        "available_switches": [],
        "player_prev_move": mf.blank_move(),
        "opponent_prev_move": mf.blank_move(),
        "opponents_remaining": 0,
        "player_conditions": mf.NO_CONDITIONS,
        "opponent_conditions": mf.NO_CONDITIONS,
        "weather": mf.NO_WEATHER,
        "battle_field": mf.NO_FIELD,
        "forced_switch": False,
        "battle_won": False,
        "battle_lost": True,
    }
    turn = encoder.encode(blank)
    assert turn.legal.all()  # nothing is legal: the mask is left open, never empty
    assert (turn.tokens != Vocabulary.PAD).sum() >= 20
    assert np.isfinite(turn.numbers).all()
    odd = copy.deepcopy(_synthetic_states()[3][0])
    active = odd["player_active_pokemon"]
    active.update(hp_pct=87, lvl=None, atk_boost=math.nan, base_hp=math.inf)
    active["moves"][0].update(accuracy=True, base_power=None)
    active["moves"][1].update(accuracy=85)
    del odd["weather"]
    odd["available_switches"][0]["name"] = ["not", "a", "word"]
    turn = encoder.encode(odd)
    numbers = turn.numbers
    assert np.isfinite(numbers).all() and np.abs(numbers).max() <= 2.0
    player = numbers[NUMBER_SLICES["player_active"]]
    assert player[0] == pytest.approx(0.87) and player[1] == 0 and player[2] == 0
    moves = numbers[NUMBER_SLICES["moves"]]
    assert moves[1] == 1.0 and moves[4] == pytest.approx(0.85) and moves[0] == 0
    assert turn.tokens[TOKEN_SLICES["weather"]][0] == Vocabulary.PAD
    assert encoder(odd)["tokens"].shape == (N_TOKENS,)


def _state_with_moves(fmt: str, pps: list[tuple[int, int]], n_switches: int) -> dict[str, Any]:
    state = copy.deepcopy(_synthetic_states()[0][0])
    state["format"] = fmt
    moves = state["player_active_pokemon"]["moves"][: len(pps)]
    for move, (pp, max_pp) in zip(moves, pps, strict=True):
        move.update(current_pp=pp, max_pp=max_pp)
    state["player_active_pokemon"]["moves"] = moves
    state["available_switches"] = state["available_switches"][:n_switches]
    return state


def test_legal_mask_rules(encoder: StateEncoder) -> None:
    state = _state_with_moves("gen9ou", [(5, 8), (0, 8), (0, 0)], n_switches=3)
    legal = encoder.encode(state).legal
    # move 1 is out of pp; move 2's pp is unknown (max 0): legal; no move 3
    assert legal[:4].tolist() == [True, False, True, False]
    assert legal[4:9].tolist() == [True, True, True, False, False]
    assert legal[9:].tolist() == legal[:4].tolist()  # gen9: tera mirrors the moves
    state["player_active_pokemon"]["types"] = "stellar"  # already terastallized
    assert not encoder.encode(state).legal[9:].any()
    gen1 = _state_with_moves("gen1ou", [(5, 8), (5, 8), (5, 8), (5, 8)], n_switches=5)
    legal = encoder.encode(gen1).legal
    assert legal[:9].all() and not legal[9:].any()
    gen1["forced_switch"] = True
    legal = encoder.encode(gen1).legal
    assert legal[4:9].all() and not legal[:4].any() and not legal[9:].any()


# --------------------------------------------------------------------------- loader


def test_encoder_plugs_into_the_loader(tmp_path: Path, vocab: Vocabulary) -> None:
    write_dataset(tmp_path / "data", 6, formats=("gen9ou", "gen1ou"), kinds=("lz4", "json"))
    index = build_index(tmp_path / "data", cache_dir=tmp_path / "cache")
    encoder = StateEncoder(vocab)
    loader = make_loader(index, batch_size=3, max_seq_len=16, encode=encoder, num_workers=0)
    batches = list(loader)
    assert len(batches) == 2
    for batch in batches:
        b, t = batch.actions.shape
        states = batch.states
        assert set(states) == {"tokens", "numbers", "legal"}
        assert states["tokens"].shape == (b, t + 1, N_TOKENS)
        assert states["tokens"].dtype == torch.int64
        assert states["numbers"].shape == (b, t + 1, N_NUMBERS)
        assert states["numbers"].dtype == torch.float32
        assert states["legal"].shape == (b, t + 1, N_ACTIONS)
        assert states["legal"].dtype == torch.bool
        assert int(states["tokens"].min()) >= 0 and int(states["tokens"].max()) < len(vocab)
        for i, n in enumerate(batch.lengths.tolist()):
            real = states["tokens"][i, : n + 1]
            assert ((real != Vocabulary.PAD).sum(-1) >= MIN_NON_PAD).all()
            assert states["legal"][i, : n + 1].any(-1).all()

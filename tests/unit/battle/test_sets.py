"""Opponent set hypotheses (`battle.sets`): random-battle statistics, team pools, fallbacks."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from battle import sets
from battle.model import compute_stats, species_data
from battle.sets import SetHypothesis, SetPool, generate, generic_set, move_exists

N_TEAMS = 60  # small statistics: fast, still a few hundred sets


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory, bundled_showdown: None) -> Path:
    """One cache folder for the module: each format's statistics are generated once."""
    return tmp_path_factory.mktemp("arena-cache")


@pytest.fixture(autouse=True)
def small_cache(cache_root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ARENA_CACHE_DIR", str(cache_root))
    monkeypatch.setenv("ARENA_SET_TEAMS", str(N_TEAMS))
    sets.clear_cache()
    yield
    sets.clear_cache()


def _weights_sum_to_one(found: list[SetHypothesis]) -> None:
    assert found
    assert sum(h.weight for h in found) == pytest.approx(1.0)
    assert [h.weight for h in found] == sorted((h.weight for h in found), reverse=True)


def _richest_species(pool: SetPool) -> str:
    """The species with most distinct sets (something to filter)."""
    return max(pool.species(), key=lambda s: (len(pool.candidates(s, limit=1000)), s))


# ---------------------------------------------------------------------------- generation


def test_generate_writes_a_reproducible_aggregate(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    generate("gen9randombattle", 8, 7, first)
    generate("gen9randombattle", 8, 7, second)
    data = json.loads(first.read_text())
    assert data["format"] == "gen9randombattle" and data["gen"] == 9 and data["teams"] == 8
    assert data["species"] == json.loads(second.read_text())["species"]
    entries = [entry for group in data["species"].values() for entry in group]
    assert sum(entry["count"] for entry in entries) == 8 * 6
    for entry in entries:
        assert entry["level"] > 0 and entry["ability"] and entry["moves"]
        assert entry["moves"] == sorted(entry["moves"])
        assert set(entry["evs"]) == set(entry["ivs"]) == {"hp", "atk", "def", "spa", "spd", "spe"}
    assert not list(tmp_path.glob("*.tmp"))


def test_generate_fails_with_a_one_line_message(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="team generator failed") as error:
        generate("gen9notaformat", 2, 1, tmp_path / "x.json")
    assert "\n" not in str(error.value)


def test_cache_dir_follows_the_environment(cache_root: Path, monkeypatch) -> None:
    assert sets.cache_dir() == cache_root / "sets"
    monkeypatch.delenv("ARENA_CACHE_DIR")
    assert sets.cache_dir() == sets.REPO_ROOT / ".cache" / "sets"


def test_random_pool_is_cached_and_named_by_count_and_version(cache_root: Path) -> None:
    pool = SetPool.for_format("gen9randombattle")
    assert SetPool.for_format("gen9randombattle") is pool
    files = list((cache_root / "sets").glob("gen9randombattle-*.json"))
    assert len(files) == 1
    assert f"{N_TEAMS}teams" in files[0].name and sets.showdown_version() in files[0].name


# ---------------------------------------------------------------------------- random battles


def test_random_sets_have_full_information() -> None:
    pool = SetPool.for_format("gen9randombattle")
    species = _richest_species(pool)
    found = pool.candidates(species)
    _weights_sum_to_one(found)
    base = species_data(9, species)["baseStats"]
    for h in found:
        assert h.species == species and 1 <= h.level <= 100
        assert h.ability and h.tera_type and 1 <= len(h.moves) <= 4
        assert set(h.stats) == {"hp", "atk", "def", "spa", "spd", "spe"}
        assert h.stats["hp"] >= compute_stats(base, h.level, {}, {"hp": 0})["hp"]
    levels = pool.species_levels()
    assert levels[species] == found[0].level


def test_candidates_filter_on_what_was_seen() -> None:
    pool = SetPool.for_format("gen9randombattle")
    species = _richest_species(pool)
    everything = pool.candidates(species, limit=1000)
    target = everything[-1]  # a rare set: filtering must find it
    move = target.moves[0]
    by_move = pool.candidates(species, moves=[move])
    _weights_sum_to_one(by_move)
    assert all(move in h.moves for h in by_move)
    exact = pool.candidates(
        species,
        moves=target.moves,
        item=target.item,
        ability=target.ability,
        tera_type=target.tera_type,
        level=target.level,
    )
    _weights_sum_to_one(exact)
    for h in exact:
        assert set(h.moves) == set(target.moves)
        assert (h.item, h.ability, h.tera_type, h.level) == (
            target.item,
            target.ability,
            target.tera_type,
            target.level,
        )
    assert pool.candidates(species, limit=1)[0].weight == pytest.approx(1.0)


def test_item_known_to_be_gone_does_not_filter_but_is_carried() -> None:
    pool = SetPool.for_format("gen9randombattle")
    species = _richest_species(pool)
    before = pool.candidates(species, limit=1000)
    after = pool.candidates(species, item="", limit=1000)
    assert all(h.item == "" for h in after)
    assert {h.moves for h in after} == {h.moves for h in before}
    _weights_sum_to_one(after)


def test_impossible_sightings_relax_but_never_come_back_empty() -> None:
    pool = SetPool.for_format("gen9randombattle")
    species = _richest_species(pool)
    real = pool.candidates(species)[0]
    # a level, item and tera no set has: relaxed, the hypotheses still carry them
    odd = pool.candidates(
        species, moves=real.moves[:1], level=42, item="metronome", tera_type="stellar"
    )
    _weights_sum_to_one(odd)
    assert all(
        (h.level, h.item, h.tera_type) == (42, "metronome", "stellar") and real.moves[0] in h.moves
        for h in odd
    )
    assert odd[0].stats["hp"] < real.stats["hp"] or real.level <= 42
    # the level is relaxed first: the item still filters
    with_item = pool.candidates(species, item=real.item, limit=1000)
    relaxed = pool.candidates(species, level=42, item=real.item, limit=1000)
    assert {h.moves for h in relaxed} == {h.moves for h in with_item}
    # moves no set has together: the seen moves are always in
    seen = ["splash", "celebrate", real.moves[0]]
    patched = pool.candidates(species, moves=seen)
    _weights_sum_to_one(patched)
    for h in patched:
        assert set(seen) <= set(h.moves) and len(h.moves) == 4


def test_unknown_species_gets_a_generic_set() -> None:
    pool = SetPool.for_format("gen9randombattle")
    (generic,) = pool.candidates("pichu", moves=["nuzzle"])  # never in random battles
    assert generic.weight == 1.0 and generic.level == sets.GENERIC_LEVEL_RANDOM
    assert generic.ability == "static" and generic.item == ""
    assert generic.moves[0] == "nuzzle" and "wildcharge" in generic.moves
    assert all(move_exists(9, m) for m in generic.moves)
    (nameless,) = pool.candidates("notamon", level=70, moves=["tackle"])
    assert nameless.level == 70 and nameless.moves[0] == "tackle"


def test_generic_sets_use_moves_of_their_generation() -> None:
    old = generic_set(1, "ponyta", level=100)
    assert "flareblitz" not in old.moves and "flamethrower" in old.moves
    assert old.ability == "" and old.item == ""
    assert generic_set(9, "ponyta", level=100).moves == ("flareblitz",)
    gengar = generic_set(1, "gengar", level=100, moves=["hypnosis"])
    assert all(move_exists(1, m) for m in gengar.moves) and len(gengar.moves) == 3
    many = generic_set(9, "dragapult", level=100, moves=["a", "b", "c", "d", "e"])
    assert many.moves == ("a", "b", "c", "d", "e")


def test_sample_is_deterministic_for_a_seeded_rng() -> None:
    pool = SetPool.for_format("gen9randombattle")
    species = _richest_species(pool)
    first = pool.sample(species, random.Random(5), 6)
    second = pool.sample(species, random.Random(5), 6)
    assert first == second and len(first) == 6
    assert all(h.weight == pytest.approx(1 / 6) for h in first)
    candidates = pool.candidates(species)
    assert all(any(h.moves == c.moves for c in candidates) for h in first)
    move = candidates[-1].moves[-1]
    assert all(move in h.moves for h in pool.sample(species, random.Random(1), 4, moves=[move]))


def test_gen1_random_sets_have_no_ability_and_no_item() -> None:
    pool = SetPool.for_format("gen1randombattle")
    for species in pool.species()[:20]:
        for h in pool.candidates(species, ability="Static", item="leftovers"):
            assert h.ability == "" and h.item == "" and h.tera_type == ""


# ---------------------------------------------------------------------------- team pools


def test_gen9ou_pool_parses_the_bundled_teams() -> None:
    pool = SetPool.for_format("gen9ou")
    found = pool.candidates("kingambit", moves=["kowtowcleave", "ironhead"], item="leftovers")
    [king] = [h for h in found if h.tera_type == "dark"]
    assert king.ability == "supremeoverlord" and king.level == 100
    assert set(king.moves) == {"swordsdance", "kowtowcleave", "suckerpunch", "ironhead"}
    # 252 HP / 252 Atk / 4 SpD, Adamant, base 100/135/120/60/85/50, IVs 31, level 100:
    # HP 200+31+63+110 = 404; Atk (270+31+63+5)*1.1 = 405; Def 240+31+5 = 276;
    # SpA (120+31+5)*0.9 = 140; SpD 170+31+1+5 = 207; Spe 100+31+5 = 136.
    assert king.stats == {"hp": 404, "atk": 405, "def": 276, "spa": 140, "spd": 207, "spe": 136}
    # a team file counts once: the pool's Kingambit sets share the weight
    assert sum(h.weight for h in pool.candidates("kingambit")) == pytest.approx(1.0)
    # a nickname-free forme with its mask
    [ogerpon] = pool.candidates("ogerponwellspring", item="wellspringmask")[:1]
    assert ogerpon.species == "ogerponwellspring" and ogerpon.tera_type == "water"


def test_tier_species_outside_the_pool_use_random_sets_at_level_100() -> None:
    pool = SetPool.for_format("gen9ou")
    random_pool = SetPool.for_format("gen9randombattle")
    in_pool = set(sets.load_team_pool(sets.TEAMS_DIR / "gen9ou", 9))
    assert {"kingambit", "greattusk", "ogerponwellspring"} <= in_pool
    species = next(s for s in random_pool.species() if s not in in_pool)
    found = pool.candidates(species)
    _weights_sum_to_one(found)
    assert all(h.level == 100 for h in found)
    at_random_level = random_pool.candidates(species)[0]
    assert found[0].stats["hp"] >= at_random_level.stats["hp"]


def test_gen1ou_pool_has_dvs_and_no_items() -> None:
    pool = SetPool.for_format("gen1ou")
    [zam] = pool.candidates("alakazam", moves=["seismictoss"])
    assert (zam.ability, zam.item, zam.tera_type, zam.level) == ("", "", "", 100)
    # base 55/50/45/135/135/120, DVs 15 (IVs 30), 252 EVs (63): HP 110+30+63+110 = 313
    assert zam.stats == {"hp": 313, "atk": 198, "def": 188, "spa": 368, "spd": 368, "spe": 338}


def test_export_parsing_handles_nicknames_genders_and_hidden_power(tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text(
        "Sparky (Jolteon) (F) @ Leftovers\n"
        "Ability: Volt Absorb\n"
        "Level: 90\n"
        "EVs: 252 SpA / 4 SpD / 252 Spe\n"
        "Timid Nature\n"
        "- Thunderbolt\n- Hidden Power [Ice]\n- Substitute\n- Baton Pass\n\n"
        "Tatsugiri @ Choice Specs\nAbility: Storm Drain\n- Draco Meteor\n- Surf\n",
        encoding="utf-8",
    )
    pool = SetPool.for_format("gen4ou", teams_dir=tmp_path)
    [jolt] = pool.candidates("jolteon", moves=["hiddenpower"])
    assert (jolt.item, jolt.ability, jolt.level) == ("leftovers", "voltabsorb", 90)
    assert "hiddenpowerice" in jolt.moves
    ivs = {"atk": 30, "def": 30}  # Showdown's Hidden Power Ice IVs (gens 3-6)
    evs = {"spa": 252, "spd": 4, "spe": 252}
    base = species_data(4, "jolteon")["baseStats"]
    assert jolt.stats == compute_stats(base, 90, evs, ivs, "Timid")
    # a cosmetic forme finds its species' sets
    [stretchy] = SetPool.for_format("gen9ou", teams_dir=tmp_path).candidates("tatsugiristretchy")
    assert stretchy.species == "tatsugiristretchy" and stretchy.item == "choicespecs"


def test_a_forme_without_sets_uses_its_base_species_with_its_own_stats(tmp_path: Path) -> None:
    (tmp_path / "z.txt").write_text(
        "Zygarde @ Leftovers\nAbility: Aura Break\nEVs: 252 HP / 252 Atk / 4 Def\n"
        "Adamant Nature\n- Thousand Arrows\n- Dragon Dance\n- Substitute\n- Rest\n",
        encoding="utf-8",
    )
    pool = SetPool.for_format("gen9ou", teams_dir=tmp_path)
    [complete] = pool.candidates("zygardecomplete", moves=["thousandarrows"])
    [plain] = pool.candidates("zygarde", moves=["thousandarrows"])
    assert complete.species == "zygardecomplete" and complete.moves == plain.moves
    assert complete.stats["hp"] > plain.stats["hp"]  # base HP 216 vs 108
    evs = {"hp": 252, "atk": 252, "def": 4}
    base = species_data(9, "zygardecomplete")["baseStats"]
    assert complete.stats == compute_stats(base, 100, evs, {}, "Adamant")

"""Type effectiveness in the battle state: the chart, and the cases that break it."""

from __future__ import annotations

import pytest
from poke_env.battle.move import Move
from poke_env.battle.pokemon import Pokemon

from battle.observe import move_effectiveness


def mon(species: str, ability: str | None = None) -> Pokemon:
    pokemon = Pokemon(gen=9, species=species)
    if ability is not None:
        pokemon.ability = ability
    return pokemon


@pytest.mark.parametrize(
    ("move", "species", "ability", "expected"),
    [
        ("thunderbolt", "gyarados", None, 4.0),  # the chart: water/flying
        ("icebeam", "lumineon", None, 0.5),
        ("freezedry", "lumineon", None, 2.0),  # super effective on Water
        ("freezedry", "gyarados", None, 4.0),  # Water x2, Flying x2
        ("freezedry", "swampert", None, 4.0),  # Water x2, Ground x2
        ("earthquake", "gyarados", None, 0.0),  # Flying is immune
        ("thousandarrows", "gyarados", None, 1.0),  # hits Flying, neutral on Water
        ("thousandarrows", "zapdos", None, 2.0),  # Electric/Flying: x2 from Electric
        ("earthquake", "bronzong", "levitate", 0.0),  # a known immunity ability
        ("earthquake", "bronzong", None, 2.0),  # ability not known yet: the chart (Steel)
        ("flamethrower", "heatran", "flashfire", 0.0),
        ("surf", "jellicent", "waterabsorb", 0.0),
    ],
)
def test_move_effectiveness(move, species, ability, expected):
    target = mon(species, ability)
    m = Move(move, gen=9)
    assert move_effectiveness(m, m.type, target) == expected

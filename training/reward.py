"""Metamon's shaped reward of one transition, from two consecutive state dicts.

`TrajectoryDataset` (`training.dataset`) computes it per window of a raw file and
`training.shards` once per trajectory when encoding; `agents.metamon` uses it too. Pokémon
are matched by base species (`base_species`), as Metamon does.
"""

from __future__ import annotations

import functools
from typing import Any

_NO_STATUS = ("nostatus", "", None)


@functools.lru_cache(maxsize=8192)
def base_species(name: str) -> str:
    """The base species id of a Pokémon name ("mimikyubusted" or "Mimikyu-Busted" ->
    "mimikyu"), as Metamon's reward matches Pokémon; a name the Pokédex does not know is
    its own base species (as an id)."""
    from poke_env.data import GenData, to_id_str

    species = to_id_str(name) if isinstance(name, str) else ""
    entry = GenData.from_gen(9).pokedex.get(species)
    if entry is None or not entry.get("baseSpecies"):
        return species
    return to_id_str(entry["baseSpecies"])


def _same(a: str, b: str) -> bool:
    return a == b or base_species(a) == base_species(b)


def shaped_reward(prev: dict[str, Any], now: dict[str, Any]) -> float:
    """Metamon's default shaped reward for the transition `prev -> now`.

    damage dealt to the opponent's active (hp fraction, 0 if it switched out)
    + own active's hp change (compared with the same pokemon in `prev`, active or bench)
    (Pokémon are matched by base species, as Metamon does: a forme change mid-battle,
    "mimikyu" -> "mimikyubusted", keeps that step's terms)
    + 0.5 x (status given - status taken) (a status appearing where there was none;
      fainting, status "fnt", counts too, as in Metamon's code)
    + (opponent pokemon removed - own pokemon lost) (indicators: `opponents_remaining`
      dropped; `available_switches` shrank)
    + 100 x (+1 won, -1 lost), from `now`'s battle_won / battle_lost.
    """
    mine = now["player_active_pokemon"]
    team = (prev["player_active_pokemon"], *prev["available_switches"])
    # the same name first; else the same base species (a forme change: Eiscue -> Eiscue-
    # Noice, Minior, Mimikyu-Busted...; Species Clause keeps one per base species a team)
    before = next((mon for mon in team if mon["name"] == mine["name"]), None)
    if before is None:
        before = next((mon for mon in team if _same(mon["name"], mine["name"])), None)
    if before is None:  # e.g. revived by Revival Blessing
        hp_gain = took_status = 0.0
    else:
        hp_gain = mine["hp_pct"] - before["hp_pct"]
        took_status = float(mine["status"] not in _NO_STATUS and before["status"] in _NO_STATUS)

    theirs, theirs_before = now["opponent_active_pokemon"], prev["opponent_active_pokemon"]
    if _same(theirs["name"], theirs_before["name"]):
        damage = theirs_before["hp_pct"] - theirs["hp_pct"]
        gave_status = float(
            theirs["status"] not in _NO_STATUS and theirs_before["status"] in _NO_STATUS
        )
    else:
        damage = gave_status = 0.0

    lost = float(len(prev["available_switches"]) > len(now["available_switches"]))
    removed = float(prev["opponents_remaining"] > now["opponents_remaining"])
    victory = 1.0 if now["battle_won"] else -1.0 if now["battle_lost"] else 0.0
    return damage + hp_gain + 0.5 * (gave_status - took_status) + removed - lost + 100.0 * victory

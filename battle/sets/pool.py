"""`SetPool`: the sets a format's opponents may bring, and the candidates for one of them.

`SetPool.for_format` builds a format's pool once per process from its sources in
priority order (random battles: the generator's sets; formats with teams: the team pool,
then the generation's random-battle sets rescaled to level 100). `candidates` filters a
species' sets by what was seen, relaxing the filters in turn, and merges identical
hypotheses; `sample` draws from them.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from battle.files import REPO_ROOT
from battle.model import STATS, species_data, to_id
from battle.sets.generic import generic_set
from battle.sets.hypothesis import FullSet, SetHypothesis, ability_id, set_stats
from battle.sets.random_battle import (
    cache_dir,
    format_gen,
    is_generated,
    load_aggregate,
    random_source,
    set_teams,
)
from battle.sets.teams import load_team_pool

TEAMS_DIR = REPO_ROOT / "teams"

GENERIC_LEVEL_TIER = 100
GENERIC_LEVEL_RANDOM = 80
IGNORED_MOVES = frozenset({"", "struggle", "recharge"})


def _has_move(set_moves: tuple[str, ...], move: str) -> bool:
    if move in set_moves:
        return True
    return move == "hiddenpower" and any(m.startswith("hiddenpower") for m in set_moves)


_POOLS: dict[tuple[Any, ...], SetPool] = {}


def clear_cache() -> None:
    """Forget the pools `SetPool.for_format` built (tests; after regenerating)."""
    _POOLS.clear()


class SetPool:
    """The sets a format's opponents may bring, per species, with their weights."""

    def __init__(
        self,
        format_id: str,
        gen: int,
        sources: list[dict[str, dict[FullSet, float]]],
        *,
        generated: bool,
    ) -> None:
        self.format_id = to_id(format_id)
        self.gen = gen
        self.generated = generated
        self._sources = sources  # in priority order
        self._groups_cache: dict[str, list[list[tuple[FullSet, float]]]] = {}

    @classmethod
    def for_format(cls, format_id: str, *, teams_dir: Path | None = None) -> SetPool:
        """The pool of `format_id`, built once per process (see the module doc)."""
        fid = to_id(format_id)
        n_teams = set_teams()
        folder = Path(teams_dir) if teams_dir is not None else TEAMS_DIR / fid
        key = (fid, str(folder.resolve()), str(cache_dir()), n_teams)
        if key not in _POOLS:
            _POOLS[key] = cls._build(fid, folder, n_teams)
        return _POOLS[key]

    @classmethod
    def _build(cls, fid: str, folder: Path, n_teams: int) -> SetPool:
        gen = format_gen(fid)
        if is_generated(fid):
            aggregate = load_aggregate(fid, n_teams)
            return cls(fid, gen, [random_source(aggregate, gen, rescale=False)], generated=True)
        pool = load_team_pool(folder, gen)
        aggregate = load_aggregate(f"gen{gen}randombattle", n_teams)
        sources = [pool, random_source(aggregate, gen, rescale=True)]
        return cls(fid, gen, sources, generated=False)

    # -- lookup

    def _family(self, species: str) -> tuple[str, list[str]]:
        """(base species id, the ids sharing `species`' sets: it and its cosmetic formes)."""
        try:
            entry = species_data(self.gen, species)
        except KeyError:
            return species, [species]
        base = to_id(entry.get("baseSpecies") or species)
        try:
            base_entry = species_data(self.gen, base)
        except KeyError:
            return base, [species]
        cosmetic = [to_id(name) for name in base_entry.get("cosmeticFormes") or ()]
        if species == base or species in cosmetic:
            return base, list(dict.fromkeys([species, base, *cosmetic]))
        return base, [species]

    def _collect(self, names: list[str]) -> list[list[tuple[FullSet, float]]]:
        groups = []
        for source in self._sources:
            merged: dict[FullSet, float] = {}
            for name in names:
                for entry, weight in source.get(name, {}).items():
                    merged[entry] = merged.get(entry, 0.0) + weight
            if merged:
                groups.append(list(merged.items()))
        return groups

    def _groups(self, species: str) -> list[list[tuple[FullSet, float]]]:
        if species not in self._groups_cache:
            base, names = self._family(species)
            groups = self._collect(names)
            if not groups and base != species:
                groups = self._collect(self._family(base)[1])
            self._groups_cache[species] = groups
        return self._groups_cache[species]

    # -- public API

    def candidates(
        self,
        species: str,
        *,
        level: int | None = None,
        moves: Iterable[str] = (),
        item: str | None = None,
        ability: str | None = None,
        tera_type: str | None = None,
        limit: int = 64,
    ) -> list[SetHypothesis]:
        """The most likely `limit` sets of `species` consistent with what was seen.

        Every seen move is in each set; `item` equal when given (None: unknown; "": holds
        nothing now, so sets are not filtered on it but carry ""), `ability`, `tera_type`
        and `level` equal when given (an empty ability or tera type, and abilities in
        gens 1-2 and tera types before gen 9, do not filter). Never empty: with nothing
        consistent it relaxes level, tera type, ability, item in turn (the hypotheses
        still carry the seen values), then patches the sets with most seen moves to have
        them all, then falls back to a generic set. Weights sum to 1, best first.
        """
        sid = to_id(species)
        seen = tuple(dict.fromkeys(m for m in (to_id(m) for m in moves) if m not in IGNORED_MOVES))
        want_item = None if item is None else to_id(item)
        want_ability = None if not ability or self.gen <= 2 else ability_id(ability)
        want_tera = None if not tera_type or self.gen < 9 else to_id(tera_type)
        want_level = int(level) if level else None
        overrides = {
            "level": want_level,
            "item": want_item if self.gen >= 2 else None,
            "ability": want_ability,
            "tera_type": want_tera,
        }
        groups = self._groups(sid)
        if not groups:
            return [self._generic(sid, seen, overrides)]
        # Relax, in order: level, tera type, ability, item ("" never filters).
        checks = [
            ("level", want_level),
            ("tera_type", want_tera),
            ("ability", want_ability),
            ("item", want_item or None),
        ]
        for relaxed in range(len(checks) + 1):
            active = [(field, value) for field, value in checks[relaxed:] if value is not None]
            for group in groups:
                matched = [
                    (entry, weight)
                    for entry, weight in group
                    if all(_has_move(entry.moves, m) for m in seen)
                    and all(getattr(entry, field) == value for field, value in active)
                ]
                if matched:
                    return self._finish(sid, matched, overrides, limit)
        return self._finish(sid, self._patched(groups, seen), overrides, limit)

    def sample(self, species: str, rng: random.Random, k: int, **seen: Any) -> list[SetHypothesis]:
        """`k` hypotheses drawn with replacement by weight, each with weight 1/k."""
        if k <= 0:
            return []
        pool = self.candidates(species, **seen)
        drawn = rng.choices(pool, weights=[c.weight for c in pool], k=k)
        return [replace(c, weight=1.0 / k) for c in drawn]

    def species_levels(self) -> dict[str, int]:
        """Per species id, its most common level (random battles: its fixed level)."""
        levels: dict[str, int] = {}
        for source in reversed(self._sources):  # earlier sources win
            for species, sets in source.items():
                counts: dict[int, float] = {}
                for entry, weight in sets.items():
                    counts[entry.level] = counts.get(entry.level, 0.0) + weight
                levels[species] = max(counts, key=lambda lv: (counts[lv], lv))
        return levels

    def species(self) -> list[str]:
        """Every species id with sets of its own in some source."""
        return sorted({name for source in self._sources for name in source})

    # -- helpers

    def _generic(self, sid: str, seen: tuple[str, ...], overrides: dict[str, Any]) -> SetHypothesis:
        level = overrides["level"] or (
            GENERIC_LEVEL_RANDOM if self.generated else GENERIC_LEVEL_TIER
        )
        return generic_set(
            self.gen,
            sid,
            level=level,
            moves=seen,
            ability=overrides["ability"],
            item=overrides["item"],
            tera_type=overrides["tera_type"],
        )

    @staticmethod
    def _patched(
        groups: list[list[tuple[FullSet, float]]], seen: tuple[str, ...]
    ) -> list[tuple[FullSet, float]]:
        """The sets with most seen moves, given all of them (replacing moves not seen)."""

        def hits(entry: FullSet) -> int:
            return sum(_has_move(entry.moves, m) for m in seen)

        best = max(hits(entry) for group in groups for entry, _ in group)
        group = next(g for g in groups if any(hits(entry) == best for entry, _ in g))
        patched: dict[FullSet, float] = {}
        for entry, weight in group:
            if hits(entry) != best:
                continue
            kept = [m for m in entry.moves if not any(_has_move((m,), s) for s in seen)]
            kept = [m for m in kept if m not in seen]
            size = max(4, len(seen))
            moves = (*seen, *kept)[:size]
            new = replace(entry, moves=moves)
            patched[new] = patched.get(new, 0.0) + weight
        return list(patched.items())

    def _finish(
        self,
        sid: str,
        matched: list[tuple[FullSet, float]],
        overrides: dict[str, Any],
        limit: int,
    ) -> list[SetHypothesis]:
        merged: dict[tuple[Any, ...], float] = {}
        built: dict[tuple[Any, ...], SetHypothesis] = {}
        for entry, weight in matched:
            level = overrides["level"] or entry.level
            stats = set_stats(self.gen, sid, level, entry.evs, entry.ivs, entry.nature)
            hypothesis = SetHypothesis(
                species=sid,
                level=level,
                ability=entry.ability if overrides["ability"] is None else overrides["ability"],
                item=entry.item if overrides["item"] is None else overrides["item"],
                moves=entry.moves,
                tera_type=(
                    entry.tera_type if overrides["tera_type"] is None else overrides["tera_type"]
                ),
                stats=stats,
                weight=0.0,
            )
            key = (
                hypothesis.level,
                hypothesis.ability,
                hypothesis.item,
                hypothesis.moves,
                hypothesis.tera_type,
                tuple(stats[s] for s in STATS),
            )
            if key not in built:
                built[key] = hypothesis
                merged[key] = 0.0
            merged[key] += weight
        ranked = sorted(built, key=lambda k: -merged[k])[: max(1, limit)]
        total = sum(merged[k] for k in ranked) or 1.0
        return [
            replace(built[k], stats=dict(built[k].stats), weight=merged[k] / total) for k in ranked
        ]

"""How much of the heuristic's play can be read off a Metamon state? A ceiling for cloning it.

    uv run python bench/imitation_ceiling.py /tmp/arena-data --players heuristic --n 400

Re-implements poke-env's `SimpleHeuristicsPlayer` decision (switch-out test, hazards,
setup moves, then the best of base power x STAB x stat ratio x accuracy x expected hits x
type multiplier, else the best-matchup switch) as a function of the Metamon state dict
alone (`battle.metamon`: base stats instead of real stats, no tera type), and
prints how often it picks the action the heuristic took in the trajectories (terastallizing
or not counts as the same move). A behaviour-cloned `metamon` model is doing well when
its validation action accuracy approaches this figure; far below it means the model is
under-trained rather than short of information.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HAZARDS = {"spikes", "stealthrock", "stickyweb", "toxicspikes"}
ANTI_HAZARDS = {"rapidspin", "defog"}


class StatePolicy:
    """SimpleHeuristicsPlayer's choice, from a Metamon state dict (an action index)."""

    def __init__(self, gen: int = 9) -> None:
        from poke_env.data import GenData

        self.chart = GenData.from_gen(gen).type_chart
        self.gen = gen
        self._moves: dict[str, Any] = {}

    def multiplier(self, attack: str, defender: list[str]) -> float:
        m = 1.0
        for t in defender:
            m *= self.chart.get(t.upper(), {}).get(attack.upper(), 1.0)
        return m

    @staticmethod
    def types(mon: dict[str, Any]) -> list[str]:
        return [t for t in mon["types"].split() if t and t != "notype"]

    def matchup(self, mon: dict[str, Any], opp: dict[str, Any]) -> float:
        mine, theirs = self.types(mon), self.types(opp)
        score = max((self.multiplier(t, theirs) for t in mine), default=1.0)
        score -= max((self.multiplier(t, mine) for t in theirs), default=1.0)
        if mon["base_spe"] != opp["base_spe"]:
            score += 0.1 if mon["base_spe"] > opp["base_spe"] else -0.1
        return score + 0.4 * mon["hp_pct"] - 0.4 * opp["hp_pct"]

    def move(self, name: str) -> Any:
        if name not in self._moves:
            from poke_env.battle import Move

            try:
                self._moves[name] = Move(name, self.gen)
                self._moves[name].entry  # noqa: B018 (unknown names raise here)
            except Exception:
                self._moves[name] = None
        return self._moves[name]

    @staticmethod
    def stat(mon: dict[str, Any], stat: str) -> float:
        b = mon[f"{stat}_boost"]
        boost = (2 + b) / 2 if b > 1 else 2 / (2 - b)
        return (2 * mon[f"base_{stat}"] + 36) * boost

    def __call__(self, s: dict[str, Any]) -> int | None:
        me, opp = s["player_active_pokemon"], s["opponent_active_pokemon"]
        switches = [p for p in s["available_switches"] if p["name"] != "nopokemon"]
        moves = [m for m in me["moves"] if m["name"] != "nomove"]

        def best_switch() -> int | None:
            if not switches:
                return None
            return 4 + max(range(len(switches)), key=lambda i: self.matchup(switches[i], opp))

        if s["forced_switch"] or me["hp_pct"] == 0:
            return best_switch()
        leave = False
        if any(self.matchup(p, opp) > 0 for p in switches):
            leave = (
                me["def_boost"] <= -3
                or me["spd_boost"] <= -3
                or (me["atk_boost"] <= -3 and me["base_atk"] >= me["base_spa"])
                or (me["spa_boost"] <= -3 and me["base_atk"] <= me["base_spa"])
                or self.matchup(me, opp) < -2
            )
        if not moves or leave:
            return best_switch()
        their_side = s["opponent_conditions"].replace(" ", "")
        hazards_on_us = s["player_conditions"] not in ("", "nocondition")
        for i, m in enumerate(moves):
            if s["opponents_remaining"] >= 3 and m["name"] in HAZARDS:
                if m["name"] not in their_side:
                    return i
            elif m["name"] in ANTI_HAZARDS and switches and hazards_on_us:
                return i
        if me["hp_pct"] == 1 and self.matchup(me, opp) > 0:
            for i, m in enumerate(moves):
                x = self.move(m["name"])
                if x and x.boosts and sum(x.boosts.values()) >= 2 and x.target == "self":
                    return i
        physical = self.stat(me, "atk") / self.stat(opp, "def")
        special = self.stat(me, "spa") / self.stat(opp, "spd")

        def damage(m: dict[str, Any]) -> float:
            x = self.move(m["name"])
            return (
                m["base_power"]
                * (1.5 if m["move_type"] in self.types(me) else 1.0)
                * (physical if m["category"] == "physical" else special)
                * m["accuracy"]
                * (x.expected_hits if x else 1)
                * self.multiplier(m["move_type"], self.types(opp))
            )

        return max(range(len(moves)), key=lambda i: damage(moves[i]))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("roots", nargs="+", type=Path, help="folders of Metamon-format trajectories")
    p.add_argument("--players", nargs="+", default=["heuristic"], help="point-of-view names")
    p.add_argument("--n", type=int, default=400, help="trajectories to read")
    args = p.parse_args(argv)

    from training.data import IndexFilter, build_index, read_entry

    index = build_index(args.roots, IndexFilter(players=tuple(args.players)), use_cache=False)
    if not len(index):
        print(f"error: no trajectories of {args.players} under the roots", file=sys.stderr)
        return 2
    policy = StatePolicy()
    hits = {"moves": [0, 0], "switches": [0, 0]}
    for i in range(min(args.n, len(index))):
        t = read_entry(index[i])
        for state, action in zip(t["states"], t["actions"], strict=False):
            if action < 0:
                continue
            action = action - 9 if action >= 9 else action  # tera or not: the same move
            kind = "switches" if action >= 4 else "moves"
            hits[kind][0] += policy(state) == action
            hits[kind][1] += 1
    total = sum(h[1] for h in hits.values())
    agree = sum(h[0] for h in hits.values())
    parts = ", ".join(f"{k} {h[0] / max(h[1], 1):.1%} of {h[1]}" for k, h in hits.items())
    print(
        f"{total} decisions of {min(args.n, len(index))} trajectories: the state-only "
        f"heuristic agrees on {agree / total:.1%} ({parts})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

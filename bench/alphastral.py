"""Option scoring speed: batched (one prompt forward + a KV-cache-sharing batch of options)
against one forward per option, on the tiny model and the CPU.

    uv run python bench/alphastral.py                       # 200 decisions, 4-9 options each
    uv run python bench/alphastral.py --decisions 50 --threads 2 --model runs/alphastral-tiny
    uv run python bench/alphastral.py --agent-rounds 3       # the agent part: 3 x 16 battles

Each decision is a seed-format prompt (our active with HP, status, types and stats, the
opponent's with the moves seen, our bench; about 150 tokens with the tiny tokenizer) and
4 to 9 legal options rendered as completions ("Flash Cannon (steel, 80pw, special)",
"Switch to Garchomp"). The same decisions go through three scorers from finetune.scoring:
`score_options_one_by_one` (the baseline), `score_options(use_cache=False)` (plain
batching: the prompt in every row) and `score_options` (prompt once, its cache shared).
It prints decisions/s and latency p50/p95 per scorer, the speedup over one-by-one, and
the largest difference between their scores (they must agree).

Then the agent itself: `AlphastralAgent.decide` (prompt rendering, legal options, scoring
in the model's worker thread, mapping back to a legal order, the decision record) on every
decision of the recorded real battles in tests/fixtures/battles, with batched scoring and
with one forward per option (`batched=False`), side by side. Decisions with a single
option skip the model and are counted apart. `--agent-rounds N` replays the recordings N
times; `--agent-rounds 0` skips this part.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))


def make_decisions(n: int, seed: int) -> list[tuple[str, list[str]]]:
    """`n` (prompt, options) pairs in the seed's prompt format, from poke-env's data."""
    from poke_env.data import GenData

    data = GenData.from_gen(9)
    rng = random.Random(seed)
    species = [v for v in data.pokedex.values() if v.get("num", 0) > 0 and "baseStats" in v]
    moves = [m for m in data.moves.values() if m.get("basePower", 0) > 0]

    def move_text(m: dict) -> str:
        return f"{m['name']} ({m['type'].lower()}, {m['basePower']}pw, {m['category'].lower()})"

    def mon_text(s: dict, own: bool) -> str:
        st = s["baseStats"]
        types = "/".join(t.lower() for t in s["types"])
        hp = rng.randint(1, 100)
        status = rng.choice(["healthy", "healthy", "burned", "paralyzed", "poisoned"])
        stats = (
            f"Atk: {st['atk']} SpA: {st['spa']} Spe: {st['spe']}"
            if own
            else f"Def: {st['def']} SpD: {st['spd']} Spe: {st['spe']}"
        )
        return f"{s['name']} ({hp}/100 HP, {status}) | Type: {types} | {stats}"

    decisions = []
    for _ in range(n):
        own, foe = rng.sample(species, 2)
        bench = rng.sample(species, 5)
        seen = ", ".join(move_text(m) for m in rng.sample(moves, rng.randint(1, 4)))
        prompt = (
            f"Turn {rng.randint(1, 40)}. Weather: {rng.choice(['none', 'rain', 'sun'])}. "
            f"Your pokemon: {mon_text(own, True)}. Opponent: {mon_text(foe, False)} | "
            f"Moves seen: {seen}. Your bench: {', '.join(b['name'] for b in bench)}. "
            "What move do you use?"
        )
        k = rng.randint(4, 9)
        n_switch = min(len(bench), max(0, k - 4))
        options = [move_text(m) for m in rng.sample(moves, k - n_switch)]
        options += [f"Switch to {b['name']}" for b in bench[:n_switch]]
        decisions.append((prompt, options))
    return decisions


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    i = min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))
    return xs[i]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--decisions", type=int, default=200, help="decisions scored per scorer")
    p.add_argument("--batch-size", type=int, default=16, help="options per forward (batched)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--model", default=None, help="model folder (default: a fresh tiny model)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--agent-rounds",
        type=int,
        default=1,
        help="times the agent benchmark replays the recorded battles (0: skip it)",
    )
    args = p.parse_args(argv)

    import torch

    from finetune.scoring import load_model, score_options, score_options_one_by_one
    from finetune.tiny import build_tiny_model

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.model or build_tiny_model(Path(tmp) / "tiny", seed=args.seed)
        model, tok = load_model(path, device="cpu")
    decisions = make_decisions(args.decisions, args.seed)
    prompt_tokens = [len(tok(p, add_special_tokens=False)["input_ids"]) for p, _ in decisions]
    n_options = [len(o) for _, o in decisions]

    scorers = {
        "one-by-one": lambda p, o: score_options_one_by_one(model, tok, p, o),
        "batched": lambda p, o: score_options(
            model, tok, p, o, batch_size=args.batch_size, use_cache=False
        ),
        "batched+cache": lambda p, o: score_options(model, tok, p, o, batch_size=args.batch_size),
    }
    for fn in scorers.values():  # warm up
        for prompt, options in decisions[:5]:
            fn(prompt, options)

    rows, scores = {}, {}
    for name, fn in scorers.items():
        lat, out = [], []
        start = time.perf_counter()
        for prompt, options in decisions:
            t = time.perf_counter()
            out.append(fn(prompt, options))
            lat.append(time.perf_counter() - t)
        total = time.perf_counter() - start
        rows[name] = (len(decisions) / total, percentile(lat, 0.5), percentile(lat, 0.95))
        scores[name] = out

    diff = max(
        abs(a - b)
        for name in ("batched", "batched+cache")
        for ref, got in zip(scores["one-by-one"], scores[name], strict=True)
        for a, b in zip(ref, got, strict=True)
    )
    base = rows["one-by-one"][0]
    print(
        f"tiny model ({model.num_parameters() / 1e6:.2f}M parameters) on the CPU, "
        f"{args.threads} thread(s), {len(decisions)} decisions: prompts "
        f"{statistics.mean(prompt_tokens):.0f} tokens on average "
        f"({min(prompt_tokens)}-{max(prompt_tokens)}), {statistics.mean(n_options):.1f} "
        f"options ({min(n_options)}-{max(n_options)}), batch size {args.batch_size}"
    )
    print(f"{'scorer':<15} {'decisions/s':>12} {'p50 ms':>8} {'p95 ms':>8} {'speedup':>8}")
    for name, (rate, p50, p95) in rows.items():
        print(f"{name:<15} {rate:>12.1f} {p50 * 1e3:>8.2f} {p95 * 1e3:>8.2f} {rate / base:>7.2f}x")
    print(f"largest score difference from one-by-one: {diff:.2e}")
    if args.agent_rounds > 0:
        bench_agent(path_or_none=args.model, seed=args.seed, rounds=args.agent_rounds)
    return 0


def recorded_states(rounds: int) -> list:
    """Every decision point of the recorded battles, as (battle copy) snapshots, `rounds`
    times over."""
    import copy

    sys.path.insert(0, str(_ROOT / "tests"))
    from fixture_battles import decision_points, fixture_paths

    states = []
    for path in fixture_paths():
        for battle, _request in decision_points(path):
            states.append(copy.deepcopy(battle))  # the iterator keeps updating `battle`
    return states * rounds


@dataclass
class AgentRun:
    scored: list[float] = field(default_factory=list)  # latencies of decisions that scored
    single: int = 0  # decisions with one option (no model)
    options: list[int] = field(default_factory=list)  # options per scored decision
    chosen: list[str] = field(default_factory=list)
    total_s: float = 0.0


def bench_agent(path_or_none: str | None, seed: int, rounds: int) -> None:
    """decide() over recorded battle states, batched scoring vs one option at a time."""
    import asyncio

    from agents.alphastral import AlphastralAgent
    from finetune.tiny import build_tiny_model

    states = recorded_states(rounds)
    with tempfile.TemporaryDirectory() as tmp:
        path = path_or_none or str(build_tiny_model(Path(tmp) / "tiny", seed=seed))
        agents = {
            "one-by-one": AlphastralAgent(seed=seed, arg=path, batched=False, device="cpu"),
            "batched+cache": AlphastralAgent(seed=seed, arg=path, device="cpu"),
        }

        async def run(agent: AlphastralAgent) -> AgentRun:
            out = AgentRun()
            for battle in states[:5]:  # warm up
                await agent.decide(battle)
            start = time.perf_counter()
            for battle in states:
                t = time.perf_counter()
                decision = await agent.decide(battle)
                elapsed = time.perf_counter() - t
                n = len(decision.candidates or [])
                if n > 1:
                    out.scored.append(elapsed)
                    out.options.append(n)
                else:
                    out.single += 1
                out.chosen.append(decision.order.message)
            out.total_s = time.perf_counter() - start
            return out

        results = {name: asyncio.run(run(agent)) for name, agent in agents.items()}
    fast = results["batched+cache"]
    print()
    print(
        f"agent: AlphastralAgent.decide on {len(states)} recorded decisions "
        f"({len(states) // rounds} per round x {rounds}): {len(fast.scored)} scored "
        f"({statistics.mean(fast.options):.1f} options on average, {min(fast.options)}-"
        f"{max(fast.options)}), {fast.single} with a single option (no model call)"
    )
    print(f"{'decide()':<15} {'decisions/s':>12} {'p50 ms':>8} {'p95 ms':>8} {'speedup':>8}")
    base = len(states) / results["one-by-one"].total_s
    for name, r in results.items():
        rate = len(states) / r.total_s
        p50, p95 = percentile(r.scored, 0.5), percentile(r.scored, 0.95)
        print(f"{name:<15} {rate:>12.1f} {p50 * 1e3:>8.2f} {p95 * 1e3:>8.2f} {rate / base:>7.2f}x")
    same = sum(a == b for a, b in zip(results["one-by-one"].chosen, fast.chosen, strict=True))
    print(f"p50/p95 over scored decisions; same action chosen: {same}/{len(states)}")


if __name__ == "__main__":
    sys.exit(main())

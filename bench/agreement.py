"""How often does a checkpoint choose what the teacher chose, on battles it never trained on?

    uv run python bench/agreement.py training/checkpoints/metamon-small.safetensors \
        /work/data/search --players search
    uv run python bench/agreement.py CKPT DIR --players search --all     # every battle

Reads the trajectories of `DATA` (folders of Metamon files, or shard folders of raw files'
names) whose point-of-view player starts with `--players`, holds out the battles the
trainer held out (`--val-fraction` and `--seed` as in training: `split_by_battle`, by a
hash of the battle id) unless `--all`, and replays each trajectory through the model as
the agent does (previous action and shaped reward as inputs, windows of the model's
`max_turns`). A decision agrees when the model's best action among the encoder's legal
ones is the file's action (the teacher's: the player's own, or `--teacher`'s labels).
Prints the agreement overall, for moves and switches, and with tera counted as the move
itself; the issue's target is 85% against the `search` teacher.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET = 0.85


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", type=Path)
    p.add_argument("data", type=Path, nargs="+", help="folders of trajectories")
    p.add_argument("--players", nargs="+", default=None, help="point-of-view player prefixes")
    p.add_argument("--val-fraction", type=float, default=0.05, help="as data.val_fraction")
    p.add_argument("--seed", type=int, default=0, help="as train.seed")
    p.add_argument("--all", action="store_true", help="every battle, not only the held-out ones")
    p.add_argument("--limit", type=int, default=None, help="at most this many trajectories")
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    import numpy as np
    import torch

    from training.checkpoint import load_checkpoint
    from training.data import IndexFilter, build_index, read_entry, shaped_reward
    from training.entities import make_encoder
    from training.tokenizer import Vocabulary

    torch.set_num_threads(1)
    model, config, extra = load_checkpoint(args.checkpoint)
    vocab = Vocabulary.from_dict(extra["vocabulary"])
    encoder = make_encoder(config.observation, vocab)
    players = tuple(args.players) if args.players else None
    index = build_index(args.data, IndexFilter(players=players), use_cache=False)
    if not args.all:
        index = index.split_by_battle(args.val_fraction, args.seed)[1]
    n = len(index) if args.limit is None else min(args.limit, len(index))
    hits = {"all": [0, 0], "move": [0, 0], "switch": [0, 0], "tera as move": [0, 0]}
    for row in range(n):
        traj = read_entry(index[row])
        states, actions = traj["states"], traj["actions"]
        T = min(len(actions), len(states))
        encoded = [encoder.encode(s) for s in states[:T]]
        rewards = [shaped_reward(a, b) for a, b in itertools.pairwise(states[: T + 1])]
        for lo in range(0, T, config.max_turns):
            hi = min(T, lo + config.max_turns)
            tok = torch.from_numpy(np.stack([e.tokens for e in encoded[lo:hi]]))
            num = torch.from_numpy(np.stack([e.numbers for e in encoded[lo:hi]]))
            prev_a = torch.tensor([[-1, *actions[lo : hi - 1]]])
            prev_r = torch.tensor([[0.0, *rewards[lo : hi - 1]]])
            legal = torch.from_numpy(np.stack([e.legal for e in encoded[lo:hi]]))
            with torch.inference_mode():
                out = model(tok[None], num[None], prev_a, prev_r, legal[None])
            best = out.logits[0].argmax(-1).tolist()
            for t, guess in zip(range(lo, hi), best, strict=True):
                action = actions[t]
                if action < 0:
                    continue
                hit = guess == action
                kind = "switch" if 4 <= action <= 8 else "move"
                for key in ("all", kind):
                    hits[key][0] += hit
                    hits[key][1] += 1
                as_move = (guess % 9 if guess >= 9 else guess) == (
                    action % 9 if action >= 9 else action
                )
                hits["tera as move"][0] += as_move
                hits["tera as move"][1] += 1
    held = "every battle" if args.all else f"held-out battles ({args.val_fraction:.0%})"
    print(f"{args.checkpoint}: {n} trajectories of {held} in {', '.join(map(str, args.data))}"
          f"{' (players ' + ', '.join(players) + ')' if players else ''}")  # fmt: skip
    for key, (hit, total) in hits.items():
        if total:
            print(f"  {key:13s} {hit / total:6.1%} of {total} decisions")
    rate = hits["all"][0] / max(hits["all"][1], 1)
    print(f"agreement {rate:.1%} (target {TARGET:.0%}: {'met' if rate >= TARGET else 'missed'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

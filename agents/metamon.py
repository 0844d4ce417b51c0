"""The Metamon-style transformer policy as an agent: `metamon` and `metamon:PATH`.

`metamon` plays the checkpoint shipped with the project
(`training/checkpoints/metamon-small.safetensors`); `metamon:PATH` plays any checkpoint
written by `training.checkpoint.save_checkpoint` (weights, model config and vocabulary in one
.safetensors file). Both fail before any battle starts, with a one-line message, when the
checkpoint is missing or unreadable.

Per decision the agent builds the battle's Metamon state (`battle.metamon`),
encodes it into one turn with the checkpoint's observation (`training.entities`: the
entity view, or Metamon's text view), with the action it took and the shaped reward
between consecutive states (`training.data.shaped_reward`), as the training data has
them: at turn t the model reads `prev_action` = the action index taken at t-1 (-1 at the
first turn, or when it was outside the action space) and `prev_reward` = the reward of
the transition t-1 -> t (0 at the first turn). Per battle it keeps what each turn left in
the history transformer (its keys and values in every layer), so a decision costs the
new turn alone (`PolicyModel.decode`), not the whole history; past the model's window of
`max_turns` turns the positions shift, and the window is recomputed (`PolicyModel.act`).
A request asked again (same `rqid`) replaces the last turn, as the trajectory recorder
does. A battle's history is dropped once the battle is finished.

The chosen action is the best legal one (or, with `METAMON_TEMPERATURE` above 0, a sample
of softmax(logits / temperature)); legal means both in the encoder's mask and among the
battle's real legal orders (`legal_indices`). When no order of the battle has an action
index (Struggle, Recharge, gen 1's Fight, `/choose default`), that order is played when it
is the only legal one (a forced action, not a fallback); otherwise a random legal order is
played and the decision says `fallback: true` with reason `no_action_index`.

The model is loaded once per process and shared (`agents.metamon_model`); torch runs off
the event loop, in one worker thread per model that answers every decision waiting, of
all battles and both sides, with one forward pass.

Environment: `METAMON_TEMPERATURE` (default 0: argmax), `METAMON_THREADS` (default 1).
"""

from __future__ import annotations

import asyncio
import math
import os
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.base import BaseAgent, Decision
from agents.metamon_model import CheckpointError, Job, load_model
from agents.registry import register

if TYPE_CHECKING:
    import torch
    from poke_env.battle.abstract_battle import AbstractBattle

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CHECKPOINT = REPO / "training" / "checkpoints" / "metamon-small.safetensors"
TEMPERATURE_ENV = "METAMON_TEMPERATURE"
MAX_BATTLES = 256  # histories kept at most (least recently used dropped first)


def checkpoint_path(arg: str | None) -> Path:
    """The checkpoint `metamon` (arg None: the shipped one) or `metamon:PATH` plays."""
    if arg is None:
        return SHIPPED_CHECKPOINT
    if not arg.strip():
        raise CheckpointError("metamon: needs a checkpoint path, e.g. metamon:ckpt.safetensors")
    return Path(arg.strip()).expanduser().resolve()


def check(arg: str | None = None) -> None:
    """Registry check: the checkpoint exists and loads (it is then cached for the run)."""
    path = checkpoint_path(arg)
    if arg is None and not path.is_file():
        raise CheckpointError(
            f"no shipped metamon checkpoint at {path} yet: train one "
            "(see training/README.md) or pass metamon:PATH"
        )
    load_model(path)


def temperature_from_env() -> float:
    raw = os.environ.get(TEMPERATURE_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{TEMPERATURE_ENV}={raw!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{TEMPERATURE_ENV} must be 0 (argmax) or more, got {raw}")
    return value


@dataclass
class History:
    """One battle as the model has seen it so far (one entry per decision)."""

    battle: Any  # the poke-env Battle these turns belong to
    vectors: list[torch.Tensor] = field(default_factory=list)  # each turn's (d_model,)
    cache: list[torch.Tensor | None] = field(default_factory=list)  # each turn's keys and
    # values in the history transformer (n_layers, 2, d_model); None past the window
    prev_actions: list[int] = field(default_factory=list)
    prev_rewards: list[float] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    actions: list[int] = field(default_factory=list)  # the index taken at each turn
    last_rqid: Any = None

    def __len__(self) -> int:
        return len(self.vectors)

    def pop(self) -> None:
        seqs = (self.vectors, self.cache, self.prev_actions, self.prev_rewards, self.states)
        for seq in (*seqs, self.actions):
            seq.pop()


def _check_args(arg: str | None) -> None:
    temperature_from_env()
    check(arg)


@register(
    "metamon",
    help="the Metamon-style transformer: the shipped checkpoint, or metamon:PATH",
    check=_check_args,
    example="metamon:training/checkpoints/mine.safetensors",
)
class MetamonAgent(BaseAgent):
    """A `training.model.PolicyModel` checkpoint choosing among the legal actions."""

    def __init__(
        self,
        seed: int | None = None,
        arg: str | None = None,
        temperature: float | None = None,
        *,
        use_cache: bool = True,
    ):
        """`use_cache=False` recomputes each battle's history at every decision (the
        reference `bench/inference.py --compare` times the cache against)."""
        super().__init__(seed)
        self.use_cache = use_cache
        path = checkpoint_path(arg)
        if arg is None and not path.is_file():
            check(arg)  # the one-line "train one" message
        self._loaded = load_model(path)
        self.name = "metamon" if arg is None else f"metamon:{arg}"
        self.resolved = str(self._loaded.path)
        self.temperature = temperature_from_env() if temperature is None else float(temperature)
        if self.temperature < 0:
            raise ValueError(f"temperature must be 0 (argmax) or more, got {self.temperature}")
        self.params = {
            "size": self._loaded.size,
            "parameters": self._loaded.parameters,
            "step": self._loaded.step,
            "temperature": self.temperature,
        }
        self._histories: OrderedDict[str, History] = OrderedDict()

    # -- history -------------------------------------------------------------------------

    def history(self, battle_tag: str) -> History | None:
        return self._histories.get(battle_tag)

    def _history_for(self, battle: AbstractBattle) -> History:
        """This battle's history (a new one for a new battle object), finished ones pruned."""
        for tag in [t for t, h in self._histories.items() if h.battle.finished]:
            del self._histories[tag]
        history = self._histories.get(battle.battle_tag)
        if history is None or history.battle is not battle:
            history = History(battle)
            self._histories[battle.battle_tag] = history
        self._histories.move_to_end(battle.battle_tag)
        while len(self._histories) > MAX_BATTLES:
            self._histories.popitem(last=False)
        return history

    # -- deciding ------------------------------------------------------------------------

    async def decide(self, battle: AbstractBattle) -> Decision:
        from battle.metamon import metamon_state
        from battle.metamon_actions import (
            NO_ACTION,
            action_index,
            legal_indices,
            order_for_index,
        )
        from training.data import shaped_reward

        history = self._history_for(battle)
        rqid = (battle.last_request or {}).get("rqid")
        if rqid is not None and rqid == history.last_rqid and len(history):
            history.pop()  # the same request asked again: this turn replaces the last one
        history.last_rqid = rqid

        state = metamon_state(battle)
        prev_action = history.actions[-1] if history.actions else NO_ACTION
        prev_reward = shaped_reward(history.states[-1], state) if history.states else 0.0
        real = legal_indices(battle)

        start = max(0, len(history) + 1 - self._loaded.config.max_turns)
        whole = all(entry is not None for entry in history.cache)  # the window from turn 0
        complete = self.use_cache and start == 0 and whole
        cache = history.cache if complete else None
        job = Job(
            vectors=history.vectors[start:],
            cache=cache,
            prev_actions=[*history.prev_actions[start:], prev_action],
            prev_rewards=[*history.prev_rewards[start:], prev_reward],
            state=state,
            want_logits=bool(real),
        )
        legal, encoded, logits = await asyncio.wrap_future(self._loaded.infer(job))
        allowed = [i for i in real if legal[i]] or real
        history.vectors.append(encoded.vector)
        history.cache.append(encoded.cache)
        history.prev_actions.append(prev_action)
        history.prev_rewards.append(prev_reward)
        history.states.append(state)

        order = None
        if logits is not None:
            for index in self._ranked(logits, allowed):
                order = order_for_index(index, battle)
                if order is not None:
                    break
        if order is None:
            order = self.random_order(battle)
            history.actions.append(action_index(order, battle))
            if len(battle.valid_orders) == 1:  # Recharge, Struggle, gen 1's Fight: forced
                return Decision(order=order, reasoning="the only legal action")
            return Decision(order=order, fallback=True, fallback_reason="no_action_index")
        history.actions.append(action_index(order, battle))
        return Decision(order=order, candidates=self._candidates(logits, allowed, battle))

    @staticmethod
    def _candidates(
        logits: list[float] | None, allowed: list[int], battle: AbstractBattle
    ) -> list[tuple[str, float]] | None:
        """The legal actions with the policy's probabilities, best first (for the report)."""
        from agents.base import action_name
        from battle.metamon_actions import order_for_index

        if logits is None:
            return None
        orders = [(i, order_for_index(i, battle)) for i in allowed]
        orders = [(i, o) for i, o in orders if o is not None]
        if not orders:
            return None
        top = max(logits[i] for i, _ in orders)
        weights = [math.exp(logits[i] - top) for i, _ in orders]
        total = sum(weights)
        ranked = [(action_name(o), w / total) for (_, o), w in zip(orders, weights, strict=True)]
        return sorted(ranked, key=lambda c: c[1], reverse=True)

    def _ranked(self, logits: list[float], allowed: list[int]) -> list[int]:
        """`allowed` in the order to try them: best first, or the sampled one first."""
        best = sorted(allowed, key=lambda i: logits[i], reverse=True)
        if self.temperature <= 0 or len(best) < 2:
            return best
        top = logits[best[0]]
        weights = [math.exp((logits[i] - top) / self.temperature) for i in best]
        first = self.rng.choices(best, weights=weights)[0]
        return [first, *(i for i in best if i != first)]

    async def close(self) -> None:
        self._histories.clear()

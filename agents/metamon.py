"""The Metamon-style transformer policy as an agent: `metamon` and `metamon:PATH`.

`metamon` plays the checkpoint shipped with the project
(`training/checkpoints/metamon-small.safetensors`); `metamon:PATH` plays any checkpoint
written by `training.model.save_checkpoint` (weights, model config and vocabulary in one
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

The model is loaded once per process (shared by both sides when they use the same
checkpoint), in eval mode, on the device `training.accel.detect_accelerator` picks. Torch
runs off the event loop, in one worker thread per model that batches: it takes every
decision waiting (of all battles and both sides), encodes their new turns in one
`encode_turns` call and decodes them in one pass over their battles' caches
(right-padded, masked), then answers each.
Many battles at once thus cost one forward pass per round instead of a queue of them.
Torch uses `METAMON_THREADS` CPU threads (default: 1, so the agents and the simulator
processes do not fight over a small machine's cores).

Environment: `METAMON_TEMPERATURE` (default 0: argmax), `METAMON_THREADS` (default 1).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.base import BaseAgent, Decision
from agents.models import ModelCache, ModelWorker
from agents.registry import register

if TYPE_CHECKING:
    import torch
    from poke_env.battle.abstract_battle import AbstractBattle

    from training.accel import Accel
    from training.entities import EntityEncoder
    from training.features import StateEncoder
    from training.model import ModelConfig, PolicyModel

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CHECKPOINT = REPO / "training" / "checkpoints" / "metamon-small.safetensors"
TEMPERATURE_ENV = "METAMON_TEMPERATURE"
THREADS_ENV = "METAMON_THREADS"
MAX_BATTLES = 256  # histories kept at most (least recently used dropped first)


class CheckpointError(ValueError):
    """A checkpoint that cannot be played: the message is one line and names the path."""


# --------------------------------------------------------------------------- the model


@dataclass
class LoadedModel:
    """One checkpoint, loaded once per process and shared by every agent that plays it."""

    path: Path
    model: PolicyModel
    config: ModelConfig
    encoder: StateEncoder | EntityEncoder  # the checkpoint's observation
    accel: Accel
    size: str
    step: int | None
    parameters: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    batcher: Batcher | None = None

    def infer(self, job: Job) -> Future:
        """Queue one decision's inference; the future holds (legal, encoded, logits)."""
        with self.lock:  # the batcher (its thread) starts with the first decision
            if self.batcher is None:
                self.batcher = Batcher(self)
        return self.batcher.submit(job)


@dataclass
class Job:
    """One decision waiting for the model: its battle's turns so far and the new state.

    While the battle fits the model's window, `cache` holds every past turn's keys and
    values in the history transformer and the pass decodes the new turn alone; past the
    window (the positions shift) `cache` is None and the window is recomputed from
    `vectors`."""

    vectors: list[torch.Tensor]  # the window's past turn vectors (d_model,) (not copied)
    cache: list[torch.Tensor] | None  # each past turn's (n_layers, 2, d_model), or None
    prev_actions: list[int]  # the same window's previous actions, then this turn's
    prev_rewards: list[float]
    state: dict[str, Any]
    want_logits: bool


@dataclass
class Encoded:
    """What a pass gives a decision besides its logits: the new turn, for the history."""

    vector: torch.Tensor  # (d_model,)
    cache: torch.Tensor | None  # (n_layers, 2, d_model), None when the window was recomputed


MAX_BATCH = 64  # decisions answered by one forward pass at most
Answer = tuple[Any, Encoded, list[float] | None]  # (legal mask, new turn, logits or None)


class Batcher(ModelWorker[Job, Answer]):
    """The model's worker (`agents.models.ModelWorker`): every waiting decision of every
    battle and side, one forward pass for all."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded
        self.batches = 0  # forward passes run (for tests and stats)
        self.decisions = 0
        super().__init__(name="metamon-batcher", max_batch=MAX_BATCH)

    def _answer(self, jobs: list[Job]) -> list[Answer]:
        import numpy as np
        import torch

        from training.accel import autocast

        loaded = self.loaded
        model, device = loaded.model, loaded.accel.device
        encoded_turns = [loaded.encoder.encode(job.state) for job in jobs]
        caches: list[torch.Tensor | None] = [None] * len(jobs)
        logits: dict[int, list[float]] = {}
        with torch.inference_mode(), autocast(loaded.accel):
            tok = torch.from_numpy(np.stack([t.tokens for t in encoded_turns])).to(device)
            num = torch.from_numpy(np.stack([t.numbers for t in encoded_turns])).to(device)
            new = model.encode_turns(tok.unsqueeze(1), num.unsqueeze(1))  # (B, 1, ...)
            vectors, keys = new.vectors[:, 0], new.keys[:, 0]  # (B, C), (B, A, C)
            cached = [i for i, job in enumerate(jobs) if job.cache is not None]
            if cached:  # every battle in its window: the new turns alone, one pass
                rows = torch.tensor(cached, device=device)
                pasts = [jobs[i].cache or [] for i in cached]  # (not None: `cached`)
                lengths = [len(p) for p in pasts]
                P = max(lengths)
                past = None
                if P:
                    entry = next(p[0] for p in pasts if p)
                    past = entry.new_zeros(len(cached), P, *entry.shape)
                    for row, p in enumerate(pasts):
                        if p:
                            past[row, : len(p)] = torch.stack(p)
                out, entries = model.decode(
                    vectors[rows],
                    keys[rows],
                    torch.tensor([jobs[i].prev_actions[-1] for i in cached], device=device),
                    torch.tensor([jobs[i].prev_rewards[-1] for i in cached], device=device),
                    past,
                    torch.tensor(lengths, device=device) if P else None,
                )
                out = out.cpu()
                for row, i in enumerate(cached):
                    caches[i] = entries[row]
                    if jobs[i].want_logits:
                        logits[i] = out[row].tolist()
            full = [i for i, job in enumerate(jobs) if job.cache is None and job.want_logits]
            if full:  # past the window: recompute it
                lengths = [len(jobs[i].vectors) + 1 for i in full]
                T = max(lengths)
                history = vectors.new_zeros(len(full), T, vectors.size(-1))
                actions = torch.full((len(full), T), -1, dtype=torch.long, device=device)
                rewards = torch.zeros(len(full), T, dtype=torch.float32, device=device)
                for row, i in enumerate(full):
                    job, n = jobs[i], lengths[row]
                    history[row, :n] = torch.stack([*job.vectors, vectors[i]])
                    actions[row, :n] = torch.tensor(job.prev_actions, dtype=torch.long)
                    rewards[row, :n] = torch.tensor(job.prev_rewards, dtype=torch.float32)
                last = torch.tensor(lengths, device=device) - 1
                out = model.act(history, keys[full], actions, rewards, last).cpu()
                for row, i in enumerate(full):
                    logits[i] = out[row].tolist()
        self.batches += 1
        self.decisions += len(jobs)
        return [
            (turn.legal, Encoded(vectors[i], caches[i]), logits.get(i))
            for i, turn in enumerate(encoded_turns)
        ]


_MODELS: ModelCache[Path, LoadedModel] = ModelCache()
_threads_set = False


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _size_of(config: ModelConfig, extra: dict[str, Any]) -> str:
    """The preset name the config was made from ("small"...), else "custom"."""
    from training.model import PRESETS

    for key in ("size", "preset"):
        if isinstance(extra.get(key), str):
            return extra[key]
    for name, fields_ in PRESETS.items():
        if all(getattr(config, k) == v for k, v in fields_.items()):
            return name
    return "custom"


def _set_threads() -> None:
    """Torch's CPU threads for inference, once per process (`METAMON_THREADS`, default 1)."""
    global _threads_set
    if _threads_set:
        return
    import torch

    raw = os.environ.get(THREADS_ENV, "").strip()
    try:
        threads = int(raw) if raw else 1
    except ValueError:
        raise ValueError(f"{THREADS_ENV}={raw!r} is not a whole number") from None
    if threads < 1:
        raise ValueError(f"{THREADS_ENV} must be at least 1, got {threads}")
    torch.set_num_threads(threads)
    _threads_set = True


def load_model(path: Path | str) -> LoadedModel:
    """The checkpoint at `path`, loaded once per process; CheckpointError if it cannot be."""
    path = Path(path).expanduser().resolve()
    return _MODELS.get(path, lambda: _load_logged(path))


def _load_logged(path: Path) -> LoadedModel:
    if not path.is_file():
        raise CheckpointError(f"no metamon checkpoint at {path}")
    try:
        loaded = _load(path)
    except Exception as exc:
        raise CheckpointError(
            f"{path} is not a readable metamon checkpoint: {_one_line(exc)}"
        ) from exc
    log.info(
        "metamon: loaded %s (%s, %d parameters, step %s) on %s",
        path,
        loaded.size,
        loaded.parameters,
        loaded.step,
        loaded.accel.device,
    )
    return loaded


def _load(path: Path) -> LoadedModel:
    from training.accel import detect_accelerator
    from training.entities import make_encoder
    from training.model import load_checkpoint
    from training.tokenizer import Vocabulary

    accel = detect_accelerator()
    if accel.device.type == "cpu":
        _set_threads()
    model, config, extra = load_checkpoint(path, device=accel.device)
    if "vocabulary" not in extra:
        raise ValueError("its metadata holds no vocabulary")
    vocab = Vocabulary.from_dict(extra["vocabulary"])
    if len(vocab) != config.vocab_size:
        raise ValueError(
            f"its vocabulary has {len(vocab)} words but the model {config.vocab_size} ids"
        )
    model.eval()
    step = extra.get("step")
    return LoadedModel(
        path=path,
        model=model,
        config=config,
        encoder=make_encoder(config.observation, vocab),
        accel=accel,
        size=_size_of(config, extra),
        step=int(step) if isinstance(step, (int, float)) else None,
        parameters=model.num_parameters(),
    )


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


# --------------------------------------------------------------------------- the agent


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
        from battle.metamon import (
            NO_ACTION,
            action_index,
            legal_indices,
            metamon_state,
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
        from battle.metamon import order_for_index

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

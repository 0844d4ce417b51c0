"""A metamon checkpoint as the `metamon` agent plays it: `load_model` loads it once per
process (shared by both sides when they use the same checkpoint), in eval mode, on the
device `training.accel.detect_accelerator` picks, with torch on `METAMON_THREADS` CPU
threads (default 1, so the agents and the simulator processes do not fight over a small
machine's cores); its `Batcher`, one worker thread per model (`agents.models`), takes every
decision waiting (of all battles and both sides), encodes their new turns in one
`encode_turns` call and decodes them in one pass over their battles' caches (right-padded,
masked), then answers each, so many battles at once cost one forward pass per round
instead of a queue of them.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.models import ModelCache, ModelWorker

if TYPE_CHECKING:
    import torch

    from training.accel import Accel
    from training.entities import EntityEncoder
    from training.features import StateEncoder
    from training.model import ModelConfig, PolicyModel

log = logging.getLogger(__name__)

THREADS_ENV = "METAMON_THREADS"


class CheckpointError(ValueError):
    """A checkpoint that cannot be played: the message is one line and names the path."""


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
    from training.checkpoint import load_checkpoint
    from training.entities import make_encoder
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

"""The LoRA-fine-tuned Ministral as an agent: `alphastral` and `alphastral:PATH_OR_ID`.

`alphastral` plays the published fine-tune (`mistral-hackaton-2026/ministral-3b-pokemon-
showdown` on the Hugging Face hub); `alphastral:PATH_OR_ID` plays a merged model folder, an
adapter folder over its base (both as `python -m finetune.train --out DIR` writes them) or
any hub id. Loading goes through `finetune.scoring.load_model` (bf16 on a GPU that has it,
float32 on a CPU). Weights that cannot be loaded (offline, a missing path, a folder that
is no model) are a one-line error before any battle starts.

Per decision the agent renders the prompt and the legal options with `battle.finetune_prompt`,
the code the dataset builder uses, so the model reads at play time exactly what it was
trained on:

    options = legal_options(battle, switches=...)     # moves; switches if trained with them
    prompt = render_prompt(battle, switches=...)
    scores = score_options(model, tokenizer, prompt, [o.text for o in options],
                           max_length=<data.max_length of the training run>)

and plays the option with the highest likelihood (or, with a temperature above 0, a sample
of softmax(scores / temperature)). Options are mapped back to the battle's own legal
orders (`battle.valid_orders`, without tera: tera is not part of a completion), so an
illegal action is never sent. When a switch is forced, or no move is legal, the options
are the switches. A decision with one option skips the model. The decision records every
option with its probability (`candidates`, best first) and a top-3 line as `reasoning`.

Training settings come from the model folder's `finetune_config.yaml` (written by
`finetune.train`): `data.max_length` cuts long prompts as training did, and the dataset's
`switches` setting (`dataset_config`, or the dataset folder's `stats.json`) says whether the
model was trained on switches. Without that file (a hub model, a hand-made folder): no
cut, moves only, as the seed's model was trained.

Environment: `ALPHASTRAL_TEMPERATURE` (default 0: argmax), `ALPHASTRAL_SWITCHES` (`0`/`1`:
override the folder's setting), `ALPHASTRAL_DEVICE` (`cpu`, `cuda`, `cuda:1`...; default:
CUDA when there is one), `ALPHASTRAL_THREADS` (torch CPU threads; default: torch's).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from poke_env.battle.move import Move
from poke_env.battle.pokemon import Pokemon
from poke_env.player.battle_order import BattleOrder, SingleBattleOrder

from agents.base import BaseAgent, Decision, action_name, legal_orders
from agents.hub import hub_reachable_or_cached
from agents.models import ModelCache, ModelWorker
from agents.registry import register

if TYPE_CHECKING:
    from poke_env.battle.abstract_battle import AbstractBattle

    from battle.finetune_prompt import Option

log = logging.getLogger(__name__)

HUB_MODEL = "mistral-hackaton-2026/ministral-3b-pokemon-showdown"
TRAINING_CONFIG = "finetune_config.yaml"
TEMPERATURE_ENV = "ALPHASTRAL_TEMPERATURE"
SWITCHES_ENV = "ALPHASTRAL_SWITCHES"
DEVICE_ENV = "ALPHASTRAL_DEVICE"
THREADS_ENV = "ALPHASTRAL_THREADS"
REASONING_TOP = 3  # options named in the reasoning line


class AlphastralLoadError(ValueError):
    """Weights the agent cannot play; the message is one line that says what to do."""


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class TrainingSettings:
    """How the model's training data was built, as far as its folder tells."""

    max_length: int | None = None  # data.max_length: prompts are cut from the left to fit
    switches: bool = False  # trained with `finetune.dataset --switches`
    source: str | None = None  # the file they were read from; None: defaults


def training_settings(folder: Path | None) -> TrainingSettings:
    """The settings in `folder/finetune_config.yaml`; defaults when absent or unreadable."""
    import json

    import yaml

    if folder is None or not (folder / TRAINING_CONFIG).is_file():
        return TrainingSettings()
    path = folder / TRAINING_CONFIG
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        log.warning("alphastral: %s is unreadable (%s): using defaults", path, exc)
        return TrainingSettings()
    if not isinstance(config, dict):
        return TrainingSettings()
    data = config.get("data")
    max_length = data.get("max_length") if isinstance(data, dict) else None
    dataset = config.get("dataset_config")
    if not isinstance(dataset, dict) and isinstance(config.get("dataset"), str):
        try:  # an older training run: the dataset folder's own record, if it is still there
            stats = json.loads((Path(config["dataset"]) / "stats.json").read_text("utf-8"))
            dataset = stats.get("config")
        except (OSError, ValueError, AttributeError):
            dataset = None
    switches = bool(dataset.get("switches")) if isinstance(dataset, dict) else False
    return TrainingSettings(
        max_length=int(max_length) if isinstance(max_length, int) and max_length > 0 else None,
        switches=switches,
        source=str(path),
    )


def _hub_settings(model_id: str) -> TrainingSettings:
    """A hub model's `finetune_config.yaml`, if it has one (after a successful load, so the
    hub answered); defaults otherwise."""
    try:
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(model_id, TRAINING_CONFIG))
    except Exception:  # no such file, offline: the seed's model has none
        return TrainingSettings()
    return training_settings(path.parent)


def _env_choice(name: str, parse: Callable[[str], Any], what: str) -> Any:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    try:
        return parse(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not {what}") from None


def _parse_bool(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def temperature_from_env() -> float:
    value = _env_choice(TEMPERATURE_ENV, float, "a number")
    if value is None:
        return 0.0
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{TEMPERATURE_ENV} must be 0 (argmax) or more, got {value}")
    return value


def switches_from_env() -> bool | None:
    return _env_choice(SWITCHES_ENV, _parse_bool, "0 or 1")


# --------------------------------------------------------------------------- the model


@dataclass
class LoadedModel:
    """One model, loaded once per process and shared by every agent that plays it."""

    key: str  # the resolved folder, or the hub id
    model: Any
    tokenizer: Any
    device: str
    dtype: str
    parameters: int
    settings: TrainingSettings
    # The model's worker (agents.models): its forwards run one at a time, in the order
    # asked (each would hold its own KV cache), off the event loop and off asyncio's
    # default executor, which other agents and poke-env share. A job is the scoring call.
    worker: ModelWorker[Callable[[], list[float]], list[float]] = field(
        default_factory=lambda: ModelWorker(
            lambda jobs: [job() for job in jobs], name="alphastral", max_batch=1
        )
    )


_MODELS: ModelCache[tuple[str, str], LoadedModel] = ModelCache()


def model_source(arg: str | None) -> str:
    """What `alphastral` (arg None: the published model) or `alphastral:ARG` loads."""
    if arg is None:
        return HUB_MODEL
    text = arg.strip()
    if not text:
        raise AlphastralLoadError(
            "alphastral: needs a model, e.g. alphastral:runs/alphastral (a folder from "
            "python -m finetune.train) or alphastral:USER/MODEL (a hub id)"
        )
    path = Path(text).expanduser()
    return str(path.resolve()) if path.exists() else text


def _device() -> str:
    device = os.environ.get(DEVICE_ENV, "").strip()
    if device:
        return device
    from finetune.scoring import default_device

    return default_device()


def load(arg: str | None, *, device: str | None = None) -> LoadedModel:
    """The model `alphastral[:arg]` plays, loaded once per process (per device)."""
    source = model_source(arg)
    if not Path(source).is_dir():  # before torch is imported: a second, not ten
        hub_reachable_or_cached(source, "alphastral", AlphastralLoadError)
    device = device or _device()
    return _MODELS.get((source, device), lambda: _load(arg, source, device))


def _load(arg: str | None, source: str, device: str) -> LoadedModel:
    from finetune.scoring import ModelLoadError, load_model

    threads = _env_choice(THREADS_ENV, int, "a whole number")
    if threads is not None:
        if threads < 1:
            raise ValueError(f"{THREADS_ENV} must be at least 1, got {threads}")
        import torch

        torch.set_num_threads(threads)
    try:
        with _quiet_hub():
            model, tokenizer = load_model(source, device=device)
    except ModelLoadError as exc:
        raise AlphastralLoadError(f"alphastral: {_with_hint(str(exc), arg)}") from None
    local = Path(source).is_dir()
    settings = training_settings(Path(source)) if local else _hub_settings(source)
    param = next(model.parameters())
    loaded = LoadedModel(
        key=source,
        model=model,
        tokenizer=tokenizer,
        device=str(param.device),
        dtype=str(param.dtype).removeprefix("torch."),
        parameters=sum(p.numel() for p in model.parameters()),
        settings=settings,
    )
    log.info(
        "alphastral: loaded %s on %s (%s, %d parameters, max_length %s, switches %s)",
        source,
        loaded.device,
        loaded.dtype,
        loaded.parameters,
        settings.max_length,
        settings.switches,
    )
    return loaded


@contextlib.contextmanager
def _quiet_hub() -> Iterator[None]:
    """The hub client's retry warnings ("Retrying in 8s") while loading: the failure, if it
    comes, is one line of ours. Shown with DEBUG logging."""
    names = ("huggingface_hub", "transformers")
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    if not log.isEnabledFor(logging.DEBUG):
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        hf_logging.disable_progress_bar()  # "Loading weights": the log line says it loaded
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
        if bars:
            hf_logging.enable_progress_bar()


def _with_hint(message: str, arg: str | None) -> str:
    """load_model's one line, plus what to do when it does not say."""
    if arg is None:
        return (
            f"{message} (the published model {HUB_MODEL} needs the hub: or play your own "
            "with alphastral:DIR)"
        )
    if "pass" in message or "set " in message:
        return message
    return (
        f"{message}: pass alphastral:DIR with DIR a merged model or adapter folder "
        "(python -m finetune.train ... --out DIR), or alphastral:USER/MODEL for a hub id"
    )


def check(arg: str | None = None) -> None:
    """Registry check, before any battle: the settings parse and the model loads (it is
    then cached for the run)."""
    temperature_from_env()
    switches_from_env()
    load(arg)


# --------------------------------------------------------------------------- the agent


@dataclass(frozen=True)
class Choice:
    """One scored decision: what the model read, what it weighed, what it chose."""

    prompt: str
    options: list[Option]
    probabilities: list[float]  # softmax of the scores, in `options` order
    chosen: int  # index into `options`
    order: BattleOrder


def order_for(option: Option, orders: Sequence[SingleBattleOrder]) -> SingleBattleOrder | None:
    """The plain (no tera, mega, ...) legal order an option names, or None."""
    for order in orders:
        if order.terastallize or order.mega or order.z_move or order.dynamax:
            continue
        target = order.order
        if option.kind == "move" and isinstance(target, Move) and target.id == option.id:
            return order
        if option.kind == "switch" and isinstance(target, Pokemon) and target.species == option.id:
            return order
    return None


def _short(option: Option) -> str:
    """`Flash Cannon` for a move's completion, `Switch to Garchomp` for a switch."""
    return option.text.split(" (", 1)[0] if option.kind == "move" else option.text


@register(
    "alphastral",
    help=f"the LoRA-fine-tuned Ministral: {HUB_MODEL}, or alphastral:DIR_OR_HUB_ID",
    check=check,
    example="alphastral:finetune/out/model",
)
class AlphastralAgent(BaseAgent):
    """A fine-tuned causal LM choosing among the legal options by their likelihood."""

    def __init__(
        self,
        seed: int | None = None,
        arg: str | None = None,
        *,
        temperature: float | None = None,
        switches: bool | None = None,
        batched: bool = True,
        batch_size: int = 16,
        device: str | None = None,
    ):
        super().__init__(seed)
        self._loaded = load(arg, device=device)
        self.name = "alphastral" if arg is None else f"alphastral:{arg}"
        self.resolved = self._loaded.key
        self.temperature = temperature_from_env() if temperature is None else float(temperature)
        if not math.isfinite(self.temperature) or self.temperature < 0:
            raise ValueError(f"temperature must be 0 (argmax) or more, got {self.temperature}")
        settings = self._loaded.settings
        if switches is None:
            switches = switches_from_env()
        self.switches = settings.switches if switches is None else bool(switches)
        self.max_length = settings.max_length
        self.batched = batched  # False: one forward per option (the benchmark's baseline)
        self.batch_size = batch_size
        self.params = {
            "model": self._loaded.key,
            "device": self._loaded.device,
            "dtype": self._loaded.dtype,
            "parameters": self._loaded.parameters,
            "max_length": self.max_length,
            "switches": self.switches,
            "temperature": self.temperature,
            "batched": self.batched,
        }

    # -- deciding ------------------------------------------------------------------------

    async def decide(self, battle: AbstractBattle) -> Decision:
        choice = await self.choose(battle)
        if choice is None:  # nothing the prompt format can express (none seen in practice)
            return Decision(
                order=self.random_order(battle), fallback=True, fallback_reason="no_options"
            )
        orders = legal_orders(battle)
        ranked = sorted(range(len(choice.options)), key=lambda i: -choice.probabilities[i])
        candidates = []
        for i in ranked:
            order = order_for(choice.options[i], orders)
            name = action_name(order) if order is not None else choice.options[i].text
            candidates.append((name, round(choice.probabilities[i], 6)))
        reasoning = ", ".join(
            f"{_short(choice.options[i])} {choice.probabilities[i]:.0%}"
            for i in ranked[:REASONING_TOP]
        )
        return Decision(order=choice.order, reasoning=reasoning, candidates=candidates)

    async def choose(self, battle: AbstractBattle) -> Choice | None:
        """Render, score and pick; None when there is no option to score."""
        from battle.finetune_prompt import legal_options, render_prompt

        switches = self.switches
        options = legal_options(battle, switches=switches)
        if not options and not switches:  # no legal move: the switches are the options
            switches = True
            options = legal_options(battle, switches=True)
        orders = legal_orders(battle)
        # only options that map to a legal order are offered (all of them, in practice)
        options = [o for o in options if order_for(o, orders) is not None]
        if not options:
            return None
        prompt = render_prompt(battle, switches=switches)
        if len(options) == 1:
            probabilities = [1.0]
        else:
            texts = [o.text for o in options]
            scores = await self._loaded.worker.run(functools.partial(self._score, prompt, texts))
            probabilities = _softmax(scores, 1.0)
        chosen = self._pick(probabilities)
        order = order_for(options[chosen], orders)
        assert order is not None  # filtered above
        return Choice(prompt, options, probabilities, chosen, order)

    def _score(self, prompt: str, texts: list[str]) -> list[float]:
        """Each option's log-likelihood: in the model's worker thread."""
        from finetune.scoring import score_options, score_options_one_by_one

        loaded = self._loaded
        if not self.batched:
            return score_options_one_by_one(
                loaded.model, loaded.tokenizer, prompt, texts, max_length=self.max_length
            )
        return score_options(
            loaded.model,
            loaded.tokenizer,
            prompt,
            texts,
            batch_size=self.batch_size,
            max_length=self.max_length,
        )

    def _pick(self, probabilities: list[float]) -> int:
        best = max(range(len(probabilities)), key=probabilities.__getitem__)
        if self.temperature <= 0 or len(probabilities) < 2:
            return best
        logs = [math.log(max(p, 1e-300)) for p in probabilities]
        weights = _softmax(logs, self.temperature)
        return self.rng.choices(range(len(weights)), weights=weights)[0]


def _softmax(scores: Sequence[float], temperature: float) -> list[float]:
    from finetune.scoring import softmax

    return softmax([s / temperature for s in scores])

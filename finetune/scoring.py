"""How a (prompt, completion) pair becomes tokens, how options are scored, how models load.

    from finetune.scoring import load_model, score_options
    model, tokenizer = load_model("runs/alphastral-tiny")        # merged model, adapter or hub id
    scores = score_options(model, tokenizer, prompt, ["Surf (water, 90pw, special)", ...])
    best = max(range(len(scores)), key=scores.__getitem__)

One place decides how a prompt and a completion are joined: `format_example`. Training
(`finetune/train.py`), evaluation (`finetune/evaluate.py`) and the `alphastral` agent all go
through it, so the tokens scored at play time are exactly the tokens trained on:

- a tokenizer with a chat template (Ministral): the prompt is one user message rendered
  with the generation prompt (`<s>[INST]...[/INST]`), the completion is what the template
  adds after it for the assistant's answer (`Flash Cannon (...)</s>`);
- a tokenizer without one (the tiny model): `<s>` + prompt + newline, then completion + `</s>`.

Both strings carry their special tokens as text and are tokenized with
`add_special_tokens=False`, prompt and completion separately (`encode_example`), so the
completion's tokens never merge with the prompt's and always end with EOS.

`score_options` returns each option's summed log-likelihood (its tokens, EOS included,
given the prompt). It runs the prompt once, keeps its KV cache, and scores the options in
right-padded batches over copies of that cache: one forward for the prompt plus one per
batch of options. `score_options_one_by_one` runs prompt + option through the model once
per option; both give the same numbers (to ~1e-5 in fp32), and the benchmark compares them.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"


class ModelLoadError(RuntimeError):
    """Weights that cannot be loaded; the message is one line that says what to do."""


# --------------------------------------------------------------------------------------
# prompt + completion -> text -> tokens


def format_example(prompt: str, completion: str, tokenizer: Any) -> tuple[str, str]:
    """(prompt text, completion text) as the model reads them, special tokens included.

    The tokenizer decides: its chat template when it has one, else `<s>prompt\\n` and
    `completion</s>`. The completion text always ends with the EOS token (or, with a
    template that adds text after EOS, contains it).
    """
    eos = tokenizer.eos_token or ""
    if getattr(tokenizer, "chat_template", None):
        user = [{"role": "user", "content": prompt}]
        head = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(
            [*user, {"role": "assistant", "content": completion}], tokenize=False
        )
        # a template that renders the last turn differently: keep our own join
        tail = full[len(head) :] if full.startswith(head) else completion
        if eos and eos not in tail:
            tail += eos
        return head, tail
    return f"{tokenizer.bos_token or ''}{prompt}\n", f"{completion}{eos}"


def encode_example(
    tokenizer: Any, prompt: str, completion: str, max_length: int | None = None
) -> tuple[list[int], list[int]]:
    """(prompt ids, completion ids) of `format_example`, the prompt cut from the left so
    that both fit in `max_length` tokens. The completion is never cut; one longer than
    `max_length` raises ValueError."""
    head, tail = format_example(prompt, completion, tokenizer)
    prompt_ids = tokenizer(head, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(tail, add_special_tokens=False)["input_ids"]
    if max_length is not None:
        room = max_length - len(completion_ids)
        if room < 1:
            raise ValueError(
                f"a completion of {len(completion_ids)} tokens leaves no room for the prompt "
                f"in max_length {max_length}"
            )
        prompt_ids = prompt_ids[-room:]
    return prompt_ids, completion_ids


def _option_ids(
    tokenizer: Any, prompt: str, options: Sequence[str], max_length: int | None = None
) -> tuple[list[int], list[list[int]]]:
    """The prompt's ids (the same for every option) and each option's completion ids; with
    `max_length`, the prompt is cut from the left so the longest option fits."""
    prompt_ids: list[int] | None = None
    out = []
    for option in options:
        p, c = encode_example(tokenizer, prompt, option)
        if prompt_ids is None:
            prompt_ids = p
        elif p != prompt_ids:  # a template whose prompt part depends on the answer
            raise ValueError("the prompt's tokens depend on the completion: cannot share them")
        out.append(c)
    prompt_ids = prompt_ids or []
    if max_length is not None and out:
        room = max(1, max_length - max(len(c) for c in out))
        prompt_ids = prompt_ids[-room:]
    return prompt_ids, out


# --------------------------------------------------------------------------------------
# scoring


def _device(model: Any) -> Any:
    return next(model.parameters()).device


def score_options(
    model: Any,
    tokenizer: Any,
    prompt: str,
    options: Sequence[str],
    *,
    batch_size: int = 16,
    use_cache: bool = True,
    max_length: int | None = None,
) -> list[float]:
    """The summed log-likelihood of each option's tokens (EOS included) given `prompt`.

    One forward over the prompt (its KV cache kept), then one per batch of at most
    `batch_size` options, right-padded, each over a copy of the prompt's cache repeated
    to the batch. `use_cache=False` puts the prompt in every row instead (plain batching:
    same numbers, more work). `max_length` cuts the prompt from the left as training did
    (pass the training config's `data.max_length`). No gradients; one float per option,
    in order.
    """
    import torch

    if not options:
        return []
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    prompt_ids, option_ids = _option_ids(tokenizer, prompt, options, max_length)
    if not use_cache or not prompt_ids:
        return _score_full(model, tokenizer, prompt_ids, option_ids, batch_size)
    device = _device(model)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    scores: list[float] = []
    with torch.inference_mode():
        head = torch.tensor([prompt_ids], device=device)  # (1, P)
        out = model(input_ids=head, use_cache=True)
        cache = out.past_key_values
        # the first token of every option is predicted by the prompt's last position
        first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)  # (V,)
        n_prompt = head.shape[1]
        for start in range(0, len(option_ids), batch_size):
            chunk = option_ids[start : start + batch_size]
            b, width = len(chunk), max(len(c) for c in chunk)
            ids = torch.full((b, width), pad, dtype=torch.long, device=device)  # (B, L)
            mask = torch.zeros((b, n_prompt + width), dtype=torch.long, device=device)
            mask[:, :n_prompt] = 1
            for i, c in enumerate(chunk):
                ids[i, : len(c)] = torch.tensor(c, device=device)
                mask[i, n_prompt : n_prompt + len(c)] = 1
            batch_cache = copy.deepcopy(cache)
            batch_cache.batch_repeat_interleave(b)
            logits = model(
                input_ids=ids, attention_mask=mask, past_key_values=batch_cache, use_cache=True
            ).logits  # (B, L, V)
            logp = torch.log_softmax(logits.float(), dim=-1)
            for i, c in enumerate(chunk):
                total = first[c[0]].item()
                if len(c) > 1:
                    # position j predicts token j + 1
                    targets = torch.tensor(c[1:], device=device)
                    total += logp[i, : len(c) - 1].gather(1, targets[:, None]).sum().item()
                scores.append(total)
    return scores


def _score_full(
    model: Any,
    tokenizer: Any,
    prompt_ids: list[int],
    option_ids: list[list[int]],
    batch_size: int,
) -> list[float]:
    """Score each option with prompt + option in one right-padded row, `batch_size` rows a
    forward."""
    import torch

    device = _device(model)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    n_prompt = len(prompt_ids)
    scores: list[float] = []
    with torch.inference_mode():
        for start in range(0, len(option_ids), batch_size):
            chunk = option_ids[start : start + batch_size]
            rows = [prompt_ids + c for c in chunk]
            width = max(len(r) for r in rows)
            ids = torch.full((len(rows), width), pad, dtype=torch.long, device=device)  # (B, T)
            mask = torch.zeros_like(ids)
            for i, r in enumerate(rows):
                ids[i, : len(r)] = torch.tensor(r, device=device)
                mask[i, : len(r)] = 1
            logits = model(input_ids=ids, attention_mask=mask).logits  # (B, T, V)
            logp = torch.log_softmax(logits.float(), dim=-1)
            for i, c in enumerate(chunk):
                # tokens n_prompt .. n_prompt+len(c)-1, predicted by the position before each
                pos = torch.arange(n_prompt - 1, n_prompt - 1 + len(c), device=device)
                if n_prompt == 0:  # no prompt: the first token has no prediction
                    pos, c = pos[1:], c[1:]
                targets = torch.tensor(c, device=device, dtype=torch.long)
                scores.append(logp[i, pos, targets].sum().item() if len(c) else 0.0)
    return scores


def score_options_one_by_one(
    model: Any,
    tokenizer: Any,
    prompt: str,
    options: Sequence[str],
    *,
    max_length: int | None = None,
    **_: Any,
) -> list[float]:
    """`score_options` the slow way: one forward of prompt + option per option, no padding,
    no cache. The reference the batched version is tested against, and the benchmark's
    baseline."""
    prompt_ids, option_ids = _option_ids(tokenizer, prompt, options, max_length)
    return [_score_full(model, tokenizer, prompt_ids, [c], 1)[0] for c in option_ids]


def softmax(scores: Sequence[float]) -> list[float]:
    """Scores as probabilities over the options (for a decision record's top choices)."""
    if not scores:
        return []
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


# --------------------------------------------------------------------------------------
# loading


def pick_dtype(device: str) -> Any:
    """bf16 on a CUDA GPU that supports it, float32 elsewhere."""
    import torch

    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def attention_implementation(device: str) -> str:
    """flash_attention_2 when flash-attn is installed and the model runs on a GPU, else sdpa."""
    if device.startswith("cuda"):
        import importlib.util

        if importlib.util.find_spec("flash_attn") is not None:
            return "flash_attention_2"
    return "sdpa"


def auto_model_class(config: Any) -> Any:
    """AutoModelForCausalLM, or AutoModelForImageTextToText for a model type that only has
    that head (Ministral 3 is published as `Mistral3ForConditionalGeneration`: a text
    decoder with a vision encoder; text-only inputs use the decoder alone)."""
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText
    from transformers.models.auto import modeling_auto

    if config.model_type in modeling_auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return AutoModelForCausalLM
    if config.model_type in modeling_auto.MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES:
        return AutoModelForImageTextToText
    return AutoModelForCausalLM


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _hub_hint(path_or_id: str) -> str:
    return (
        f"cannot load {path_or_id!r}: not a folder with config.json or {ADAPTER_CONFIG}, and "
        "the Hugging Face hub is unreachable (offline?): pass a local path "
        "(python -m finetune.train ... --out DIR) or set HF_HUB_OFFLINE=0 with network"
    )


def load_model(
    path_or_id: str | Path,
    *,
    device: str | None = None,
    dtype: Any = None,
    attn_implementation: str | None = None,
) -> tuple[Any, Any]:
    """(model, tokenizer), in eval mode, on `device` (default: CUDA if there is one).

    `path_or_id` is a merged model folder (config.json + safetensors + tokenizer), an adapter
    folder (adapter_config.json: its `base_model_name_or_path` is loaded, then the adapter
    applied with peft; the tokenizer comes from the adapter folder when it has one, else
    the base), or a Hugging Face hub id. bf16 on a GPU that has it, float32 on a CPU.
    Every failure raises ModelLoadError with a one-line message.
    """
    device = device or default_device()
    dtype = dtype if dtype is not None else pick_dtype(device)
    attn = attn_implementation or attention_implementation(device)
    name = str(path_or_id)
    path = Path(name).expanduser()
    local = path.exists()
    if local and not path.is_dir():
        raise ModelLoadError(f"cannot load {name!r}: a file, expected a model or adapter folder")
    if local and not (path / "config.json").exists() and not (path / ADAPTER_CONFIG).exists():
        raise ModelLoadError(
            f"cannot load {name!r}: the folder has neither config.json (a merged model) nor "
            f"{ADAPTER_CONFIG} (an adapter): pass the --out folder of python -m finetune.train"
        )
    looks_local = local or name.startswith((".", "/", "~")) or name.count("/") > 1
    if looks_local and not local:
        raise ModelLoadError(f"cannot load {name!r}: no such folder")
    try:
        if local and (path / ADAPTER_CONFIG).exists():
            model, tokenizer = _load_adapter(path, dtype, attn)
        else:
            model, tokenizer = _load_merged(str(path) if local else name, dtype, attn)
    except ModelLoadError:
        raise
    except OSError as e:
        text = _one_line(e)
        if not local and any(w in text.lower() for w in ("offline", "connect", "resolve", "hub")):
            raise ModelLoadError(_hub_hint(name)) from None
        raise ModelLoadError(f"cannot load {name!r}: {text}") from None
    except Exception as e:  # corrupt weights, unknown architecture, peft mismatch...
        raise ModelLoadError(f"cannot load {name!r}: {type(e).__name__}: {_one_line(e)}") from None
    try:
        model.to(device)
    except Exception as e:
        raise ModelLoadError(f"cannot move {name!r} to {device}: {_one_line(e)}") from None
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    log.info("loaded %s on %s (%s, attention %s)", name, device, str(dtype)[6:], attn)
    return model, tokenizer


def _load_merged(name: str, dtype: Any, attn: str) -> tuple[Any, Any]:
    from transformers import AutoConfig, AutoTokenizer

    config = AutoConfig.from_pretrained(name)
    cls = auto_model_class(config)
    model = cls.from_pretrained(name, config=config, dtype=dtype, attn_implementation=attn)
    tokenizer = AutoTokenizer.from_pretrained(name)
    return model, tokenizer


def _load_adapter(path: Path, dtype: Any, attn: str) -> tuple[Any, Any]:
    import json

    from peft import PeftModel
    from transformers import AutoTokenizer

    try:
        base = json.loads((path / ADAPTER_CONFIG).read_text(encoding="utf-8"))[
            "base_model_name_or_path"
        ]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ModelLoadError(
            f"cannot load adapter {str(path)!r}: {ADAPTER_CONFIG} has no readable "
            f"base_model_name_or_path ({_one_line(e)})"
        ) from None
    if not base:
        raise ModelLoadError(f"cannot load adapter {str(path)!r}: no base_model_name_or_path")
    try:
        model, base_tokenizer = _load_merged(base, dtype, attn)
    except OSError as e:
        local = Path(base).exists()
        if not local and not base.startswith((".", "/", "~")):
            raise ModelLoadError(
                f"cannot load the base {base!r} of adapter {str(path)!r}: the Hugging Face hub "
                "is unreachable (offline?) or the id is wrong: set HF_HUB_OFFLINE=0 with "
                "network, or load a merged model instead"
            ) from None
        raise ModelLoadError(
            f"cannot load the base {base!r} of adapter {str(path)!r}: {_one_line(e)}"
        ) from None
    model = PeftModel.from_pretrained(model, str(path))
    has_tokenizer = any(
        (path / f).exists() for f in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
    )
    tokenizer = AutoTokenizer.from_pretrained(str(path)) if has_tokenizer else base_tokenizer
    return model, tokenizer

"""A tiny Mistral-architecture model and tokenizer, built locally: no download, no network.

    from finetune.tiny import build_tiny_model
    build_tiny_model("runs/tiny-base", seed=0)      # then from_pretrained("runs/tiny-base")

Used by the tests, `bench/alphastral.py` and `finetune/configs/tiny_cpu.yaml` (`model: tiny`).
The tokenizer is a byte-level BPE (so any text encodes, nothing maps to <unk>) trained on a
small text made from poke-env's bundled generation-9 data: species and move names, types,
move categories and the words prompts use. The model is a `MistralForCausalLM` (the same
architecture family as Ministral) with a few hundred thousand weights. Building it takes
about a second and is deterministic for a seed: the same seed gives the same tokenizer and
bit-identical weights.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SPECIAL_TOKENS = ("<unk>", "<s>", "</s>", "<pad>")
PROMPT_WORDS = (
    "Turn. Weather: none rain sun sand snow. Your pokemon: Opponent: HP healthy fainted "
    "burned paralyzed poisoned asleep frozen | Type: Atk: Def: SpA: SpD: Spe: "
    "Moves seen: What move do you use? Switch to Tera pw physical special status"
)


@dataclass(frozen=True)
class TinySpec:
    """The tiny model's shape (MistralConfig fields)."""

    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 1024
    vocab_size: int = 2000  # the BPE's target size (the trained one may be a little smaller)
    # Wider than Mistral's 0.02: LoRA leaves the output head and final norm frozen, and at
    # 0.02 a 64-wide head can only move logits by a fraction of a nat, whatever LoRA does.
    initializer_range: float = 0.2


def corpus_lines() -> list[str]:
    """The text the tokenizer learns from, in a fixed order (deterministic)."""
    from poke_env.data import GenData

    data = GenData.from_gen(9)
    lines = [PROMPT_WORDS]
    for key in sorted(data.pokedex):
        entry = data.pokedex[key]
        types = "/".join(t.lower() for t in entry.get("types", []))
        lines.append(f"{entry['name']} | Type: {types}")
    for key in sorted(data.moves):
        move = data.moves[key]
        power = move.get("basePower", 0)
        category = str(move.get("category", "")).lower()
        lines.append(f"{move['name']} ({str(move.get('type', '')).lower()}, {power}pw, {category})")
    lines.extend(f"{n}/100 {n}pw Turn {n}." for n in range(0, 151, 5))
    return lines


def build_tokenizer(vocab_size: int = TinySpec.vocab_size):
    """A byte-level BPE `PreTrainedTokenizerFast` with <s>, </s>, <pad> and <unk>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus_lines(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="<unk>",
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        padding_side="right",
    )


def build_tiny_model(out_dir: str | Path, *, seed: int = 0, spec: TinySpec | None = None) -> Path:
    """Build the tiny model and tokenizer and `save_pretrained` both into `out_dir`.

    Returns `out_dir`; `AutoModelForCausalLM.from_pretrained(out_dir)` and
    `AutoTokenizer.from_pretrained(out_dir)` load them back. The global torch RNG is left
    as it was.
    """
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    spec = spec or TinySpec()
    out = Path(out_dir)
    tokenizer = build_tokenizer(spec.vocab_size)
    config = MistralConfig(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads,
        num_key_value_heads=spec.num_key_value_heads,
        max_position_embeddings=spec.max_position_embeddings,
        sliding_window=None,
        initializer_range=spec.initializer_range,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MistralForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    log.info(
        "tiny model: %.2fM parameters, %d tokens, saved to %s",
        model.num_parameters() / 1e6,
        len(tokenizer),
        out,
    )
    return out

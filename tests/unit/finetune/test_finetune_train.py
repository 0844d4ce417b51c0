"""finetune/: the tiny model, format_example and label masking, batched option scoring,
load_model's errors, a tiny LoRA run end to end through the CLI (merged and adapter-only),
evaluation, and the one-line errors of bad input. CPU only, offline, one torch thread."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from finetune import evaluate as ev  # noqa: E402
from finetune import train as ft  # noqa: E402
from finetune import train_data  # noqa: E402
from finetune.scoring import (  # noqa: E402
    ModelLoadError,
    encode_example,
    format_example,
    load_model,
    score_options,
    score_options_one_by_one,
)
from finetune.tiny import build_tiny_model  # noqa: E402

pytestmark = [pytest.mark.usefixtures("torch_one_thread"), pytest.mark.slow]

# The rule a tiny model can learn: the right move is the one super effective on the
# opponent's type, whatever order the options come in.
BEST = {
    "fire": "Surf (water, 90pw, special)",
    "water": "Thunderbolt (electric, 90pw, special)",
    "grass": "Flamethrower (fire, 90pw, special)",
    "electric": "Earthquake (ground, 100pw, physical)",
}
SPECIES = {
    "fire": ("Charizard", "Arcanine"),
    "water": ("Blastoise", "Vaporeon"),
    "grass": ("Venusaur", "Leafeon"),
    "electric": ("Jolteon", "Raichu"),
}
PROMPT = (
    "Turn {turn}. Weather: none. Your pokemon: Mew (100/100 HP, healthy) | Type: psychic | "
    "Atk: 100 SpA: 100 Spe: 100. Opponent: {mon} ({hp}/100 HP, healthy) | Type: {type} | "
    "Def: 80 SpD: 80 Spe: 90. What move do you use?"
)


def make_records(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for i in range(n):
        kind = rng.choice(sorted(BEST))
        options = list(BEST.values())
        rng.shuffle(options)
        options = options[: rng.randint(3, 4)]
        if BEST[kind] not in options:
            options[0] = BEST[kind]
        records.append(
            {
                "prompt": PROMPT.format(
                    turn=rng.randint(1, 30),
                    mon=rng.choice(SPECIES[kind]),
                    hp=rng.randint(1, 100),
                    type=kind,
                ),
                "completion": BEST[kind],
                "options": options,
                "battle_id": f"gen9randombattle-{seed}{i // 4}",
                "turn": i % 4 + 1,
                "side": "p1",
                "format": "gen9randombattle",
                "rating": 1500,
            }
        )
    return records


def example_ids(tok, rec: dict):
    """(1, T) ids of a record's prompt + completion, as training and scoring see them."""
    prompt_ids, completion_ids = encode_example(tok, rec["prompt"], rec["completion"])
    return torch.tensor([prompt_ids + completion_ids])


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> Path:
    """40 training pairs, 16 validation pairs with options and 2 without."""
    d = tmp_path_factory.mktemp("pairs")
    write_jsonl(d / "train.jsonl", make_records(40, seed=0))
    val = make_records(16, seed=1)
    bare = [{"prompt": r["prompt"], "completion": r["completion"]} for r in make_records(2, 2)]
    write_jsonl(d / "val.jsonl", val + bare)
    return d


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, torch_one_thread) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "base", seed=0)


@pytest.fixture(scope="module")
def tiny_loaded(tiny):
    return load_model(tiny, device="cpu")


TINY_ARGS = ["--config", "finetune/configs/tiny_cpu.yaml", "--train.progress", "false"]


def run_train(*argv: str) -> int:
    return ft.main(ft.make_parser().parse_args([*TINY_ARGS, *argv]))


@pytest.fixture(scope="module")
def merged_run(tmp_path_factory, pairs, torch_one_thread) -> Path:
    out = tmp_path_factory.mktemp("run") / "merged"
    assert run_train("--data", str(pairs), "--out", str(out)) == 0
    return out


# -- the tiny model --------------------------------------------------------------------


def test_tiny_model_is_deterministic_fast_and_reloads(tmp_path, tiny):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    again = build_tiny_model(tmp_path / "again", seed=0)
    assert time.perf_counter() - start < 3.0
    other = build_tiny_model(tmp_path / "other", seed=1)
    a = AutoModelForCausalLM.from_pretrained(tiny)
    b = AutoModelForCausalLM.from_pretrained(again)
    c = AutoModelForCausalLM.from_pretrained(other)
    assert type(a).__name__ == "MistralForCausalLM"
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    tok = AutoTokenizer.from_pretrained(tiny)
    assert tok.get_vocab() == AutoTokenizer.from_pretrained(again).get_vocab()
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token) == (
        "<s>",
        "</s>",
        "<pad>",
        "<unk>",
    )
    text = make_records(1, 0)[0]["prompt"] + " Flash Cannon (steel, 80pw, special)"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.unk_token_id not in ids and max(ids) < a.config.vocab_size
    assert tok.decode(ids) == text
    assert len(ids) < len(text) / 2  # the BPE learned the domain's words


# -- format_example, labels ------------------------------------------------------------


def test_format_example_plain_and_label_masking(tiny_loaded):
    _, tok = tiny_loaded
    rec = make_records(1, 0)[0]
    head, tail = format_example(rec["prompt"], rec["completion"], tok)
    assert head == f"<s>{rec['prompt']}\n"
    assert tail == f"{rec['completion']}</s>"
    p, c = encode_example(tok, rec["prompt"], rec["completion"])
    assert p[0] == tok.bos_token_id and c[-1] == tok.eos_token_id
    assert tok.decode(c[:-1]) == rec["completion"]

    (ex,) = train_data.tokenize_pairs(tok, [ev.PairRecord(rec["prompt"], rec["completion"])], 512)
    assert ex.input_ids == p + c
    assert ex.labels == [-100] * len(p) + c  # only the completion (and EOS) is learned

    # max_length cuts the prompt from the left, never the completion
    (cut,) = train_data.tokenize_pairs(tok, [ev.PairRecord(rec["prompt"], rec["completion"])], 24)
    assert len(cut.input_ids) == 24
    assert cut.input_ids[-len(c) :] == c and cut.input_ids[: 24 - len(c)] == p[-(24 - len(c)) :]
    assert cut.labels == [-100] * (24 - len(c)) + c

    batch = train_data.CompletionCollator(tok.pad_token_id)(
        [train_data.PairDataset([ex])[0], train_data.PairDataset([cut])[0]]
    )
    assert batch["input_ids"].shape == (2, len(ex.input_ids))
    assert batch["attention_mask"][1].sum() == 24
    assert (batch["labels"][1, 24:] == -100).all()
    assert (batch["input_ids"][1, 24:] == tok.pad_token_id).all()


def test_format_example_uses_the_chat_template(tiny_loaded):
    model, tok = tiny_loaded
    tok.chat_template = (
        "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST]{{ m['content'] }}"
        "[/INST]{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
    )
    try:
        head, tail = format_example("Turn 1. What move?", "Surf (water, 90pw, special)", tok)
        assert head == "<s>[INST]Turn 1. What move?[/INST]"
        assert tail == "Surf (water, 90pw, special)</s>"
        rec = make_records(1, 3)[0]
        batched = score_options(model, tok, rec["prompt"], rec["options"])
        assert batched == pytest.approx(
            score_options_one_by_one(model, tok, rec["prompt"], rec["options"]), abs=1e-4
        )
    finally:
        tok.chat_template = None


# -- scoring ---------------------------------------------------------------------------


def test_batched_scoring_equals_one_by_one(tiny_loaded):
    model, tok = tiny_loaded
    rec = make_records(1, 4)[0]
    options = [
        *BEST.values(),
        "Flash Cannon (steel, 80pw, special)",
        "Switch to Garchomp",
        "Protect (normal, 0pw, status)",
        "Close Combat (fighting, 120pw, physical)",
        "U-turn (bug, 70pw, physical)",
    ]  # 9 options of different lengths: padding and a batch boundary at 4
    reference = score_options_one_by_one(model, tok, rec["prompt"], options)
    assert len(reference) == 9 and all(s < 0 for s in reference)
    assert len(set(reference)) == 9
    for kwargs in ({}, {"batch_size": 4}, {"batch_size": 4, "use_cache": False}):
        scores = score_options(model, tok, rec["prompt"], options, **kwargs)
        assert scores == pytest.approx(reference, abs=1e-4), kwargs
    # a prompt cut to max_length scores the same both ways, and differently from the whole
    cut = score_options(model, tok, rec["prompt"], options, batch_size=4, max_length=30)
    assert cut == pytest.approx(
        score_options_one_by_one(model, tok, rec["prompt"], options, max_length=30), abs=1e-4
    )
    assert cut != pytest.approx(reference, abs=1e-3)
    assert score_options(model, tok, rec["prompt"], []) == []
    # the score is the sum of the option's token log-probs, EOS included
    p, c = encode_example(tok, rec["prompt"], options[0])
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([p + c])).logits[0], -1)
    by_hand = sum(logp[len(p) - 1 + j, t].item() for j, t in enumerate(c))
    assert reference[0] == pytest.approx(by_hand, abs=1e-4)


# -- load_model errors -------------------------------------------------------------------


def _one_line(e: pytest.ExceptionInfo) -> str:
    text = str(e.value)
    assert "\n" not in text and text
    return text


def test_load_model_errors_are_one_line(tmp_path, monkeypatch):
    with pytest.raises(ModelLoadError) as e:
        load_model(tmp_path / "missing", device="cpu")
    assert "no such folder" in _one_line(e)
    with pytest.raises(ModelLoadError) as e:
        load_model(tmp_path, device="cpu")
    assert "neither config.json" in _one_line(e) and "finetune.train" in _one_line(e)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError) as e:
        load_model(broken, device="cpu")
    assert _one_line(e).startswith(f"cannot load {str(broken)!r}")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": ""}))
    with pytest.raises(ModelLoadError) as e:
        load_model(adapter, device="cpu")
    assert "base_model_name_or_path" in _one_line(e)

    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError) as e:
        load_model("someone/not-cached-here", device="cpu")
    assert "hub is unreachable" in _one_line(e) and "HF_HUB_OFFLINE" in _one_line(e)


# -- training end to end -------------------------------------------------------------------


def test_tiny_lora_run_learns_and_saves_a_merged_model(merged_run, capsys):
    report = json.loads((merged_run / "eval.json").read_text())
    assert report["steps"] == 40
    assert report["eval_loss"] < report["eval_loss_before"] / 4
    acc = report["accuracy"]
    assert acc["scored"] == 16 and acc["skipped_no_options"] == 2
    assert acc["chance_top1"] < 0.35 and acc["top1"] >= 0.75  # learned the rule
    for name in ("config.json", "model.safetensors", "tokenizer.json", "finetune_config.yaml"):
        assert (merged_run / name).is_file(), name
    assert not (merged_run / "adapter_config.json").exists()
    assert (merged_run / "adapter" / "adapter_config.json").is_file()
    saved = (merged_run / "finetune_config.yaml").read_text()
    assert "max_length: 256" in saved


def test_merged_weights_reload_equal_and_match_the_adapter(merged_run):
    merged, tok = load_model(merged_run, device="cpu")
    adapted, tok2 = load_model(merged_run / "adapter", device="cpu")
    assert type(adapted).__name__ == "PeftModelForCausalLM"
    assert tok.get_vocab() == tok2.get_vocab()
    rec = make_records(1, 5)[0]
    ids = example_ids(tok, rec)
    with torch.no_grad():
        unmerged_logits = adapted(input_ids=ids).logits
    in_memory = adapted.merge_and_unload().state_dict()
    reloaded = merged.state_dict()
    assert in_memory.keys() == reloaded.keys()
    for k in in_memory:
        assert torch.equal(in_memory[k], reloaded[k]), k
    base, _ = load_model(merged_run / "base-tiny", device="cpu")
    changed = [k for k, v in base.state_dict().items() if not torch.equal(v, reloaded[k])]
    assert any("q_proj" in k for k in changed) and any("down_proj" in k for k in changed)
    with torch.no_grad():
        merged_logits = merged(input_ids=ids).logits
    torch.testing.assert_close(merged_logits, unmerged_logits, atol=1e-4, rtol=1e-4)


def test_adapter_only_run_loads_over_its_base_to_the_merged_logits(
    merged_run, pairs, tmp_path, monkeypatch, capsys
):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    out = tmp_path / "adapter-only"
    code = run_train(
        "--data", str(pairs), "--out", str(out), "--adapter-only", "--push-to-hub", "me/tiny"
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1  # saved, then the push failed offline: one line, nothing lost
    assert err[-1].startswith("error: push to me/tiny failed") and str(out) in err[-1]
    assert (out / "adapter_config.json").is_file() and (out / "eval.json").is_file()
    assert not (out / "model.safetensors").exists()
    base = json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"]
    assert Path(base) == (out / "base-tiny").resolve()

    adapted, tok = load_model(out, device="cpu")
    merged, _ = load_model(merged_run, device="cpu")
    rec = make_records(1, 6)[0]
    ids = example_ids(tok, rec)
    with torch.no_grad():  # same config, data and seed: the same training, so the same model
        torch.testing.assert_close(
            adapted(input_ids=ids).logits, merged(input_ids=ids).logits, atol=1e-4, rtol=1e-4
        )


# -- bad input -----------------------------------------------------------------------------


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert err, "no error printed"
    assert err[-1].startswith("error: ")
    assert not any("Traceback" in line for line in err)
    return err[-1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_qlora_without_a_gpu_is_one_line_exit_2(pairs, tmp_path, capsys):
    args = ["--config", "finetune/configs/qlora_t4.yaml", "--data", str(pairs)]
    code = ft.main(ft.make_parser().parse_args([*args, "--out", str(tmp_path / "q")]))
    assert code == 2
    line = _error_line(capsys)
    assert line.startswith("error: qlora needs a CUDA GPU and bitsandbytes")
    assert "lora_a100.yaml" in line
    assert not (tmp_path / "q").exists()


def test_bad_input_is_one_line_exit_2(pairs, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    bad_json = tmp_path / "badjson"
    bad_json.mkdir()
    (bad_json / "train.jsonl").write_text('{"prompt": "a", "completion": "b"}\n{oops\n')
    yaml_typo = tmp_path / "typo.yaml"
    yaml_typo.write_text("lora:\n  rr: 8\n")
    out = str(tmp_path / "out")
    cases = [
        (["--data", str(tmp_path / "nope"), "--out", out], "no such folder"),
        (["--data", str(empty), "--out", out], "no train.jsonl"),
        (["--data", str(pairs)], "--out is required"),
        (["--data", str(pairs), "--out", out, "--config", str(yaml_typo)], "did you mean 'r'"),
        (["--data", str(pairs), "--out", out, "--lora.r", "zero"], "lora.r: expected int"),
        (["--data", str(bad_json), "--out", out], "train.jsonl:2: not JSON"),
    ]
    for argv, expected in cases:
        code = ft.main(ft.make_parser().parse_args([*TINY_ARGS, *argv]))
        assert code == 2, argv
        line = _error_line(capsys)
        assert expected in line, (argv, line)
    # a mistyped flag (even a prefix of a real one) is refused with the closest flag
    with pytest.raises(SystemExit) as e:
        ft.make_parser().parse_args([*TINY_ARGS, "--train.learning_rat", "1"])
    assert e.value.code == 2
    assert "did you mean '--train.learning_rate'" in _error_line(capsys)


# -- evaluate ------------------------------------------------------------------------------


def test_evaluate_cli_and_library(merged_run, pairs, tmp_path, capsys):
    args = ["--model", str(merged_run), "--data", str(pairs), "--no-progress"]
    assert ev.main(ev.make_parser().parse_args(args)) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["scored"] == 16 and summary["skipped_no_options"] == 2
    report = json.loads((merged_run / "eval.json").read_text())["accuracy"]
    for key in ("top1", "top3", "mean_rank", "chance_top1"):
        assert summary[key] == pytest.approx(report[key]), key  # train reuses the same code
    assert 1 <= summary["mean_rank"] <= summary["mean_options"]

    out = tmp_path / "eval.json"
    path = str(pairs / "val.jsonl")
    args = ["--model", str(merged_run), "--data", path, "--limit", "5", "--out", str(out)]
    assert ev.main(ev.make_parser().parse_args([*args, "--no-progress"])) == 0
    assert "top-1" in capsys.readouterr().out
    assert json.loads(out.read_text())["scored"] == 5

    for argv, expected in [
        (["--model", str(merged_run), "--data", str(tmp_path / "none")], "no such file"),
        (["--model", str(tmp_path), "--data", str(pairs)], "neither config.json"),
        (["--model", str(merged_run), "--data", str(pairs), "--limit", "0"], "--limit"),
    ]:
        assert ev.main(ev.make_parser().parse_args(argv)) == 2
        assert expected in _error_line(capsys)

    model, tok = load_model(merged_run, device="cpu")
    records = [ev.PairRecord.from_dict(r, "test") for r in make_records(4, 9)]
    records[0].options = [o for o in records[0].options if o != records[0].completion]
    result = ev.evaluate_records(model, tok, records, batch_size=2)
    assert (result.scored, result.skipped_not_in_options) == (3, 1)

"""finetune/: Showdown replays to (prompt, completion) pairs to a LoRA-fine-tuned LLM.

Modules: `scraper` (replays from the replay site, or the arena's own battles), and the
dataset, training and evaluation steps that read what it saves.
"""

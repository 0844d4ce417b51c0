#!/usr/bin/env bash
# The training checks that need a GPU (issue 17), as one script for a lent machine
# (~6-8 minutes on one H100; every step bounded). Results go to ${OUT:-/tmp/gpu-check}.
#   bash bench/gpu_train_check.sh
# 1. throughput and MFU of h100_1gpu.yaml (the base model, bf16, SDPA): the seed's way
#    (padded, eager) against packed + compiled, side by side, on synthetic Metamon-format
#    trajectories of 20-250 turns;
# 2. a DDP smoke run: torchrun with one process, 30 steps of the real trainer, compiled.
set -u
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
PY=${PY:-python}
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/gpu.txt"
$PY -c "import torch; print(torch.__version__, torch.version.cuda)" | tee -a "$OUT/gpu.txt"

timeout 420 $PY bench/train_throughput.py --config training/configs/h100_1gpu.yaml --rounds 1 \
    --layouts padded,packed --compile both --steps 60 --warmup 15 --batches 6 \
    --trajectories 768 --turns 20 250 --workers 12 --json "$OUT/throughput.json" \
    2>&1 | grep -v "^W" | tee "$OUT/throughput.txt"

DATA=/tmp/gpu-check-data
[ -d "$DATA" ] || timeout 120 $PY -m training.synthetic "$DATA" --n 2000 --pool 400 --turns 20 250
TRAINING_INDEX_CACHE=/tmp/gpu-check-index timeout 150 torchrun --standalone --nproc_per_node 1 \
    -m training.train --config training/configs/h100_1gpu.yaml --data_path "$DATA" \
    --out /tmp/gpu-check-ddp --train.max_steps 30 --train.log_every 5 --train.eval_every 30 \
    --train.progress false 2>&1 | grep -v "^W" | tail -25 | tee "$OUT/ddp.txt"

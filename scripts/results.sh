#!/usr/bin/env bash
# Reproduces the tables of docs/results.md (sections 1-3) from a pretrained encoder:
#   rasd pretrain --config configs/pretrain/cpu-news-small.yaml      # about 50 min on 2 idle cores
#   bash scripts/results.sh                                          # fine-tuning: 3 seeds x 2 encoders x 2 tasks
# Each fine-tuning run is skipped when its scores.json exists, so a stopped script resumes where it was.
# Two lanes run side by side with one thread each (small batches use a second core poorly).
set -euo pipefail

PRETRAINED=${PRETRAINED:-runs/pretrain-news-small/model}
OUT=${OUT:-runs/results}
RANDOM_INIT=${RANDOM_INIT:-$OUT/random-init-encoder}
SEEDS=${SEEDS:-"42 1 2"}
ANERCORP=${ANERCORP:-../shared/data/anercorp/train.conll}
AQMAR=${AQMAR:-../shared/data/aqmar/aqmar.coarse.conll}
EXTRA=${EXTRA:-}  # more --set overrides for every run, e.g. "--set train.max_steps=2" for a smoke test
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1

[ -f "$RANDOM_INIT/config.json" ] || rasd build-default-model --like "$PRETRAINED" --output "$RANDOM_INIT" --seed 0

fine_tune() {  # arm encoder task seed [--set overrides...]
  local arm=$1 encoder=$2 task=$3 seed=$4 run="$OUT/$3-$1-$4"; shift 4
  [ -f "$run/scores.json" ] && return 0
  rasd train --config "configs/$task.yaml" --set model.encoder="$encoder" --set train.seed="$seed" \
    --set train.output_dir="$run" --set train.progress_bar=false $EXTRA "$@" > "$run.log" 2>&1 \
    || { echo "failed: $run (see $run.log)" >&2; return 1; }
  echo "done: $run"
}

lane() {  # arm encoder
  mkdir -p "$OUT"
  for seed in $SEEDS; do fine_tune "$1" "$2" quickstart "$seed"; done
  for seed in $SEEDS; do fine_tune "$1" "$2" anercorp "$seed" --set data.train="$ANERCORP"; done
  for seed in $SEEDS; do  # the ANERcorp model on Wikipedia text; AQMAR's PER reaches PERS through the schema's aliases
    [ -f "$OUT/aqmar-$1-$seed/metrics.json" ] || rasd evaluate --model "$OUT/anercorp-$1-$seed/model" \
      --data "$AQMAR" --out "$OUT/aqmar-$1-$seed" > "$OUT/aqmar-$1-$seed.log" 2>&1
  done
}

lane pretrained "$PRETRAINED" & pretrained=$!
lane random "$RANDOM_INIT" & random=$!
wait $pretrained && wait $random
python scripts/results_table.py "$OUT"

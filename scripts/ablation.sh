#!/usr/bin/env bash
# The ablation table of docs/results.md: the quickstart model with each word-level lever turned
# off in turn, the model of rasd 0.1 (no lever, 4-layer random BERT), and the full model on the
# news vectors when ../shared is beside the repo; the full model and the big levers on 3 seeds,
# the small ones on the first (ALL_SEEDS=1: every row on every seed); scored on the conflict test split.
#   bash scripts/ablation.sh             # about 3 h on 2 idle cores (LANES=2 runs of one thread at a time)
#   python scripts/results_table.py ablation runs/ablation
# A run is skipped when its scores.json exists, so a stopped script resumes where it was.
set -euo pipefail

OUT=${OUT:-runs/ablation}
SEEDS=${SEEDS:-"42 1 2"}
EXTRA=${EXTRA:-}  # more --set overrides for every run, e.g. "--set train.max_steps=2" for a smoke test
NEWS=${NEWS:-../shared/data/news-raw/train.jsonl.gz}
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"

# the encoders: the default (embeddings only), rasd 0.1's (4 random layers) and, with ../shared,
# the news vectors
[ -f "$OUT/enc-default/config.json" ] || rasd build-default-model --output "$OUT/enc-default"
[ -f "$OUT/enc-0.1/config.json" ] || rasd build-default-model --output "$OUT/enc-0.1" --layers 4
if [ -f "$NEWS" ] && [ ! -f "$OUT/enc-news/config.json" ]; then
  rasd build-default-model --corpus "$NEWS" --output "$OUT/enc-news" --layers 0 --hidden-size 100 \
    --vocab-size 40000 --min-frequency 3 --vector-epochs 4
fi

# The levers are measured at relation loss weight 1 (where the ablation began); the shipped quickstart
# weighs the relation loss 4 times (its row "quickstart": the config as it is, no override).
AT_WEIGHT_1="--set model.relation_loss_weight=1"
OFF_CHARS="--set model.char_embedding_size=0"
OFF_FEATURES="--set model.word_features=[] --set model.lexicon_file="
OFF_GAZETTEER="--set model.word_features=[affixes,stem,shape,lexicon]"
OFF_LEXICON="--set model.word_features=[affixes,stem,shape,gazetteer] --set model.lexicon_file="
OFF_LSTM="--set model.lstm_hidden_size=0"
OFF_CRF="--set model.crf=false"
OFF_PAIRS="--set model.pair_features=false"
# rasd 0.1's quickstart: its encoder and settings, no lever
RASD_01="--set model.encoder=$OUT/enc-0.1 $OFF_CHARS $OFF_FEATURES $OFF_LSTM $OFF_CRF $OFF_PAIRS \
  --set model.word_dropout_rate=0.0 --set train.word_dropout=0.0 --set train.lr=5e-4 --set train.warmup_ratio=0.06 \
  --set train.batch_size=8 --set train.patience=8"

run() {  # name seed [--set overrides...]
  local name=$1 seed=$2 dir="$OUT/$1-$2" resume=""; shift 2
  [ -f "$dir/scores.json" ] && return 0
  [ -f "$dir/checkpoint/trainer_state.json" ] && resume="--resume"  # a stopped run goes on from its last epoch
  # shellcheck disable=SC2068
  rasd train --config configs/quickstart.yaml --set model.encoder="$OUT/enc-default" --set train.seed="$seed" \
    --set train.output_dir="$dir" --set train.progress_bar=false $resume $@ $EXTRA > "$dir.log" 2>&1 \
    || { echo "failed: $dir (see $dir.log)" >&2; return 1; }
  echo "done: $dir"
}

if [ "${1:-}" = "--one" ]; then shift; run "$@"; exit; fi

# One queue, most telling runs first (the full model on every seed, then each lever on the first
# seed, then the other seeds), so a run cut short still fills the top of the table.
jobs() {
  local first=${SEEDS%% *} seed
  for seed in $SEEDS; do echo "quickstart $seed"; echo "full $seed $AT_WEIGHT_1"; done
  for seed in $SEEDS; do
    echo "no-chars $seed $AT_WEIGHT_1 $OFF_CHARS"; echo "no-features $seed $AT_WEIGHT_1 $OFF_FEATURES"
    echo "no-lstm $seed $AT_WEIGHT_1 $OFF_LSTM"; echo "no-crf $seed $AT_WEIGHT_1 $OFF_CRF"; echo "rasd-0.1 $seed $AT_WEIGHT_1 $RASD_01"
    if [ "$seed" = "$first" ]; then  # the smaller levers: one seed unless ALL_SEEDS=1
      echo "no-gazetteer $seed $AT_WEIGHT_1 $OFF_GAZETTEER"; echo "no-lexicon $seed $AT_WEIGHT_1 $OFF_LEXICON"
      echo "no-pair-features $seed $AT_WEIGHT_1 $OFF_PAIRS"
      [ -f "$OUT/enc-news/config.json" ] && echo "news-vectors $seed $AT_WEIGHT_1 --set model.encoder=$OUT/enc-news"
    elif [ "${ALL_SEEDS:-0}" = 1 ]; then
      echo "no-gazetteer $seed $AT_WEIGHT_1 $OFF_GAZETTEER"; echo "no-lexicon $seed $AT_WEIGHT_1 $OFF_LEXICON"
      echo "no-pair-features $seed $AT_WEIGHT_1 $OFF_PAIRS"
      [ -f "$OUT/enc-news/config.json" ] && echo "news-vectors $seed $AT_WEIGHT_1 --set model.encoder=$OUT/enc-news"
    fi
  done
}
export OUT EXTRA
jobs | xargs -P "${LANES:-2}" -L 1 bash "$0" --one
python scripts/crf_conflict.py --out "$OUT/crf"
python scripts/results_table.py ablation "$OUT"

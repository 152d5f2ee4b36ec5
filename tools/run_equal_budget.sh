#!/usr/bin/env bash
# Equal-budget comparison of the binarized-MNIST image models (issues 3 and 13): each recipe trains for the same
# wall-clock budget, one after another, pinned to the same CPU core, at a constant learning rate (the recipes' warm-up
# and decay are sized for their own long runs), then is evaluated on the same test slice.
#
#   bash tools/run_equal_budget.sh [MINUTES] [CORE] [OUT] [NAMES]   # defaults: 25 minutes, core 1, runs/eq25, all
#
# NAMES (comma-separated run names, e.g. "sparse_transformer") runs only those models. Run again with the same OUT,
# it skips the models it has scored, scores the trained ones and continues (--resume) a run that was stopped, so the
# table can be made over several sessions.
#
# Needs KGEN_DATA_DIR (../shared/data). Table: python tools/equal_budget_table.py OUT
# Curves: python tools/metrics_table.py OUT/<model>/metrics.csv
set -euo pipefail
MINUTES="${1:-25}"
CORE="${2:-1}"
OUT="${3:-runs/eq${MINUTES}}"
NAMES="${4:-}"
export KERAS_BACKEND="${KERAS_BACKEND:-tensorflow}"
KGEN="${KGEN:-kgen}"
# recipe, run name, steps per epoch (one held-out point every few minutes on one core)
for spec in "pixelrnn_row_binarized_mnist pixelrnn_row 100" "pixelrnn_diagonal_binarized_mnist pixelrnn_diagonal 40" \
            "pixelcnn_binarized_mnist pixelcnn 100" "gated_pixelcnn_binarized_mnist gated_pixelcnn 20" \
            "sparse_transformer_binarized_mnist sparse_transformer 100"; do
  set -- $spec
  if [ -n "$NAMES" ] && [[ ",$NAMES," != *",$2,"* ]]; then continue; fi
  if [ -f "$OUT/$2/quality.json" ]; then echo "=== $2 done earlier"; continue; fi
  if [ ! -f "$OUT/$2/eval.json" ]; then
    # a run stopped part-way (its folder exists) continues where it stopped; the budget counts across the parts
    resume=(); if [ -f "$OUT/$2/recipe.json" ]; then resume=(--resume); fi
    echo "=== $2 start $(date -u +%T) ${resume[*]:-}"
    taskset -c "$CORE" "$KGEN" train "$1" --out "$OUT/$2" --time-budget-minutes "$MINUTES" \
      --steps-per-epoch "$3" --constant-learning-rate --monitor-split "test[:500]" --eval-split "test[:2000]" \
      --samples 0 --verbose 2 "${resume[@]}"
    echo "=== $2 end $(date -u +%T)"
  fi
  # its samples read by the digit judge (Frechet distance, confidence) for tools/equal_budget_table.py
  taskset -c "$CORE" "$KGEN" score "$OUT/$2" --out "$OUT/$2/quality.json"
done

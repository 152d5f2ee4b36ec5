#!/usr/bin/env bash
# Equal-budget comparison of the four binarized-MNIST image models (issue 3): each recipe trains for the same
# wall-clock budget, one after another, pinned to the same CPU core, then is evaluated on the same test slice.
#
#   bash tools/run_equal_budget.sh [MINUTES] [CORE] [OUT]     # defaults: 25 minutes, core 1, runs/eq25
#
# Needs KGEN_DATA_DIR (../shared/data). Curves: python tools/metrics_table.py OUT/<model>/metrics.csv
set -euo pipefail
MINUTES="${1:-25}"
CORE="${2:-1}"
OUT="${3:-runs/eq${MINUTES}}"
export KERAS_BACKEND="${KERAS_BACKEND:-tensorflow}"
KGEN="${KGEN:-kgen}"
# recipe, run name, steps per epoch (one held-out point every few minutes on one core)
for spec in "pixelrnn_row_binarized_mnist pixelrnn_row 100" "pixelrnn_diagonal_binarized_mnist pixelrnn_diagonal 40" \
            "pixelcnn_binarized_mnist pixelcnn 100" "gated_pixelcnn_binarized_mnist gated_pixelcnn 20"; do
  set -- $spec
  echo "=== $2 start $(date -u +%T)"
  taskset -c "$CORE" "$KGEN" train "$1" --out "$OUT/$2" --time-budget-minutes "$MINUTES" \
    --steps-per-epoch "$3" --monitor-split "test[:500]" --eval-split "test[:2000]" --samples 0 --verbose 2
  echo "=== $2 end $(date -u +%T)"
done

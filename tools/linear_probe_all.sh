#!/usr/bin/env bash
# Trains every MNIST representation recipe (one after another, each bounded by its recipe's time budget) and runs
# the linear probe over all of them and raw pixels, as one table (zoo/autoencoders.md and the other cards).
#
#   KERAS_BACKEND=jax KGEN_DATA_DIR=../shared/data bash tools/linear_probe_all.sh runs/probe
#
# Runs already finished in the folder (model.keras and eval.json present) are kept, so an interrupted job resumes.
set -euo pipefail
out=${1:?usage: bash tools/linear_probe_all.sh OUT_DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
recipes=(sparse_coding_mnist psd_mnist autoencoder_mnist denoising_autoencoder_mnist ksparse_autoencoder_mnist
         deep_autoencoder_mnist semantic_hashing_mnist)
mkdir -p "$out"
runs=()
for r in "${recipes[@]}"; do
  if [[ ! -f "$out/$r/eval.json" ]]; then
    rm -rf "$out/$r"
    python -m kgen.cli train "$here/recipes/$r.toml" --out "$out/$r" --verbose 2 > "$out/$r.log" 2>&1
  fi
  runs+=("$out/$r")
done
python "$here/tools/linear_probe.py" "${runs[@]}" --json "$out/linear_probe.json" | tee "$out/linear_probe.md"

#!/usr/bin/env bash
# The sample quality of every shipped generative preset (`kgen score NAME`), into zoo/quality/NAME.json and .txt;
# tools/results_table.py reads them into the README's results table. A report already there sets the flags of its
# preset's new one (tools/score_flags.py: --num, --seed and --guidance as it was made).
# Run:  KERAS_BACKEND=tensorflow KGEN_DATA_DIR=../shared/data taskset -c 0 bash tools/score_presets.sh [NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -gt 0 ]; then
  names="$*"
else
  names=$(python -c "from kgen import quality, zoo; print(' '.join(quality.measurable(zoo.list_models(pretrained=True))))")
fi
mkdir -p zoo/quality
for name in $names; do
  echo "== $name" >&2
  # A preset scored before is scored again as its report was made: its samples, seed and guidance scale.
  read -r -a flags <<< "$(python tools/score_flags.py "zoo/quality/$name.json")"
  kgen score "$name" "${flags[@]}" --out "zoo/quality/$name.json" | tee "zoo/quality/$name.txt"
done

#!/usr/bin/env bash
# Builds the documentation site (mkdocs.yml; its pages are under zoo/) into OUT, warnings as errors.
#
#   tools/build_docs.sh [--no-execute] [OUT]        # OUT defaults to build/site
#
# The notebooks (zoo/notebooks/*.ipynb, kept without outputs) are shown with their outputs: this script first runs
# `tools/run_notebooks.py --out build/docs_notebooks --tiny` (tiny configurations) and the site renders those
# executed copies (KGEN_DOCS_NOTEBOOKS, read by tools/docs_hooks.py). With --no-execute, or while there is no
# notebook or no tools/run_notebooks.py, the notebooks are rendered as they are, without outputs.
# Environment: PYTHON (default .venv/bin/python), KERAS_BACKEND for the notebooks (default tensorflow).
set -euo pipefail
cd "$(dirname "$0")/.."

execute=1
if [[ "${1:-}" == "--no-execute" ]]; then
    execute=0
    shift
fi
if [[ $# -gt 1 || "${1:-}" == -* ]]; then
    echo "usage: tools/build_docs.sh [--no-execute] [OUT]" >&2
    exit 2
fi
out="${1:-build/site}"
py="${PYTHON:-.venv/bin/python}"

unset KGEN_DOCS_NOTEBOOKS
export NO_MKDOCS_2_WARNING=1  # mkdocs-material's banner about its successor
shopt -s nullglob
notebooks=(zoo/notebooks/*.ipynb)
if [[ $execute == 1 && ${#notebooks[@]} -gt 0 ]]; then
    if [[ -f tools/run_notebooks.py ]]; then
        executed=build/docs_notebooks
        rm -rf "$executed"
        echo "build_docs: executing ${#notebooks[@]} notebook(s) (tiny) into $executed" >&2
        KERAS_BACKEND="${KERAS_BACKEND:-tensorflow}" "$py" tools/run_notebooks.py --out "$executed" --tiny
        export KGEN_DOCS_NOTEBOOKS="$PWD/$executed"
    else
        echo "build_docs: tools/run_notebooks.py is missing: the notebooks are rendered without outputs" >&2
    fi
fi

"$py" -m mkdocs build --strict --clean --config-file mkdocs.yml --site-dir "$out"
echo "build_docs: the site is in $out (open $out/index.html)" >&2

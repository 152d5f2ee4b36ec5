#!/usr/bin/env bash
# Run the whole test suite once per Keras backend, the backends side by side (one pytest process each), and fail
# if any of them fails. Each backend's output goes to a log that is printed when it ends.
# Usage: tools/test_backends.sh PYTHON BACKEND...
set -uo pipefail
py="$1"; shift
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
start=$(date +%s)
pids=()
for b in "$@"; do
    KERAS_BACKEND="$b" "$py" -m pytest -q -p no:cacheprovider tests >"$logs/$b.log" 2>&1 &
    pids+=("$!")
done
status=0
i=0
for b in "$@"; do
    if wait "${pids[$i]}"; then result=passed; else result=FAILED; status=1; fi
    echo "=== KERAS_BACKEND=$b: $result ($(( $(date +%s) - start )) s since the start)"
    cat "$logs/$b.log"
    i=$((i + 1))
done
exit $status

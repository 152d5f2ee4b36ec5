#!/usr/bin/env bash
# Run the whole test suite once per Keras backend and fail if any of them fails. The backends run one after the
# other, each on KGEN_TEST_WORKERS pytest-xdist workers (default 2, the CI machine's cores): two processes at a time
# hold about half the memory of three side by side (one per backend) and keep both cores as busy. A module that
# builds a shared fixture keeps its tests on one worker (tests/conftest.py). Each backend's output is printed when
# it ends.
# Usage: tools/test_backends.sh PYTHON BACKEND...
set -uo pipefail
py="$1"; shift
workers="${KGEN_TEST_WORKERS:-2}"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
# XLA (JAX, and TensorFlow's compiled samplers) compiles each tiny test model with its optimisations off: the JAX
# suite's model and layer tests took 847 s instead of 1,644 s on one core, with every test passing (2026-12-04).
# Speed settings for the tests only; the tools/ benchmarks and kgen itself use XLA's defaults.
export XLA_FLAGS="${XLA_FLAGS:+$XLA_FLAGS }--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
# JAX keeps every program it compiles in a compilation cache on disk, fresh for this run (under $logs, removed at the
# end; nothing else writes there) and shared by the test processes and their children: the two workers build the same
# tiny models, and a module recompiles what the one before it compiled (tests/conftest.py clears JAX's in-memory
# caches after each module, which keeps the processes small). Every program is cached, however fast it compiled.
# The JAX layer tests with tests/models/test_sparse_transformer.py and test_pixelrnn.py (325 tests, two workers) took
# 160 s and 152 s against 189 s and 189 s without the cache, alternating runs (2026-12-08, tools/test_backends.sh's
# settings otherwise). TensorFlow's own XLA cache (TF_XLA_FLAGS=--tf_xla_persistent_cache_directory) gained nothing
# on its compiled samplers' tests (89-92 s either way), so only JAX has one.
export JAX_COMPILATION_CACHE_DIR="$logs/jax_cache" JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
    JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=-1
# Two test processes already keep the two cores busy: under the TensorFlow and torch backends each runs on one thread
# (their thread pools spin while the other process holds the core). Three modules of model tests took 74 s instead of
# 82 s (TensorFlow) and 37 s instead of 41 s (torch) on two workers; the JAX layer tests took 242 s instead of 206 s
# with these variables, so JAX keeps its defaults (2026-12-04).
one_thread=(TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1)
start=$(date +%s)
# The memory of all the test processes together (every process of this script's process group: pytest, its workers
# and their children), sampled every 5 seconds; the peak is printed at the end.
pgid=$(ps -o pgid= $$ | tr -d ' ')
(
    peak=0
    while true; do
        kb=$(ps -e -o pgid=,rss= | awk -v g="$pgid" '$1 == g {s += $2} END {print s + 0}')
        if [ "$kb" -gt "$peak" ]; then peak=$kb; echo "$peak" > "$logs/peak_kb"; fi
        sleep 5
    done
) &
sampler=$!
status=0
for b in "$@"; do
    if [ "$workers" -gt 1 ]; then parallel=(-n "$workers" --dist loadgroup); else parallel=(); fi
    began=$(date +%s)
    # With KGEN_TEST_TIMES=DIR/NAME.tsv each backend records its test times in DIR/NAME_BACKEND.tsv.
    if [ "$b" = jax ]; then threads=(); else threads=("${one_thread[@]}"); fi
    if env "${threads[@]}" KGEN_TEST_TIMES="${KGEN_TEST_TIMES:+${KGEN_TEST_TIMES%.tsv}_$b.tsv}" KERAS_BACKEND="$b" \
        "$py" -m pytest -q -p no:cacheprovider "${parallel[@]}" tests >"$logs/$b.log" 2>&1; then
        result=passed
    else
        result=FAILED; status=1
    fi
    echo "=== KERAS_BACKEND=$b: $result ($(( $(date +%s) - began )) s; $(( $(date +%s) - start )) s since the start)"
    cat "$logs/$b.log"
done
kill "$sampler" 2>/dev/null
echo "=== peak memory of the test processes together: $(( $(cat "$logs/peak_kb" 2>/dev/null || echo 0) / 1024 )) MB" \
     "(resident, sampled every 5 s); all backends: $(( $(date +%s) - start )) s"
exit $status

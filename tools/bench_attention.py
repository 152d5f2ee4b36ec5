"""Time and peak memory of SparseAttention (strided, fixed) against dense causal attention, forward + backward.

Each configuration (pattern, sequence length) runs in its own child process, so that its peak resident memory is
its own: the child builds `kgen.layers.SparseAttention(4 heads of 64, d = 256)` on a batch of 1, compiles one
forward + backward step (the gradient of the summed output with respect to the input and every weight; jax.jit,
tf.function with XLA, or eager torch), runs it `--repeats` times and reports the median time and the peak resident
set size (ru_maxrss) minus the resident size just before the first step (the attention's own memory: activations,
scores, gradients). The child may grow by at most `--memory-gb` over that baseline (RLIMIT_AS); a configuration that
does not fit is reported as such.

Usage (from the repository root):

    python tools/bench_attention.py                          # n = 1024, 4096, 16384 under JAX, 8 GB allowance
    python tools/bench_attention.py --lengths 1024,4096 --backend tensorflow
    python tools/bench_attention.py --smoke                  # tiny sizes: checks the script works

It prints one table row per configuration and the ratios sparse / dense at every length where both ran.
"""

import argparse
import json
import os
import subprocess
import sys
import time

RESULT_MARKER = "@@BENCH_ATTENTION_RESULT@@"
PATTERNS = ("dense", "strided", "fixed")


def _rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _vm_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def child(config):
    """One configuration: build, compile, time; print the result after RESULT_MARKER."""
    import resource

    import numpy as np

    os.environ["KERAS_BACKEND"] = config["backend"]
    import keras

    from kgen.layers import SparseAttention

    n, d = config["length"], config["width"]
    layer = SparseAttention(config["heads"], d // config["heads"], config["block_size"], pattern=config["pattern"],
                            integration="merged", summary_size=config["summary_size"])
    x = np.random.default_rng(0).normal(size=(1, n, d)).astype("float32")
    layer.build((1, n, d))
    step = _step_function(layer, config["backend"])
    baseline_kb = _rss_kb()
    allowance = int(config["memory_gb"] * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (_vm_bytes() + allowance, resource.RLIM_INFINITY))
    t0 = time.perf_counter()
    step(x)  # compiles
    first = time.perf_counter() - t0
    times = []
    for _ in range(config["repeats"]):
        t0 = time.perf_counter()
        step(x)
        times.append(time.perf_counter() - t0)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = dict(config, seconds=sorted(times)[len(times) // 2], first_seconds=first,
                  peak_mb=peak_kb / 1024, baseline_mb=baseline_kb / 1024, own_mb=(peak_kb - baseline_kb) / 1024,
                  keras=keras.__version__)
    print(RESULT_MARKER + json.dumps(result), flush=True)


def _step_function(layer, backend):
    """`step(x)`: forward + backward (gradients of sum(layer(x)) for x and every weight), compiled, blocking."""
    if backend == "jax":
        import jax

        weights = [v.value for v in layer.trainable_variables]

        def loss(weights, x):
            return layer.stateless_call(weights, [], x)[0].sum()

        grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
        return lambda x: jax.block_until_ready(grad(weights, x))
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def tf_grad(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                total = tf.reduce_sum(layer(x))
            return tape.gradient(total, [x] + layer.trainable_variables)

        return lambda x: [g.numpy() for g in tf_grad(tf.constant(x))]
    import torch

    def step(x):
        x = torch.tensor(x, requires_grad=True)
        layer(x).sum().backward()
        for v in layer.trainable_variables:
            v.value.grad = None
        return x.grad

    return step


def run_config(config, timeout):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", json.dumps(config)]
    env = dict(os.environ, KERAS_BACKEND=config["backend"], TF_CPP_MIN_LOG_LEVEL="2")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    except subprocess.TimeoutExpired:
        return dict(config, error=f"timed out after {timeout} s")
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    tail = (proc.stderr or "").strip().splitlines()[-1:] or ["no output"]
    memory = any(word in proc.stderr for word in ("MemoryError", "RESOURCE_EXHAUSTED", "bad_alloc", "Cannot allocate",
                                                   "out of memory", "OOM"))
    reason = f"did not fit in {config['memory_gb']:g} GB" if memory or proc.returncode < 0 else "failed"
    return dict(config, error=f"{reason} (exit {proc.returncode}: {tail[0][:160]})")


def format_rows(results):
    lines = [f"{'pattern':<8} {'n':>6} {'time_s':>9} {'own_MB':>9} {'peak_MB':>9} {'compile_s':>9}"]
    for r in results:
        if "error" in r:
            lines.append(f"{r['pattern']:<8} {r['length']:>6} {r['error']}")
            continue
        lines.append(f"{r['pattern']:<8} {r['length']:>6} {r['seconds']:>9.3f} {r['own_mb']:>9.1f} "
                     f"{r['peak_mb']:>9.1f} {r['first_seconds']:>9.1f}")
    by = {(r["pattern"], r["length"]): r for r in results if "error" not in r}
    for n in sorted({r["length"] for r in results}):
        dense = by.get(("dense", n))
        for pattern in ("strided", "fixed"):
            sparse = by.get((pattern, n))
            if dense and sparse:
                lines.append(f"# n={n} {pattern}/dense: time {sparse['seconds'] / dense['seconds']:.3f}, "
                             f"memory {sparse['own_mb'] / max(dense['own_mb'], 1e-9):.3f}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lengths", default="1024,4096,16384")
    p.add_argument("--patterns", default=",".join(PATTERNS))
    p.add_argument("--backend", default="jax", choices=("jax", "tensorflow", "torch"))
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--block-size", type=int, default=None, help="l (default: the power of two nearest sqrt(n))")
    p.add_argument("--summary-size", type=int, default=None, help="c of the fixed pattern (default l // 16)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--memory-gb", type=float, default=8.0, help="memory each configuration may add (RLIMIT_AS)")
    p.add_argument("--timeout", type=int, default=900, help="seconds per configuration")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--smoke", action="store_true", help="n = 64, d = 16, 2 heads, 1 repeat (one process per pattern)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(json.loads(args.child))
    if args.smoke:
        args.lengths, args.width, args.heads, args.repeats = "64", 16, 2, 1
    results = []
    for n in [int(v) for v in args.lengths.split(",")]:
        block = args.block_size or 2 ** round(0.5 * (n.bit_length() - 1))
        for pattern in args.patterns.split(","):
            config = dict(pattern=pattern, length=n, width=args.width, heads=args.heads, block_size=block,
                          summary_size=args.summary_size or max(1, block // 16), repeats=args.repeats,
                          backend=args.backend, memory_gb=args.memory_gb)
            print(f"[bench_attention] {pattern} n={n} ...", file=sys.stderr, flush=True)
            results.append(run_config(config, args.timeout))
    print(format_rows(results))
    print(f"# {args.backend}, batch 1, d = {args.width}, {args.heads} heads, merged heads for the sparse patterns; "
          f"time: median of {args.repeats} forward+backward steps after a compiling one; own_MB: peak RSS minus "
          f"the RSS before the first step; each configuration in its own process, allowed {args.memory_gb:g} GB "
          "more")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results}, f, indent=2)
    return results


if __name__ == "__main__":
    main()

"""Step time of data-parallel training on 1, 2 and 4 virtual CPU devices, and of float32 against mixed bfloat16.

What this is on a CPU: a correctness-and-overhead check, not a speed-up claim. The virtual devices
(`--xla_force_host_platform_device_count` on JAX, logical CPU devices on TensorFlow) share the machine's cores, so
N devices do the same arithmetic as one plus the cost of splitting the batch and averaging the gradients. Whether
bfloat16 pays on a CPU depends on the CPU (bfloat16 instructions such as AVX512_BF16) and on the backend's CPU
kernels. On a multi-GPU or TPU host the same recipe keys (`distribute = "data_parallel"`, `dtype = "mixed_bfloat16"`)
are where the speed comes from.

For each backend (jax, tensorflow) one child process with 4 virtual devices builds the model once, then for each
configuration trains `--steps` Adam steps from the same weights on the same global batches
(`train_steps` of tools/distribution_check.py), and reports the median step time after the first (compiling) step, the
ratio to one float32 device in the same child, and the final training loss relative to one float32 device (the
correctness part: data-parallel steps are the same steps; bfloat16 moves the loss a little).

Usage (from the repository root):

    python tools/bench_scaling.py                          # pixelcnn.mnist, batch 32, 20 steps, jax and tensorflow
    python tools/bench_scaling.py --model wavenet.tiny --batch-size 16 --backends jax
    python tools/bench_scaling.py --smoke                  # pixelcnn.tiny, 3 steps: checks the script works
"""

import argparse
import json
import os
import subprocess
import sys

RESULT_MARKER = "@@BENCH_SCALING_RESULT@@"
CONFIGS = ((1, "float32"), (2, "float32"), (4, "float32"), (1, "mixed_bfloat16"), (4, "mixed_bfloat16"))


def child(model_name, batch_size, steps):
    """Run every configuration in this process (its backend shows 4 devices); print one JSON result line."""
    import distribution_check  # beside this script

    distribution_check._start_devices()
    import keras
    import numpy as np

    import kgen
    import kgen.models  # noqa: F401  (a `python tools/...` start registers the families through kgen itself)
    from kgen.testing.test_case import conditioning

    keras.utils.set_random_seed(0)
    model = kgen.zoo.get(model_name)
    weights = model.get_weights()
    x = model.example_inputs(batch_size=batch_size * steps, seed=0)["x"]
    data = model.model_inputs(x, **conditioning(model, x))
    rows = []
    for devices, dtype in CONFIGS:
        _, loss, _, step_s = distribution_check.train_steps(model_name, devices, weights, data, batch_size, steps,
                                                      dtype=None if dtype == "float32" else dtype)
        rows.append({"devices": devices, "dtype": dtype, "step_s": step_s, "loss": loss})
    base = rows[0]
    for row in rows:
        row["time_ratio"] = row["step_s"] / base["step_s"]
        row["loss_rel_diff"] = abs(row["loss"] - base["loss"]) / abs(base["loss"])
    print(RESULT_MARKER + json.dumps({"backend": keras.backend.backend(), "parameters": model.count_params(),
                                      "rows": rows, "numpy": np.__version__}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pixelcnn.mnist", help="zoo name (default pixelcnn.mnist)")
    parser.add_argument("--batch-size", type=int, default=32, help="global batch (a multiple of 4)")
    parser.add_argument("--steps", type=int, default=20, help="training steps per configuration (the first compiles)")
    parser.add_argument("--backends", default="jax,tensorflow", help="comma-separated: jax, tensorflow")
    parser.add_argument("--smoke", action="store_true", help="pixelcnn.tiny, batch 8, 3 steps")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.model, args.batch_size, args.steps = "pixelcnn.tiny", 8, 3
    if args.batch_size % 4:
        parser.error(f"--batch-size must be a multiple of 4 (the largest device count), got {args.batch_size}")
    if args.steps < 2:
        parser.error(f"--steps must be at least 2 (the first step compiles and is not timed), got {args.steps}")
    if args.child:
        child(args.model, args.batch_size, args.steps)
        return 0
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from distribution_check import child_env  # beside this script

    print(f"{args.model}: global batch {args.batch_size}, {args.steps} Adam steps per configuration; virtual CPU "
          f"devices sharing the {len(os.sched_getaffinity(0))} core(s) this process may use (an overhead check, "
          "not a speed-up claim)")
    print(f"{'backend':<11} {'devices':>7} {'dtype':<15} {'median step s':>13} {'time / 1 dev f32':>16} "
          f"{'loss vs 1 dev f32':>17}")
    for backend in [b for b in args.backends.split(",") if b]:
        if backend not in ("jax", "tensorflow"):
            parser.error(f"--backends takes jax and tensorflow (torch has no Keras data-parallel engine), got "
                         f"{backend!r}")
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--child", "--model", args.model, "--batch-size",
             str(args.batch_size), "--steps", str(args.steps)],
            env=child_env(backend, 4), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARKER)]
        if proc.returncode != 0 or not lines:
            print(f"{backend}: the child failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}", file=sys.stderr)
            return 1
        result = json.loads(lines[-1][len(RESULT_MARKER):])
        for row in result["rows"]:
            print(f"{backend:<11} {row['devices']:>7} {row['dtype']:<15} {row['step_s']:>13.4f} "
                  f"{row['time_ratio']:>16.2f} {row['loss_rel_diff']:>17.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

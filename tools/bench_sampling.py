"""Naive vs cached sampling time of an image or audio model on every Keras backend, in one run.

For each backend (one child process each, because Keras fixes the backend at import) it builds the model (default
`gated_pixelcnn.mnist`: 16 binary 28x28 images, 10 gated layers of 128 channels) with seeded random weights and:

1. naive: the reference loop re-runs the whole network at batch 16 for every pixel, so every step costs the same.
   It is timed on the last `--naive-rows` rows (the top rows given as a prefix; the same compiled loop as a full
   run) and the per-step median is scaled to all steps; `--full-naive` times the whole loop instead (long);
2. cached: `model.sample(16, seed=0)` with the cached generator (the default), whole images, median of `--repeats`
   runs after a warm-up call that compiles;
3. checks that both give identical images for the same seed and prefix;
4. memory: the cached generator's state (row buffers, which grow with the width) against the activations of one
   full forward pass at the same batch (what every naive step materialises).

Sequence models (`--model wavenet.fsdd`): one second of 8 kHz audio (`--length 8000`, one sequence, digit 7 for a
conditional model), receptive field 2,048 samples. Fast: `model.sample(1, 8000)` with the per-layer queues (the
default), median of `--repeats` after a warm-up. Naive: every step re-runs the whole network over the sequence; it
is timed on the last `--naive-steps` steps (the rest given as a prompt, which the naive loop skips) and scaled to the
length. The real-time factor is generation time / audio duration (below 1: faster than real time). State: the cached
generator's queues against the activations of one forward pass over the whole sequence.

Usage (from the repository root):

    python tools/bench_sampling.py                                  # all three backends, gated_pixelcnn.mnist
    python tools/bench_sampling.py --model pixelcnn.mnist --backends tensorflow,jax
    python tools/bench_sampling.py --model wavenet.fsdd             # 1 s of 8 kHz audio, cached vs naive
    python tools/bench_sampling.py --smoke                          # tiny sizes: checks the script works

It prints one header and one comparable line per backend. A backend whose child fails is reported as failed in its
line; the other backends still run.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import traceback

BACKENDS = ("tensorflow", "jax", "torch")
SEQUENCE_ARCHS = ("wavenet", "bytenet", "lstm_lm")
RESULT_MARKER = "@@BENCH_SAMPLING_RESULT@@"


def _log(backend, message):
    print(f"[bench_sampling:{backend}] {message}", file=sys.stderr, flush=True)


def _median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _state_bytes(state):
    import numpy as np
    from keras import ops

    leaves = []

    def walk(x):
        if isinstance(x, dict):
            x = list(x.values())
        if isinstance(x, (tuple, list)):
            for y in x:
                walk(y)
        elif x is not None:
            leaves.append(x)

    walk(state)
    return int(sum(np.prod(ops.shape(x)) * 4 for x in leaves))


def _forward_activation_bytes(model, batch):
    """float32 bytes of every layer output of one forward pass at `batch` (what each naive step materialises)."""
    import numpy as np
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        for out in outputs:
            total += int(np.prod([batch] + list(out.shape[1:]))) * 4
    return total


def child(backend, config):
    """Runs inside one backend's process; returns a dict of results."""
    import numpy as np
    import keras

    import kgen

    result = {"backend": backend, "model": config["model"], "batch": config["batch"]}
    keras.utils.set_random_seed(0)
    model = kgen.zoo.get(config["model"])
    if np.ndim(model.example_inputs(batch_size=1)["x"]) == 2:  # the model's inputs are tokens (batch, time)
        return child_sequence(backend, config, model, result)
    h, w, c = model.image_shape
    batch = config["batch"]
    result["image_shape"] = [h, w, c]
    result["num_steps"] = model.num_steps
    result["params"] = int(model.count_params())
    if backend == "torch":
        import torch

        result["torch_threads"] = torch.get_num_threads()

    # ------------------------------------------------------------------------------------------------ cached
    _log(backend, "cached: warm-up (compiles)")
    result["cached_first_s"], _ = _timed(lambda: model.sample(batch, seed=0, method="cached"))
    times = []
    for i in range(config["repeats"]):
        t, cached = _timed(lambda: model.sample(batch, seed=0, method="cached"))
        times.append(t)
        _log(backend, f"cached run {i + 1}: {t:.3f} s")
    result["cached_s"] = _median(times)

    # ------------------------------------------------------------------------------------------------ naive
    if config["full_naive"]:
        _log(backend, "naive: the whole loop (warm-up on one step first)")
        model.sample(batch, seed=0, method="naive", prompt=np.zeros((batch, h - 1, w, c)))  # compiles
        t, naive = _timed(lambda: model.sample(batch, seed=0, method="naive"))
        result["naive_steps_timed"] = model.num_steps
        result["naive_s"] = t
        result["naive_measured"] = "full"
        result["identical"] = bool(np.array_equal(naive, cached))
    else:
        rows = config["naive_rows"]
        prefix = cached[:, : h - rows]
        steps = model.num_steps * rows // h
        _log(backend, f"naive: warm-up (compiles), then the last {rows} row(s) = {steps} steps")
        model.sample(batch, seed=1, method="naive", prompt=cached[:, : h - 1])
        t, naive = _timed(lambda: model.sample(batch, seed=1, method="naive", prompt=prefix))
        result["naive_steps_timed"] = steps
        result["naive_s_per_step"] = t / steps
        result["naive_s"] = t / steps * model.num_steps
        result["naive_measured"] = f"last {rows} row(s), scaled to {model.num_steps} steps"
        again = model.sample(batch, seed=1, method="cached", prompt=prefix)
        result["identical"] = bool(np.array_equal(naive, again))
    result["speedup"] = result["naive_s"] / result["cached_s"]

    # ------------------------------------------------------------------------------------------------ memory
    # The model's generation cache (row rings and the masked kernels it computes once), from its own protocol.
    result["cached_state_bytes"] = _state_bytes(model.init_cache(batch))
    result["forward_activation_bytes"] = _forward_activation_bytes(model, batch)
    return result


def child_sequence(backend, config, model, result):
    """The sequence-model half of `child`: cached vs naive generation of `config["length"]` tokens."""
    import numpy as np

    length, batch, rate = config["length"], config["batch"], config["rate"]
    labels = np.full((batch,), 7 % model.num_classes, "int32") if model.conditional else None
    result.update(length=length, num_steps=length, params=int(model.count_params()),
                  receptive_field=int(model.receptive_field), seconds=length / rate)
    _log(backend, "cached: warm-up (compiles)")
    result["cached_first_s"], _ = _timed(lambda: model.sample(batch, length, seed=0, labels=labels))
    times = []
    for i in range(config["repeats"]):
        t, cached = _timed(lambda: model.sample(batch, length, seed=0, labels=labels))
        times.append(t)
        _log(backend, f"cached run {i + 1}: {t:.3f} s")
        if sum(times) > 120:  # a slow backend (eager torch): fewer repeats rather than minutes of them
            break
    result["cached_s"] = _median(times)
    result["cached_runs"] = len(times)
    result["rtf"] = result["cached_s"] / (length / rate) / batch
    steps = min(config["naive_steps"], length)
    prompt = cached[:, : length - steps]
    _log(backend, f"naive: warm-up (compiles), then the last {steps} steps")
    model.sample(batch, length, seed=1, labels=labels, prompt=cached[:, : length - 1], method="naive")
    t, naive = _timed(lambda: model.sample(batch, length, seed=1, labels=labels, prompt=prompt, method="naive"))
    result["naive_steps_timed"] = steps
    result["naive_s_per_step"] = t / steps
    result["naive_s"] = t / steps * length
    result["naive_measured"] = f"last {steps} steps, scaled to {length}"
    again = model.sample(batch, length, seed=1, labels=labels, prompt=prompt)
    result["identical"] = bool(np.array_equal(naive, again))
    result["speedup"] = result["naive_s"] / result["cached_s"]
    result["cached_state_bytes"] = _state_bytes(model.init_cache(batch))
    total = 0
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        outputs = layer.output if isinstance(layer.output, (list, tuple)) else [layer.output]
        for out in outputs:
            dims = [d for d in out.shape[1:]]
            total += int(np.prod([batch] + [length if d is None else d for d in dims])) * 4
    result["forward_activation_bytes"] = total
    return result


# ================================================================================================= parent
def _run_backend(backend, config, timeout):
    from kgen.backends import run_under_backend

    args = [os.path.abspath(__file__), "--child", backend, "--config", json.dumps(config)]
    try:
        proc = run_under_backend(backend, args, timeout=timeout, check=False, capture_stderr=False)
    except subprocess.TimeoutExpired:
        return {"backend": backend, "error": f"timed out after {timeout} s"}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    return {"backend": backend, "error": f"child exited with {proc.returncode} and no result"}


def _mb(n):
    return f"{n / 2**20:.2f}"


def _per_step_ms(r):
    return r.get("naive_s_per_step", r["naive_s"] / r.get("num_steps", 1)) * 1e3


# (header, width, cell) of every column after the backend's; sequence models add the real-time factor.
COLUMNS = (
    ("naive_s", 9, lambda r: f"{r['naive_s']:.1f}"),
    ("naive_ms/step", 13, lambda r: f"{_per_step_ms(r):.1f}"),
    ("cached_s", 9, lambda r: f"{r['cached_s']:.3f}"),
    ("speedup", 8, lambda r: f"{r['speedup']:.1f}"),
    ("identical", 9, lambda r: str(r["identical"])),
    ("RTF", 7, lambda r: f"{r['rtf']:.3f}"),
    ("state_MB", 8, lambda r: _mb(r.get("cached_state_bytes", 0))),
    ("forward_MB", 10, lambda r: _mb(r["forward_activation_bytes"])),
)


def format_table(results):
    sequence = any("rtf" in r for r in results)
    columns = [(name, width, cell)
               for name, width, cell in COLUMNS if sequence or name != "RTF"]
    lines = [" ".join([f"{'backend':<11}"] + [f"{name:>{width}}" for name, width, _ in columns])]
    for r in results:
        if "error" in r:
            lines.append(f"{r['backend']:<11} FAILED: {r['error']}")
            continue
        lines.append(" ".join([f"{r['backend']:<11}"] + [f"{cell(r):>{width}}" for _, width, cell in columns]))
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="gated_pixelcnn.mnist")
    p.add_argument("--batch", type=int, default=None, help="images (default 16) or sequences (default 1)")
    p.add_argument("--length", type=int, default=8000, help="sequence models: tokens generated (8000: 1 s at 8 kHz)")
    p.add_argument("--rate", type=int, default=8000, help="sequence models: samples per second, for the RTF")
    p.add_argument("--naive-steps", type=int, default=32, help="sequence models: steps timed with the naive loop")
    p.add_argument("--backends", default=",".join(BACKENDS))
    p.add_argument("--repeats", type=int, default=3, help="timed cached runs (median)")
    p.add_argument("--naive-rows", type=int, default=1, help="rows timed with the naive loop (then scaled)")
    p.add_argument("--full-naive", action="store_true", help="time the whole naive loop (long)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per backend")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--smoke", action="store_true", help="tiny sizes (gated_pixelcnn.tiny or wavenet.tiny, 1 repeat)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--config", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown or not backends:
        p.error(f"--backends must be a comma-separated subset of {','.join(BACKENDS)}, got {args.backends!r}")
    for name in ("repeats", "naive_rows", "length", "rate", "naive_steps"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive int")
    if args.batch is not None and args.batch < 1:
        p.error("--batch must be a positive int")
    args.backends = backends
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        config = json.loads(args.config)
        try:
            result = child(args.child, config)
        except Exception:  # report, so the parent can go on with the other backends
            traceback.print_exc()
            result = {"backend": args.child, "error": traceback.format_exc().strip().splitlines()[-1]}
        print(RESULT_MARKER + json.dumps(result), flush=True)
        return 0
    sequence = args.model.split(".")[0] in SEQUENCE_ARCHS
    model = args.model
    if args.smoke:
        model = args.model.split(".")[0] + ".tiny" if sequence else "gated_pixelcnn.tiny"
    config = {
        "model": model,
        "batch": args.batch or (1 if sequence else (2 if args.smoke else 16)),
        "repeats": 1 if args.smoke else args.repeats,
        "naive_rows": args.naive_rows,
        "full_naive": args.full_naive,
        "length": 64 if args.smoke and sequence else args.length,
        "rate": args.rate,
        "naive_steps": 8 if args.smoke and sequence else args.naive_steps,
    }
    results = [_run_backend(b, config, args.timeout) for b in args.backends]
    print(format_table(results))
    ok = [r for r in results if "error" not in r]
    if ok:
        best = max(ok, key=lambda r: r["speedup"])
        if sequence:
            print(
                f"model {config['model']} (receptive field {ok[0]['receptive_field']}), batch {config['batch']}, "
                f"{config['length']} steps = {ok[0]['seconds']:.2f} s of audio at {config['rate']} Hz; naive time "
                f"measured on {ok[0]['naive_measured']}; cached: median of up to {config['repeats']} (fewer once "
                f"2 minutes are spent) after a compiling warm-up. RTF = cached time / audio duration."
            )
        else:
            print(
                f"model {config['model']}, batch {config['batch']}, {ok[0]['num_steps']} steps per image; naive "
                f"time measured on {ok[0]['naive_measured']}; cached: median of {config['repeats']} after a "
                f"compiling warm-up."
            )
        print(f"best speed-up: {best['speedup']:.0f}x on {best['backend']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": config, "results": results}, f, indent=2)
    return 0 if ok and len(ok) == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())

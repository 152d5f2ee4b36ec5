"""Benchmark kgen's PixelCNN on every Keras backend against a hand-written Keras model of the same architecture.

For each backend (one child process each, because Keras fixes the backend at import) it measures:

1. training throughput (images/s) of the `pixelcnn.mnist` preset compiled with Adam, from the median step time of
   `train_on_batch` on random binary images after warm-up;
2. the same for a minimal Keras model of identical architecture written here without kgen (a small masked-conv
   layer and the functional API), trained on the same numpy batches from the same initial weights, with the steps of
   the two models interleaved (kgen, baseline, kgen, baseline, ...) so machine noise hits both alike; the ratio
   kgen/baseline should be >= 0.95;
3. the achieved GFLOP/s of kgen's training step (conv FLOPs counted analytically as dense convolutions, i.e. the
   masked-out taps are counted, times 3 for forward + backward) as a fraction of a float32 2048x2048 matmul measured
   in the same process (jax.jit / tf.function(jit_compile=True) / plain torch);
4. the time of `model.sample(16, seed=0)` (the naive compiled loop): first call (includes compilation) and second.

Usage (from the repository root):

    python tools/bench_pixelcnn.py                                   # all three backends, 30 steps after 5 warm-up
    python tools/bench_pixelcnn.py --backends jax,torch --steps 50 --json bench.json
    python tools/bench_pixelcnn.py --smoke                           # tiny sizes: checks the script works

It prints one header and one comparable line per backend, then notes. A backend whose child fails is reported as
failed in its line; the other backends still run.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time
import traceback

BACKENDS = ("tensorflow", "jax", "torch")
RESULT_MARKER = "@@BENCH_PIXELCNN_RESULT@@"
RATIO_TARGET = 0.95


# ================================================================================================= child process
def _log(backend, message):
    print(f"[bench_pixelcnn:{backend}] {message}", file=sys.stderr, flush=True)


def _median(values):
    values = sorted(values)
    n = len(values)
    mid = n // 2
    return values[mid] if n % 2 else 0.5 * (values[mid - 1] + values[mid])


def _causal_mask(kernel_size, in_channels, out_channels, mask_type):
    """Raster-order mask for grey images: rows above the centre, and the centre row left of the centre (type "B" also
    the centre tap). Written here independently of kgen so the baseline shares no code with it."""
    import numpy as np

    k = kernel_size
    c = k // 2
    pattern = np.zeros((k, k), dtype="float32")
    pattern[:c, :] = 1.0
    pattern[c, :c] = 1.0
    if mask_type == "B":
        pattern[c, c] = 1.0
    return np.broadcast_to(pattern[:, :, None, None], (k, k, in_channels, out_channels)).copy()


def _baseline_model(image_shape, hidden_dim, num_residual_blocks, output_dim, first_kernel_size, kernel_size):
    """The PixelCNN graph written by hand with plain Keras: a masked conv layer plus the functional API."""
    import keras
    from keras import layers, ops

    class BaselineMaskedConv(keras.layers.Layer):
        def __init__(self, filters, kernel_size, mask_type, **kwargs):
            super().__init__(**kwargs)
            self.filters = filters
            self.kernel_size = kernel_size
            self.mask_type = mask_type

        def build(self, input_shape):
            in_channels = input_shape[-1]
            k = self.kernel_size
            self.kernel = self.add_weight(
                shape=(k, k, in_channels, self.filters), initializer="glorot_uniform", name="kernel"
            )
            self.bias = self.add_weight(shape=(self.filters,), initializer="zeros", name="bias")
            self.kernel_mask = _causal_mask(k, in_channels, self.filters, self.mask_type)

        def call(self, x):
            return ops.conv(x, self.kernel * self.kernel_mask, padding="same") + self.bias

        def compute_output_shape(self, input_shape):
            return tuple(input_shape[:-1]) + (self.filters,)

    h = hidden_dim
    images = keras.Input(shape=image_shape)
    x = layers.Rescaling(2.0, offset=-1.0)(images)  # binary levels {0, 1} -> {-1, 1}, as kgen does
    x = BaselineMaskedConv(h, first_kernel_size, "A")(x)
    for _ in range(num_residual_blocks):
        y = layers.ReLU()(x)
        y = BaselineMaskedConv(h // 2, 1, "B")(y)
        y = layers.ReLU()(y)
        y = BaselineMaskedConv(h // 2, kernel_size, "B")(y)
        y = layers.ReLU()(y)
        y = BaselineMaskedConv(h, 1, "B")(y)
        x = layers.Add()([x, y])
    x = layers.ReLU()(x)
    x = BaselineMaskedConv(output_dim, 1, "B")(x)
    x = layers.ReLU()(x)
    logits = BaselineMaskedConv(image_shape[-1], 1, "B")(x)
    return keras.Model(images, logits, name="baseline_pixelcnn"), BaselineMaskedConv


def _baseline_nll(y_true, logits):
    """Sigmoid cross-entropy summed over pixels: the negative log-likelihood in nats per image."""
    from keras import ops

    return ops.sum(ops.binary_crossentropy(y_true, logits, from_logits=True), axis=(1, 2, 3))


def _conv_flops(model):
    """Forward FLOPs per image of every Conv2D-like layer: dense (all taps) and counting only unmasked taps."""
    import numpy as np

    dense = 0
    unmasked = 0
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None or len(kernel.shape) != 4:
            continue
        h, w = layer.output.shape[1], layer.output.shape[2]
        kh, kw, cin, cout = (int(d) for d in kernel.shape)
        dense += 2 * h * w * kh * kw * cin * cout
        mask = getattr(layer, "kernel_mask", None)
        taps = float(np.sum(mask)) if mask is not None else kh * kw * cin * cout
        unmasked += 2 * h * w * taps
    return int(dense), int(unmasked)


def _sync_torch():
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _matmul_gflops(n, runs):
    """Median GFLOP/s of an n x n float32 matmul through keras.ops.matmul, compiled where the backend allows."""
    import numpy as np
    import keras
    from keras import ops

    backend = keras.backend.backend()
    rng = np.random.default_rng(1)
    a = ops.convert_to_tensor(rng.standard_normal((n, n)).astype("float32"))
    b = ops.convert_to_tensor(rng.standard_normal((n, n)).astype("float32"))
    if backend == "jax":
        import jax

        fn = jax.jit(ops.matmul)

        def run():
            fn(a, b).block_until_ready()

        how = "jax.jit"
    elif backend == "tensorflow":
        import tensorflow as tf

        fn = tf.function(ops.matmul, jit_compile=True)

        def run():
            fn(a, b)[0, 0].numpy()  # fetching one element waits for the matmul on any device

        how = "tf.function(jit_compile=True)"
    else:
        import torch

        def run():
            with torch.no_grad():
                ops.matmul(a, b)
            _sync_torch()

        how = "torch eager"
    for _ in range(2):
        run()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    seconds = _median(times)
    return {"matmul_size": n, "matmul_runs": runs, "matmul_how": how, "matmul_median_s": seconds,
            "matmul_gflops": 2.0 * n**3 / seconds / 1e9}


def _loss_of(logs):
    if isinstance(logs, dict):
        return float(logs["loss"])
    if isinstance(logs, (list, tuple)):
        return float(logs[0])
    return float(logs)


def run_child(backend, config):
    """Run every measurement on the current backend; returns the result dict (with "error" when something failed)."""
    result = {"backend": backend, "config": config}
    stage = "import"
    try:
        if backend == "torch":
            import torch  # first: torch before anything that could pull in tensorflow
        import numpy as np
        import keras

        if keras.backend.backend() != backend:
            raise RuntimeError(f"KERAS_BACKEND={backend} was requested but Keras runs {keras.backend.backend()!r}.")
        import kgen

        result["keras_version"] = keras.__version__
        # Not keras.utils.set_random_seed: it imports tensorflow, which jax and torch children should not load.
        # Keras draws its default seed from Python's `random`; the baseline copies kgen's weights anyway.
        random.seed(0)
        np.random.seed(0)
        if backend == "torch":
            torch.manual_seed(0)
            if config.get("torch_threads"):
                torch.set_num_threads(config["torch_threads"])
            result["torch_threads"] = torch.get_num_threads()
        result["cpu_count"] = os.cpu_count()

        # ------------------------------------------------------------------------------------------ models
        stage = "build"
        model = kgen.zoo.get(config["preset"])
        if model.likelihood != "bernoulli" or model.image_shape[-1] != 1:
            raise ValueError(
                f"the baseline is written for binary grey images; preset {config['preset']!r} has likelihood "
                f"{model.likelihood!r} and image_shape {model.image_shape}."
            )
        arch = {
            "image_shape": tuple(model.image_shape),
            "hidden_dim": model.hidden_dim,
            "num_residual_blocks": model.num_residual_blocks,
            "output_dim": model.output_dim,
            "first_kernel_size": model.first_kernel_size,
            "kernel_size": model.kernel_size,
        }
        result["architecture"] = {k: list(v) if isinstance(v, tuple) else v for k, v in arch.items()}
        baseline, baseline_conv = _baseline_model(**arch)
        result["params_kgen"] = int(model.count_params())
        result["params_baseline"] = int(baseline.count_params())
        if result["params_kgen"] != result["params_baseline"]:
            raise AssertionError(
                f"parameter counts differ: kgen {result['params_kgen']} vs baseline {result['params_baseline']}."
            )

        # Same initial weights, so both models train along the same trajectory on the same batches.
        kgen_convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
        base_convs = [l for l in baseline.layers if isinstance(l, baseline_conv)]
        if len(kgen_convs) != len(base_convs):
            raise AssertionError(f"conv layer counts differ: kgen {len(kgen_convs)} vs baseline {len(base_convs)}.")
        masks_equal = True
        for kl, bl in zip(kgen_convs, base_convs):
            if tuple(kl.kernel.shape) != tuple(bl.kernel.shape):
                raise AssertionError(f"kernel shapes differ at {kl.name}: {kl.kernel.shape} vs {bl.kernel.shape}.")
            bl.kernel.assign(keras.ops.convert_to_numpy(kl.kernel))
            bl.bias.assign(keras.ops.convert_to_numpy(kl.bias))
            kmask = getattr(kl, "kernel_mask", None)
            if kmask is not None and not np.array_equal(np.asarray(kmask), bl.kernel_mask):
                masks_equal = False
        result["masks_equal"] = masks_equal

        batch = config["batch_size"]
        rng = np.random.default_rng(0)
        data = (rng.random((config["num_batches"], batch) + arch["image_shape"]) < 0.5).astype("float32")
        out_k = keras.ops.convert_to_numpy(model(data[0], training=False))
        out_b = keras.ops.convert_to_numpy(baseline(data[0], training=False))
        result["forward_max_abs_diff"] = float(np.max(np.abs(out_k.reshape(out_b.shape) - out_b)))
        if result["forward_max_abs_diff"] > 1e-3 * max(1.0, float(np.max(np.abs(out_b)))):
            raise AssertionError(
                f"kgen and the baseline disagree on the same weights (max |diff| {result['forward_max_abs_diff']:.3g})."
            )

        # ------------------------------------------------------------------------------------------ training
        stage = "training"
        model.compile(optimizer=keras.optimizers.Adam())
        baseline.compile(optimizer=keras.optimizers.Adam(), loss=_baseline_nll)

        def step_kgen(x):
            t0 = time.perf_counter()
            logs = model.train_on_batch(x, return_dict=True)  # returns python floats: the step has finished
            return time.perf_counter() - t0, _loss_of(logs)

        def step_base(x):
            t0 = time.perf_counter()
            logs = baseline.train_on_batch(x, x, return_dict=True)
            return time.perf_counter() - t0, _loss_of(logs)

        _log(backend, f"training {config['preset']} at batch {batch}: {config['warmup']} warm-up + "
                      f"{config['steps']} timed steps per model, interleaved")
        kgen_times, base_times, warm_k, warm_b = [], [], [], []
        kgen_losses, base_losses = [], []
        total = config["warmup"] + config["steps"]
        for i in range(total):
            x = data[i % len(data)]
            tk, lk = step_kgen(x)
            tb, lb = step_base(x)
            (warm_k if i < config["warmup"] else kgen_times).append(tk)
            (warm_b if i < config["warmup"] else base_times).append(tb)
            kgen_losses.append(lk)
            base_losses.append(lb)
        result["jit_compile"] = bool(model.jit_compile)
        result["jit_compile_baseline"] = bool(baseline.jit_compile)
        result["first_step_s_kgen"] = warm_k[0] if warm_k else None
        result["first_step_s_baseline"] = warm_b[0] if warm_b else None
        result["step_times_s_kgen"] = kgen_times
        result["step_times_s_baseline"] = base_times
        result["median_step_s_kgen"] = _median(kgen_times)
        result["median_step_s_baseline"] = _median(base_times)
        result["kgen_img_s"] = batch / result["median_step_s_kgen"]
        result["baseline_img_s"] = batch / result["median_step_s_baseline"]
        result["ratio"] = result["kgen_img_s"] / result["baseline_img_s"]
        result["losses_kgen"] = kgen_losses
        result["losses_baseline"] = base_losses
        result["final_loss_rel_diff"] = abs(kgen_losses[-1] - base_losses[-1]) / max(abs(base_losses[-1]), 1e-12)
        _log(backend, f"kgen {result['kgen_img_s']:.1f} img/s, baseline {result['baseline_img_s']:.1f} img/s, "
                      f"ratio {result['ratio']:.3f}")

        # ------------------------------------------------------------------------------------------ FLOPs
        stage = "flops"
        dense, unmasked = _conv_flops(model)
        result["forward_flops_per_image_dense"] = dense
        result["forward_flops_per_image_unmasked"] = unmasked
        result["train_flops_per_step"] = 3 * batch * dense
        result["achieved_gflops"] = result["train_flops_per_step"] / result["median_step_s_kgen"] / 1e9
        result.update(_matmul_gflops(config["matmul_size"], config["matmul_runs"]))
        result["fraction_of_matmul"] = result["achieved_gflops"] / result["matmul_gflops"]
        _log(backend, f"{result['achieved_gflops']:.1f} GFLOP/s vs matmul {result['matmul_gflops']:.1f} GFLOP/s")

        # ------------------------------------------------------------------------------------------ sampling
        stage = "sampling"
        n = config["num_samples"]
        _log(backend, f"sampling {n} images twice (naive loop; the first call compiles)")
        t0 = time.perf_counter()
        first = model.sample(n, seed=0, method="naive")
        t1 = time.perf_counter()
        second = model.sample(n, seed=0, method="naive")
        t2 = time.perf_counter()
        result["sample_first_s"] = t1 - t0
        result["sample_second_s"] = t2 - t1
        result["sample_same_seed_identical"] = bool(np.array_equal(first, second))
        result["sample_shape"] = list(first.shape)
        result["sample_mean"] = float(np.mean(first))
        result["tensorflow_imported"] = "tensorflow" in sys.modules
        stage = "done"
    except BaseException as exc:  # noqa: BLE001 - report any failure, including KeyboardInterrupt, to the parent
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["failed_stage"] = stage
        result["traceback"] = traceback.format_exc()
        print(result["traceback"], file=sys.stderr, flush=True)
    return result


# ================================================================================================= parent process
def _fmt(value, spec, width):
    if value is None:
        return "-".rjust(width)
    return format(value, spec).rjust(width)


def format_table(results, num_samples):
    sample_head = f"sample{num_samples} first/second (s)"
    header = (f"{'backend':<11} {'kgen img/s':>10}  {'baseline img/s':>14}  {'ratio':>5}  {'GFLOP/s':>7}  "
              f"{'matmul GFLOP/s':>14}  {'fraction':>8}  {sample_head}")
    lines = [header]
    for r in results:
        if r.get("error") and r.get("kgen_img_s") is None:
            lines.append(f"{r['backend']:<11} FAILED ({r.get('failed_stage', '?')}): {r['error'].splitlines()[0][:160]}")
            continue
        first, second = r.get("sample_first_s"), r.get("sample_second_s")
        sample = f"{first:.1f} / {second:.1f}" if first is not None and second is not None else "-"
        line = (f"{r['backend']:<11} {_fmt(r.get('kgen_img_s'), '.1f', 10)}  {_fmt(r.get('baseline_img_s'), '.1f', 14)}"
                f"  {_fmt(r.get('ratio'), '.3f', 5)}  {_fmt(r.get('achieved_gflops'), '.3g', 7)}"
                f"  {_fmt(r.get('matmul_gflops'), '.1f', 14)}  {_fmt(r.get('fraction_of_matmul'), '.3g', 8)}  {sample}")
        if r.get("error"):
            line += f"  FAILED ({r.get('failed_stage', '?')}): {r['error'].splitlines()[0][:120]}"
        lines.append(line)
    return lines


def backend_imports_tf(r):
    return r.get("backend") != "tensorflow" and r.get("tensorflow_imported") is True


def format_notes(results, config):
    notes = [
        f"preset {config['preset']}, batch {config['batch_size']}, Adam, jit_compile='auto'; img/s from the median of "
        f"{config['steps']} train_on_batch steps after {config['warmup']} warm-up, kgen and baseline interleaved on the "
        f"same numpy batches from the same initial weights; ratio = kgen/baseline (target >= {RATIO_TARGET}).",
        "GFLOP/s: conv FLOPs counted as dense convolutions (masked-out taps counted), 2*H*W*k*k*Cin*Cout per layer, "
        f"x3 for forward+backward; matmul: {config['matmul_size']}x{config['matmul_size']} float32 keras.ops.matmul, "
        f"median of {config['matmul_runs']}; fraction = GFLOP/s / matmul GFLOP/s.",
        f"sample{config['num_samples']}: model.sample({config['num_samples']}, seed=0), naive loop; first call "
        "includes compilation.",
    ]
    for r in results:
        details = []
        if r.get("torch_threads") is not None:
            details.append(f"torch threads {r['torch_threads']} of {r.get('cpu_count')} cpus")
        if r.get("jit_compile") is not None:
            details.append(f"jit_compile resolved to {r['jit_compile']}")
        if r.get("first_step_s_kgen") is not None:
            details.append(f"first step (compiles) kgen {r['first_step_s_kgen']:.1f} s / baseline "
                           f"{r['first_step_s_baseline']:.1f} s")
        if r.get("forward_flops_per_image_dense"):
            details.append(f"forward {r['forward_flops_per_image_dense'] / 1e6:.1f} MFLOP/image dense "
                           f"({r['forward_flops_per_image_unmasked'] / 1e6:.1f} unmasked)")
        if r.get("final_loss_rel_diff") is not None:
            details.append(f"final loss kgen {r['losses_kgen'][-1]:.2f} vs baseline {r['losses_baseline'][-1]:.2f} nats")
        if r.get("masks_equal") is False:
            details.append("WARNING: kgen's masks differ from the baseline's")
        if backend_imports_tf(r):
            details.append("note: tensorflow was imported in this child")
        if r.get("sample_same_seed_identical") is False:
            details.append("WARNING: two samples with seed=0 differ")
        if r.get("error"):
            details.append(f"error in {r.get('failed_stage', '?')}: {r['error'].splitlines()[0][:300]}")
        if details:
            notes.append(f"{r['backend']}: " + "; ".join(details))
    return notes


def _run_backend(backend, config, timeout):
    # Imported here, in the parent only: a child must import its backend (torch first) before anything from kgen.
    from kgen.backends import run_under_backend

    args = [os.path.abspath(__file__), "--child", backend, "--child-config", json.dumps(config)]
    try:
        # The child's stderr (its progress log) streams through; its exit code is read from the result line.
        proc = run_under_backend(backend, args, timeout=timeout, check=False, capture_stderr=False)
    except subprocess.TimeoutExpired as exc:
        if exc.stdout:
            sys.stderr.write(exc.stdout if isinstance(exc.stdout, str) else exc.stdout.decode(errors="replace"))
        return {"backend": backend, "error": f"child timed out after {timeout} s", "failed_stage": "timeout"}
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            result = json.loads(line[len(RESULT_MARKER):])
        else:
            print(line, file=sys.stderr)  # anything else a library printed: keep it visible, off the table
    if result is None:
        return {"backend": backend, "error": f"child exited with code {proc.returncode} and no result "
                                             "(crashed before reporting; see its stderr above)",
                "failed_stage": "child process"}
    return result


def _write_json(path, payload):
    path = os.path.abspath(path)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w") as f:
            json.dump(payload, f, indent=2)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive int, got {text!r}")
    return value


def _non_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an int >= 0, got {text!r}")
    return value


def _backends(text):
    names = [b.strip().lower() for b in text.split(",") if b.strip()]
    unknown = [b for b in names if b not in BACKENDS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated subset of {','.join(BACKENDS)}, got {text!r}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    return list(dict.fromkeys(names))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backends", type=_backends, default=list(BACKENDS),
                   help="comma-separated backends to run (default: tensorflow,jax,torch)")
    p.add_argument("--steps", type=_positive, default=None, help="timed training steps per model (default 30)")
    p.add_argument("--warmup", type=_non_negative, default=None, help="warm-up steps per model (default 5)")
    p.add_argument("--batch-size", type=_positive, default=None, help="training batch (default 64)")
    p.add_argument("--preset", default=None, help="kgen preset (default pixelcnn.mnist)")
    p.add_argument("--num-samples", type=_positive, default=None, help="images to sample (default 16)")
    p.add_argument("--matmul-size", type=_positive, default=None, help="matmul side (default 2048)")
    p.add_argument("--torch-threads", type=_positive, default=None,
                   help="torch.set_num_threads in the torch child (default: torch's own choice); on a machine whose "
                        "cores are busy with other work, torch's default can be many times slower on small ops")
    p.add_argument("--smoke", action="store_true",
                   help="tiny run (pixelcnn.tiny, few steps, 2 samples) that only checks the script works")
    p.add_argument("--json", default=None, metavar="PATH", help="also write every result as JSON to PATH")
    p.add_argument("--timeout", type=_positive, default=1800, help="seconds allowed per backend (default 1800)")
    p.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    p.add_argument("--child-config", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.json is not None:
        parent = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(parent):
            p.error(f"--json: the folder {parent!r} does not exist")
    return args


def make_config(args):
    smoke = args.smoke
    defaults = {
        "preset": "pixelcnn.tiny" if smoke else "pixelcnn.mnist",
        "batch_size": 16 if smoke else 64,
        "steps": 3 if smoke else 30,
        "warmup": 1 if smoke else 5,
        "num_samples": 2 if smoke else 16,
        "matmul_size": 256 if smoke else 2048,
    }
    given = {"preset": args.preset, "batch_size": args.batch_size, "steps": args.steps, "warmup": args.warmup,
             "num_samples": args.num_samples, "matmul_size": args.matmul_size}
    config = {k: (given[k] if given[k] is not None else v) for k, v in defaults.items()}
    config["matmul_runs"] = 3 if smoke else 7
    config["num_batches"] = 4
    config["smoke"] = smoke
    config["torch_threads"] = args.torch_threads
    return config


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        config = json.loads(args.child_config)
        result = run_child(args.child, config)
        sys.stdout.flush()
        print(RESULT_MARKER + json.dumps(result), flush=True)
        return 1 if result.get("error") else 0

    config = make_config(args)
    results = []
    for backend in args.backends:
        print(f"[bench_pixelcnn] running {backend} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        result = _run_backend(backend, config, args.timeout)
        result["child_wall_s"] = time.perf_counter() - t0
        results.append(result)
    lines = format_table(results, config["num_samples"])
    print("\n".join(lines))
    print()
    print("\n".join(format_notes(results, config)))
    if args.json:
        _write_json(args.json, {"config": config, "results": results, "table": lines})
    return 1 if any(r.get("error") for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

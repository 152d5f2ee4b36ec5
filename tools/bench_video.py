"""Video Pixel Network: is the Moving MNIST stream fast enough to feed training, and cached vs naive generation time.

For each backend (one child process each: Keras fixes the backend at import) it builds the model (default
`video_pixel_network.moving_mnist`, seeded random weights) and measures, medians of `--repeats`:

1. data: seconds to make one training batch of Moving MNIST from scratch (`load_arrays` of a slice of the training
   stream: the digits' draws, trajectories and rendering that each parallel worker of `kgen.data.load("moving_mnist",
   "train")` does per batch), against one training step on such a batch (`train_on_batch`); a ratio well below 1
   means the stream (which also runs ahead in parallel with prefetch) cannot hold training up;
2. generation, per generated frame at batch 1 after `--context` real frames: cached (`model.sample`, the default
   method: the past once per frame, each decoder layer once per pixel) after a warm-up call that compiles, against
   naive: every pixel re-runs the whole model over the video so far, so a naive frame costs H x W forward passes;
   one forward pass is timed and multiplied by H x W (`--full-naive` runs the naive loop itself for one frame).

Usage (from the repository root, with KGEN_DATA_DIR set or --source embedded):

    python tools/bench_video.py                                   # all three backends
    python tools/bench_video.py --backends tensorflow --repeats 5
    python tools/bench_video.py --smoke                           # tiny sizes: checks the script works

It prints one header and one comparable line per backend.
"""

import argparse
import json
import os
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")
RESULT_MARKER = "@@BENCH_VIDEO_RESULT@@"


def _median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else 0.5 * (values[n // 2 - 1] + values[n // 2])


def _child(args):
    import numpy as np

    import kgen

    overrides = {}
    if args.smoke:
        overrides = dict(frame_shape=(32, 32, 1), num_context_frames=2, hidden_dim=4, num_encoder_blocks=1,
                         lstm_dim=4, num_decoder_blocks=1, output_dim=4, first_kernel_size=3)
    model = kgen.zoo.get(args.model, **overrides)
    model.compile(optimizer="adam")
    h, w, _ = model.frame_shape
    frames = model.num_context_frames + (2 if args.smoke else args.train_frames)
    stream = kgen.data.load("moving_mnist", "train", batch_size=args.batch_size, source=args.source,
                            num_frames=frames, frame_size=h)
    it = iter(stream)
    batch = np.asarray(next(it))  # numpy: every backend's train_on_batch takes it
    data_times, step_times = [], []
    for r in range(args.repeats):  # making one batch from scratch, as one of the stream's parallel workers does
        t0 = time.perf_counter()
        kgen.data.load_arrays("moving_mnist", f"train[{r * args.batch_size}:{(r + 1) * args.batch_size}]",
                              source=args.source, num_frames=frames, frame_size=h)
        data_times.append(time.perf_counter() - t0)
    next(it)
    model.train_on_batch(batch)  # compiles
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        model.train_on_batch(batch)
        step_times.append(time.perf_counter() - t0)

    context = np.asarray(batch)[:1, : args.context or model.num_context_frames]
    model.sample(context, 1, seed=0)  # compiles
    cached = []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        model.sample(context, 1, seed=r)
        cached.append(time.perf_counter() - t0)
    video = np.concatenate([context, np.zeros((1, 1) + model.frame_shape, "float32")], axis=1)
    model(video)
    forward = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        model(video)
        forward.append(time.perf_counter() - t0)
    naive_frame = _median(forward) * h * w
    measured_naive = None
    if args.full_naive:
        t0 = time.perf_counter()
        model.sample(context, 1, seed=0, method="naive")
        measured_naive = time.perf_counter() - t0
    return {
        "params": model.count_params(), "batch": args.batch_size, "frames": frames,
        "data_s": _median(data_times), "step_s": _median(step_times),
        "cached_frame_s": _median(cached), "naive_frame_s": naive_frame, "naive_measured_s": measured_naive,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="video_pixel_network.moving_mnist")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--train-frames", type=int, default=10, help="predicted frames per training sequence")
    parser.add_argument("--context", type=int, default=None, help="real frames before a generated one")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--source", default=None, choices=[None, "local", "tfds", "embedded"])
    parser.add_argument("--full-naive", action="store_true", help="also run the naive loop for one whole frame")
    parser.add_argument("--smoke", action="store_true", help="tiny model and frames: checks the script works")
    parser.add_argument("--json", help="also write the results here as JSON")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.repeats, args.batch_size = 1, 2
        args.source = args.source or "embedded"
    if args.child:
        print(RESULT_MARKER + json.dumps(_child(args)), flush=True)
        return 0

    print(f"model {args.model}{' (smoke sizes)' if args.smoke else ''}: batch {args.batch_size}; data = one stream "
          "batch, step = one train_on_batch, per generated frame at batch 1: cached (measured) vs naive "
          "(H x W forward passes); medians of " + str(args.repeats))
    print(f"{'backend':<11} {'params':>9} {'data s':>8} {'step s':>8} {'data/step':>9} {'cached s/frame':>15} "
          f"{'naive s/frame':>14} {'naive/cached':>12}")
    status, results = 0, []
    for backend in args.backends.split(","):
        argv_child = [sys.executable, __file__, "--child"] + [a for a in (argv or sys.argv[1:])]
        env = {**os.environ, "KERAS_BACKEND": backend}
        proc = subprocess.run(argv_child, env=env, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARKER)]
        if proc.returncode or not lines:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            print(f"{backend:<11} failed: {' | '.join(tail)}")
            results.append({"backend": backend, "error": " | ".join(tail)})
            status = 1
            continue
        r = json.loads(lines[-1][len(RESULT_MARKER):])
        results.append({"backend": backend, **r})
        naive = r["naive_frame_s"] if r["naive_measured_s"] is None else r["naive_measured_s"]
        print(f"{backend:<11} {r['params']:>9,} {r['data_s']:>8.3f} {r['step_s']:>8.3f} "
              f"{r['data_s'] / r['step_s']:>9.3f} {r['cached_frame_s']:>15.2f} {naive:>14.1f} "
              f"{naive / r['cached_frame_s']:>12.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "smoke": args.smoke, "results": results}, f, indent=2)
    return status


if __name__ == "__main__":
    sys.exit(main())

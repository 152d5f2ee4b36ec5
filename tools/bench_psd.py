"""Predictive sparse decomposition: how good and how fast are the encoder's codes against FISTA's and ISTA's?

One run: trains `psd.patches` on whitened 8x8 photograph patches (`photo_patches`, train split) for `--seconds`
(`model.fit`, Adam, stopped after the batch that spends the budget; `--clock cpu` budgets this process's CPU time
instead of wall time, for a core shared with other processes), then on the held-out test patches compares

- the codes of the feed-forward encoder alone, `model.encode(x)` = g * tanh(xW + b);
- the FISTA codes of the same dictionary, `model.infer_codes(x)` (`num_iterations` steps from zero);
- the ISTA codes of the same dictionary, `model.infer_codes(x, method="ista")` (as many steps, no momentum);
- zero codes (the objective is then ||x||^2), for scale;

by the sparse-coding objective ||x - zD||^2 + penalty |z|_1 per patch (mean over patches; lower is better), the
squared reconstruction error alone, the fraction of non-zero code entries (|z| > 1e-3 for the encoder, whose tanh
codes are never exactly zero), and the time to encode all test patches: the median of `--repeats` calls after a
warm-up call, the calls of the three interleaved (all compiled through `keras.Model.predict` with the same batch
size; wall and process-CPU time), and the speed-ups of the encoder over FISTA and over ISTA.

Usage (from the repository root):

    KERAS_BACKEND=jax taskset -c 0 python tools/bench_psd.py --seconds 120 --clock cpu --out runs/bench_psd
    python tools/bench_psd.py --quick                     # smoke run
"""

import statistics
import sys
import time

from bench_sparse_coding import (  # tools/
    Clock,
    argument_parser,
    configure_backend_threads,
    objective,
    set_threads,
    shorten_if_quick,
    stop_callback,
    write_outputs,
)


def parse_args(argv=None):
    p = argument_parser(__doc__, "training wall time", "smoke run: 5 s of training, small data, 3 repeats")
    p.add_argument("--encode-batch-size", type=int, default=1000)
    p.add_argument("--repeats", type=int, default=7)
    args = shorten_if_quick(p.parse_args(argv), num_test=1000)
    if args.quick:
        args.repeats = min(args.repeats, 3)
    return args


def median_times(fns, repeats):
    """Median wall and process-CPU seconds of each function, after one warm-up call each (compilation); the calls
    are interleaved (a, b, a, b, ...) so load from other processes hits all of them alike."""
    for fn in fns:
        fn()
    wall = [[] for _ in fns]
    cpu = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            wall[i].append(time.perf_counter() - w0)
            cpu[i].append(time.process_time() - c0)
    return [(statistics.median(w), statistics.median(c)) for w, c in zip(wall, cpu)]


def main(argv=None):
    args = parse_args(argv)
    set_threads(args.threads)
    import numpy as np
    import keras
    import kgen
    from kgen.data import patches

    backend = configure_backend_threads(args.threads)
    train = patches.load_arrays("photo_patches", "train", num_patches=args.num_train, seed=args.seed)
    test = patches.load_arrays("photo_patches", "test", num_patches=args.num_test)
    keras.utils.set_random_seed(args.seed)
    model = kgen.zoo.get("psd.patches")
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    clock = Clock(args.clock)
    history = model.fit(train, batch_size=args.batch_size, epochs=10**6, shuffle=True, verbose=0,
                        callbacks=[stop_callback(clock, args.seconds)])
    wall, cpu = clock.wall(), clock.cpu()
    steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    print(f"# psd.patches ({backend}): {steps} steps of {args.batch_size} in {wall:.1f} s, last epoch loss "
          f"{history.history['loss'][-1]:.3f} ({cpu:.1f} s CPU); {len(test)} held-out patches", file=sys.stderr, flush=True)

    bs = args.encode_batch_size
    atoms = model.atoms()
    encoder_codes = model.encode(test, batch_size=bs)
    fista_codes = model.infer_codes(test, batch_size=bs)
    ista_codes = model.infer_codes(test, batch_size=bs, method="ista")
    (t_encoder, c_encoder), (t_fista, c_fista), (t_ista, c_ista) = median_times(
        [lambda: model.encode(test, batch_size=bs), lambda: model.infer_codes(test, batch_size=bs),
         lambda: model.infer_codes(test, batch_size=bs, method="ista")], args.repeats)
    rows = []
    for name, codes, seconds, cpu_seconds, threshold in (
        ("encoder g*tanh(Wx+b) (encode)", encoder_codes, t_encoder, c_encoder, 1e-3),
        (f"FISTA x{model.num_iterations} (infer_codes)", fista_codes, t_fista, c_fista, 0.0),
        (f"ISTA x{model.num_iterations} (method='ista')", ista_codes, t_ista, c_ista, 0.0),
        ("zero codes", np.zeros_like(fista_codes), None, None, 0.0),
    ):
        values = objective(test, codes, atoms, model.penalty)
        recon = np.sum((test.astype("float64") - codes.astype("float64") @ atoms) ** 2, axis=1)
        rows.append(dict(method=name, objective=float(values.mean()), reconstruction=float(recon.mean()),
                         nonzero=float(np.mean(np.abs(codes) > threshold)), encode_s=seconds,
                         encode_cpu_s=cpu_seconds))
    reference = rows[1]["objective"]
    print(f"{'codes':<32} {'objective':>10} {'vs_fista':>8} {'recon_sq_err':>12} {'nonzero':>8} "
          f"{'encode_ms':>10} {'cpu_ms':>8} {'speedup':>8}")
    for r in rows:
        r["objective_ratio_to_fista"] = r["objective"] / reference
        none = r["encode_s"] is None
        time_ms = "-" if none else f"{1000 * r['encode_s']:.1f}"
        cpu_ms = "-" if none else f"{1000 * r['encode_cpu_s']:.1f}"
        speed = "-" if none else f"{t_fista / r['encode_s']:.1f}x"
        print(f"{r['method']:<32} {r['objective']:10.4f} {r['objective_ratio_to_fista']:8.3f} "
              f"{r['reconstruction']:12.4f} {100 * r['nonzero']:7.2f}% {time_ms:>10} {cpu_ms:>8} {speed:>8}")
    print(f"# objective ||x - zD||^2 + {model.penalty:g} |z|_1 per patch (mean over {len(test)} held-out patches); "
          f"encode_ms / cpu_ms: median wall / process-CPU time of {args.repeats} interleaved calls encoding all of them "
          f"(batch {bs}, compiled predict, after a warm-up call); speed-up = FISTA wall time / this wall time; "
          f"encoder: {t_fista / t_encoder:.1f}x over FISTA, {t_ista / t_encoder:.1f}x over ISTA (CPU time: "
          f"{c_fista / c_encoder:.1f}x, {c_ista / c_encoder:.1f}x); backend {backend}, "
          f"{args.threads} thread(s); trained {wall:.0f} s wall / {cpu:.0f} s CPU ({steps} steps of {args.batch_size})")
    if args.out:
        result = dict(args=vars(args), backend=backend, train_wall_s=wall, train_cpu_s=cpu, steps=steps, rows=rows,
                      speedup=t_fista / t_encoder, speedup_cpu=c_fista / c_encoder,
                      speedup_over_ista=t_ista / t_encoder, speedup_over_ista_cpu=c_ista / c_encoder)
        write_outputs(args.out, result, {"psd_atoms.png": model.filters()}, model=model)
    return rows


if __name__ == "__main__":
    main()

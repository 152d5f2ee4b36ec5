"""Sparse coding at equal wall time: kgen's SparseCoding against scikit-learn's MiniBatchDictionaryLearning.

Both learn K atoms from the same whitened 8x8 photograph patches (`kgen.data.load_arrays("photo_patches")`, train
split) for the same wall time (`--seconds`), in one process, one after the other:

- kgen: `sparse_coding.patches` (FISTA codes, `--num-iterations` steps, Adam on the dictionary, unit-norm atoms)
  trained by `model.fit` on mini-batches until the time is spent (checked after every batch; compilation counts);
- scikit-learn: `MiniBatchDictionaryLearning(n_components=K, alpha=penalty / 2, batch_size=...,
  fit_algorithm="cd")`, `partial_fit` on shuffled mini-batches of the same size until the time is spent (its
  default dictionary initialisation, from an SVD of the first batch; its convergence warnings silenced). In a 30 s
  trial its default `fit_algorithm="lars"` did 31 steps and reached a worse objective than "cd" (207 steps), so
  "cd" is the default here (`--fit-algorithm lars` for the other).

The objectives are the same: kgen minimises ||x - zD||^2 + penalty |z|_1 per patch; scikit-learn minimises
0.5 ||x - zD||^2 + alpha |z|_1 with alpha = penalty / 2, i.e. half of it. Both dictionaries are then scored with
the same solver on the held-out test patches: codes by `sklearn.decomposition.sparse_encode(algorithm="lasso_cd",
alpha=penalty / 2)` (scikit-learn's own Lasso; the objective's exact minimiser up to its tolerance), objective
||x - zD||^2 + penalty |z|_1 averaged over the patches. The table reports each method's wall and CPU time, the
training steps and patches it processed, the objective, and its ratio to scikit-learn's (target: kgen <= 1).

Usage (from the repository root; one core, as the published figures):

    KERAS_BACKEND=jax taskset -c 0 python tools/bench_sparse_coding.py --seconds 120 --out runs/bench_sparse_coding
    # on a core shared with other jobs, budget each learner's own CPU time instead (zoo/sparse_coding.md):
    KERAS_BACKEND=jax taskset -c 0 python tools/bench_sparse_coding.py --seconds 120 --clock cpu --out runs/bench_sparse_coding
    python tools/bench_sparse_coding.py --quick          # a short smoke run (a few seconds each)

Threads: the script sets OMP/MKL/OpenBLAS to one thread and the backends to one thread (pass --threads to change),
so with `taskset -c 0` both methods get the same single core.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path


def argument_parser(doc, seconds_help, quick_help):
    """The options bench_sparse_coding and bench_psd share (training budget, data sizes, seeds, threads, output),
    described by the first paragraph of the script's docstring `doc`."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=120.0, help=seconds_help)
    p.add_argument("--learning-rate", type=float, default=3e-3, help="kgen's Adam learning rate")
    p.add_argument("--clock", default="wall", choices=("wall", "cpu"),
                   help="what --seconds budgets: wall time (default) or this process's CPU time (fairer when other "
                        "processes share the core)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--num-train", type=int, default=100_000)
    p.add_argument("--num-test", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=None, help="folder for the atom PNGs, the model and results.json")
    p.add_argument("--quick", action="store_true", help=quick_help)
    return p


def shorten_if_quick(args, num_test):
    """--quick: 5 s of training on 5,000 training patches and `num_test` test patches."""
    if args.quick:
        args.seconds = min(args.seconds, 5.0)
        args.num_train = min(args.num_train, 5000)
        args.num_test = min(args.num_test, num_test)
    return args


def parse_args(argv=None):
    p = argument_parser(
        __doc__, "training wall time of each method", "smoke run: 5 s each, 5,000 train / 500 test patches"
    )
    p.add_argument("--num-atoms", type=int, default=256)
    p.add_argument("--penalty", type=float, default=None, help="L1 weight (default: the preset's)")
    p.add_argument("--num-iterations", type=int, default=None, help="kgen FISTA steps (default: the preset's)")
    p.add_argument("--patch-size", type=int, default=8)
    p.add_argument("--fit-algorithm", default="cd", choices=("cd", "lars"),
                   help="scikit-learn's code solver (cd: the faster of the two on these patches)")
    return shorten_if_quick(p.parse_args(argv), num_test=500)


def set_threads(n):
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, str(n))
    if n == 1:
        os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def configure_backend_threads(n):
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)
    elif backend == "torch":
        import torch

        torch.set_num_threads(n)
    return backend


class Clock:
    """Wall and process CPU seconds since creation; `spent()` of the budgeted one."""

    def __init__(self, budget):
        self.budget = budget  # "wall" or "cpu": which one `spent` counts
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()

    def wall(self):
        return time.perf_counter() - self.wall0

    def cpu(self):
        return time.process_time() - self.cpu0

    def spent(self):
        return self.wall() if self.budget == "wall" else self.cpu()


def stop_callback(clock, seconds):
    """A Keras callback that stops `fit` once `clock.spent() >= seconds` (checked after every batch)."""
    import keras

    class _Stop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if clock.spent() >= seconds:
                self.model.stop_training = True

    return _Stop()


def objective(x, codes, dictionary, penalty):
    import numpy as np

    residual = x.astype("float64") - codes.astype("float64") @ dictionary.astype("float64")
    return np.sum(residual**2, axis=1) + penalty * np.abs(codes).sum(axis=1)


def lasso_codes(x, dictionary, penalty):
    """The shared scorer: scikit-learn's Lasso codes of x for the dictionary, objective ||x-zD||^2 + penalty|z|_1."""
    import warnings

    from sklearn.decomposition import sparse_encode
    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    return sparse_encode(x.astype("float64"), dictionary.astype("float64"), algorithm="lasso_cd",
                         alpha=penalty / 2.0, max_iter=5000)


def train_kgen(args, train, penalty, num_iterations):
    import keras
    import kgen

    keras.utils.set_random_seed(args.seed)
    model = kgen.zoo.get("sparse_coding.patches", input_shape=(args.patch_size**2,), num_atoms=args.num_atoms,
                         penalty=penalty, num_iterations=num_iterations)
    clock = Clock(args.clock)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    history = model.fit(train, batch_size=args.batch_size, epochs=10**6, shuffle=True, verbose=0,
                        callbacks=[stop_callback(clock, args.seconds)])
    wall, cpu = clock.wall(), clock.cpu()
    steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    return model, model.atoms(), wall, cpu, steps, float(history.history["loss"][-1])


def train_sklearn(args, train, penalty):
    import warnings

    import numpy as np
    from sklearn.decomposition import MiniBatchDictionaryLearning
    from sklearn.exceptions import ConvergenceWarning

    warnings.simplefilter("ignore", ConvergenceWarning)  # its inner Lasso warns on most batches; printing costs time
    rng = np.random.default_rng(args.seed)
    learner = MiniBatchDictionaryLearning(n_components=args.num_atoms, alpha=penalty / 2.0, batch_size=args.batch_size,
                                          fit_algorithm=args.fit_algorithm, random_state=args.seed)
    data = train.astype("float64")
    clock = Clock(args.clock)
    steps = 0
    while True:
        order = rng.permutation(len(data))
        for i in range(0, len(data) - args.batch_size + 1, args.batch_size):
            learner.partial_fit(data[order[i : i + args.batch_size]])
            steps += 1
            if clock.spent() >= args.seconds:
                return learner, learner.components_.copy(), clock.wall(), clock.cpu(), steps


def main(argv=None):
    args = parse_args(argv)
    set_threads(args.threads)
    import numpy as np
    import kgen
    from kgen.data import patches

    backend = configure_backend_threads(args.threads)
    preset = kgen.zoo.resolve("sparse_coding.patches")[1]
    penalty = preset["penalty"] if args.penalty is None else args.penalty
    num_iterations = preset["num_iterations"] if args.num_iterations is None else args.num_iterations
    train = patches.load_arrays("photo_patches", "train", patch_size=args.patch_size, num_patches=args.num_train,
                                seed=args.seed)
    test = patches.load_arrays("photo_patches", "test", patch_size=args.patch_size, num_patches=args.num_test)
    print(f"# {len(train)} train / {len(test)} test whitened {args.patch_size}x{args.patch_size} patches, "
          f"K={args.num_atoms}, penalty={penalty}, {args.seconds:g} s each, backend={backend}, "
          f"threads={args.threads}", file=sys.stderr, flush=True)

    model, kgen_atoms, kgen_wall, kgen_cpu, kgen_steps, kgen_loss = train_kgen(args, train, penalty, num_iterations)
    print(f"# kgen done: {kgen_steps} steps in {kgen_wall:.1f} s, last epoch loss {kgen_loss:.3f}", file=sys.stderr,
          flush=True)
    _, sk_atoms, sk_wall, sk_cpu, sk_steps = train_sklearn(args, train, penalty)
    print(f"# scikit-learn done: {sk_steps} steps in {sk_wall:.1f} s", file=sys.stderr, flush=True)

    rows = []
    for name, atoms, wall, cpu, steps in (
        (f"kgen SparseCoding ({backend}, FISTA x{num_iterations}, Adam {args.learning_rate:g})", kgen_atoms,
         kgen_wall, kgen_cpu, kgen_steps),
        (f"sklearn MiniBatchDictionaryLearning ({args.fit_algorithm})", sk_atoms, sk_wall, sk_cpu, sk_steps),
    ):
        t0 = time.perf_counter()
        codes = lasso_codes(test, atoms, penalty)
        values = objective(test, codes, atoms, penalty)
        rows.append(dict(method=name, wall_s=wall, cpu_s=cpu, steps=steps, patches_seen=steps * args.batch_size,
                         objective=float(values.mean()), nonzero=float(np.mean(codes != 0)),
                         atom_norm_max=float(np.linalg.norm(atoms, axis=1).max()),
                         scoring_s=time.perf_counter() - t0))
    # kgen's own FISTA codes on its dictionary, as a check that they reach the scorer's objective
    fista = model.encode(test, batch_size=1000)
    fista_objective = float(objective(test, fista, kgen_atoms, penalty).mean())
    baseline = float(np.mean(np.sum(test.astype("float64") ** 2, axis=1)))
    reference = rows[1]["objective"]
    print(f"{'method':<58} {'wall_s':>7} {'cpu_s':>7} {'steps':>7} {'patches':>9} {'objective':>10} {'ratio':>6} "
          f"{'nonzero':>8}")
    for r in rows:
        r["ratio_to_sklearn"] = r["objective"] / reference
        print(f"{r['method']:<58} {r['wall_s']:7.1f} {r['cpu_s']:7.1f} {r['steps']:7d} {r['patches_seen']:9d} {r['objective']:10.4f} "
              f"{r['ratio_to_sklearn']:6.3f} {100 * r['nonzero']:7.2f}%")
    print(f"# objective: mean over {len(test)} held-out patches of ||x - zD||^2 + {penalty:g} |z|_1, codes by "
          f"sklearn sparse_encode(lasso_cd) for both; zero codes give {baseline:.4f}; kgen's own FISTA codes on its "
          f"dictionary give {fista_objective:.4f}; budget {args.seconds:g} s of {args.clock} time each; target ratio <= 1 "
          "for kgen")
    if args.out:
        side = args.patch_size
        result = dict(args=vars(args), backend=backend, penalty=penalty, num_iterations=num_iterations, rows=rows,
                      zero_code_objective=baseline, kgen_fista_objective=fista_objective)
        write_outputs(args.out, result, {"kgen_atoms.png": kgen_atoms.reshape(-1, side, side),
                                         "sklearn_atoms.png": sk_atoms.reshape(-1, side, side)})
    return rows


def write_outputs(folder, result, atoms, model=None):
    """Write each (file name -> atoms) picture, `model` as model.keras if given, and `result` as results.json into
    `folder`, each file whole or not at all, and say what was written."""
    from kgen.io import atomic_path
    from kgen.plotting import tile_filters

    out = Path(folder)
    written = []
    for name, images in atoms.items():
        tile_filters(images, out / name)
        written.append(out / name)
    if model is not None:
        with atomic_path(out / "model.keras") as tmp:
            model.save(tmp)
        written.append(out / "model.keras")
    with atomic_path(out / "results.json") as tmp:
        Path(tmp).write_text(json.dumps(result, indent=2))
    written.append(out / "results.json")
    print("# wrote " + ", ".join(map(str, written)))


if __name__ == "__main__":
    main()

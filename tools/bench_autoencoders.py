"""Autoencoders on MNIST: the deep autoencoder against PCA(30), and denoising-autoencoder filters at 0/25/50% masking.

Two parts, run in one process on the current Keras backend (KERAS_BACKEND):

1. `--mode deep`: trains `deep_autoencoder.mnist` (784-1000-500-250-30, Adam, batch 128) for `--minutes` of wall
   time, fits PCA with 30 components on the same training images in the same run (exact: the eigenvectors of the
   784 x 784 covariance), and prints the reconstruction error of both on the test images: the summed squared error
   per image on the [0, 1] scale (`RepresentationModel.reconstruction_error`), its mean, and the ratio AE / PCA.
2. `--mode denoising`: trains `denoising_autoencoder.mnist` (784-500-784, sigmoid units, cross-entropy) with masking
   noise at 0%, 25% and 50% for `--denoising-minutes` each, prints the test reconstruction error from clean inputs
   and from test inputs with 25% and 50% of their pixels masked (the same seeded masks for every model), and writes
   the first 100 learned filters of each model as a PNG (`denoising_filters_<level>.png` in `--out-dir`).

`--mode all` (the default) runs both. Usage (from the repository root; real MNIST under KGEN_DATA_DIR/mnist):

    KERAS_BACKEND=jax KGEN_DATA_DIR=/work/shared/data python tools/bench_autoencoders.py --minutes 10 \\
        --denoising-minutes 3.5 --out-dir runs/bench_autoencoders
    python tools/bench_autoencoders.py --quick          # seconds per model on 2,000 embedded images: checks the script

Filter images use `kgen.plotting.tile_filters` (each filter scaled to its own min/max: min black, max white).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

LEVELS = (0.0, 0.25, 0.5)
TEST_MASKS = (0.25, 0.5)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=("all", "deep", "denoising"), default="all")
    p.add_argument("--minutes", type=float, default=10.0, help="training budget of the deep autoencoder")
    p.add_argument("--denoising-minutes", type=float, default=3.5, help="training budget of each denoising AE")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--train-split", default="train")
    p.add_argument("--test-split", default="test")
    p.add_argument("--num-filters", type=int, default=100, help="filters per PNG")
    p.add_argument("--out-dir", default="runs/bench_autoencoders", help="where the filter PNGs go")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--source", choices=("local", "tfds", "embedded"), default=None,
                   help="MNIST source (default: automatic; --quick uses the embedded subset)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 2,000 training and 500 test images, a few seconds per model")
    args = p.parse_args(argv)
    if args.quick:
        args.train_split, args.test_split = "train[:2000]", "test[:500]"
        args.minutes, args.denoising_minutes = 0.1, 0.05
        args.source = args.source or "embedded"
    for name in ("minutes", "denoising_minutes", "learning_rate"):
        if not getattr(args, name) > 0:
            p.error(f"--{name.replace('_', '-')} must be > 0")
    if args.batch_size < 1 or args.num_filters < 1:
        p.error("--batch-size and --num-filters must be >= 1")
    return args


def write_filters(filters, path):
    from kgen.plotting import tile_filters

    return tile_filters(filters, path, ncols=10, scale=2), "kgen.plotting.tile_filters (per-filter min/max)"


def train(model, x_train, minutes, args):
    import keras
    from kgen.training import TimeBudget

    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    steps = {"n": 0}

    class CountSteps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps["n"] += 1

    start = time.perf_counter()
    history = model.fit(x_train, epochs=10_000, batch_size=args.batch_size, shuffle=True, verbose=0,
                        callbacks=[TimeBudget(minutes), CountSteps()])
    seconds = time.perf_counter() - start
    return {
        "train_minutes": seconds / 60.0,
        "steps": steps["n"],
        "epochs": steps["n"] * args.batch_size / len(x_train),
        "final_train_loss": float(history.history["loss"][-1]),
    }


def pca_errors(x_train, x_test, k=30):
    """Exact PCA(k) fitted on x_train ([0, 1] scale): per-image summed squared reconstruction error on x_test."""
    from sklearn.decomposition import PCA

    start = time.perf_counter()
    pca = PCA(n_components=k, svd_solver="covariance_eigh").fit(x_train)
    seconds = time.perf_counter() - start
    rec = pca.inverse_transform(pca.transform(x_test))
    return np.sum((rec - x_test) ** 2, axis=1), seconds


def run_deep(args, x_train, x_test, results):
    import kgen

    flat_train = x_train.reshape(len(x_train), -1).astype("float64") / 255.0
    flat_test = x_test.reshape(len(x_test), -1).astype("float64") / 255.0
    pca_err, pca_seconds = pca_errors(flat_train, flat_test)
    model = kgen.zoo.get("deep_autoencoder.mnist")
    info = train(model, x_train, args.minutes, args)
    ae_err = model.reconstruction_error(x_test)
    results["deep"] = {
        "pca30": {"test_sse_mean": float(pca_err.mean()), "test_sse_median": float(np.median(pca_err)),
                  "fit_seconds": pca_seconds},
        "deep_autoencoder.mnist": {"test_sse_mean": float(ae_err.mean()), "test_sse_median": float(np.median(ae_err)),
                                   "params": int(model.count_params()), **info},
        "ratio_ae_over_pca": float(ae_err.mean() / pca_err.mean()),
        "images_where_ae_better": float(np.mean(ae_err < pca_err)),
    }
    r = results["deep"]
    print(f"\n{'model':<26}{'train':>9}{'epochs':>8}{'test SSE/img':>14}{'median':>9}{'vs PCA':>8}")
    print(f"{'pca(30), exact':<26}{pca_seconds:>8.1f}s{'-':>8}{pca_err.mean():>14.3f}{np.median(pca_err):>9.3f}"
          f"{1.0:>8.3f}")
    a = r["deep_autoencoder.mnist"]
    print(f"{'deep_autoencoder.mnist':<26}{a['train_minutes']:>7.2f}mn{a['epochs']:>8.2f}{a['test_sse_mean']:>14.3f}"
          f"{a['test_sse_median']:>9.3f}{r['ratio_ae_over_pca']:>8.3f}")
    print(f"(test images: {len(x_test)}; the autoencoder's error is lower on {100 * r['images_where_ae_better']:.1f}% "
          "of them)")


def run_denoising(args, x_train, x_test, results):
    import keras
    import kgen

    out_dir = Path(args.out_dir)
    rng = np.random.default_rng(1234)
    u = rng.uniform(size=x_test.shape)
    masked_tests = {m: (x_test * (u >= m)).astype("float32") for m in TEST_MASKS}
    rows = []
    for level in LEVELS:
        keras.utils.set_random_seed(args.seed)
        model = kgen.zoo.get("denoising_autoencoder.mnist", corruption_level=level, seed=args.seed)
        info = train(model, x_train, args.denoising_minutes, args)
        clean = model.reconstruction_error(x_test)
        row = {"corruption_level": level, "test_sse_clean": float(clean.mean()), **info}
        for m, xm in masked_tests.items():
            rec = model.reconstruct(xm)  # reconstruction of the masked input, compared with the clean image
            row[f"test_sse_from_{int(m * 100)}pct_masked"] = float(
                np.sum((rec - x_test / 255.0).reshape(len(x_test), -1) ** 2, axis=1).mean())
        filters = model.filters()
        path = out_dir / f"denoising_filters_{int(level * 100)}.png"
        written, how = write_filters(filters[: args.num_filters], path)
        row.update(png=str(written), tiler=how, filter_norm_mean=float(np.sqrt((filters ** 2).sum((1, 2))).mean()))
        rows.append(row)
    results["denoising"] = rows
    print(f"\n{'denoising_autoencoder.mnist':<28}{'train':>9}{'epochs':>8}{'SSE clean':>11}{'from 25% mask':>15}"
          f"{'from 50% mask':>15}  filters")
    for r in rows:
        print(f"{'masking ' + format(r['corruption_level'], '.0%'):<28}{r['train_minutes']:>7.2f}mn{r['epochs']:>8.2f}"
              f"{r['test_sse_clean']:>11.3f}{r['test_sse_from_25pct_masked']:>15.3f}"
              f"{r['test_sse_from_50pct_masked']:>15.3f}  {r['png']}")
    print(f"(SSE: summed squared error per test image on the [0, 1] scale against the clean image; filters tiled by "
          f"{rows[0]['tiler']})")


def main(argv=None):
    args = parse_args(argv)
    import keras
    import kgen

    keras.utils.set_random_seed(args.seed)
    source = {} if args.source is None else {"source": args.source}
    x_train, _ = kgen.data.load_arrays("mnist", split=args.train_split, **source)
    x_test, _ = kgen.data.load_arrays("mnist", split=args.test_split, **source)
    x_train, x_test = x_train.astype("float32"), x_test.astype("float32")
    results = {
        "backend": keras.backend.backend(), "train_images": len(x_train), "test_images": len(x_test),
        "args": vars(args), "quick": args.quick, "source": args.source or "automatic",
    }
    print(f"bench_autoencoders: backend {results['backend']}, {len(x_train)} training and {len(x_test)} test images "
          f"(source: {results['source']})"
          f"{' (QUICK smoke run: not comparable)' if args.quick else ''}", flush=True)
    if args.mode in ("all", "deep"):
        run_deep(args, x_train, x_test, results)
    if args.mode in ("all", "denoising"):
        run_denoising(args, x_train, x_test, results)
    if args.json:
        from kgen.io import atomic_path

        with atomic_path(Path(args.json)) as tmp:
            Path(tmp).write_text(json.dumps(results, indent=2, default=str))
    return results


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()

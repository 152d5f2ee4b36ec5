"""Semantic hashing on MNIST against random-projection LSH (and PCA signs): precision at 100 by label, in one run.

Trains `semantic_hashing.mnist` (784-500-500-B bits, noise std 4 before the code sigmoids) on the 60,000 training
images for a time budget, encodes train and test, stores the training codes in a `kgen.hashing.HammingIndex` and
queries it with the 10,000 test images. Every method is scored the same way in the same process:

- precision@100: the mean over test queries of the fraction of the 100 nearest training codes (Hamming distance,
  ties broken by training index) whose label equals the query's;
- search time: the median over `--repeats` runs of the exact k=100 search of all test queries (one process, numpy,
  whatever cores the process may use; run under `taskset -c 0` for one core);
- encode time of the test set, and how many distinct codes the 60,000 training images get.

Baselines: `RandomProjectionLSH` on the centred raw pixels (sign of Gaussian projections) at the same length and at
the `--lsh-bits` lengths; PCA signs (the sign of the top-B principal components, "PCAH"), a data-dependent linear
baseline; and, as the ceiling of the pixel space, exact Euclidean k-NN on the float pixels (no hashing; skip it with
`--no-exact`).

Usage (from the repository root; KGEN_DATA_DIR must hold mnist/):

    KERAS_BACKEND=jax KGEN_DATA_DIR=/work/shared/data python tools/bench_semantic_hashing.py --minutes 10
    python tools/bench_semantic_hashing.py --quick                  # embedded subset, 3 epochs of training
    python tools/bench_semantic_hashing.py --minutes 10 --json sh.json --save runs/sh.keras

It prints the training summary, then one header and one line per method.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _log(message):
    print(f"[bench_semantic_hashing] {message}", file=sys.stderr, flush=True)


def _timed(fn, repeats):
    """(result of the last call, median seconds over `repeats` calls)."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, float(np.median(times))


def pca_sign_codes(train_flat, test_flat, num_bits):
    """{0, 1} codes: the signs of the projections on the top `num_bits` principal components of the training set."""
    mean = train_flat.mean(axis=0)
    centred = train_flat - mean
    cov = centred.T @ centred / len(centred)
    values, vectors = np.linalg.eigh(cov.astype(np.float64))
    top = vectors[:, np.argsort(values)[::-1][:num_bits]].astype(np.float32)
    return (centred @ top > 0).astype(np.uint8), ((test_flat - mean) @ top > 0).astype(np.uint8)


def euclidean_knn_labels(train_flat, test_flat, train_labels, k, chunk=500):
    """Labels of the k nearest training images of each test image in Euclidean distance (ties by index)."""
    norms = np.sum(train_flat.astype(np.float32) ** 2, axis=1)
    out = np.empty((len(test_flat), k), dtype=train_labels.dtype)
    for start in range(0, len(test_flat), chunk):
        q = test_flat[start : start + chunk]
        d = norms[None, :] - 2.0 * (q @ train_flat.T)  # + |q|^2, the same for every candidate
        part = np.argpartition(d, k - 1, axis=1)[:, :k]
        out[start : start + chunk] = train_labels[part]
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget in minutes (default 10)")
    parser.add_argument("--bits", type=int, default=32, help="code length of the semantic hashing model")
    parser.add_argument("--lsh-bits", default="16,64", help="extra LSH code lengths, comma-separated ('' for none)")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--noise-stddev", type=float, default=4.0)
    parser.add_argument("--normalize-codes", action="store_true",
                        help="batch-normalize the code pre-activations (balanced bits; not in the paper)")
    parser.add_argument("--max-epochs", type=int, default=1000)
    parser.add_argument("--k", type=int, default=100, help="neighbours for precision@k (default 100)")
    parser.add_argument("--radius", type=int, default=2, help="Hamming radius of the ball lookup (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="search timings per method (median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train-split", default="train")
    parser.add_argument("--test-split", default="test")
    parser.add_argument("--source", default=None, help="data source: local, tfds, embedded (default: automatic)")
    parser.add_argument("--no-exact", action="store_true", help="skip the exact Euclidean k-NN reference")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: embedded MNIST subset, 3 epochs (at most 1 minute) of training, k=10, one repeat")
    parser.add_argument("--json", default=None, help="also write the results as JSON to this path")
    parser.add_argument("--save", default=None, help="save the trained model (.keras) to this path")
    args = parser.parse_args(argv)
    if args.quick:
        args.minutes = min(args.minutes, 1.0)
        args.max_epochs = min(args.max_epochs, 3)  # a fixed amount of training: the result does not hang on timing
        args.k = min(args.k, 10)
        args.repeats = 1
        args.source = args.source or "embedded"
        args.test_split = "test[:500]" if args.test_split == "test" else args.test_split
    lsh_bits = [int(b) for b in args.lsh_bits.split(",") if b.strip()]
    for name in ("minutes", "learning_rate", "noise_stddev"):
        if not getattr(args, name) >= 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0")
    for name in ("bits", "batch_size", "k", "repeats", "max_epochs"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.radius < 0:
        parser.error("--radius must be >= 0")
    if any(b < 1 for b in lsh_bits):
        parser.error("--lsh-bits must hold positive integers")

    import keras

    import kgen
    from kgen.hashing import HammingIndex, RandomProjectionLSH
    from kgen.training import TimeBudget

    data_kwargs = {"source": args.source} if args.source else {}
    train_x, train_y = kgen.data.load_arrays("mnist", split=args.train_split, **data_kwargs)
    test_x, test_y = kgen.data.load_arrays("mnist", split=args.test_split, **data_kwargs)
    if args.k > len(train_x):
        parser.error(f"--k must be <= the {len(train_x)} training images")
    _log(f"backend {keras.backend.backend()}, {len(train_x)} train / {len(test_x)} test images")
    train_f = train_x.astype(np.float32)
    test_f = test_x.astype(np.float32)

    # === Train semantic hashing ===
    keras.utils.set_random_seed(args.seed)
    model = kgen.zoo.get("semantic_hashing.mnist", num_bits=args.bits, noise_stddev=args.noise_stddev,
                         normalize_codes=args.normalize_codes, seed=args.seed)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    budget = TimeBudget(args.minutes)
    start = time.perf_counter()
    history = model.fit(train_f, epochs=args.max_epochs, batch_size=args.batch_size, shuffle=True,
                        callbacks=[budget], verbose=2 if not args.quick else 0)
    train_s = time.perf_counter() - start
    epochs = len(history.history["loss"])
    test_rec = float(model.reconstruction_error(test_f).mean())
    train_info = {
        "backend": keras.backend.backend(), "model": "semantic_hashing.mnist", "num_bits": args.bits,
        "params": int(model.count_params()), "train_minutes": train_s / 60.0, "epochs": epochs,
        "steps": -(-len(train_f) // args.batch_size) * epochs,
        "final_train_loss": float(history.history["loss"][-1]),
        "final_train_reconstruction_error": float(history.history["reconstruction_error"][-1]),
        "test_reconstruction_error": test_rec,
    }
    if args.save:
        model.save(args.save)

    # How binary the code layer became: the fraction of test pre-activations beyond +-noise_stddev.
    logits_model = keras.Model(model.input, model.get_layer("code_logits").output)
    logits = np.concatenate([keras.ops.convert_to_numpy(logits_model(test_f[i : i + 1000], training=False))
                             for i in range(0, len(test_f), 1000)])
    train_info["saturated_fraction"] = float(np.mean(np.abs(logits) > max(args.noise_stddev, 1e-6)))

    # === Codes of every method ===
    methods = []  # (method, bits, train codes {0,1}, test codes {0,1}, encode seconds for the test set)
    (sh_test, enc_s) = _timed(lambda: model.encode(test_f, batch_size=1000), args.repeats)
    methods.append(("semantic_hashing", args.bits, model.encode(train_f, batch_size=1000), sh_test, enc_s))
    train_flat = train_f.reshape(len(train_f), -1)
    test_flat = test_f.reshape(len(test_f), -1)
    for bits in [args.bits] + [b for b in lsh_bits if b != args.bits]:
        lsh = RandomProjectionLSH(train_flat.shape[1], bits, seed=args.seed).fit(train_flat)
        test_codes, enc_s = _timed(lambda: lsh.encode(test_flat), args.repeats)
        methods.append(("lsh_pixels", bits, lsh.encode(train_flat), test_codes, enc_s))
    start = time.perf_counter()
    pca_train, pca_test = pca_sign_codes(train_flat, test_flat, args.bits)
    methods.append(("pca_sign", args.bits, pca_train, pca_test, float("nan")))
    _log(f"PCA signs fitted in {time.perf_counter() - start:.1f} s")

    rows = []
    for name, bits, db_codes, q_codes, enc_s in methods:
        index = HammingIndex(bits).add(db_codes)
        (ids, _), search_s = _timed(lambda: index.search(q_codes, k=args.k), args.repeats)
        per_query = (train_y[ids] == test_y[:, None]).mean(axis=1)
        distinct = len(np.unique(np.packbits(db_codes.astype(np.uint8), axis=1), axis=0))
        # The paper's lookup: everything within a small Hamming ball around the query's code.
        ball_ids, _ = index.search(q_codes, radius=args.radius)
        found = np.array([len(b) > 0 for b in ball_ids])
        ball_precision = [np.mean(train_y[b] == y) for b, y in zip(ball_ids, test_y) if len(b)]
        rows.append({"method": name, "bits": bits, "precision_at_k": float(per_query.mean()),
                     "radius_precision": float(np.mean(ball_precision)) if ball_precision else float("nan"),
                     "radius_found": float(found.mean()),
                     "radius_mean_retrieved": float(np.mean([len(b) for b in ball_ids])),
                     "search_s": search_s, "ms_per_query": 1e3 * search_s / len(q_codes), "encode_s": enc_s,
                     "distinct_train_codes": distinct,
                     "bit_balance": float(np.mean(np.abs(np.asarray(db_codes, np.float32).mean(axis=0) - 0.5)))})
        _log(f"{name} {bits} bits: precision@{args.k} {per_query.mean():.4f}, search {search_s:.2f} s")
    if not args.no_exact:
        (labels, search_s) = _timed(lambda: euclidean_knn_labels(train_flat, test_flat, train_y, args.k), 1)
        rows.append({"method": "euclidean_pixels_exact", "bits": None,
                     "precision_at_k": float((labels == test_y[:, None]).mean()), "search_s": search_s,
                     "ms_per_query": 1e3 * search_s / len(test_flat), "encode_s": float("nan"),
                     "radius_precision": float("nan"), "radius_found": float("nan"), "radius_mean_retrieved": float("nan"),
                     "distinct_train_codes": None, "bit_balance": None})

    # === Report ===
    print(f"training: backend {train_info['backend']}, {train_info['params']:,} parameters, "
          f"{train_info['train_minutes']:.1f} min, {epochs} epochs, final train loss {train_info['final_train_loss']:.2f}, "
          f"test reconstruction error {test_rec:.2f} (summed squared error on [0, 1] pixels), "
          f"{100 * train_info['saturated_fraction']:.1f}% of test code pre-activations beyond +-{args.noise_stddev:g}")
    print(f"data: {len(train_x)} database (train) images, {len(test_x)} queries (test); precision@{args.k} by label; "
          f"times are medians of {args.repeats} runs")
    r_tag = f"r{args.radius}"
    header = f"{'method':<24}{'bits':>6}{'prec@' + str(args.k):>11}{'search_s':>10}{'ms/query':>10}{'encode_s':>10}" \
             f"{'distinct':>10}{'prec@' + r_tag:>10}{'found@' + r_tag:>10}{'n@' + r_tag:>10}"
    print(header)

    def num(value, fmt):
        return "-" if value is None or not np.isfinite(value) else format(value, fmt)

    for r in rows:
        bits = "-" if r["bits"] is None else str(r["bits"])
        distinct = "-" if r["distinct_train_codes"] is None else str(r["distinct_train_codes"])
        print(f"{r['method']:<24}{bits:>6}{r['precision_at_k']:>11.4f}{r['search_s']:>10.3f}"
              f"{r['ms_per_query']:>10.4f}{num(r['encode_s'], '.3f'):>10}{distinct:>10}"
              f"{num(r['radius_precision'], '.4f'):>10}{num(r['radius_found'], '.4f'):>10}"
              f"{num(r['radius_mean_retrieved'], '.1f'):>10}")
    print(f"prec@{r_tag}: mean precision of the training codes within Hamming radius {args.radius} over the queries "
          f"that find any; found@{r_tag}: the fraction of queries that find any; n@{r_tag}: mean number found")
    sh = rows[0]["precision_at_k"]
    lsh_same = next(r["precision_at_k"] for r in rows if r["method"] == "lsh_pixels" and r["bits"] == args.bits)
    print(f"semantic hashing - LSH at {args.bits} bits: {sh - lsh_same:+.4f} precision@{args.k}")
    if args.json:
        tmp = Path(args.json).with_suffix(".tmp")
        tmp.write_text(json.dumps({"args": vars(args), "training": train_info, "results": rows}, indent=2))
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

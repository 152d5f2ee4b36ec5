"""Representation quality: a linear classifier on frozen codes, one table for every model given and raw pixels.

For each trained representation model (a run folder or .keras file), encodes the MNIST training and test images
with `model.encode`, fits a multinomial logistic regression (scikit-learn, features standardised on the training
codes) on the training codes and labels, and reports its accuracy on the test codes. The first row is the same
classifier on raw pixels (scaled to [0, 1]). All rows come from one run with the same splits and settings.

    KGEN_DATA_DIR=../shared/data python tools/linear_probe.py runs/deep_autoencoder runs/dae25 runs/psd_mnist
    KGEN_DATA_DIR=../shared/data python tools/linear_probe.py --quick runs/deep_autoencoder   # 5,000 / 1,000

Prints a markdown table (model, code dimensions, test accuracy, encode and fit seconds); `--json FILE` also writes
the rows.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def probe(train_x, train_y, test_x, test_y, max_iter=300, seed=0):
    """Fit a multinomial logistic regression on standardised `train_x`; return (test accuracy, fit seconds)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, random_state=seed))
    start = time.perf_counter()
    clf.fit(train_x.reshape(len(train_x), -1), train_y)
    fit_s = time.perf_counter() - start
    accuracy = float(np.mean(clf.predict(test_x.reshape(len(test_x), -1)) == test_y))
    return accuracy, fit_s


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("models", nargs="*", help="run folders or .keras files of MNIST representation models")
    p.add_argument("--train-split", default="train")
    p.add_argument("--test-split", default="test")
    p.add_argument("--quick", action="store_true", help="train[:5000] and test[:1000], a smoke run")
    p.add_argument("--source", choices=["local", "tfds", "embedded"], help="MNIST source (default: automatic)")
    p.add_argument("--max-iter", type=int, default=300, help="logistic regression iterations")
    p.add_argument("--json", help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.train_split, args.test_split = "train[:5000]", "test[:1000]"

    import kgen
    from kgen import training

    train_images, train_labels = kgen.data.load_arrays("mnist", split=args.train_split, source=args.source)
    test_images, test_labels = kgen.data.load_arrays("mnist", split=args.test_split, source=args.source)
    rows = []
    accuracy, fit_s = probe(train_images / 255.0, train_labels, test_images / 255.0, test_labels, args.max_iter)
    rows.append({"model": "raw pixels", "code_dim": 784, "accuracy": accuracy, "encode_s": 0.0, "fit_s": fit_s})
    for path in args.models:
        model = training.load_model(path)
        start = time.perf_counter()
        try:  # a model without codes, or of another input shape, says so
            train_codes = model.encode(train_images.astype("float32"))
        except ValueError as e:
            raise SystemExit(f"linear_probe: {path}: {e}") from None
        test_codes = model.encode(test_images.astype("float32"))
        encode_s = time.perf_counter() - start
        accuracy, fit_s = probe(train_codes, train_labels, test_codes, test_labels, args.max_iter)
        rows.append({"model": f"{model.name} ({path})", "code_dim": int(train_codes.shape[1]),
                     "accuracy": accuracy, "encode_s": encode_s, "fit_s": fit_s})

    print(f"Linear probe on MNIST: logistic regression on standardised frozen codes, fit on {args.train_split} "
          f"({len(train_labels)} images), accuracy on {args.test_split} ({len(test_labels)} images)"
          + (" [--quick: shortened]" if args.quick else ""))
    print()
    print("| model | code dims | test accuracy | encode (s) | fit (s) |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['model']} | {r['code_dim']} | {100 * r['accuracy']:.2f}% | {r['encode_s']:.1f} | {r['fit_s']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

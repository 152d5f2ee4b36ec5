"""How shipped sequence models do as equal-weight token mixtures: bits per token of every subset of them, alone and
mixed (`kgen.models.TokenMixture` with `mixture_weights=None`), on a text split scored as `kgen evaluate` scores it
(windows of `--sequence-length` bytes at half-window strides, every byte once).

    KERAS_BACKEND=tensorflow KGEN_DATA_DIR=../shared/data python tools/mixture_table.py \\
        sparse_transformer.shakespeare_large sparse_transformer.shakespeare bytenet.shakespeare lstm_lm.shakespeare

Each model runs once over the split; the mixtures are computed from the per-byte log-probabilities it gives, so a
row is the figure `kgen evaluate` prints for that mixture (up to float rounding). Prints one markdown row per subset,
best first.
"""

import argparse
import itertools
import sys
import time

import numpy as np


def log_probs(model, windows, batch_size=64):
    """log p(x_t | x_<t) of every position of `windows` (W, T) under `model`, float64 (W, T)."""
    from keras import ops

    out = []
    for i in range(0, len(windows), batch_size):
        x = windows[i : i + batch_size]
        logits = ops.cast(model(ops.convert_to_tensor(x), training=False), "float32")
        nll = ops.sparse_categorical_crossentropy(ops.convert_to_tensor(x), logits, from_logits=True)
        out.append(-np.asarray(ops.convert_to_numpy(nll), dtype=np.float64))
    return np.concatenate(out)


def bits(parts, weights):
    """Bits per scored token of the equal-weight mixture of the per-position log-probabilities `parts`."""
    mixed = np.logaddexp.reduce(np.stack(parts), axis=0) - np.log(len(parts))
    return float(-(mixed * weights).sum() / weights.sum() / np.log(2))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="+", help="zoo names with shipped weights (kgen list --pretrained), 2 to 8")
    p.add_argument("--data", default="tinyshakespeare", help="the text data set (default tinyshakespeare)")
    p.add_argument("--split", default="test", help="the split scored (default: test, all of it)")
    p.add_argument("--sequence-length", type=int, default=256, help="window length (default 256, the recipes')")
    args = p.parse_args(argv)
    if not 2 <= len(args.names) <= 8 or len(set(args.names)) != len(args.names):
        p.error(f"names: expected 2 to 8 distinct zoo names, got {args.names}")

    import kgen
    from kgen.data import text

    tokens = text.load_arrays(args.data, args.split)
    windows, weights = text.evaluation_windows(tokens, args.sequence_length)
    parts = {}
    for name in args.names:
        start = time.perf_counter()
        parts[name] = log_probs(kgen.zoo.get(name, pretrained=True), windows)
        print(f"{name}: {bits([parts[name]], weights):.4f} bits/token ({time.perf_counter() - start:.0f} s)",
              file=sys.stderr)
    rows = []
    for size in range(1, len(args.names) + 1):
        for subset in itertools.combinations(args.names, size):
            rows.append((bits([parts[n] for n in subset], weights), subset))
    print(f"Equal-weight mixtures on {args.data} {args.split} ({int(weights.sum()):,} tokens, windows of "
          f"{args.sequence_length}):\n")
    print("| models | bits/token |\n| --- | --- |")
    for value, subset in sorted(rows):
        print(f"| {' + '.join(f'`{n}`' for n in subset)} | {value:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

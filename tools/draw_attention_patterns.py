"""Draw which earlier positions each position of a SparseAttention layer reads, measured from the layer.

For each pattern (strided, fixed; merged heads) the script builds one `kgen.layers.SparseAttention` on a sequence
of `--length` positions with block size `--block-size`, gives it small random weights, raises one input position
at a time and records which outputs change: row i of the map marks the positions query i reads. It prints the maps
as text ("#" read, "." not read, blank: a later position) and, with `--png`, writes them side by side as a PNG.

Usage (from the repository root):

    python tools/draw_attention_patterns.py                        # n = 32, l = 8, c = 2: text maps
    python tools/draw_attention_patterns.py --png zoo/sparse_transformer_patterns.png
"""

import argparse

import numpy as np


def measured_reads(pattern, length, block_size, summary_size, heads=1, seed=0):
    """(length, length) bools: [i, j] when input j changes output i of one SparseAttention layer."""
    from keras import ops

    from kgen.layers import SparseAttention
    from kgen.testing.fixtures import random_weights

    width = 8
    layer = SparseAttention(heads, width // heads, block_size, pattern=pattern, summary_size=summary_size)
    x = np.random.default_rng(seed).normal(size=(1, length, width)).astype("float32")
    layer(x)
    random_weights(layer, seed=seed + 1, stddev=0.2)
    base = ops.convert_to_numpy(layer(x))[0]
    reads = np.zeros((length, length), bool)
    for j in range(length):
        changed = x.copy()
        changed[0, j] += 1.0
        reads[:, j] = np.abs(ops.convert_to_numpy(layer(changed))[0] - base).max(-1) > 1e-6
    return reads


def text_map(reads):
    rows = []
    for i, row in enumerate(reads):
        rows.append("".join("#" if r else ("." if j <= i else " ") for j, r in enumerate(row)))
    return "\n".join(rows)


def write_png(maps, path, scale=6):
    from PIL import Image

    gap = 2
    n = maps[0][1].shape[0]
    image = np.full((n * scale, len(maps) * (n + gap) * scale), 255, "uint8")
    for k, (_, reads) in enumerate(maps):
        cells = np.where(reads, 0, np.where(np.tril(np.ones_like(reads)), 220, 255)).astype("uint8")
        block = np.kron(cells, np.ones((scale, scale), "uint8"))
        image[:, k * (n + gap) * scale : k * (n + gap) * scale + n * scale] = block
    Image.fromarray(image).save(path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--length", type=int, default=32)
    p.add_argument("--block-size", type=int, default=8)
    p.add_argument("--summary-size", type=int, default=2)
    p.add_argument("--png", help="also write the maps side by side (black: read, grey: earlier, not read)")
    args = p.parse_args(argv)
    maps = []
    for pattern in ("strided", "fixed"):
        reads = measured_reads(pattern, args.length, args.block_size, args.summary_size)
        maps.append((pattern, reads))
        print(f"# {pattern}, l = {args.block_size}" + (f", c = {args.summary_size}" if pattern == "fixed" else "")
              + f", merged heads: row i marks the positions query i reads ({int(reads.sum())} of "
              f"{args.length * (args.length + 1) // 2} causal pairs)")
        print(text_map(reads))
    if args.png:
        write_png(maps, args.png)
        print(f"# wrote {args.png}")
    return maps


if __name__ == "__main__":
    main()

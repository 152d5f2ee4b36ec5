"""Measure and print which earlier pixels reach one pixel of a zoo model (its blind spot, if it has one).

    python tools/receptive_field.py pixelcnn.mnist --size 12 --pixel 8,6

The measurement perturbs every input pixel of random images (kgen.testing.measure_dependencies, as the causality
test does) and checks the result against the model's analytic `dependencies`. Legend: X the pixel, # an earlier
pixel that reaches it, o an earlier pixel that does not (the blind spot), . later pixels.
"""

import argparse
import sys

import numpy as np


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="zoo name, e.g. pixelcnn.mnist")
    p.add_argument("--size", type=int, default=12, help="square image size to measure on")
    p.add_argument("--pixel", default=None, help="row,col (default: the centre of the bottom third)")
    args = p.parse_args(argv)

    import kgen
    from kgen.testing import TestCase, format_reach

    model = kgen.zoo.get(args.model, image_shape=(args.size, args.size, 1))
    reach, _ = TestCase().run_causality_test(model)  # asserts measured == analytic, and no future leak
    row, col = (int(v) for v in args.pixel.split(",")) if args.pixel else (2 * args.size // 3, args.size // 2)
    t = row * args.size + col
    earlier = t
    print(f"{args.model} at {args.size}x{args.size}, pixel ({row}, {col}): {int(reach[t].sum())} of {earlier} "
          f"earlier pixels reach it; measured pattern equals the analytic receptive field")
    print(format_reach(reach, (row, col), args.size, args.size))
    ideal = np.tril(np.ones_like(reach), k=-1)
    blind = int((ideal & ~reach).sum())
    print(f"over all pixels: {blind} (pixel, earlier pixel) pairs are blind out of {int(ideal.sum())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

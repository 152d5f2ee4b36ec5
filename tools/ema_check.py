"""Polyak averaging against the trained weights at equal steps: does `--ema-momentum` buy held-out NLL, and at what
cost a step?

Trains a recipe twice from the same seed (same initial weights, same batches), once as it is and once with
`--ema-momentum M` (the run evaluates and saves the moving average of its weights), each for exactly `--epochs` x
`--steps-per-epoch` steps with the recipe's schedule (cut at those steps) and no time budget, one after the other on
the same core, then evaluates both on the same held-out split. It prints one comparable line per run and the
ratios: held-out NLL averaged / trained (below 1: the average is better) and training minutes averaged / trained.

Usage (from the repository root, on one core, the real data in ../shared/data):

    KGEN_DATA_DIR=../shared/data taskset -c 0 python tools/ema_check.py pixelcnn_binarized_mnist --epochs 6 --steps-per-epoch 250 --ema-momentum 0.999
    python tools/ema_check.py demo --epochs 1 --steps-per-epoch 3 --data-source embedded --eval-split "test[:32]"   # smoke

The run folders go to `--out` (default runs/ema_check/RECIPE), which must not exist yet (nothing is overwritten);
`--resume` continues a check there. The backend is TensorFlow unless KERAS_BACKEND says otherwise. The options and
the printed table are tools/bf16_check.py's, which this runs with other variants.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bf16_check  # noqa: E402  (a sibling script)

DEFAULT_MOMENTUM = 0.999


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--ema-momentum", default=str(DEFAULT_MOMENTUM))
    known, rest = p.parse_known_args(argv)
    try:
        momentum = float(known.ema_momentum)
    except ValueError:
        momentum = float("nan")
    if not 0.0 < momentum < 1.0:  # refused here, before either run starts
        raise SystemExit(f"ema_check.py: --ema-momentum must be a number above 0 and below 1, got "
                         f"{known.ema_momentum!r}")
    variants = {"trained": [], f"ema_{known.ema_momentum}": ["--ema-momentum", known.ema_momentum]}
    return bf16_check.main(rest, variants=variants, tool="ema_check", doc=__doc__)


if __name__ == "__main__":
    sys.exit(main())

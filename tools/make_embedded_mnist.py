"""Builds kgen/data/embedded/mnist_subset.npz, the small real MNIST subset.

It holds the first TRAIN_COUNT digits of the MNIST train split and the first
TEST_COUNT of the test split, read (and validated) from the original IDX files.
The output is byte-for-byte deterministic: a zip of .npy arrays with fixed
timestamps, written atomically.

Usage (from the repository root):

    python tools/make_embedded_mnist.py                       # ../shared/data/mnist
    python tools/make_embedded_mnist.py --data-dir DIR --out PATH

Arrays: train_images (N, 28, 28) uint8, train_labels (N,) uint8, and the same
for test.
"""

import argparse
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kgen.data import mnist  # noqa: E402
from kgen.io import atomic_path  # noqa: E402

TRAIN_COUNT = 8000
TEST_COUNT = 2000
MAX_BYTES = 2 * 1024 * 1024
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "kgen" / "data" / "embedded" / mnist.EMBEDDED_FILE


def write_npz(path, arrays, max_bytes=MAX_BYTES):
    """Writes arrays as a compressed .npz with fixed zip timestamps.

    Raises:
        ValueError: if the file would exceed ``max_bytes`` (nothing is written).
    """
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for key, array in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, np.ascontiguousarray(array))
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, buffer.getvalue(), compresslevel=9)
        size = tmp.stat().st_size
        if size > max_bytes:
            raise ValueError(f"{path} would be {size} bytes, over {max_bytes}.")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="folder holding mnist/ with the four IDX files (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--train-count", type=int, default=TRAIN_COUNT)
    parser.add_argument("--test-count", type=int, default=TEST_COUNT)
    args = parser.parse_args(argv)

    arrays = {}
    for split, count in (("train", args.train_count), ("test", args.test_count)):
        images, labels = mnist.load_arrays(
            "mnist", f"{split}[:{count}]", data_dir=args.data_dir, source="local"
        )
        if images.shape[0] != count:
            raise SystemExit(f"{split}: wanted {count} digits, found {images.shape[0]}")
        arrays[f"{split}_images"] = images[..., 0]
        arrays[f"{split}_labels"] = labels.astype(np.uint8)

    write_npz(args.out, arrays)
    size = args.out.stat().st_size
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(
        f"wrote {args.out}: {size} bytes, sha256 {digest}, "
        f"train {args.train_count}, test {args.test_count}"
    )


if __name__ == "__main__":
    main()

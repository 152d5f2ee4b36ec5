"""Builds kgen/data/embedded/fsdd_subset.npz, the small real subset of the Free Spoken Digit Dataset.

For every speaker and digit it keeps the recordings with index TRAIN_INDICES (train split: index 5 and up) and
TEST_INDICES (test split: index 0-4), read (and validated) from the WAV files by kgen's own FSDD loader: 6
speakers x 10 digits x 3 = 180 recordings, the samples exactly as in the files (16-bit PCM, 8 kHz). The output is
byte-for-byte deterministic (a zip of .npy arrays with fixed timestamps), written atomically, and refused if over
MAX_BYTES.

Usage (from the repository root):

    python tools/make_embedded_fsdd.py                       # ../shared/data/fsdd/recordings
    python tools/make_embedded_fsdd.py --data-dir DIR --out PATH

Arrays (what kgen.data.fsdd reads and checks):

- samples (S,) int16: every recording's samples, one after the other, in the loader's order (speaker, digit,
  index);
- lengths (N,) int32: each recording's number of samples (they sum to S);
- file_names (N,) str: each recording's FSDD file name, {digit}_{speaker}_{index}.wav;
- digits, speakers, indices (N,) uint8: the digit, the speaker (an index into kgen.data.FSDD_SPEAKERS, listed in
  the metadata too) and the recording's index;
- metadata (1,) str: JSON with the source, the licence (CC BY-SA 4.0), the sample rate and how the subset was chosen.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tools"))

from kgen.data import fsdd  # noqa: E402
from make_embedded_mnist import write_npz  # noqa: E402

TRAIN_INDICES = (5, 6)
TEST_INDICES = (0,)
MAX_BYTES = fsdd.EMBEDDED_MAX_BYTES
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "kgen" / "data" / "embedded" / fsdd.EMBEDDED_FILE


def _indices(text):
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated recording indices, got {text!r}") from None
    if not values or min(values) < 0 or len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"expected distinct non-negative recording indices, got {text!r}")
    return values


def build(data_dir, train_indices=TRAIN_INDICES, test_indices=TEST_INDICES):
    """The arrays of the subset, read from ``data_dir`` with ``kgen.data.fsdd.load_arrays(source="local")``."""
    for split, indices in (("train", train_indices), ("test", test_indices)):
        wrong = [i for i in indices if (i < fsdd.NUM_TEST_INDICES) != (split == "test")]
        if wrong:
            raise SystemExit(f"indices {wrong} are not in the {split} split (index 0-4 is test, the rest train)")
    wanted = set(train_indices) | set(test_indices)
    records = []
    for split in ("train", "test"):
        waves, digits, speakers = fsdd.load_arrays("fsdd", split, data_dir=data_dir, source="local")
        # The loader orders by speaker, digit, index; rebuild each recording's index from that order.
        seen = {}
        for wave, digit, speaker in zip(waves, digits.tolist(), speakers.tolist()):
            position = seen.get((speaker, digit), 0)
            seen[(speaker, digit)] = position + 1
            index = position if split == "test" else fsdd.NUM_TEST_INDICES + position
            if index in wanted:
                pcm = wave.astype(np.float64) * 32768.0
                if not np.array_equal(pcm, np.round(pcm)) or pcm.min() < -32768 or pcm.max() > 32767:
                    raise SystemExit(f"{digit}_{fsdd.FSDD_SPEAKERS[speaker]}_{index}.wav is not 16-bit PCM")
                records.append((speaker, digit, index, pcm.astype(np.int16)))
    records.sort(key=lambda r: r[:3])
    expected = len(fsdd.FSDD_SPEAKERS) * fsdd.NUM_DIGITS * len(wanted)
    if len(records) != expected:
        raise SystemExit(f"found {len(records)} of the {expected} recordings wanted (is the data set complete?)")
    names = [f"{d}_{fsdd.FSDD_SPEAKERS[s]}_{i}.wav" for s, d, i, _ in records]
    metadata = {
        "dataset": "Free Spoken Digit Dataset (FSDD)",
        "source": "https://github.com/Jakobovski/free-spoken-digit-dataset",
        "authors": "Zohar Jackson (Jakobovski) et al.",
        "license": "CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)",
        "sample_rate": fsdd.SAMPLE_RATE,
        "format": "16-bit PCM samples, unchanged from the WAV files",
        "speakers": list(fsdd.FSDD_SPEAKERS),
        "subset": (
            f"for every speaker and digit the recordings with index {', '.join(map(str, train_indices))} (train) "
            f"and {', '.join(map(str, test_indices))} (test); the usual split: index 0-4 test, the rest train"
        ),
        "made_by": "tools/make_embedded_fsdd.py",
    }
    return {
        "samples": np.concatenate([r[3] for r in records]),
        "lengths": np.array([r[3].shape[0] for r in records], dtype=np.int32),
        "file_names": np.array(names),
        "digits": np.array([r[1] for r in records], dtype=np.uint8),
        "speakers": np.array([r[0] for r in records], dtype=np.uint8),
        "indices": np.array([r[2] for r in records], dtype=np.uint8),
        "metadata": np.array([json.dumps(metadata, sort_keys=True)]),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR,
        help="folder holding fsdd/recordings/ (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--train-indices", type=_indices, default=TRAIN_INDICES, help="default: 5,6")
    parser.add_argument("--test-indices", type=_indices, default=TEST_INDICES, help="default: 0")
    args = parser.parse_args(argv)

    arrays = build(args.data_dir, args.train_indices, args.test_indices)
    write_npz(args.out, arrays, max_bytes=MAX_BYTES)
    size = args.out.stat().st_size
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(
        f"wrote {args.out}: {size} bytes, sha256 {digest}, {arrays['lengths'].shape[0]} recordings, "
        f"{arrays['samples'].shape[0]} samples"
    )


if __name__ == "__main__":
    main()

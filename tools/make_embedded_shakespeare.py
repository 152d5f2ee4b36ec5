"""Builds kgen/data/embedded/tinyshakespeare.txt.gz, the whole of Tiny Shakespeare shipped inside kgen.

Tiny Shakespeare (1,115,394 characters of Shakespeare's plays, public domain, as collected for char-rnn) is small
enough to ship whole, so the embedded train/test split is byte-identical to the local one. The file is the text
gzip-compressed at level 9 with no file name and a zero timestamp in its header, so the output is byte-for-byte
deterministic (with the same zlib); it is written atomically. The text's md5 must be the one kgen.data.text checks
on every read (EMBEDDED_MD5), or nothing is written.

Usage (from the repository root):

    python tools/make_embedded_shakespeare.py                       # ../shared/data/tinyshakespeare/input.txt
    python tools/make_embedded_shakespeare.py --data-dir DIR --out PATH
"""

import argparse
import gzip
import hashlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kgen.data import text  # noqa: E402
from kgen.io import atomic_path  # noqa: E402

NAME = "tinyshakespeare"
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "kgen" / "data" / "embedded" / text.EMBEDDED[NAME][0]


def build(data_dir):
    """The gzip bytes of the text in ``data_dir`` (``tinyshakespeare/input.txt`` or ``input.txt``)."""
    folder, file_name = text.FILES[NAME]
    candidates = [data_dir / folder / file_name, data_dir / file_name]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise SystemExit(f"Tiny Shakespeare not found: looked for {', '.join(map(str, candidates))}")
    raw = path.read_bytes()
    _, md5, max_bytes = text.EMBEDDED[NAME]
    digest = hashlib.md5(raw, usedforsecurity=False).hexdigest()
    if digest != md5:
        raise SystemExit(f"{path} has md5 {digest}; expected {md5} (the Tiny Shakespeare kgen checks)")
    compressed = gzip.compress(raw, compresslevel=9, mtime=0)
    if len(compressed) > max_bytes:
        raise SystemExit(f"the compressed text would be {len(compressed)} bytes, over {max_bytes}")
    return compressed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DATA_DIR,
        help="folder holding tinyshakespeare/input.txt (default: %(default)s)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    compressed = build(args.data_dir)
    with atomic_path(args.out) as tmp:
        tmp.write_bytes(compressed)
    digest = hashlib.sha256(compressed).hexdigest()
    print(f"wrote {args.out}: {len(compressed)} bytes, sha256 {digest}, text md5 {text.EMBEDDED[NAME][1]}")


if __name__ == "__main__":
    main()

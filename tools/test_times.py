"""Sum the test times that `KGEN_TEST_TIMES=PATH pytest ...` records (tests/conftest.py appends one line per test
phase: seconds, phase, node id), so that the cost of a suite can be read while it runs and compared across
backends.

    KERAS_BACKEND=jax KGEN_TEST_TIMES=/tmp/jax.tsv python -m pytest -q tests
    python tools/test_times.py /tmp/jax.tsv [/tmp/tf.tsv ...] [--top 40] [--by test|file|module]

With several files, one column per file (the same node ids side by side) and a total row; rows are sorted by the
largest time in any column.
"""

import argparse
import collections
import sys
from pathlib import Path


def read_times(path, by):
    """{key: seconds} of one TSV file, the phases (setup, call, teardown) of a test summed; `by` "test" keys by
    node id without parameters' brackets kept, "file" by the test file, "module" by the file and class."""
    totals = collections.defaultdict(float)
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split("\t")
        if len(parts) != 3:
            raise SystemExit(f"{path}:{number}: expected 'seconds<TAB>phase<TAB>node id', got {line!r}")
        seconds, _, node = parts
        if by == "file":
            key = node.split("::")[0]
        elif by == "module":
            key = "::".join(node.split("[")[0].split("::")[:2])
        else:
            key = node
        totals[key] += float(seconds)
    return totals


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="+", help="TSV files written through KGEN_TEST_TIMES")
    parser.add_argument("--by", choices=("test", "file", "module"), default="test", help="what a row sums")
    parser.add_argument("--top", type=int, default=40, help="how many rows to print (0: all)")
    args = parser.parse_args(argv)
    columns = [read_times(p, args.by) for p in args.paths]
    keys = set().union(*columns)
    rows = sorted(keys, key=lambda k: -max(c.get(k, 0.0) for c in columns))
    if args.top:
        rows = rows[:args.top]
    names = [Path(p).stem for p in args.paths]
    print("  ".join(f"{n:>9}" for n in names) + "  what")
    for key in rows:
        print("  ".join(f"{c.get(key, 0.0):9.1f}" for c in columns) + f"  {key}")
    print("  ".join(f"{sum(c.values()):9.1f}" for c in columns) + "  total (all rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The `kgen score` flags a sample-quality report was made with: `--num N --seed S [--guidance W]`, printed on one
line (nothing for a report that does not exist yet, so the measure's defaults apply). tools/score_presets.sh scores
each preset again as its report in zoo/quality/ was made.

    python tools/score_flags.py zoo/quality/wavenet.fsdd.json
"""

import json
import sys
from pathlib import Path

#: A report is a small JSON file; a larger one is not a report.
MAX_BYTES = 1 << 20


def flags(path):
    path = Path(path)
    if not path.is_file():
        return []
    if path.stat().st_size > MAX_BYTES:
        raise SystemExit(f"{path}: {path.stat().st_size} bytes, more than a report's {MAX_BYTES}")
    report = json.loads(path.read_text())
    out = ["--num", str(int(report["num_samples"])), "--seed", str(int(report["seed"]))]
    if report.get("guidance") is not None:
        out += ["--guidance", repr(float(report["guidance"]))]
    return out


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python tools/score_flags.py REPORT.json")
    print(" ".join(flags(args[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write kgen/catalog.json, the registry at a glance that `kgen list` reads without importing Keras (see
kgen/catalog.py), from the live registry. Run it after adding or renaming a model, a preset, a description or shipped
weights; tests/test_catalog.py fails until it is run.

    python tools/make_catalog.py            # writes kgen/catalog.json, prints one line
    python tools/make_catalog.py --check    # exit status 1 where the file differs from the registry
"""

import argparse
import sys
from pathlib import Path

from kgen import catalog
from kgen.io import atomic_path

PATH = Path(catalog.__file__).with_name(catalog.FILE)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare the file with the registry")
    args = parser.parse_args(argv)
    text = catalog.dumps(catalog.build())
    current = PATH.read_text(encoding="utf-8") if PATH.is_file() else None
    if args.check:
        print(f"{PATH}: {'up to date' if current == text else 'stale: run python tools/make_catalog.py'}")
        return 0 if current == text else 1
    if current != text:
        with atomic_path(PATH) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
    models = catalog.load()["models"]
    print(f"{PATH}: {len(models)} names, {sum(m['pretrained'] for m in models.values())} with shipped weights"
          f"{'' if current != text else ' (unchanged)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

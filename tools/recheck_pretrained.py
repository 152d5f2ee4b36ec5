"""Record a shipped preset's check value on another test slice: the metric that tests/test_pretrained.py recomputes
on every backend, measured here under TensorFlow (the backend the recorded values come from).

    KERAS_BACKEND=tensorflow KGEN_DATA_DIR=../shared/data python tools/recheck_pretrained.py \\
        pixelcnn.mnist sparse_transformer.mnist --check-split "test[:200]"

For each name it loads the shipped folder (sha256, class and every array checked), evaluates it with the recipe in
its metadata.json on --check-split, and rewrites the folder's metadata.json `check` (split and value; the metric and
tolerance stay) and its README.md (tools/preset_cards.py). The weights and config.json are not touched; each folder
is replaced atomically, and nothing is written for a name unless its evaluation succeeded.
"""

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("names", nargs="+", help="shipped presets (kgen list --pretrained)")
    p.add_argument("--check-split", required=True, help="the test slice the tests recompute, e.g. test[:200]")
    args = p.parse_args(argv)

    import keras

    if keras.backend.backend() != "tensorflow":
        raise SystemExit("run under KERAS_BACKEND=tensorflow: the recorded check values come from TensorFlow")
    import kgen
    from kgen import pretrained, training
    from kgen.io import atomic_path
    from preset_cards import render_card

    shipped = kgen.zoo.list_models(pretrained=True)
    unknown = [n for n in args.names if n not in shipped]
    if unknown:
        raise SystemExit(f"names: {unknown} have no shipped weights; shipped: {shipped}")
    for name in args.names:
        folder = Path(kgen.zoo.pretrained_folder(name))
        meta = pretrained.read_metadata(folder)
        model = kgen.zoo.get(name, pretrained=True)
        metric = meta["check"]["metric"]
        value = training.evaluate(model, meta["recipe"], split=args.check_split, verbose=0)[metric]
        old = meta["check"]
        meta["check"] = {**old, "split": args.check_split, "value": value}
        with tempfile.TemporaryDirectory() as tmp:
            staged = Path(tmp) / folder.name
            shutil.copytree(folder, staged)
            (staged / pretrained.METADATA_FILE).write_text(json.dumps(meta, indent=4) + "\n", encoding="utf-8")
            (staged / pretrained.README_FILE).write_text(render_card(staged, place=folder), encoding="utf-8")
            kgen.zoo.get(name, weights=str(staged))  # the staged folder still loads and verifies
            with atomic_path(folder) as final:
                shutil.copytree(staged, final)
        print(f"{name}: check {metric} {value:.6f} on {args.check_split} (was {old['value']:.6f} on {old['split']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

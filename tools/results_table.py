"""The README's results table: one row per model whose weights ship, from the presets' metadata.json (the card
metric on the whole test split, the recipe and its training time) and the sample-quality reports in zoo/quality/
(`kgen score NAME --out zoo/quality/NAME.json`, written by `bash tools/score_presets.sh`).

    python tools/results_table.py            # print the table (markdown)
    python tools/results_table.py --check    # exit 1 unless README.md holds exactly this table

The table sits in README.md between the lines `<!-- results table -->` and `<!-- end results table -->`.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tools/preset_cards.py, also when loaded by a test

ROOT = Path(__file__).resolve().parents[1]
QUALITY_DIR = ROOT / "zoo" / "quality"
START, END = "<!-- results table -->", "<!-- end results table -->"

#: How each card metric is printed.
METRICS = {
    "nats": "{:.2f} nats/image",
    "bits_per_token": "{:.3f} bits/token",
    "reconstruction_error": "{:.3f} reconstruction error",
    "loss": "{:.3f} sparse-coding objective",
    "accuracy": "{:.2%} accuracy",
}


def _quality(name):
    path = QUALITY_DIR / f"{name}.json"
    if not path.is_file():
        return "-"
    report = json.loads(path.read_text())
    rows = report["rows"]
    parts = []
    for key, label in (("frechet_distance", "FD"), ("confidence", "conf."), ("accuracy", "cond. acc."),
                       ("both_kept_all_frames", "both digits kept"), ("real_words", "real words"),
                       ("real_word_pairs", "real word pairs")):
        if key in rows["model"]:
            parts.append(f"{label} {rows['model'][key]:.3g} (real {rows['real'][key]:.3g}, untrained "
                         f"{rows['untrained'][key]:.3g})")
    guided = "" if report.get("guidance") is None else f", guidance {report['guidance']:g}"
    return "; ".join(parts) + f" [{report['num_samples']} samples{guided}]"


def _cpu_hours(meta):
    minutes = meta.get("training_minutes")
    if minutes is None:
        minutes = meta["recipe"]["train"].get("time_budget_minutes")
    return "-" if minutes is None else f"{minutes / 60:.2f}"


def _commands(meta):
    """`kgen train RECIPE`, after the recipes of every earlier run behind the weights (the presets a mixture was
    built from, the weights a run started from), first to last."""
    from preset_cards import runs_behind  # a sibling script (on sys.path: see the imports)

    recipes = [earlier["recipe_name"] for earlier in runs_behind(meta)] + [meta["recipe_name"]]
    return ", then ".join(f"`kgen train {name}`" for name in recipes)


def table():
    import kgen.models  # noqa: F401  (registers the families)
    from kgen import pretrained, zoo

    lines = ["| model | data | test metric | sample quality (`kgen score`) | CPU hours | command |",
             "| --- | --- | --- | --- | --- | --- |"]
    for name in zoo.list_models(pretrained=True):
        meta = pretrained.read_metadata(zoo.pretrained_folder(name))
        metric = meta["metric"]
        label = METRICS.get(metric["name"], "{:.4g} " + metric["name"])
        data = meta.get("data", {}).get("name") or meta["recipe"]["data"]["name"]
        lines.append(f"| `{name}` | {data} | {label.format(metric['value'])} | {_quality(name)} | "
                     f"{_cpu_hours(meta)} | {_commands(meta)} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="compare with the table in README.md")
    args = p.parse_args(argv)
    text = table()
    if not args.check:
        print(text)
        return 0
    readme = (ROOT / "README.md").read_text()
    if START not in readme or END not in readme:
        print(f"README.md has no {START} ... {END} block", file=sys.stderr)
        return 1
    current = readme.split(START, 1)[1].split(END, 1)[0].strip()
    if current != text:
        print("README.md's results table is stale: python tools/results_table.py prints the current one",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Keep the shipped preset folders in keras-hub's format, each with its model card (README.md).

    python tools/preset_cards.py            # convert every shipped folder in place and (re)write its README.md
    python tools/preset_cards.py --check    # exit 1 if a folder is not in the format or its README.md is stale
    python tools/preset_cards.py kgen/models/bytenet/pretrained/bytenet.shakespeare   # only these folders

Converting touches config.json and metadata.json only; model.weights.h5 stays byte for byte (its sha256 in
metadata.json is checked before and after):

- config.json of kgen's earlier folders, `{"name": ZOO_NAME, "model": SERIALIZED_MODEL}`, becomes the serialized
  model as keras-hub's saver writes it (the model is built from the old config and serialized again by
  `kgen.pretrained.serialize_model`; its recorded constructor arguments must come out unchanged, and arguments
  added to the code since are written with their defaults, such as `dtype`);
- metadata.json gets keras-hub's fields first (keras_version: the Keras that saved the weights, as recorded;
  keras_hub_version; parameter_count; date_saved: the date of the commit that last wrote the weights file; tasks)
  and keeps every field it had, the zoo name (`name`) included.

The model card is generated from metadata.json (the zoo name, description, metric, check value, commands, commit,
sha256) and config.json (the class), with the task and data set of the preset's entry in the header of its family
card in zoo/ (metadata.json's metric.card). A folder is converted in a staged copy that must load through
`kgen.zoo.get(name, weights=...)` (sha256, class and every array checked) before it replaces the folder.
"""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: What the front matter of every preset card says besides its metrics.
LIBRARY_NAME = "keras-hub"
LICENSE = "apache-2.0"


def shipped_folders():
    return sorted(p.parent for p in (ROOT / "kgen" / "models").glob("*/pretrained/*/metadata.json"))


def _family_entry(card_path, name):
    """The header of a family card and its model-index entry for `name` (None if it has none)."""
    from huggingface_hub.repocard import metadata_load

    header = metadata_load(card_path) or {}
    entries = [e for e in header.get("model-index", []) if e.get("name") == name]
    return header, (entries[0] if entries else None)


def render_card(folder, place=None):
    """The README.md of a preset folder, from its metadata.json and config.json and its family card's header; it
    links to the family card from `place` (default: the folder itself)."""
    import yaml

    folder = Path(folder)
    meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    name, metric, check = meta["name"], meta["metric"], meta["check"]
    card_path = ROOT / metric["card"]
    header, entry = _family_entry(card_path, name)
    result = entry["results"][0] if entry else {}
    task = dict(result.get("task") or {"type": header.get("pipeline_tag", "other")})
    dataset = dict(result.get("dataset") or {"type": meta["data"]["name"], "name": meta["data"]["name"]})
    dataset["split"] = metric["split"]
    front = {
        "library_name": LIBRARY_NAME,
        "license": LICENSE,
        "tags": ["kgen", *[t for t in header.get("tags", ["keras"]) if t != "kgen"]],
        "datasets": [dataset["type"]],
        **({"pipeline_tag": header["pipeline_tag"]} if header.get("pipeline_tag") else {}),
        "model-index": [{"name": name, "results": [{
            "task": task,
            "dataset": dataset,
            "metrics": [{"type": metric["name"], "value": metric["value"],
                         "name": f"{metric['name']} ({metric['split']} split)"}],
        }]}],
    }
    cls = config["class_name"]
    link = os.path.relpath(card_path, place or folder)
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False, width=1000).rstrip(),
        "---",
        f"# {name}",
        "",
        f"{meta['description'].rstrip('.')}.",
        "",
        f"Trained weights of the kgen zoo preset `{name}` (a `{cls}`, {meta['parameters']:,} parameters, weights "
        f"stored as {meta['weights_dtype']}), as a keras-hub preset folder: `config.json` (the serialized Keras "
        "model), `model.weights.h5`, `metadata.json` (what the weights are, with the sha256 of the weights file). "
        "They run on the TensorFlow, JAX and PyTorch backends of Keras 3.",
        "",
        "```python",
        "import kgen",
        f'model = kgen.zoo.get("{name}", pretrained=True)           # the copy that ships with kgen',
        f'model = kgen.models.{cls}.from_preset("{name}")            # the same, keras-hub style',
        'model = kgen.models.KgenModel.from_preset("hf://ORG/REPO")   # this folder, uploaded with '
        "keras_hub.upload_preset",
        "```",
        "",
        "## Results",
        "",
        "| metric | split | as trained | stored weights |",
        "| --- | --- | --- | --- |",
        f"| {metric['name']} | {meta['data']['name']} {metric['split']} | {metric['value']:.4f} | "
        f"{metric['stored_weights_value']:.4f} |",
        f"| {check['metric']} | {meta['data']['name']} {check['split']} (the tests' check on every backend, "
        f"rtol {check['rtol']:g}) | | {check['value']:.4f} |",
        "",
        "## Reproduce",
        "",
        f"Trained with the recipe `{meta['recipe_name']}` at commit {meta['commit']}"
        + (f" ({meta['commit_note']})" if meta.get("commit_note") else "") + ":",
        "",
        "```",
        *[earlier["command"] for earlier in runs_behind(meta)],
        meta["command"],
        meta["evaluate_command"],
        "```",
        "",
        *([_started_from_line(meta), ""] if meta.get("started_from") else []),
        *([_built_from_line(meta), ""] if meta.get("built_from") else []),
        f"The family card [{metric['card']}]({link}) describes the architecture and the other presets, and "
        "compares the numbers with the papers'.",
        "",
        f"sha256 of `model.weights.h5`: `{meta['sha256']}`. License: {meta.get('license', 'Apache-2.0')}.",
        "",
    ]
    return "\n".join(lines)


def runs_before(meta):
    """The runs whose weights a preset's run started from (`started_from`, then its own, ...), latest first."""
    chain, earlier = [], meta.get("started_from")
    while earlier and len(chain) < 100:  # bounded: metadata is read from files
        chain.append(earlier)
        earlier = earlier.get("started_from")
    return chain


def runs_behind(meta):
    """Every earlier run behind a preset's weights, in the order they ran: for each shipped preset its model was
    built from (`built_from`, the members of a mixture), that preset's chain, then the chain the run started from."""
    runs = []
    for part in meta.get("built_from", [])[:100]:  # bounded: metadata is read from files
        runs += [*reversed(runs_before(part)), part]
    return runs + list(reversed(runs_before(meta)))


def _built_from_line(meta):
    parts = []
    for part in meta["built_from"]:
        budget = " (its recipe's time budget)" if part.get("training_minutes_from") else ""
        parts.append(f"`{part['preset']}` (sha256 `{part['sha256'][:12]}...`; {part['metric']['name']} "
                     f"{part['metric']['value']:.4f} on {part['metric']['split']}; the recipe `{part['recipe_name']}` "
                     f"at commit {part['commit']}, {part['training_minutes']:g} {_minutes_unit(part)}{budget} of "
                     "training behind it)")
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return (f"The model was built with the shipped weights of {listed}; with this run's "
            f"{_run_minutes(meta)}, {meta['training_minutes']:g} {_minutes_unit(meta)} in all.")


def _started_from_line(meta):
    first = meta["started_from"]
    return (f"The run started from the weights of `{first['preset']}` as they were (sha256 `{first['sha256'][:12]}...`"
            f"; {first['metric']['name']} {first['metric']['value']:.4f} on {first['metric']['split']}), made by the "
            f"recipe `{first['recipe_name']}` at commit {first['commit']}, with {first['training_minutes']:g} "
            f"{_minutes_unit(first)} of training behind them; with this run's {_run_minutes(meta)}, "
            f"{meta['training_minutes']:g} {_minutes_unit(meta)} in all.")


def _minutes_unit(meta):
    """How `training_minutes` of `meta` reads: "minutes" while every run behind it held one core (wall clock and CPU
    minutes agree), else "CPU minutes"."""
    several = any(run.get("run_cores", 1) != 1 for run in [meta, *runs_behind(meta)])
    return "CPU minutes" if several else "minutes"


def _run_minutes(meta):
    """A run's own minutes as the card says them: wall clock, and the CPU minutes where it held several cores."""
    cores = meta.get("run_cores", 1)
    if cores == 1:
        return f"{meta['run_minutes']:g}"
    return f"{meta['run_minutes']:g} on {cores} cores ({meta['run_minutes'] * cores:g} CPU minutes)"


def _date_of(weights):
    """When the weights file was last written: its last commit's date, else its modification time."""
    out = subprocess.run(["git", "log", "-1", "--format=%cI", "--", str(weights)], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip()
    if out:
        return datetime.datetime.fromisoformat(out).astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return datetime.datetime.fromtimestamp(weights.stat().st_mtime)


def converted_files(folder):
    """(config.json text, metadata dict) of `folder` in keras-hub's format (unchanged if it already is)."""
    from kgen import pretrained

    folder = Path(folder)
    spec, legacy_name, config_path = pretrained.read_config(folder)
    meta = pretrained.read_metadata(folder)
    name = legacy_name or meta.get("name")
    if not name:
        raise SystemExit(f"{folder}: no zoo name in config.json or metadata.json.")
    model = pretrained._keras_builder(config_path)(spec)
    again = pretrained.serialize_model(model)
    # Every recorded constructor argument must come back unchanged; arguments added since (with their defaults,
    # such as `dtype`) are written out.
    moved = sorted(k for k in spec["config"] if k not in again["config"] or again["config"][k] != spec["config"][k])
    if moved:
        raise SystemExit(f"{config_path}: the model built from it serializes {moved} differently "
                         f"({again['config']} from {spec['config']}); the code no longer builds this config.")
    hub = pretrained.hub_metadata(meta.get("parameters", model.count_params()), _date_of(folder / "model.weights.h5"))
    if meta.get("name", name) != name:
        raise SystemExit(f"{config_path}: names {name!r}, but metadata.json names {meta['name']!r}.")
    # keras-hub's fields first; every recorded value stays (the Keras that saved the weights; the keras-hub fields
    # of a folder converted before).
    new_meta = {**hub, **meta, "name": name}
    if new_meta["parameter_count"] != model.count_params():
        raise SystemExit(f"{folder / 'metadata.json'}: parameter_count {new_meta['parameter_count']} is not the "
                         f"model's {model.count_params()}.")
    return pretrained.config_text(again), new_meta


def convert(folder):
    """Convert `folder` in place (all or nothing) and write its README.md; True if a file changed."""
    import kgen
    from kgen import pretrained
    from kgen.io import atomic_path

    folder = Path(folder)
    before = pretrained.sha256(folder / pretrained.WEIGHTS_FILE)
    config_text, meta = converted_files(folder)
    if meta["sha256"] != before:
        raise SystemExit(f"{folder / 'model.weights.h5'}: sha256 {before} is not metadata.json's {meta['sha256']}.")
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / folder.name
        shutil.copytree(folder, staged)
        (staged / pretrained.CONFIG_FILE).write_text(config_text, encoding="utf-8")
        (staged / pretrained.METADATA_FILE).write_text(json.dumps(meta, indent=4) + "\n", encoding="utf-8")
        # The card links to the family card relative to the folder's own place in the checkout.
        (staged / pretrained.README_FILE).write_text(render_card(staged, place=folder), encoding="utf-8")
        kgen.zoo.get(meta["name"], weights=staged)  # sha256, class and every array checked
        changed = [n for n in pretrained.PRESET_FILES
                   if not (folder / n).is_file() or (folder / n).read_bytes() != (staged / n).read_bytes()]
        if changed:
            with atomic_path(folder) as final:
                shutil.copytree(staged, final)
    after = pretrained.sha256(folder / pretrained.WEIGHTS_FILE)
    assert after == before, (folder, before, after)
    print(f"{folder.relative_to(ROOT)}: {'wrote ' + ', '.join(changed) if changed else 'up to date'}")
    return bool(changed)


def stale(folder):
    """Why `folder` is not current (an empty list when it is)."""
    from kgen import pretrained

    folder = Path(folder)
    config = json.loads((folder / pretrained.CONFIG_FILE).read_text(encoding="utf-8"))
    meta = pretrained.read_metadata(folder)
    problems = []
    if "class_name" not in config or "registered_name" not in config:
        problems.append("config.json is not a serialized Keras object")
    for key in ("keras_version", "keras_hub_version", "parameter_count", "date_saved", "tasks", "name", "sha256"):
        if key not in meta:
            problems.append(f"metadata.json has no {key!r}")
    readme = folder / pretrained.README_FILE
    if not problems and (not readme.is_file() or readme.read_text(encoding="utf-8") != render_card(folder)):
        problems.append("README.md is missing or not what metadata.json gives")
    return problems


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="*", help="preset folders (default: every shipped one)")
    p.add_argument("--check", action="store_true", help="only report folders that are not current")
    args = p.parse_args(argv)
    folders = [Path(f).resolve() for f in args.folders] or shipped_folders()
    if args.check:
        bad = {f: stale(f) for f in folders}
        for folder, problems in bad.items():
            for problem in problems:
                print(f"{folder.relative_to(ROOT)}: {problem}")
        return 1 if any(bad.values()) else 0
    for folder in folders:
        convert(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())

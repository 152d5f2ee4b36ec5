"""Turn a trained run into the preset folder kgen ships for a zoo name (`kgen.zoo.get(name, pretrained=True)`).

    python tools/make_pretrained.py runs/text45/bytenet --name bytenet.shakespeare --recipe bytenet_shakespeare \\
        --commit 1774591 --metric bits_per_token --card zoo/bytenet.md --check-split "test[:8192]"

It reads the run folder that `kgen train` wrote (model.keras, recipe.json, eval.json: the number on the model card),
writes `kgen/models/<family>/pretrained/<name>/` as a keras-hub preset folder (config.json, model.weights.h5,
metadata.json; see `kgen.pretrained`) and then loads the folder back through `kgen.zoo.get(..., weights=...)` to
record:

- the card metric of the stored weights on the run's full evaluation split; with `--weights-dtype float16` the
  folder is refused unless that moves the metric by less than 0.1% against the float32 run (`eval.json`);
- a check value: the metric on a small slice of the test split (`--check-split`), which the tests recompute on
  every backend (tests/test_pretrained.py).

A run that started from trained weights (a recipe with `[train] init_weights`; the run's init.json) records them
as `started_from` (the preset, the sha256, its recipe, commit, metric and training minutes, read from that preset's
metadata.json, whose weights must still be the ones the run started from), and its `training_minutes` are the sum of
both, the CPU time behind the weights; `run_minutes` is the run's own. A run whose model was built with shipped
presets' weights (the members of a `token_mixture`; the run's parts.json) records each of them the same way, as
`built_from`, and adds their training minutes too.

`training_minutes` counts CPU minutes: a run's wall-clock minutes (metrics.csv's `elapsed_min`) times the cores it
held, `--cores` (default 1, the one core a run is pinned to with `taskset -c N`); a run on more than one records
`run_cores`, and its `run_minutes` stay wall-clock minutes.

Last it writes the folder's model card, README.md, from metadata.json (tools/preset_cards.py, which also converts
kgen's earlier preset folders to keras-hub's format). Nothing is written unless every step succeeds (the folder is
replaced atomically).
"""

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The relative tolerance the tests allow between the recorded check value and a backend's (float32 round-off).
CHECK_RTOL = 1e-3
#: The most a float16 copy may move the card metric (relative), as the issue allows.
FLOAT16_RTOL = 1e-3


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="a run folder written by `kgen train` (model.keras, recipe.json, eval.json)")
    p.add_argument("--name", required=True, help="the zoo preset the run trained, e.g. bytenet.shakespeare")
    p.add_argument("--recipe", required=True, help="the recipe the run used, e.g. bytenet_shakespeare")
    p.add_argument("--commit", required=True, help="the commit whose code and recipe trained the run")
    p.add_argument("--commit-note", help="how the run relates to --commit, where it is not simply its code")
    p.add_argument("--metric", required=True, help="the eval.json key the card reports, e.g. bits_per_token")
    p.add_argument("--card", required=True, help="the model card that reports the metric, e.g. zoo/bytenet.md")
    p.add_argument("--check-split", required=True, help="the small test slice the tests recompute, e.g. test[:8192]")
    p.add_argument("--weights-dtype", default="float32", choices=["float32", "float16"])
    p.add_argument("--out", help="default: kgen/models/<family>/pretrained/<name>")
    p.add_argument("--run-command", help="the command that trained the run (default: kgen train RECIPE --out RUN)")
    p.add_argument("--cores", type=int, default=1,
                   help="the CPU cores the run held (its taskset; default 1): its CPU minutes are its wall-clock "
                        "minutes times this")
    args = p.parse_args(argv)

    import kgen
    from kgen import pretrained, training
    from kgen.io import read_csv_rows

    if not 1 <= args.cores <= 4096:
        raise SystemExit(f"--cores: expected the number of CPU cores the run held, 1 to 4096, got {args.cores}.")
    run = Path(args.run)
    recipe = json.loads((run / training.RECIPE_FILE).read_text())
    card_eval = json.loads((run / "eval.json").read_text())
    if recipe["model"] != args.name:
        raise SystemExit(f"--name: the run trained {recipe['model']!r}, not {args.name!r}.")
    if args.metric not in card_eval:
        raise SystemExit(f"--metric: {run / 'eval.json'} has no {args.metric!r} (it has {sorted(card_eval)}).")
    model = training.load_model(run)
    family = type(model).__module__.rsplit(".", 1)[0]  # kgen.models.<family>
    out = Path(args.out) if args.out else ROOT.joinpath(*family.split("."), kgen.zoo.PRETRAINED_DIR, args.name)
    try:
        pretrained.check_output_folder(out)
    except ValueError as e:
        raise SystemExit(f"--out: {e}") from None

    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / args.name
        pretrained.save_preset(model, staged, args.name, weights_dtype=args.weights_dtype)
        stored = kgen.zoo.get(args.name, weights=str(staged))
        full = training.evaluate(stored, recipe, verbose=0)
        change = abs(full[args.metric] - card_eval[args.metric]) / abs(card_eval[args.metric])
        print(f"{args.name}: {args.metric} {full[args.metric]:.6f} with the stored {args.weights_dtype} weights on "
              f"{full['split']}, {card_eval[args.metric]:.6f} in eval.json (relative change {change:.2e})")
        if args.weights_dtype != "float32" and change >= FLOAT16_RTOL:
            raise SystemExit(f"--weights-dtype {args.weights_dtype} moves the card metric by {change:.2%} "
                             f"(at most {FLOAT16_RTOL:.1%} allowed): ship float32.")
        check = training.evaluate(stored, recipe, split=args.check_split, verbose=0)
        run_command = args.run_command or f"kgen train {args.recipe} --out {run}"
        rows = read_csv_rows(run / training.METRICS_FILE)[0] if (run / training.METRICS_FILE).is_file() else []
        column = rows[0].index("elapsed_min") if rows and "elapsed_min" in rows[0] else None
        minutes = [float(r[column]) for r in rows[1:] if column is not None and r[column] not in ("", "NA")]
        started_from = _started_from(run)
        built_from = _built_from(run)
        run_minutes = minutes[-1] if minutes else None
        # The CPU time behind the weights: the run's own (wall clock x cores), plus that of the weights it started
        # from and of the shipped presets its model was built from.
        own_cpu = run_minutes * args.cores if minutes else None
        earlier = [source["training_minutes"] for source in ([started_from] if started_from else []) + built_from]
        total_minutes = own_cpu + sum(earlier) if minutes else None
        metadata = {
            "description": _description(kgen.zoo.describe(args.name)[0], recipe.get("model_args") or {}),
            "recipe_name": args.recipe,
            "recipe": recipe,
            "commit": args.commit,
            **({"commit_note": args.commit_note} if args.commit_note else {}),
            "data": {"name": recipe["data"]["name"], "train_split": recipe["data"]["train_split"],
                     "eval_split": full["split"]},
            "metric": {"name": args.metric, "value": card_eval[args.metric], "split": card_eval["split"],
                       "card": args.card, "stored_weights_value": full[args.metric]},
            "check": {"split": args.check_split, "metric": args.metric, "value": check[args.metric],
                      "rtol": CHECK_RTOL},
            "command": run_command,
            # CPU minutes: the training's wall-clock minutes (summed over --resume, from metrics.csv) times the
            # cores it held, plus those behind the weights it started from.
            **({"training_minutes": round(total_minutes, 1)} if minutes else {}),
            **({"run_minutes": round(run_minutes, 1)} if (earlier or args.cores > 1) and minutes else {}),
            **({"run_cores": args.cores} if args.cores > 1 else {}),
            **({"started_from": started_from} if started_from else {}),
            **({"built_from": built_from} if built_from else {}),
            "evaluate_command": f"kgen evaluate {run}",
            "license": "Apache-2.0",
        }
        # The staged folder's own fields (keras-hub's, parameters, storage type, versions, sha256 of its weights)
        # stay, first.
        saved = pretrained.read_metadata(staged)
        meta = {**saved, **metadata, **saved}
        (staged / pretrained.METADATA_FILE).write_text(json.dumps(meta, indent=4) + "\n", encoding="utf-8")
        from kgen.io import atomic_path
        from preset_cards import render_card

        (staged / pretrained.README_FILE).write_text(render_card(staged, place=out), encoding="utf-8")

        with atomic_path(out) as final:
            shutil.copytree(staged, final)
    size = (out / pretrained.WEIGHTS_FILE).stat().st_size
    print(f"wrote {out} ({size:,} bytes of weights, sha256 {meta['sha256'][:12]}..., "
          f"check {args.metric} {check[args.metric]:.6f} on {args.check_split})")
    return 0


def _description(registered, model_args):
    """The zoo name's description, and what the recipe's `[model_args]` changed of it: the preset's config.json is the
    model as trained, so its card must not describe the registered configuration alone."""
    if not model_args:
        return registered
    changed = ", ".join(f"{key} = {json.dumps(value)}" for key, value in model_args.items())
    return f"{registered.rstrip('.')}; trained with {changed} (the recipe's model_args, kept in config.json)"


def _started_from(run):
    """What a run that began from trained weights (its init.json) began from, from that preset's metadata.json; None
    for a run from a fresh initialisation. Refuses a preset folder whose weights are no longer those."""
    from kgen import pretrained, training

    init_file = run / training.INIT_FILE
    if not init_file.is_file():
        return None
    init = json.loads(init_file.read_text())
    return _source(init_file, init["init_weights"], init["folder"], init["sha256"], "started from")


def _built_from(run):
    """The shipped presets whose weights the run's model was built with (its parts.json: the members of a
    token_mixture built from them), each as `_started_from` describes a preset; [] when the run has no parts.json."""
    from kgen import training

    parts_file = run / training.PARTS_FILE
    if not parts_file.is_file():
        return []
    parts = json.loads(parts_file.read_text())["parts"]
    return [_source(parts_file, part["preset"], part["folder"], part["sha256"], "was built from") for part in parts]


def _source(record, preset, folder, sha256, verb):
    """What the preset folder `folder` (zoo name `preset`) held when a run used its weights of `sha256`, from its
    metadata.json; refused when the folder now holds other weights. A preset whose metadata predates
    `training_minutes` counts its recipe's time budget (as the README's results table does), and says so."""
    from kgen import pretrained

    folder = Path(folder)
    source = pretrained.read_metadata(folder)
    if source.get("sha256") != sha256:
        raise SystemExit(f"{record}: the run {verb} weights of sha256 {sha256[:12]}..., but {folder} now holds "
                         f"{str(source.get('sha256'))[:12]}...: its metadata no longer describes them (make the "
                         f"preset before replacing the folder it used).")
    minutes = source.get("training_minutes")
    budget = None
    if minutes is None:
        budget = source.get("recipe", {}).get("train", {}).get("time_budget_minutes")
        if budget is None:
            raise SystemExit(f"{folder}: its metadata.json has neither training_minutes nor a recipe time budget, so "
                             f"the CPU time behind the new weights cannot be summed.")
    return {"preset": preset, "sha256": sha256, "recipe_name": source["recipe_name"],
            "commit": source["commit"], "command": source["command"], "metric": source["metric"],
            "training_minutes": minutes if minutes is not None else budget,
            **({"training_minutes_from": "the recipe's time budget"} if minutes is None else {}),
            **({"run_cores": source["run_cores"]} if source.get("run_cores") else {}),
            # where those weights started in turn: the whole chain of runs behind the new weights
            **({"started_from": source["started_from"]} if source.get("started_from") else {})}


if __name__ == "__main__":
    sys.exit(main())

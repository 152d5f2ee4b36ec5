"""The equal-budget table of the binarized-MNIST image models from the run folders of tools/run_equal_budget.sh.

One markdown row per run folder under OUT (in the script's order): the preset, its parameter count, the epochs x
steps x batch it trained (the last epoch may be cut short by the budget, so this bounds the images seen), the
held-out NLL of its evaluation (eval.json: nats per image and bits per dimension) and, where the run was scored
(quality.json, written by `kgen score RUN --out RUN/quality.json`, as the script does after each run), the Frechet
distance of its samples in the digit judge's features and the judge's mean confidence. A last line gives the real
test digits' and an untrained model's scores (the ceiling and the floor) from the first scored run.

Usage (from the repository root):

    python tools/equal_budget_table.py runs/eq25
"""

import argparse
import csv
import json
import sys
from pathlib import Path

ORDER = ("pixelrnn_row", "pixelcnn", "pixelrnn_diagonal", "gated_pixelcnn", "sparse_transformer")
MAX_JSON_BYTES = 1 << 20  # eval.json, recipe.json and quality.json are small; anything larger is not ours


def _json(path):
    if path.stat().st_size > MAX_JSON_BYTES:
        raise ValueError(f"{path}: larger than {MAX_JSON_BYTES} bytes, not a run file")
    return json.loads(path.read_text())


def _epochs(metrics):
    with open(metrics, newline="") as f:
        return sum(1 for _ in csv.DictReader(f))


def _parameters(model_name):
    from kgen import zoo

    return zoo.get(model_name).count_params()


def row(run, parameters=_parameters):
    """The table's cells for one run folder (a dict), or None where the run has no evaluation yet."""
    if not (run / "eval.json").is_file():
        return None
    recipe, result = _json(run / "recipe.json"), _json(run / "eval.json")
    t = recipe["train"]
    cells = {
        "model": recipe["model"], "parameters": parameters(recipe["model"]),
        "training": f"{_epochs(run / 'metrics.csv')} x {t['steps_per_epoch']} x {t['batch_size']}",
        "split": result["split"], "nats": result["nats"], "bits_per_dim": result["bits_per_dim"], "quality": None,
    }
    if (run / "quality.json").is_file():
        cells["quality"] = _json(run / "quality.json")["rows"]
    return cells


def _fmt(value, digits):
    return "-" if value is None else f"{value:.{digits}f}"


def table(out, parameters=_parameters):
    """The markdown table (a list of lines) of every finished run under `out`."""
    out = Path(out)
    names = [n for n in ORDER if (out / n).is_dir()] + sorted(
        p.name for p in out.iterdir() if p.is_dir() and p.name not in ORDER)
    rows = [r for r in (row(out / n, parameters) for n in names) if r is not None]
    if not rows:
        raise ValueError(f"{out}: no finished run (a folder with eval.json)")
    split = rows[0]["split"]
    lines = [f"| model | parameters | epochs x steps x batch | {split} nats/image | bits/dim | FD | confidence |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    best = min(r["nats"] for r in rows)
    for r in rows:
        q = (r["quality"] or {}).get("model", {})
        nats = f"**{r['nats']:.2f}**" if r["nats"] == best else f"{r['nats']:.2f}"
        lines.append(f"| `{r['model']}` | {r['parameters']:,} | {r['training']} | {nats} | {r['bits_per_dim']:.4f} | "
                     f"{_fmt(q.get('frechet_distance'), 2)} | {_fmt(q.get('confidence'), 4)} |")
    scored = [r for r in rows if r["quality"]]
    if scored:
        real, untrained = scored[0]["quality"].get("real", {}), scored[0]["quality"].get("untrained", {})
        lines.append("")
        lines.append(f"Real test digits: FD {_fmt(real.get('frechet_distance'), 2)}, confidence "
                     f"{_fmt(real.get('confidence'), 4)}; an untrained `{scored[0]['model']}`: FD "
                     f"{_fmt(untrained.get('frechet_distance'), 2)}, confidence {_fmt(untrained.get('confidence'), 4)}.")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", help="the folder of tools/run_equal_budget.sh (e.g. runs/eq25)")
    args = p.parse_args(argv)
    try:
        print("\n".join(table(args.out)))
    except (OSError, ValueError, KeyError) as e:
        print(f"equal_budget_table: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

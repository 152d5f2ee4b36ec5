"""Mixed bfloat16 against float32 at equal steps: does a recipe's model train as well, and how much faster?

Trains the recipe twice from the same seed (same initial weights, same batches), once in float32 and once with
`--dtype mixed_bfloat16` (bfloat16 compute, float32 weights, heads and loss), each for exactly `--epochs` x
`--steps-per-epoch` steps with the recipe's schedule and no time budget, one after the other on the same core, then
evaluates both on the same held-out split. It prints one comparable line per dtype and the two ratios: held-out NLL
bfloat16 / float32 and training minutes bfloat16 / float32. The project's rule (issue 29): a long run may use mixed
bfloat16 only where its held-out NLL ends within 0.5% of float32's at equal steps.

Usage (from the repository root, on one core, the real data in ../shared/data):

    KGEN_DATA_DIR=../shared/data taskset -c 1 python tools/bf16_check.py pixelcnn_binarized_mnist --epochs 6 --steps-per-epoch 250
    python tools/bf16_check.py demo --epochs 2 --steps-per-epoch 5 --data-source embedded --eval-split "test[:64]"   # smoke

The run folders go to `--out` (default runs/bf16_check/RECIPE), which must not exist yet (nothing is overwritten);
`--resume` continues a check there, reading a dtype whose run finished and training only the other.
The backend is TensorFlow unless KERAS_BACKEND says otherwise (the measured 2x is TensorFlow's on this CPU).
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

DTYPES = ("float32", "mixed_bfloat16")
TOLERANCE = 0.005  # 0.5%


def train(recipe, label, flags, out, args, tool="bf16_check"):
    """Train `recipe` into `out` with the command's `flags` for `args.epochs` x `args.steps_per_epoch` steps and no
    time budget; returns (eval.json's result, training minutes)."""
    command = [
        sys.executable, "-c", "import sys; from kgen.cli import run; sys.argv[0] = 'kgen'; sys.exit(run())",
        "train", recipe, "--out", str(out), *flags, "--epochs", str(args.epochs),
        "--steps-per-epoch", str(args.steps_per_epoch), "--time-budget-minutes", "525600",
        "--monitor-split", "", "--eval-split", args.eval_split, "--samples", "0", "--verbose", "2",
    ]
    if args.data_source:
        command += ["--data-source", args.data_source]
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")}
    print(f"[{tool}] {label}: {' '.join(command[3:])}", file=sys.stderr, flush=True)
    subprocess.run(command, env=env, check=True)
    result = json.loads((out / "eval.json").read_text())
    minutes = float(_last_row(out / "metrics.csv")["elapsed_min"])
    return result, minutes


def _last_row(path):
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    header = lines[0].split(",")
    return dict(zip(header, lines[-1].split(",")))


def metric_of(result):
    """The evaluation's NLL: nats per example for images, bits per token for sequences."""
    for key in ("nats", "nats_per_frame", "bits_per_token", "bits_per_dim", "loss"):
        if key in result:
            return key, float(result[key])
    raise ValueError(f"no NLL in the evaluation result: {sorted(result)}")


def main(argv=None, variants=None, tool="bf16_check", doc=None):
    """Train the recipe once per variant (label -> `kgen train` flags; the first is the baseline) and print one
    comparable line per variant and the ratios of the last to the first. tools/ema_check.py runs it with its own
    variants."""
    variants = variants or {dtype: ["--dtype", dtype] for dtype in DTYPES}
    p = argparse.ArgumentParser(description=(doc or __doc__).split("\n")[0])
    p.add_argument("recipe", help="recipe name or .toml path")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--steps-per-epoch", type=int, required=True)
    p.add_argument("--eval-split", default="test[:2000]", help="held-out split both runs are evaluated on")
    p.add_argument("--data-source", help="local, embedded or download (default: the recipe's)")
    p.add_argument("--out", help=f"folder of the two runs (default runs/{tool}/RECIPE; must not exist)")
    p.add_argument("--resume", action="store_true",
                   help="continue a check in an existing --out: a variant whose run finished (eval.json) is read, "
                        "not trained again; the other trains into its folder, which must not exist")
    args = p.parse_args(argv)
    if args.epochs < 1 or args.steps_per_epoch < 1:
        p.error("--epochs and --steps-per-epoch must be positive")
    out = Path(args.out or Path("runs") / tool / Path(args.recipe).stem)
    if out.exists() and not args.resume:
        p.error(f"--out {out} exists: choose a new folder (nothing is overwritten), or continue it with --resume")
    if args.resume and not out.is_dir():
        p.error(f"--resume: --out {out} is not a folder of an earlier check")
    out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for label, flags in variants.items():
        run = out / label
        if args.resume and (run / "eval.json").is_file():
            print(f"[{tool}] {label}: finished earlier, read from {run}", file=sys.stderr, flush=True)
            result = json.loads((run / "eval.json").read_text())
            minutes = float(_last_row(run / "metrics.csv")["elapsed_min"])
        elif run.exists():
            p.error(f"{run} exists but holds no finished run (eval.json): remove it yourself or choose a new --out")
        else:
            result, minutes = train(args.recipe, label, flags, run, args, tool)
        rows[label] = (*metric_of(result), minutes)
    steps = args.epochs * args.steps_per_epoch
    print(f"recipe {args.recipe}, {steps} steps each, backend {os.environ.get('KERAS_BACKEND', 'tensorflow')}, "
          f"held-out {args.eval_split}")
    print(f"{'variant':<16}{'metric':>16}{'value':>12}{'minutes':>10}{'s/step':>10}")
    for label, (key, value, minutes) in rows.items():
        print(f"{label:<16}{key:>16}{value:>12.4f}{minutes:>10.2f}{minutes * 60 / steps:>10.3f}")
    (base, (_, v0, t0)), (other, (_, v1, t1)) = list(rows.items())[0], list(rows.items())[-1]
    ratio = v1 / v0
    verdict = "within" if abs(ratio - 1.0) <= TOLERANCE else "outside"
    print(f"NLL {other} / {base}: {ratio:.4f} ({verdict} 0.5%; difference {v1 - v0:+.4f}); "
          f"minutes {other} / {base}: {t1 / t0:.3f}")
    (out / "summary.json").write_text(json.dumps({
        "recipe": args.recipe, "steps": steps, "eval_split": args.eval_split,
        "runs": {label: {"metric": k, "value": v, "minutes": m, "flags": variants[label]}
                 for label, (k, v, m) in rows.items()},
        "nll_ratio": ratio, "nll_difference": v1 - v0, "minutes_ratio": t1 / t0,
        "within_tolerance": verdict == "within",
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

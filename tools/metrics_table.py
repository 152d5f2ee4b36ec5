"""Print a run's metrics.csv as a Markdown table (the learning curves in zoo/ cards).

    python tools/metrics_table.py runs/pixelcnn_mnist/metrics.csv --every 2
"""

import argparse
import csv
import sys


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("metrics", help="metrics.csv written by `kgen train`")
    p.add_argument("--every", type=int, default=1, help="print every Nth epoch (the last one is always printed)")
    args = p.parse_args(argv)
    with open(args.metrics, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        print(f"{args.metrics}: no epochs recorded", file=sys.stderr)
        return 1
    # (header, metrics.csv column, format) of the training column and, where the run watched a held-out split,
    # of the held-out columns: bits per token for sequence models, nats per frame for video models, nats per image
    # and bits/dim for image models.
    if "bits_per_token" in rows[0]:
        columns = [("train bits/token", "bits_per_token", ".3f")]
        held_out = [("held-out bits/token", "val_bits_per_token", ".3f")]
    elif "nats_per_frame" in rows[0]:  # video models: nats per predicted frame, and the targets' own entropy
        columns = [("train nats/frame", "nats_per_frame", ".2f")]
        held_out = [("held-out nats/frame", "val_nats_per_frame", ".2f"),
                    ("held-out targets' entropy", "val_target_entropy_per_frame", ".2f")]
    else:
        columns = [("train nats/image", "nats", ".2f")]
        held_out = [("held-out nats/image", "val_nats", ".2f"), ("held-out bits/dim", "val_bits_per_dim", ".4f")]
    if held_out[0][1] in rows[0]:
        columns += held_out
    print("| epoch | minutes | " + " | ".join(h for h, _, _ in columns) + " |")
    print("|" + " --- |" * (len(columns) + 2))
    for i, r in enumerate(rows):
        if i % args.every and i != len(rows) - 1:
            continue
        cells = [f"{float(r[key]):{fmt}}" for _, key, fmt in columns]
        print(f"| {int(r['epoch']) + 1} | {float(r['elapsed_min']):.1f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

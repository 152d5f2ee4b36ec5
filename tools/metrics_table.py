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
    if "bits_per_token" in rows[0]:  # sequence models: bits per token (audio sample, text byte)
        has_val = "val_bits_per_token" in rows[0]
        header = "| epoch | minutes | train bits/token | " + ("held-out bits/token |" if has_val else "")
        print(header)
        print("|" + " --- |" * (header.count("|") - 1))
        for i, r in enumerate(rows):
            if i % args.every and i != len(rows) - 1:
                continue
            line = f"| {int(r['epoch']) + 1} | {float(r['elapsed_min']):.1f} | {float(r['bits_per_token']):.3f} |"
            if has_val:
                line += f" {float(r['val_bits_per_token']):.3f} |"
            print(line)
        return 0
    has_val = "val_nats" in rows[0]
    header = "| epoch | minutes | train nats/image | " + ("held-out nats/image | held-out bits/dim |" if has_val else "")
    print(header)
    print("|" + " --- |" * (header.count("|") - 1))
    for i, r in enumerate(rows):
        if i % args.every and i != len(rows) - 1:
            continue
        line = f"| {int(r['epoch']) + 1} | {float(r['elapsed_min']):.1f} | {float(r['nats']):.2f} |"
        if has_val:
            line += f" {float(r['val_nats']):.2f} | {float(r['val_bits_per_dim']):.4f} |"
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

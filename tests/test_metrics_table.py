"""tools/metrics_table.py prints the columns that belong to the run's kind (image, sequence, video)."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "tools" / "metrics_table.py"

CASES = {
    "image": ("epoch,elapsed_min,loss,nats,val_nats,val_bits_per_dim\n0,5.0,100,99.5,98.25,0.18\n1,10.0,90,89.5,88.01,0.16\n",
              ["train nats/image", "held-out nats/image", "held-out bits/dim"], "| 2 | 10.0 | 89.50 | 88.01 | 0.1600 |"),
    "sequence": ("epoch,elapsed_min,loss,bits_per_token,val_bits_per_token\n0,5.0,2,2.5,2.6\n1,10.0,1.5,2.25,2.321\n",
                 ["train bits/token", "held-out bits/token"], "| 2 | 10.0 | 2.250 | 2.321 |"),
    "video": ("epoch,elapsed_min,loss,nats_per_frame,target_entropy_per_frame,val_loss,val_nats_per_frame,"
              "val_target_entropy_per_frame\n0,5.27,671.5,671.5,87.49,256.2,256.17,85.55\n"
              "1,10.31,187.1,187.14,85.97,153.7,153.72,85.548\n",
              ["train nats/frame", "held-out nats/frame", "held-out targets' entropy"], "| 2 | 10.3 | 187.14 | 153.72 | 85.55 |"),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_metrics_table_columns_follow_the_kind(kind, tmp_path):
    text, headers, last_row = CASES[kind]
    path = tmp_path / "metrics.csv"
    path.write_text(text)
    proc = subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, check=True)
    lines = proc.stdout.splitlines()
    assert lines[0] == "| epoch | minutes | " + " | ".join(headers) + " |"
    assert lines[-1] == last_row


def test_metrics_table_without_held_out_columns(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,elapsed_min,loss,nats_per_frame,target_entropy_per_frame\n0,5.0,300,300.5,87.0\n")
    proc = subprocess.run([sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[0] == "| epoch | minutes | train nats/frame |"
    assert proc.stdout.splitlines()[-1] == "| 1 | 5.0 | 300.50 |"

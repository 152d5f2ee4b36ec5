import csv
import json
import os
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from kgen import cli, zoo

TINY = ["--data-source", "embedded", "--steps-per-epoch", "2", "--batch-size", "16",
        "--eval-split", "test[:64]", "--monitor-split", "test[:32]", "--verbose", "0"]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "pixelcnn.mnist" in out and "pixelcnn.tiny" in out
    assert cli.main(["list", "nothing*"]) == 0
    capsys.readouterr()
    assert cli.main(["list", "--pretrained"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == zoo.list_models(pretrained=True) and "bytenet.shakespeare" in names


def test_train_evaluate_sample_export(tmp_path, capsys, recipe):
    run = tmp_path / "run"
    assert cli.main(["train", recipe, "--out", str(run), "--epochs", "2", "--samples", "4",
                     "--time-budget-minutes", "5"] + TINY) == 0
    out = capsys.readouterr().out
    assert "nats/image" in out and "bits/dim" in out
    for name in ("model.keras", "metrics.csv", "recipe.json", "eval.json", "samples.png"):
        assert (run / name).is_file(), name
    rows = _rows(run / "metrics.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1]
    assert {"loss", "nats", "bits_per_dim", "val_nats", "elapsed_min"} <= set(rows[0])
    result = json.loads((run / "eval.json").read_text())
    assert result["num_examples"] == 64 and result["nats"] > 0

    assert cli.main(["evaluate", str(run / "model.keras"), "--split", "test[:32]", "--data-source", "embedded",
                     "--out", str(tmp_path / "e.json"), "--verbose", "0"]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["num_examples"] == 32

    from PIL import Image

    capsys.readouterr()
    # --verbose 1: a progress bar over the batches on stderr; stdout keeps the one result line.
    assert cli.main(["sample", str(run), "--out", str(tmp_path / "grid.png"), "--num", "4", "--seed", "1",
                     "--verbose", "1"]) == 0
    assert Image.open(tmp_path / "grid.png").size[0] > 28
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"wrote 4 samples to {tmp_path / 'grid.png'}"]
    assert "1/1" in captured.err and "/batch" in captured.err

    assert cli.main(["export", str(run / "model.keras"), str(tmp_path / "serving" / "1"), "--verbose", "1"]) == 0
    assert (tmp_path / "serving" / "1" / "saved_model.pb").is_file()
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"exported a SavedModel with a 'serve' signature to {tmp_path / 'serving' / '1'}"]
    assert "kgen export: " in captured.err


def test_train_refuses_to_overwrite_a_run(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.csv").write_text("epoch\n")
    assert cli.main(["train", "demo", "--out", str(run), "--epochs", "1"] + TINY) == 2
    assert "--resume" in capsys.readouterr().err


def test_resume_refuses_a_finished_run_and_keeps_it(tmp_path, capsys, recipe):
    """A finished run has no backup/ (Keras removes it): --resume would start again from epoch 0 with fresh
    weights, repeat epochs in metrics.csv and replace the trained model.keras. It is refused; nothing changes."""
    run = tmp_path / "run"
    args = ["train", recipe, "--out", str(run), "--samples", "0", "--no-eval", "--monitor-split", "",
            "--data-source", "embedded", "--steps-per-epoch", "1", "--batch-size", "16", "--verbose", "0"]
    assert cli.main(args + ["--epochs", "1"]) == 0
    assert not (run / "backup").exists()
    model_bytes, metrics = (run / "model.keras").read_bytes(), (run / "metrics.csv").read_text()
    capsys.readouterr()
    assert cli.main(args + ["--epochs", "2", "--resume"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "the run in" in err and "finished (metrics.csv records 1 epoch(s)" in err
    assert [int(r["epoch"]) for r in _rows(run / "metrics.csv")] == [0]
    assert (run / "metrics.csv").read_text() == metrics and (run / "model.keras").read_bytes() == model_bytes
    assert sorted(p.name for p in run.iterdir()) == ["data.json", "metrics.csv", "model.keras", "recipe.json"]


@pytest.mark.parametrize(
    "argv,match",
    [
        (["train", "pixelcnn.huge", "--out", "{tmp}/r"], "Unknown model name"),
        (["train", "{tmp}/missing.toml", "--out", "{tmp}/r"], "does not exist"),
        (["train", "demo", "--out", "{tmp}/r", "--resume"], "no run to resume"),
        (["train", "demo", "--out", "{tmp}/r", "--train-split", "train[5:x]"], "split"),
        (["evaluate", "{tmp}/nothing.keras"], "does not exist"),
        (["sample", "{tmp}/corrupt.keras", "--out", "{tmp}/g.png"], "not a readable .keras model"),
        (["export", "{tmp}/corrupt.keras", "{tmp}/serving"], "not a readable .keras model"),
    ],
)
def test_errors_are_clear_and_write_nothing(tmp_path, capsys, argv, match):
    (tmp_path / "corrupt.keras").write_bytes(b"this is not a zip file")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert cli.main(argv + (TINY if argv[0] == "train" else [])) == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists() and not (tmp_path / "serving").exists()
    assert not (tmp_path / "r").exists()  # a failed `train` leaves no run folder behind


def test_corrupt_recipe(tmp_path, capsys):
    (tmp_path / "bad.toml").write_text("model = \n")
    assert cli.main(["train", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "r")]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    (tmp_path / "bad2.toml").write_text('model = "pixelcnn.tiny"\n[train]\nbatchsize = 3\n')
    assert cli.main(["train", str(tmp_path / "bad2.toml"), "--out", str(tmp_path / "r")]) == 2
    assert "batchsize" in capsys.readouterr().err


def test_resume_after_kill_9(tmp_path, recipe):
    """kill -9 in the middle of training; --resume continues, losing at most the epoch in progress."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "kgen.cli", "train", recipe, "--out", str(run), "--epochs", "12",
           "--samples", "0", "--no-eval", "--monitor-split", ""] + TINY[:-4] + ["--verbose", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (run / "metrics.csv").is_file() and len(_rows(run / "metrics.csv")) >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, f"training ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(_rows(run / "metrics.csv"))
    assert done_before < 12
    with zipfile.ZipFile(run / "model.keras") as z:  # the checkpoint is never half-written
        assert z.testzip() is None

    assert cli.main(["train", recipe, "--out", str(run), "--epochs", "12", "--resume", "--samples", "0",
                     "--no-eval", "--monitor-split", ""] + TINY[:-4] + ["--verbose", "0"]) == 0
    epochs = [int(r["epoch"]) for r in _rows(run / "metrics.csv")]
    assert epochs[:done_before] == list(range(done_before))
    resumed = epochs[done_before:]
    assert resumed and resumed[-1] == 11
    assert resumed[0] in (done_before, done_before + 1), (done_before, epochs)  # at most one epoch lost
    assert resumed == list(range(resumed[0], 12))
    elapsed = [float(r["elapsed_min"]) for r in _rows(run / "metrics.csv")]
    assert elapsed == sorted(elapsed)  # the time budget counts across the interruption


CONDITIONAL_RECIPE = """
model = "gated_pixelcnn.tiny"
[model_args]
image_shape = [28, 28, 1]
num_classes = 10
[data]
name = "binarized_mnist"
source = "embedded"
"""


# CLI flags, run once; conditional sampling under every backend: tests/models/test_gated_pixelcnn.py
@pytest.mark.one_backend("jax")
def test_conditional_train_sample_by_label_and_complete(tmp_path, capsys):
    from PIL import Image

    recipe = tmp_path / "cond.toml"
    recipe.write_text(CONDITIONAL_RECIPE)
    run = tmp_path / "run"
    assert cli.main(["train", str(recipe), "--out", str(run), "--epochs", "1", "--samples", "10"] + TINY) == 0
    # One row per class: 10 classes x 1 sample of 28x28 at scale 4 with 1-pixel gutters.
    grid = Image.open(run / "samples.png")
    assert grid.size == (28 * 4, 10 * 28 * 4 + 9)
    capsys.readouterr()
    # No --verbose and stderr not a terminal: no progress, only the result line.
    assert cli.main(["sample", str(run), "--out", str(tmp_path / "threes.png"), "--num", "4", "--label", "3"]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"wrote 4 samples to {tmp_path / 'threes.png'}"] and captured.err == ""
    assert cli.main(["sample", str(run), "--out", str(tmp_path / "bad.png"), "--label", "10"]) == 2
    assert "labels" in capsys.readouterr().err and not (tmp_path / "bad.png").exists()
    out = tmp_path / "completions.png"
    assert cli.main(["complete", str(run), "--out", str(out), "--num", "2", "--rows", "14", "--completions", "2",
                     "--data-source", "embedded", "--verbose", "1"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 and "top 14 rows" in captured.out
    assert "1/1" in captured.err and "/batch" in captured.err
    # Per image: occluded, 2 completions, original.
    assert Image.open(out).size == (4 * 28 * 4 + 3, 2 * 28 * 4 + 1)
    assert cli.main(["complete", str(run), "--out", str(tmp_path / "x.png"), "--rows", "28",
                     "--data-source", "embedded"]) == 2
    assert "rows" in capsys.readouterr().err and not (tmp_path / "x.png").exists()


def test_completion_keeps_the_given_rows(tmp_path):
    import kgen
    from kgen import artifacts

    model = kgen.zoo.get("pixelcnn.tiny")
    images = (np.random.default_rng(0).random((2, 8, 8, 1)) > 0.5).astype("float32")
    done = artifacts.write_completions(model, images, tmp_path / "c.png", rows=3, num_completions=2, seed=1)
    assert done.shape == (2, 2, 8, 8, 1)
    np.testing.assert_array_equal(done[:, :, :3], np.repeat(images[:, None, :3], 2, axis=1))
    assert (tmp_path / "c.png").is_file()


def test_resume_after_a_kill_while_the_backup_metadata_was_written(tmp_path, recipe):
    """A kill -9 while Keras writes backup/training_metadata.json leaves it empty: --resume falls back to the
    previous checkpoint instead of failing."""
    run = tmp_path / "run"
    args = ["train", recipe, "--out", str(run), "--samples", "0", "--no-eval", "--monitor-split", ""] + TINY[:-4]
    assert cli.main(args + ["--epochs", "2", "--verbose", "0"]) == 0
    # BackupAndRestore deletes its folder after a finished run: recreate the state of a run killed mid-write.
    backup = run / "backup"
    from kgen import training

    model = training.load_model(run)
    cb = training.BackupAndRestore(str(backup), double_checkpoint=True)
    cb.set_model(model)
    cb._current_epoch = 1
    cb._save_model()  # epoch 1 checkpoint
    cb._current_epoch = 2
    cb._save_model()  # epoch 2: the previous one is kept as .bkp
    (backup / "training_metadata.json").write_text("")  # killed mid-write
    with pytest.warns(UserWarning, match="training_metadata.json is unreadable"):
        assert cli.main(args + ["--epochs", "3", "--resume", "--verbose", "0"]) == 0
    rows = _rows(run / "metrics.csv")
    assert int(rows[-1]["epoch"]) == 2  # resumed from the previous checkpoint (epoch 1 done) and ran epoch index 2


# CLI names, run once; the shipped weights under every backend: tests/test_pretrained.py
@pytest.mark.one_backend("tensorflow")
def test_sample_by_name_uses_the_shipped_weights_and_takes_a_preset_folder(tmp_path, capsys):
    """`kgen sample NAME` samples with the weights kgen ships for NAME (as `kgen compress NAME` codes with them), and
    a preset folder is a model too; the same seed gives the same picture either way."""
    by_name = tmp_path / "by_name.png"
    assert cli.main(["sample", "pixelcnn.mnist", "--num", "2", "--seed", "3", "--out", str(by_name),
                     "--verbose", "0"]) == 0
    captured = capsys.readouterr()
    assert "with the trained weights kgen ships" in captured.err and "untrained" not in captured.err
    by_folder = tmp_path / "by_folder.png"
    assert cli.main(["sample", str(zoo.pretrained_folder("pixelcnn.mnist")), "--num", "2", "--seed", "3",
                     "--out", str(by_folder), "--verbose", "0"]) == 0
    assert by_name.read_bytes() == by_folder.read_bytes()


def test_sample_passes_only_the_options_given(tmp_path, capsys, monkeypatch):
    """`kgen sample` hands the model only the flags on its command line, so the model's own defaults (its sample
    rate, its number of samples) apply to the rest; the progress rule is the command's own."""
    calls = []
    model_class = type(zoo.get("pixelcnn.tiny"))
    monkeypatch.setattr(model_class, "write_sample_file",
                        lambda self, path, **options: calls.append(options) or f"wrote to {path}")
    out = str(tmp_path / "g.png")
    assert cli.main(["sample", "pixelcnn.tiny", "--out", out]) == 0
    assert cli.main(["sample", "pixelcnn.tiny", "--out", out, "--num", "3", "--seed", "0", "--rate", "16000",
                     "--seconds", "0.5", "--length", "20", "--text-prompt", "hi", "--sampler", "greedy",
                     "--label", "1", "--context", "2", "--frames", "1", "--data-source", "embedded",
                     "--verbose", "1"]) == 0
    assert calls == [
        {"progress": False},
        {"progress": True, "num": 3, "seed": 0, "rate": 16000, "seconds": 0.5, "length": 20, "text_prompt": "hi",
         "sampler": "greedy", "label": 1, "context": 2, "frames": 1, "data_source": "embedded"},
    ]
    assert capsys.readouterr().out.splitlines() == [f"wrote to {out}"] * 2

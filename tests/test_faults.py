"""Faults during training (issue 16, point 4): each case asserts what is on disk afterwards. (kill -9 during training
and during the write of the backup metadata, then --resume: tests/test_cli.py.)"""

import csv
import errno
import json

import numpy as np
from keras import ops

import keras

from kgen import cli, training

TINY = ["--data-source", "embedded", "--steps-per-epoch", "2", "--batch-size", "16", "--monitor-split", "",
        "--samples", "0", "--no-eval", "--verbose", "0"]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _nan_from_step(step):
    """A `training.datasets` whose training batches are NaN from batch `step` on: a diverging run, the same on every
    backend."""
    datasets = training.datasets

    def broken(recipe, with_labels=False):
        import tensorflow as tf

        train, monitor = datasets(recipe, with_labels=with_labels)

        def poison(i, batch):
            return tf.nest.map_structure(
                lambda x: tf.where(i >= step, tf.fill(tf.shape(x), float("nan")), x) if x.dtype.is_floating else x,
                batch)

        return train.enumerate().map(poison), monitor

    return broken


def test_a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, capsys, monkeypatch, recipe):
    run = tmp_path / "run"
    monkeypatch.setattr(training, "datasets", _nan_from_step(5))  # epoch 2 (0-based), its second batch
    assert cli.main(["train", recipe, "--out", str(run), "--epochs", "6"] + TINY) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("kgen train: error: the training loss became nan at epoch 2 (0-based), batch 1;"), err
    assert "the run folder keeps epoch 1" in err and "--resume" in err
    assert [int(r["epoch"]) for r in _rows(run / "metrics.csv")] == [0, 1]  # no row from the broken epoch
    assert all(np.isfinite(float(r["loss"])) for r in _rows(run / "metrics.csv"))
    saved = training.load_model(run / "model.keras")  # the checkpoint of epoch 1, finite
    assert all(np.all(np.isfinite(ops.convert_to_numpy(w))) for w in saved.weights)
    meta = json.loads((run / "backup" / "training_metadata.json").read_text())
    assert meta["epoch"] == 2, meta  # the backup is epoch 1's too: --resume would start at epoch 2


def test_a_nan_loss_in_the_first_epoch_says_that_nothing_was_kept(tmp_path, capsys, monkeypatch, recipe):
    run = tmp_path / "run"
    monkeypatch.setattr(training, "datasets", _nan_from_step(1))  # batch 0 is checked by the model before training starts
    assert cli.main(["train", recipe, "--out", str(run), "--epochs", "3"] + TINY) == 1
    err = capsys.readouterr().err
    assert "at epoch 0 (0-based), batch 1" in err and "no epoch had finished" in err
    assert not (run / "model.keras").exists() and not (run / "backup" / "training_metadata.json").exists()
    assert _rows(run / "metrics.csv") == []  # Keras' CSVLogger opens the file when training begins


def test_a_full_disk_leaves_the_run_folder_as_it_was_and_resume_continues(tmp_path, capsys, monkeypatch, recipe):
    """Every write fails with ENOSPC from the end of epoch 2 on (after writing half a file, as a full disk does): the
    command says so, model.keras stays epoch 1's and loads, no temporary file is left, and --resume finishes."""
    run = tmp_path / "run"
    epoch_ends = {"n": 0}
    save, save_weights = keras.Model.save, keras.Model.save_weights

    class CountEpochs(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            epoch_ends["n"] = epoch

    def full(real):
        def write(self, filepath, *args, **kwargs):
            if epoch_ends["n"] >= 2:
                with open(filepath, "wb") as f:
                    f.write(b"PK\x03\x04 half a file")
                raise OSError(errno.ENOSPC, "No space left on device", str(filepath))
            return real(self, filepath, *args, **kwargs)
        return write

    fit = keras.Model.fit
    monkeypatch.setattr(keras.Model, "fit", lambda self, *a, callbacks=(), **k: fit(
        self, *a, callbacks=[CountEpochs()] + list(callbacks), **k))
    monkeypatch.setattr(keras.Model, "save", full(save))
    monkeypatch.setattr(keras.Model, "save_weights", full(save_weights))
    argv = ["train", recipe, "--out", str(run), "--epochs", "4"] + TINY
    assert cli.main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("kgen train: error: [Errno 28] No space left on device"), err
    assert [int(r["epoch"]) for r in _rows(run / "metrics.csv")] == [0, 1]
    assert not [p for p in run.iterdir() if ".tmp-" in p.name]  # the failed model.keras write left nothing behind
    monkeypatch.undo()
    assert training.load_model(run / "model.keras").count_params() > 0  # epoch 1's model, whole

    assert cli.main(argv + ["--resume"]) == 0  # space again: the run continues from its last good backup
    epochs = [int(r["epoch"]) for r in _rows(run / "metrics.csv")]
    assert epochs[:2] == [0, 1] and epochs[-1] == 3

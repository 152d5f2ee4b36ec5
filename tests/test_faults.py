"""Faults during training (issue 16, point 4): each case asserts what is on disk afterwards. (kill -9 during training
and during the write of the backup metadata, then --resume: tests/test_cli.py.)"""

import csv
import errno
import json
import shutil

import numpy as np
import pytest
from keras import ops

import keras

from kgen import cli, training

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

TINY = ["--data-source", "embedded", "--steps-per-epoch", "2", "--batch-size", "16", "--monitor-split", "",
        "--samples", "0", "--no-eval", "--verbose", "0"]


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _nan_from_step(step):
    """A `training.datasets` whose training batches are NaN from batch `step` on: a diverging run, the same on every
    backend."""
    datasets = training.datasets

    def broken(recipe, with_labels=False, **kwargs):
        import tensorflow as tf

        train, monitor = datasets(recipe, with_labels=with_labels, **kwargs)

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

    with pytest.warns(UserWarning, match="latest.weights.h5 is unreadable"):  # the half-written one
        assert cli.main(argv + ["--resume"]) == 0  # space again: the run continues from its last good backup
    epochs = [int(r["epoch"]) for r in _rows(run / "metrics.csv")]
    assert epochs[:2] == [0, 1] and epochs[-1] == 3


# --- Damaged checkpoints: model.keras, backup/latest.weights.h5 and its previous copy (.bkp) ---------------------


def _interrupting_fit(fit, epoch):
    return lambda self, *a, callbacks=(), **k: fit(self, *a, callbacks=list(callbacks) + [_InterruptAt(epoch)], **k)


class _InterruptAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt  # what `kgen train` sees of a Ctrl-C; the files are those of a kill -9 here


@pytest.fixture(scope="module")
def interrupted_run(tmp_path_factory, tiny_recipe_text):
    """A run of the tiny recipe stopped at the start of epoch 2 (0-based): model.keras, metrics.csv (epochs 0 and
    1) and backup/ with both checkpoints (latest: epoch 1 done; .bkp: epoch 0 done). Tests copy it."""
    root = tmp_path_factory.mktemp("interrupted")
    (root / "tiny.toml").write_text(tiny_recipe_text)
    fit = keras.Model.fit
    keras.Model.fit = _interrupting_fit(fit, 2)
    try:
        assert cli.main(["train", str(root / "tiny.toml"), "--out", str(root / "run"), "--epochs", "3"] + TINY1) == 130
    finally:
        keras.Model.fit = fit
    assert json.loads((root / "run" / "backup" / "training_metadata.json.bkp").read_text())["epoch"] == 1
    return root


TINY1 = TINY[:2] + ["--steps-per-epoch", "1"] + TINY[4:]


def _copy_run(interrupted_run, tmp_path):
    shutil.copytree(interrupted_run, tmp_path / "copy")
    return str(tmp_path / "copy" / "tiny.toml"), tmp_path / "copy" / "run"


def _cut(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # what a kill -9 in the middle of an in-place write leaves


def _resume(recipe, run):
    return cli.main(["train", recipe, "--out", str(run), "--epochs", "3", "--resume"] + TINY1)


def test_a_damaged_model_keras_is_named_and_resume_replaces_it(interrupted_run, tmp_path, capsys):
    recipe, run = _copy_run(interrupted_run, tmp_path)
    _cut(run / "model.keras")
    for argv in (["evaluate", str(run), "--verbose", "0"], ["sample", str(run), "--out", str(tmp_path / "g.png")]):
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and f"`model` file {str(run / 'model.keras')!r} is not a readable" in err
        assert "--resume" in err, err  # the run has a backup: the way out
    assert not (tmp_path / "g.png").exists()
    # --resume never reads model.keras: it continues from backup/ and its next epoch writes a whole new model.keras.
    assert _resume(recipe, run) == 0
    assert [int(r["epoch"]) for r in _rows(run / "metrics.csv")] == [0, 1, 2]
    assert training.load_model(run).count_params() > 0


def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(interrupted_run, tmp_path, capsys):
    recipe, run = _copy_run(interrupted_run, tmp_path)
    (run / "backup" / "latest.weights.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00" * 64)  # garbage after the magic
    with pytest.warns(UserWarning, match="continuing from the previous checkpoint"):
        assert _resume(recipe, run) == 0
    # Epoch 1 was trained again from the checkpoint of epoch 0, and its first row was dropped: no epoch twice.
    assert [int(r["epoch"]) for r in _rows(run / "metrics.csv")] == [0, 1, 2]
    assert training.load_model(run).count_params() > 0


def test_a_metrics_row_cut_by_a_full_disk_does_not_stop_resume(interrupted_run, tmp_path, capsys):
    """Keras' CSVLogger appends in place, after the checkpoint: a full disk can cut the last row (issue 27, class
    4). --resume drops the cut row (with a warning), continues from backup/ (epoch 1 done), and every row of the
    metrics file is whole (epoch 1's metrics are lost with its row); `kgen plot` draws the run meanwhile."""
    recipe, run = _copy_run(interrupted_run, tmp_path)
    text = (run / "metrics.csv").read_text()
    (run / "metrics.csv").write_text(text[: text.rindex(",") + 2])  # the last row ends inside its last cell
    assert cli.main(["plot", str(run), "--out", str(tmp_path / "curves.png"), "--metric", "loss"]) == 0
    with pytest.warns(UserWarning, match="was cut short"):
        assert _resume(recipe, run) == 0
    assert [int(r["epoch"]) for r in _rows(run / "metrics.csv")] == [0, 2]
    assert all(None not in r.values() and "" not in r.values() for r in _rows(run / "metrics.csv"))


def test_no_readable_checkpoint_is_a_clear_error_and_changes_nothing(interrupted_run, tmp_path, capsys):
    recipe, run = _copy_run(interrupted_run, tmp_path)
    _cut(run / "backup" / "latest.weights.h5")
    _cut(run / "backup" / "latest.weights.h5.bkp")
    before = {name: (run / name).read_bytes() for name in ("model.keras", "metrics.csv")}
    assert _resume(recipe, run) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "kgen train: error: --resume: neither checkpoint in" in err, err
    assert str(run / "backup" / "latest.weights.h5") in err and "latest.weights.h5.bkp" in err
    assert "start a new run with another --out" in err
    assert {name: (run / name).read_bytes() for name in before} == before  # the last good model and its metrics
    assert not [p for p in run.iterdir() if ".tmp-" in p.name]


# --- Data files that change or vanish between a run and its --resume ------------------------------------------------


def _write_idx(path, array):
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes((0x0800 | array.ndim).to_bytes(4, "big") + dims + array.astype(np.uint8).tobytes())


def _snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_data_file_that_changes_or_vanishes_before_resume_is_named(tmp_path, capsys, monkeypatch, recipe):
    """A run records its data files (size, sha256) in data.json; --resume refuses changed or vanished ones, naming
    them, and writes nothing; --allow-data-change continues and records the new files."""
    data = tmp_path / "data" / "mnist"
    data.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images, labels = data / "train-images-idx3-ubyte", data / "train-labels-idx1-ubyte"
    _write_idx(images, rng.integers(0, 256, (32, 28, 28)))
    _write_idx(labels, rng.integers(0, 10, (32,)))
    monkeypatch.setenv("KGEN_DATA_DIR", str(tmp_path / "data"))
    run = tmp_path / "run"
    argv = ["train", recipe, "--out", str(run), "--epochs", "2"] + ["--data-source", "local"] + TINY1[2:]

    images.rename(tmp_path / "aside")  # missing before the run starts: the loader's own error, and no run folder
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "MNIST file train-images-idx3-ubyte.gz not found" in err and not run.exists()
    (tmp_path / "aside").rename(images)

    # Interrupted after epoch 0, so that --resume has a backup/ to continue from (a finished run has none).
    fit = keras.Model.fit
    keras.Model.fit = _interrupting_fit(fit, 1)
    try:
        assert cli.main(argv) == 130
    finally:
        keras.Model.fit = fit
    assert capsys.readouterr().err.strip() == "kgen train: interrupted"
    recorded = json.loads((run / "data.json").read_text())["files"]
    assert [(f["path"], f["size"]) for f in recorded] == [(str(images), images.stat().st_size),
                                                          (str(labels), labels.stat().st_size)]
    before = _snapshot(run)

    changed = bytearray(labels.read_bytes())
    changed[-1] = (changed[-1] + 1) % 10
    labels.write_bytes(bytes(changed))  # same size, other content
    assert cli.main(argv + ["--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"the data file {str(labels)!r} changed since the run" in err, err
    assert "sha256" in err and "start a new run" in err and "--allow-data-change" in err
    assert _snapshot(run) == before

    images.unlink()
    assert cli.main(argv + ["--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"the data file {str(images)!r} that the run" in err, err
    assert "no longer exists" in err
    assert _snapshot(run) == before

    _write_idx(images, rng.integers(0, 256, (32, 28, 28)))
    assert cli.main(argv + ["--resume", "--allow-data-change"]) == 0
    now = json.loads((run / "data.json").read_text())["files"]
    assert [f["sha256"] for f in now] != [f["sha256"] for f in recorded] and [f["path"] for f in now] == [
        str(images), str(labels)]


def test_a_run_folder_without_data_json_still_resumes(interrupted_run, tmp_path):
    recipe, run = _copy_run(interrupted_run, tmp_path)
    (run / "data.json").unlink()  # a run from before kgen recorded its data
    with pytest.warns(UserWarning, match="has no data.json"):
        assert _resume(recipe, run) == 0
    assert [int(r["epoch"]) for r in _rows(run / "metrics.csv")] == [0, 1, 2]
    assert (run / "data.json").is_file()

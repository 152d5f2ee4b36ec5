"""Run a recipe: train with progress, checkpoints, a metrics file and resume; evaluate. What a trained run writes
beside the model (samples, audio, text, filters) is the model's own `write_artifacts`."""

import csv
import json
import math
import time
from pathlib import Path

import keras

from kgen import data as kdata
from kgen import distribute, zoo
from kgen.io import atomic_path

MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.csv"
BACKUP_DIR = "backup"
RECIPE_FILE = "recipe.json"
EVAL_FILE = "eval.json"


class TimeBudget(keras.callbacks.Callback):
    """Stop training once the run (summed over resumed runs) has used `minutes`; log `elapsed_min` every epoch."""

    def __init__(self, minutes=None, already_elapsed_s=0.0):
        super().__init__()
        self.minutes = minutes
        self.already_elapsed_s = float(already_elapsed_s)
        self._start = None

    def elapsed_s(self):
        return self.already_elapsed_s + (time.perf_counter() - self._start)

    def _stop_if_spent(self):
        if self.minutes is not None and self.elapsed_s() >= 60.0 * self.minutes:
            self.model.stop_training = True

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self._stop_if_spent()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["elapsed_min"] = self.elapsed_s() / 60.0
        self._stop_if_spent()


class TrainingDiverged(RuntimeError):
    """The loss stopped being finite; the run folder keeps the checkpoints of the last finished epoch."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Stop at the first batch whose loss is NaN or infinite, by raising `TrainingDiverged` at once: the epoch in
    progress never ends, so no checkpoint, backup or metrics row is written from the broken weights, and the run
    folder keeps those of the last finished epoch (Keras' `TerminateOnNaN` would let the epoch end and save them)."""

    def __init__(self, run_dir):
        super().__init__()
        self.run_dir = Path(run_dir)
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        last = _last_epoch(self.run_dir / METRICS_FILE)
        kept = (f"the run folder keeps epoch {last} (model.keras, backup/, metrics.csv)" if last is not None
                else "no epoch had finished, so the run folder holds no checkpoint")
        raise TrainingDiverged(
            f"the training loss became {float(loss)} at epoch {self._epoch} (0-based), batch {batch}; {kept}. "
            f"Lower the learning rate (--learning-rate) and continue with --resume, or start again."
        )


class SaveModelAtomically(keras.callbacks.Callback):
    """Save the whole model as `.keras` after every epoch through a temporary file, so a kill never corrupts it."""

    def __init__(self, path):
        super().__init__()
        self.path = Path(path)

    def on_epoch_end(self, epoch, logs=None):
        with atomic_path(self.path) as tmp:
            self.model.save(tmp)


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore` that also survives a kill during the write of its training-metadata file.

    Keras writes `training_metadata.json` in place; a `kill -9` in that moment leaves it empty, and Keras falls back
    to its previous checkpoint (`double_checkpoint=True`) only on an `OSError`. An unreadable metadata file is
    treated the same way here, so `--resume` goes back one checkpoint instead of failing.
    """

    def _load_model(self):
        try:
            super()._load_model()
        except json.JSONDecodeError as e:
            raise OSError(f"unreadable {self._training_metadata_path}: {e}") from e


def _last_epoch(path):
    """The number of the last epoch in a metrics file, or None."""
    if not path.is_file():
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return int(rows[-1]["epoch"]) if rows else None


def _elapsed_from_metrics(path):
    """The `elapsed_min` of the last finished epoch in a metrics file, in seconds (0 if none)."""
    if not path.is_file():
        return 0.0
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or "elapsed_min" not in rows[-1]:
        return 0.0
    return 60.0 * float(rows[-1]["elapsed_min"])


def build_model(recipe):
    """The recipe's zoo model, with its `[train] dtype` (mixed precision) when it sets one."""
    kwargs = dict(recipe["model_args"])
    if recipe["train"].get("dtype") is not None:
        kwargs["dtype"] = recipe["train"]["dtype"]
    return zoo.get(recipe["model"], **kwargs)


def _loader_kwargs(recipe, with_labels, evaluation):
    """Keyword arguments for `kgen.data.load`: the source (if set), labels (if needed) and the recipe's options."""
    d = recipe["data"]
    kwargs = dict(d.get("eval_options" if evaluation else "options") or {})
    if d.get("source") is not None:
        kwargs["source"] = d["source"]
    if with_labels:
        kwargs["with_labels"] = True
    return kwargs


def datasets(recipe, with_labels=False):
    """(train, monitor) tf.data pipelines of the recipe; with labels ({"images", "labels"} or {"tokens", "labels"})
    for a conditional model."""
    d, t = recipe["data"], recipe["train"]
    train = kdata.load(
        d["name"], split=d["train_split"], batch_size=t["batch_size"], seed=t["seed"],
        **_loader_kwargs(recipe, with_labels, evaluation=False),
    )
    monitor = None
    if d.get("monitor_split"):
        monitor = kdata.load(
            d["name"], split=d["monitor_split"], batch_size=d.get("eval_batch_size", 256),
            **_loader_kwargs(recipe, with_labels, evaluation=True),
        )
    return train, monitor


def train(recipe, out_dir, resume=False, verbose=1):
    """Train `recipe` into `out_dir`: model.keras, metrics.csv, backup/ (for --resume), recipe.json.

    Returns the trained model. Raises FileExistsError when `out_dir` already holds a run and `resume` is False.
    """
    out = Path(out_dir)
    t = recipe["train"]
    if out.exists() and any(out.iterdir()) and not resume:
        raise FileExistsError(
            f"`out` directory {str(out)!r} already holds a run; pass --resume to continue it or choose a new --out."
        )
    if resume and not (out / BACKUP_DIR).exists() and not (out / MODEL_FILE).exists():
        raise FileNotFoundError(f"--resume: {str(out)!r} holds no run to resume (no {BACKUP_DIR}/ or {MODEL_FILE}).")
    keras.utils.set_random_seed(int(t["seed"]))
    # Model names, arguments, data names, splits, files and devices are all checked before anything is written.
    with distribute.scope(t.get("distribute"), t.get("num_devices")) as plan:
        if plan is not None:
            distribute.check_batch_size(int(t["batch_size"]), plan.num_devices)
        model = build_model(recipe)  # under tf.distribute the variables are made mirrored here
        train_ds, monitor_ds = datasets(recipe, with_labels=model.conditional)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / RECIPE_FILE) as tmp:
            Path(tmp).write_text(json.dumps(recipe, indent=2, default=str))
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=float(t["learning_rate"])))
        _fit(model, recipe, train_ds, monitor_ds, out, verbose)
    return model


def _fit(model, recipe, train_ds, monitor_ds, out, verbose):
    t = recipe["train"]
    steps = t["steps_per_epoch"]
    if steps is not None:
        train_ds = train_ds.repeat()
    callbacks = [
        StopOnNonFiniteLoss(out),  # first: it must stop the run before any other callback sees a broken batch
        BackupAndRestore(str(out / BACKUP_DIR), double_checkpoint=True),
        TimeBudget(t["time_budget_minutes"], already_elapsed_s=_elapsed_from_metrics(out / METRICS_FILE)),
        SaveModelAtomically(out / MODEL_FILE),
        keras.callbacks.CSVLogger(str(out / METRICS_FILE), append=True),
    ]
    model.fit(
        train_ds,
        epochs=int(t["epochs"]),
        steps_per_epoch=steps,
        validation_data=monitor_ds,
        callbacks=callbacks,
        verbose=verbose,
        shuffle=False,  # the dataset shuffles itself, seeded
    )


def evaluate(model, recipe, split=None, verbose=1):
    """Evaluate on the recipe's evaluation split; returns the model's evaluation summary (a dict: the data set,
    the split, the example count and the model's metrics, e.g. nats per image and bits/dim for an image model,
    bits per token for a sequence model, the reconstruction error for a representation model)."""
    d = recipe["data"]
    split = split or d["eval_split"]
    if not model.compiled:  # a model built or loaded without training set-up (e.g. a pretrained preset)
        model.compile()
    ds = kdata.load(
        d["name"], split=split, batch_size=d.get("eval_batch_size", 256),
        **_loader_kwargs(recipe, model.conditional, evaluation=True),
    )
    result = model.evaluate(ds, verbose=verbose, return_dict=True)
    return {"dataset": d["name"], "split": split, **model.evaluation_summary(result, ds, d["name"])}


def describe_result(model, model_name, result):
    """One printed line for an evaluation result of `model` (the model words it)."""
    return model.result_line(model_name, result)


def write_json(path, obj):
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2))


def load_model(path):
    """Load a `.keras` model with a clear error for a missing or unreadable file."""
    import kgen.models  # noqa: F401  (registers the classes)

    path = Path(path)
    if path.is_dir() and (path / MODEL_FILE).is_file():
        path = path / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"`model` file {str(path)!r} does not exist (expected a .keras file or a run folder).")
    if path.suffix != ".keras":
        raise ValueError(f"`model` must be a .keras file, got {str(path)!r}.")
    try:
        return keras.models.load_model(str(path))
    except Exception as e:  # keras raises several types for a damaged zip or config
        raise ValueError(f"`model` file {str(path)!r} is not a readable .keras model: {type(e).__name__}: {e}") from e



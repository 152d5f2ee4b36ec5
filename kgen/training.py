"""Run a recipe: train with progress, checkpoints, a metrics file and resume; evaluate. What a trained run writes
beside the model (samples, audio, text, filters) is the model's own `write_artifacts`.

`run(recipe, out_dir)` is a whole run, `kgen train` from Python: train, evaluate, eval.json, the model's artifacts
(the command parses its flags, calls `run` and prints `RunResult.lines()`). `train` and `evaluate` are its parts.
"""

import csv
import dataclasses
import hashlib
import json
import math
import os
import time
import warnings
import zipfile
from pathlib import Path

import keras

from kgen import data as kdata
from kgen import distribute, zoo
from kgen.io import atomic_path, read_csv_rows, read_json_object
from kgen.progress import fit_verbose

MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.csv"
BACKUP_DIR = "backup"
RECIPE_FILE = "recipe.json"
EVAL_FILE = "eval.json"
DATA_FILE = "data.json"
INIT_FILE = "init.json"
#: The shipped presets whose weights went into the model when it was built (`KgenModel.shipped_parts`).
PARTS_FILE = "parts.json"


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


class EpochLine(keras.callbacks.Callback):
    """One line per epoch on stdout, for a log file or a pipe (no redrawn progress bar, no terminal escapes):
    `Epoch 3/10 - 200 steps - 41s - loss: 0.1023 - val_loss: 0.0981 - elapsed_min: 2.0412`, every value the epoch's
    logs hold, in Keras' number format. `train(verbose=2)` and `kgen train --verbose 2` use it (and the default where
    stdout is not watched: see `kgen.progress.fit_verbose`)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = int(epochs)
        self._start = None
        self._steps = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._steps = time.perf_counter(), 0

    def on_train_batch_end(self, batch, logs=None):
        self._steps += 1

    def on_epoch_end(self, epoch, logs=None):
        values = "".join(f" - {k}: {_keras_number(v)}" for k, v in (logs or {}).items())
        print(f"Epoch {epoch + 1}/{self.epochs} - {self._steps} steps - {time.perf_counter() - self._start:.0f}s"
              f"{values}", flush=True)


def _keras_number(value):
    """A metric value as Keras' progress bar prints it: 4 decimals, or 4 significant digits in e-notation when
    small."""
    value = float(value)
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


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


class CheckpointError(ValueError):
    """`--resume` found no readable checkpoint in a run's backup/ folder; nothing in the run folder was changed."""


class BackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore` (with `double_checkpoint=True`) that falls back to its previous checkpoint whenever
    the latest one cannot be read, and says which file is damaged when neither can.

    Keras writes `latest.weights.h5` and `training_metadata.json` in place, after copying the previous pair to
    `*.bkp`; a `kill -9` or a damaged disk can leave either one truncated. Keras falls back to the `.bkp` pair only on
    an `OSError` (h5py's error for a truncated or non-HDF5 file); here any failure to read the weights (a damaged
    HDF5 group is a `ValueError`) or the metadata (an empty or cut JSON file) falls back too. When no checkpoint is
    readable, a `CheckpointError` names the files before anything in the run folder is written. After a fall back,
    the rows of `metrics_path` from the epochs that will be trained again are dropped (written atomically), so the
    metrics file never holds an epoch twice.
    """

    def __init__(self, backup_dir, metrics_path=None, **kwargs):
        super().__init__(backup_dir, **kwargs)
        self.metrics_path = None if metrics_path is None else Path(metrics_path)

    def _load_model(self):
        if not self.model.built:
            return super()._load_model()  # Keras' own error for an unbuilt model
        if Path(self._weights_path).exists():
            if self.model.optimizer is not None and not self.model.optimizer.built:
                self.model.optimizer.build(self.model.trainable_variables)
            try:
                self.model.load_weights(self._weights_path)
            except Exception as e:  # h5py and Keras raise OSError, ValueError or KeyError for a damaged file
                raise OSError(f"{self._weights_path} is unreadable ({type(e).__name__}: {_first_line(e)})") from e
        if Path(self._training_metadata_path).exists():
            try:
                self.model._initial_epoch = int(json.loads(Path(self._training_metadata_path).read_text())["epoch"])
            except (ValueError, KeyError, TypeError) as e:
                raise OSError(f"{self._training_metadata_path} is unreadable ({type(e).__name__}: {e})") from e

    def on_train_begin(self, logs=None):
        try:
            self._load_model()
            return
        except OSError as e:
            latest_error = e
        todo = ("model.keras and metrics.csv are untouched: evaluate or sample that model, or start a new run "
                "with another --out")
        if not Path(self._prev_weights_path).exists():
            raise CheckpointError(
                f"--resume: {latest_error}, and {self.backup_dir} holds no previous checkpoint "
                f"({Path(self._prev_weights_path).name}) to fall back to; {todo}.") from latest_error
        try:
            super().on_train_begin(logs)  # Keras' fall back: the .bkp pair replaces the damaged one, then loads
        except OSError as e:
            raise CheckpointError(
                f"--resume: neither checkpoint in {self.backup_dir} is readable: {latest_error}; the previous one "
                f"(copied from {Path(self._prev_weights_path).name}): {e}; {todo}.") from e
        warnings.warn(f"--resume: {latest_error}; continuing from the previous checkpoint (epoch "
                      f"{self.model._initial_epoch}, 0-based).", stacklevel=2)
        self._drop_metrics_from(self.model._initial_epoch)

    def _drop_metrics_from(self, epoch):
        """Rewrite the metrics file without the rows of `epoch` and later (they will be trained again)."""
        if self.metrics_path is None or not self.metrics_path.is_file():
            return
        fields, rows = _metrics(self.metrics_path)
        kept = [r for r in rows if int(r["epoch"]) < epoch]
        if fields is None or len(kept) == len(rows):
            return
        with atomic_path(self.metrics_path) as tmp:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=fields)
                writer.writeheader()
                writer.writerows(kept)


def _first_line(error):
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _metrics(path):
    """(field names or None, rows as dicts) of a run's metrics file: whole rows only (a last row cut short by a full
    disk or a kill is left out); a ValueError naming the file and the line for a row that is not the metrics of an
    epoch."""
    rows, _ = read_csv_rows(path)
    if not rows:
        return None, []
    fields, out = rows[0], []
    for line, row in enumerate(rows[1:], start=2):
        try:
            if len(row) != len(fields):
                raise ValueError(f"{len(row)} cells for the {len(fields)} columns")
            record = dict(zip(fields, row))
            int(record["epoch"])
            float(record.get("elapsed_min") or 0.0)
        except (ValueError, KeyError) as e:
            raise ValueError(f"{path}: line {line} is not the metrics of an epoch ({e}); expected the columns "
                             f"{', '.join(fields)}.") from None
        out.append(record)
    return fields, out


def _repair_metrics(path):
    """Rewrite a run's metrics file without a last row cut short, so that the next epoch's row starts a line."""
    if path.is_file() and read_csv_rows(path)[1]:
        fields, rows = _metrics(path)
        with atomic_path(path) as tmp:
            with open(tmp, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=fields)
                writer.writeheader()
                writer.writerows(rows)
        warnings.warn(f"--resume: the last row of {path} was cut short (a full disk or a kill) and is dropped: the "
                      "run continues from its checkpoint, without that epoch's metrics.", stacklevel=2)


def _last_epoch(path):
    """The number of the last epoch in a metrics file, or None."""
    if not path.is_file():
        return None
    rows = _metrics(path)[1]
    return int(rows[-1]["epoch"]) if rows else None


def _elapsed_from_metrics(path):
    """The `elapsed_min` of the last finished epoch in a metrics file, in seconds (0 if none)."""
    if not path.is_file():
        return 0.0
    rows = _metrics(path)[1]
    if not rows or not rows[-1].get("elapsed_min"):
        return 0.0
    return 60.0 * float(rows[-1]["elapsed_min"])


class RunFinishedError(ValueError):
    """`--resume` named a run that finished: nothing in it is changed."""


def _check_not_finished(out):
    """A run that finished has its model.keras and metrics.csv but no backup/ (Keras' BackupAndRestore deletes it at
    the end of training, also when the time budget stopped it). Resuming it would start again from epoch 0 with fresh
    weights, append repeated epochs to metrics.csv and then replace its trained model.keras: refuse instead."""
    if (out / BACKUP_DIR).exists() or not (out / MODEL_FILE).is_file():
        return
    last = _last_epoch(out / METRICS_FILE)
    done = f"{METRICS_FILE} records {last + 1} epoch(s)" if last is not None else f"it has no {METRICS_FILE} rows"
    raise RunFinishedError(
        f"--resume: the run in {str(out)!r} finished ({done}; {BACKUP_DIR}/, which --resume continues from, is "
        f"removed at the end of training), so there is nothing to resume and nothing in it was changed. Its trained "
        f"model is {str(out / MODEL_FILE)!r} (kgen evaluate / sample it); to train longer, start a new run with "
        f"another --out and a larger --epochs or --time-budget-minutes.")


class DataChangedError(ValueError):
    """The data files of a run changed since it started: `--resume` compares them with the run's data.json."""


def data_fingerprint(paths):
    """The size and sha256 of each data file a run reads: a list of {"path", "size", "sha256"}.

    This reads every file once at each start of a run (and of each --resume): about 0.05 s for the 11 MB of gzipped
    MNIST files on one core, well under a second for FSDD's 3,000 recordings; the data is read whole anyway.
    """
    entries = []
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        entries.append({"path": str(path), "size": Path(path).stat().st_size, "sha256": digest.hexdigest()})
    return entries


def _recorded_data(out):
    """The data files recorded in a run folder's data.json, or None for a run from before kgen recorded them."""
    path = out / DATA_FILE
    if not path.is_file():
        return None
    try:
        files = json.loads(path.read_text())["files"]
        return [{"path": str(f["path"]), "size": int(f["size"]), "sha256": str(f["sha256"])} for f in files]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"--resume: the run's data record {str(path)!r} is unreadable ({type(e).__name__}: {e}); "
                         f"expected {{\"files\": [{{\"path\", \"size\", \"sha256\"}}, ...]}}.") from e


_DATA_WAY_OUT = ("the checkpoints were trained on the old data: restore it, start a new run with another --out, or "
                 "pass --allow-data-change to continue on the new data")


def _check_data_still_there(recorded, out):
    """Before the loaders run (they would only say "not found"): every file the run started from still exists."""
    for entry in recorded:
        if not Path(entry["path"]).is_file():
            raise FileNotFoundError(
                f"--resume: the data file {entry['path']!r} that the run in {str(out)!r} started from (see "
                f"{DATA_FILE}) no longer exists; {_DATA_WAY_OUT}.")


def _check_data_unchanged(recorded, current, out):
    then = {e["path"]: e for e in recorded}
    now = {e["path"]: e for e in current}
    for path, old in then.items():
        new = now.get(path)
        if new is not None and (new["size"], new["sha256"]) != (old["size"], old["sha256"]):
            raise DataChangedError(
                f"--resume: the data file {path!r} changed since the run in {str(out)!r} started (see {DATA_FILE}): "
                f"{old['size']} -> {new['size']} bytes, sha256 {old['sha256'][:12]}... -> {new['sha256'][:12]}...; "
                f"{_DATA_WAY_OUT}.")
    if set(then) != set(now):
        raise DataChangedError(
            f"--resume: the run in {str(out)!r} started from the data files {sorted(then)} (see {DATA_FILE}) but now "
            f"reads {sorted(now)} (another --data-source, split or KGEN_DATA_DIR?); {_DATA_WAY_OUT}.")


def resolve_recipe(target):
    """The recipe dict of `target`, as `kgen train TARGET` reads it: the name of a shipped recipe (`kgen list
    --recipes`), a .toml path, or a zoo model name (its default recipe, `kgen.recipes.from_model`).

    Raises ValueError for a name that is neither a recipe nor a zoo model (listing close model names and the
    recipes), FileNotFoundError for a .toml path that does not exist, `kgen.recipes.RecipeError` for a file that is
    not a valid recipe.
    """
    import kgen.models  # noqa: F401  (registers the families: a zoo name is checked against them)
    from kgen import recipes

    path = recipes.find(target)
    if path is not None:
        return recipes.load(path)
    try:
        zoo.resolve(target)
    except ValueError as e:
        raise ValueError(f"{e} Recipes: {', '.join(recipes.available()) or 'none'}.") from None
    return recipes.from_model(target)


def build_model(recipe):
    """The recipe's zoo model, with its `[train] dtype` (mixed precision) when it sets one."""
    kwargs = dict(recipe["model_args"])
    if recipe["train"].get("dtype") is not None:
        kwargs["dtype"] = recipe["train"]["dtype"]
    return zoo.get(recipe["model"], **kwargs)


def initial_weights(model, recipe):
    """Load the recipe's `[train] init_weights` into `model` (built by `build_model`) and return what was loaded:
    {"init_weights", "folder", "sha256"} of the weights file; None when the recipe starts from a fresh
    initialisation.

    `init_weights` is a zoo name with shipped weights (`kgen list --pretrained`) or a preset folder; its weights must
    be of the recipe's model (same architecture and shapes, whatever `[model_args]` say), and with `init_sha256` the
    weights file must have that sha256. Every refusal is a ValueError (FileNotFoundError for a missing folder)
    naming the key, raised before the run writes anything.
    """
    from kgen import pretrained

    t = recipe["train"]
    spec = t.get("init_weights")
    if not spec:
        return None
    folder = zoo.pretrained_folder(spec) if spec in zoo.list_models(pretrained=True) else spec
    weights_file = pretrained.preset_file(folder, pretrained.WEIGHTS_FILE)
    digest = pretrained.sha256(weights_file)
    pinned = t.get("init_sha256")
    if pinned is not None and pinned != digest:
        raise ValueError(f"[train] init_weights = {spec!r}: its weights file {weights_file} has sha256 {digest}, not "
                         f"the recipe's init_sha256 {pinned} (the preset has changed since the recipe was written: "
                         f"check out the commit the recipe names, or update init_sha256).")
    source = zoo.get(recipe["model"], weights=str(folder), **recipe["model_args"])
    try:
        model.set_weights(source.get_weights())
    except ValueError as e:
        raise ValueError(f"[train] init_weights = {spec!r}: these weights do not fit the recipe's model "
                         f"{recipe['model']!r} ({e}).") from None
    return {"init_weights": spec, "folder": str(folder), "sha256": digest}


def _loader_kwargs(recipe, with_labels, evaluation):
    """Keyword arguments for `kgen.data.load`: the source (if set), labels (if needed) and the recipe's options."""
    d = recipe["data"]
    kwargs = dict(d.get("eval_options" if evaluation else "options") or {})
    if d.get("source") is not None:
        kwargs["source"] = d["source"]
    if with_labels:
        kwargs["with_labels"] = True
    return kwargs


def datasets(recipe, with_labels=False, null_label=None):
    """(train, monitor) tf.data pipelines of the recipe; with labels ({"images", "labels"} or {"tokens", "labels"})
    for a conditional model, the training labels replaced by `null_label` at the rate `[train] label_dropout`."""
    d, t = recipe["data"], recipe["train"]
    train = kdata.load(
        d["name"], split=d["train_split"], batch_size=t["batch_size"], seed=t["seed"],
        **_loader_kwargs(recipe, with_labels, evaluation=False),
    )
    if t.get("label_dropout"):
        train = drop_labels(train, float(t["label_dropout"]), null_label, seed=int(t["seed"]))
    monitor = None
    if d.get("monitor_split"):
        monitor = kdata.load(
            d["name"], split=d["monitor_split"], batch_size=d.get("eval_batch_size", 256),
            **_loader_kwargs(recipe, with_labels, evaluation=True),
        )
    return train, monitor


def drop_labels(dataset, rate, null_label, seed=0):
    """`dataset` (elements (x, ...) with x a dict holding "labels") with each label replaced by `null_label` with
    probability `rate`, drawn independently per example (stateless draws from `seed` and the batch's position)."""
    import tensorflow as tf

    def drop(index, element):
        x, rest = element[0], element[1:]
        labels = x["labels"]
        draw = tf.random.stateless_uniform(tf.shape(labels), seed=tf.stack([tf.cast(seed, tf.int64), index]))
        x = dict(x, labels=tf.where(draw < rate, tf.cast(null_label, labels.dtype), labels))
        return (x,) + tuple(rest)

    return dataset.enumerate().map(drop, num_parallel_calls=tf.data.AUTOTUNE)


def train(recipe, out_dir, resume=False, verbose=None, allow_data_change=False):
    """Train `recipe` into `out_dir`: model.keras, metrics.csv, backup/ (for --resume), recipe.json, data.json,
    init.json (the weights it started from) for a recipe with `[train] init_weights`, and parts.json (the shipped
    presets whose weights the model was built with, `KgenModel.shipped_parts`) where it names any.

    `verbose`: 0 silent, 1 Keras' progress bars, 2 one line per epoch (`EpochLine`); None (the default): bars where
    stdout is a terminal or a notebook, one line per epoch in a file or a pipe (KGEN_PROGRESS=0 or 1 chooses; see
    `kgen.progress.fit_verbose`).

    data.json records the size and sha256 of every data file the run reads when it starts; with `resume`, a file
    that has changed or vanished since is an error (`DataChangedError`, `FileNotFoundError`) raised before anything
    is written, unless `allow_data_change` (then data.json records the new files). A run folder without data.json
    (from an older kgen) resumes unchecked and gets one.

    Returns the trained model. Raises FileExistsError when `out_dir` already holds a run and `resume` is False, and
    `RunFinishedError` when `resume` names a run that finished (see `_check_not_finished`).
    """
    out = Path(out_dir)
    t = recipe["train"]
    verbose = fit_verbose(verbose)
    if out.exists() and any(out.iterdir()) and not resume:
        raise FileExistsError(
            f"`out` directory {str(out)!r} already holds a run; pass --resume to continue it or choose a new --out."
        )
    if resume and not (out / BACKUP_DIR).exists() and not (out / MODEL_FILE).exists():
        raise FileNotFoundError(f"--resume: {str(out)!r} holds no run to resume (no {BACKUP_DIR}/ or {MODEL_FILE}).")
    if resume:
        _check_not_finished(out)
    keras.utils.set_random_seed(int(t["seed"]))
    # Model names, arguments, data names, splits, files and devices are all checked before anything is written.
    with distribute.scope(t.get("distribute"), t.get("num_devices")) as plan:
        if plan is not None:
            distribute.check_batch_size(int(t["batch_size"]), plan.num_devices)
        model = build_model(recipe)  # under tf.distribute the variables are made mirrored here
        # The recipe's starting weights (a resumed run then restores its own checkpoint over them).
        init = initial_weights(model, recipe)
        if t.get("label_dropout") and model.null_label is None:
            raise ValueError(f"[train] label_dropout = {t['label_dropout']}: the model {recipe['model']!r} has no null "
                             f"label to put in place of a class (it is unconditional, or takes only its classes).")
        recorded = _recorded_data(out) if resume else None
        if recorded is not None and not allow_data_change:
            _check_data_still_there(recorded, out)
        with kdata.core.recording_files() as files:
            train_ds, monitor_ds = datasets(recipe, with_labels=model.conditional, null_label=model.null_label)
        current = data_fingerprint(files)
        if recorded is not None and not allow_data_change:
            _check_data_unchanged(recorded, current, out)
        if resume and recorded is None:
            warnings.warn(f"--resume: {str(out)!r} has no {DATA_FILE} (a run from before kgen recorded its data "
                          f"files), so its data could not be checked; it is recorded from now on.", stacklevel=2)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_path(out / RECIPE_FILE) as tmp:
            Path(tmp).write_text(json.dumps(recipe, indent=2, default=str))
        if recorded != current:
            write_json(out / DATA_FILE, {"files": current})
        if init is not None and not (out / INIT_FILE).exists():
            write_json(out / INIT_FILE, init)
        if model.shipped_parts() and not (out / PARTS_FILE).exists():
            write_json(out / PARTS_FILE, {"parts": list(model.shipped_parts())})
        if resume:
            _repair_metrics(out / METRICS_FILE)
        model.compile(optimizer=optimizer(t))
        _fit(model, recipe, train_ds, monitor_ds, out, verbose)
    return model


def optimizer(train_section):
    """The recipe's Adam: its learning rate (`learning_rate_schedule`), and with `ema_momentum` a moving average of
    the weights (Keras' `use_ema`: the average starts at the weights after the first step)."""
    ema = train_section.get("ema_momentum")
    if ema is None:
        return keras.optimizers.Adam(learning_rate=learning_rate_schedule(train_section))
    return keras.optimizers.Adam(learning_rate=learning_rate_schedule(train_section), use_ema=True,
                                 ema_momentum=float(ema))


class AveragedWeightsBetweenEpochs(keras.callbacks.SwapEMAWeights):
    """Keras' `SwapEMAWeights(swap_on_epoch=True)`: the averaged weights are in the model while it is evaluated on
    the monitor split and between epochs (so the callbacks after this one save and log the average), the trained
    ones while it trains. Keras hands the average over for good only after the last of `epochs`; a run stopped
    sooner (the time budget) would end with the trained weights, so this also hands it over when the epoch stops
    training. Checkpoints (`BackupAndRestore`, before this callback) keep the trained weights and the average
    apart, so a resumed run continues both."""

    def __init__(self):
        super().__init__(swap_on_epoch=True)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self.model.stop_training and epoch != self.params["epochs"] - 1:
            self._finalize_ema_values()  # Keras then copies the average into the model for good


def scheduled(train_section):
    """Whether a recipe's `[train]` table schedules the learning rate (a warm-up or a cosine decay)."""
    return bool(train_section.get("warmup_steps")) or train_section.get("schedule") == "cosine"


def learning_rate_schedule(train_section):
    """The recipe's learning rate for Adam: the number `learning_rate`, or with `warmup_steps` and/or
    `schedule = "cosine"` a Keras schedule (linear warm-up from 0 to `learning_rate`, then constant, or a cosine
    decay over `decay_steps` to `final_lr_ratio * learning_rate`). It is a function of the optimizer's step count,
    which the run's checkpoints keep, so a resumed run continues the schedule where it stopped."""
    t = train_section
    peak = float(t["learning_rate"])
    if not scheduled(t):
        return peak
    cosine = t.get("schedule") == "cosine"
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, warmup_target=peak, warmup_steps=int(t.get("warmup_steps") or 0),
        decay_steps=int(t["decay_steps"]) if cosine else 1,
        alpha=float(t.get("final_lr_ratio") or 0.0) if cosine else 1.0,
    )


class LogLearningRate(keras.callbacks.Callback):
    """Put the optimizer's learning rate at the end of each epoch into the epoch's logs (so metrics.csv has it
    beside the loss); used only when the recipe schedules the rate."""

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))


def _fit(model, recipe, train_ds, monitor_ds, out, verbose):
    t = recipe["train"]
    steps = t["steps_per_epoch"]
    if steps is not None:
        train_ds = train_ds.repeat()
    callbacks = [
        StopOnNonFiniteLoss(out),  # first: it must stop the run before any other callback sees a broken batch
        BackupAndRestore(str(out / BACKUP_DIR), metrics_path=out / METRICS_FILE, double_checkpoint=True),
        TimeBudget(t["time_budget_minutes"], already_elapsed_s=_elapsed_from_metrics(out / METRICS_FILE)),
    ]
    if t.get("ema_momentum") is not None:  # after the checkpoint and the budget's stop, before the save
        callbacks.append(AveragedWeightsBetweenEpochs())
    callbacks.append(SaveModelAtomically(out / MODEL_FILE))
    if scheduled(t):
        callbacks.append(LogLearningRate())  # before the CSV logger, which writes the epoch's logs
    callbacks.append(keras.callbacks.CSVLogger(str(out / METRICS_FILE), append=True))
    if verbose == 2:  # last: its line shows what the others add to the epoch's logs (elapsed_min)
        callbacks.append(EpochLine(t["epochs"]))
    model.fit(
        train_ds,
        epochs=int(t["epochs"]),
        steps_per_epoch=steps,
        validation_data=monitor_ds,
        callbacks=callbacks,
        verbose=1 if verbose == 1 else 0,
        shuffle=False,  # the dataset shuffles itself, seeded
    )


def evaluate(model, recipe, split=None, verbose=None):
    """Evaluate on the recipe's evaluation split; returns the model's evaluation summary (a dict: the data set,
    the split, the example count and the model's metrics, e.g. nats per image and bits/dim for an image model,
    bits per token for a sequence model, the reconstruction error for a representation model).

    `verbose`: 0 silent, 1 Keras' progress bar, 2 one line at the end; None (the default): 1 where stdout is a
    terminal or a notebook, else 2 (see `kgen.progress.fit_verbose`)."""
    d = recipe["data"]
    split = split or d["eval_split"]
    if not model.compiled:  # a model built or loaded without training set-up (e.g. a pretrained preset)
        model.compile()
    ds = kdata.load(
        d["name"], split=split, batch_size=d.get("eval_batch_size", 256),
        **_loader_kwargs(recipe, model.conditional, evaluation=True),
    )
    result = model.evaluate(ds, verbose=fit_verbose(verbose), return_dict=True)
    return {"dataset": d["name"], "split": split, **model.evaluation_summary(result, ds, d["name"])}


@dataclasses.dataclass
class RunResult:
    """What `run` made (the run folder holds it all on disk).

    Attributes:
        model: the trained model (saved as `run_dir / MODEL_FILE`).
        run_dir: the run folder, a `pathlib.Path`.
        summary: the final evaluation, as `evaluate` returns it and eval.json holds it (a dict: the data set, the
            split, the example count and the model's metrics); None for a run made with `evaluate=False`.
        result_line: the model's one line for `summary` ("<model> on <data set> <split> (<count> images): <nats>
            nats/image, <bits> bits/dim" for an image model); None without an evaluation.
        artifacts: [(what, path)] of the files the model wrote beside itself (its `write_artifacts`: a sample grid,
            WAV files and their spectrograms, text, filter pictures); empty with `num_samples=0`.
    """

    model: keras.Model
    run_dir: Path
    summary: dict | None
    result_line: str | None
    artifacts: list

    def lines(self):
        """The lines `kgen train` prints at the end of a run: the result line, then `what: path` for each
        artifact."""
        head = [] if self.result_line is None else [self.result_line]
        return head + [f"{what}: {path}" for what, path in self.artifacts]


def run(recipe, out_dir, resume=False, verbose=None, allow_data_change=False, evaluate=True, num_samples=None):
    """Run `recipe` into the run folder `out_dir`, as `kgen train` does: train, evaluate on the recipe's evaluation
    split, write eval.json, then the model's artifacts (samples, audio, text or filters).

    The run folder is the command's, file for file: model.keras, metrics.csv, backup/ (while the run is unfinished),
    recipe.json, data.json, eval.json and what the model writes. Nothing is printed but the progress `verbose` asks
    for; the lines the command prints are `RunResult.lines()`.

    Args:
        recipe: a recipe dict (`kgen.recipes.load`, `kgen.recipes.from_model`, or one of your own: it is checked
            and completed with `kgen.recipes.validate`), or what `kgen train` takes: a shipped recipe's name, a
            .toml path or a zoo model name (`resolve_recipe`).
        out_dir: the run folder: new or empty, or (with `resume`) the folder of an unfinished run.
        resume: continue the interrupted run in `out_dir` from its backup/ (see `train`).
        verbose: progress of training and evaluation: 0 silent, 1 Keras' progress bars, 2 one line per epoch;
            None (the default): bars where stdout is a terminal or a notebook, else one line per epoch
            (`kgen.progress.fit_verbose`).
        allow_data_change: with `resume`, continue even though the run's data files changed since it started.
        evaluate: evaluate the trained model and write eval.json (False: `kgen train --no-eval`).
        num_samples: samples the model writes beside itself, 0 to 1024 (0: none); None (the default): the
            recipe's `[train] num_samples`. Drawn with the recipe's seed.

    Returns:
        A `RunResult`: the trained model, the run folder, the evaluation summary and its result line, and the
        artifacts written.

    Raises:
        ValueError: a recipe, a name or an argument that does not fit, a finished run to resume (`RunFinishedError`)
            or changed data (`DataChangedError`); raised before anything is written.
        FileExistsError: `out_dir` already holds a run and `resume` is False.
        TrainingDiverged: the loss stopped being finite (the run folder keeps the last finished epoch).
    """
    from kgen import recipes

    if isinstance(recipe, (str, os.PathLike)):
        recipe = resolve_recipe(recipe)
    elif isinstance(recipe, dict):
        recipe = recipes.validate(recipe, "`recipe`")
    else:
        raise ValueError(f"`recipe` must be a recipe dict, a recipe name, a .toml path or a zoo model name, got "
                         f"{type(recipe).__name__}.")
    if num_samples is None:
        num_samples = recipe["train"]["num_samples"]
    elif isinstance(num_samples, bool) or not isinstance(num_samples, int) or not 0 <= num_samples <= 1024:
        raise ValueError(f"`num_samples` must be an integer from 0 to 1024 (0: none), got {num_samples!r}.")
    out = Path(out_dir)
    model = train(recipe, out, resume=resume, verbose=verbose, allow_data_change=allow_data_change)
    summary = line = None
    if evaluate:
        summary, line = _final_evaluation(model, recipe, out, verbose)
    written = model.write_artifacts(out, recipe, num_samples=num_samples, seed=recipe["train"]["seed"])
    return RunResult(model=model, run_dir=out, summary=summary, result_line=line, artifacts=list(written))


def _final_evaluation(model, recipe, out, verbose):
    """(summary, result line) of a run's final evaluation, with the summary written to eval.json."""
    summary = evaluate(model, recipe, verbose=verbose)
    write_json(out / EVAL_FILE, summary)
    return summary, describe_result(model, recipe["model"], summary)


def describe_result(model, model_name, result):
    """One printed line for an evaluation result of `model` (the model words it)."""
    return model.result_line(model_name, result)


def read_run_recipe(path):
    """The recipe.json of a run folder, checked as a recipe is (`kgen.recipes.validate`); a ValueError naming the
    file for one that is not JSON, not an object, or not a valid recipe."""
    from kgen import recipes

    recipe = read_json_object(path, 1 << 20, "a run's recipe.json")
    return recipes.validate(recipe, where=str(path))


def write_json(path, obj):
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2))


def load_target(spec):
    """(model, run recipe or None) for what a command names: a run folder or `.keras` file (trained; the recipe
    beside it), a preset folder, or a zoo preset with shipped weights."""
    from kgen import zoo

    path = Path(spec)
    if path.is_dir() and (path / "config.json").is_file() and not (path / MODEL_FILE).is_file():
        from kgen.models import KgenModel

        return KgenModel.from_preset(str(path)), None  # checked against the zoo name it records (kgen.pretrained)
    if path.exists() or str(spec).endswith(".keras"):
        run_dir = path if path.is_dir() else path.parent
        recipe = read_run_recipe(run_dir / RECIPE_FILE) if (run_dir / RECIPE_FILE).is_file() else None
        return load_model(path), recipe
    if str(spec) not in zoo.list_models(pretrained=True):
        raise ValueError(
            f"`model` {str(spec)!r} is neither a file nor a zoo preset with shipped weights; presets with weights: "
            f"{', '.join(zoo.list_models(pretrained=True))}."
        )
    return zoo.get(str(spec), pretrained=True), None


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
    # A run folder with a backup can write a new model.keras: say so when its model.keras is damaged.
    hint = (f" Its run folder holds {BACKUP_DIR}/: `kgen train RECIPE --out {str(path.parent)!r} --resume` continues "
            f"the run from there and writes a new {MODEL_FILE} after its next epoch."
            if (path.parent / BACKUP_DIR).is_dir() else "")
    if not zipfile.is_zipfile(path):  # Keras would say "File not found" for a truncated or overwritten file
        raise ValueError(f"`model` file {str(path)!r} is not a readable .keras model: it is not a zip archive "
                         f"(truncated or damaged).{hint}")
    try:
        return keras.models.load_model(str(path))
    except Exception as e:  # keras raises several types for a damaged zip or config
        raise ValueError(f"`model` file {str(path)!r} is not a readable .keras model: {type(e).__name__}: "
                         f"{_first_line(e)}.{hint}") from e

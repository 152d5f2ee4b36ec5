"""Run a recipe: train with progress, checkpoints, a metrics file and resume; evaluate; write samples."""

import csv
import json
import math
import time
from pathlib import Path

import numpy as np
import keras

from kgen import data as kdata
from kgen import zoo
from kgen.io import atomic_path, save_image_grid

MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.csv"
BACKUP_DIR = "backup"
RECIPE_FILE = "recipe.json"
EVAL_FILE = "eval.json"
SAMPLES_FILE = "samples.png"


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
    return zoo.get(recipe["model"], **recipe["model_args"])


def is_sequence_model(model):
    from kgen.models.sequence_base import AutoregressiveSequenceModel

    return isinstance(model, AutoregressiveSequenceModel)


def is_representation_model(model):
    from kgen.models.representation_base import RepresentationModel

    return isinstance(model, RepresentationModel)


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
    # Model names, arguments, data names, splits and files are all checked before anything is written.
    model = build_model(recipe)
    train_ds, monitor_ds = datasets(recipe, with_labels=model.conditional)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / RECIPE_FILE) as tmp:
        Path(tmp).write_text(json.dumps(recipe, indent=2, default=str))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=float(t["learning_rate"])))

    steps = t["steps_per_epoch"]
    if steps is not None:
        train_ds = train_ds.repeat()
    callbacks = [
        BackupAndRestore(str(out / BACKUP_DIR), double_checkpoint=True),
        TimeBudget(t["time_budget_minutes"], already_elapsed_s=_elapsed_from_metrics(out / METRICS_FILE)),
        keras.callbacks.TerminateOnNaN(),
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
    return model


def evaluate(model, recipe, split=None, verbose=1):
    """Evaluate on the recipe's evaluation split.

    Image models: {"nats", "bits_per_dim", "num_examples", ...} (nats per image). Sequence models:
    {"nats_per_token", "bits_per_token", "num_tokens", "num_examples", ...}: the mean over every scored token of the
    split (audio samples, text bytes).
    """
    d = recipe["data"]
    split = split or d["eval_split"]
    ds = kdata.load(
        d["name"], split=split, batch_size=d.get("eval_batch_size", 256),
        **_loader_kwargs(recipe, model.conditional, evaluation=True),
    )
    result = model.evaluate(ds, verbose=verbose, return_dict=True)
    if is_sequence_model(model):
        num_tokens, num_examples = 0.0, 0
        for _, _, weights in ds.as_numpy_iterator():
            num_tokens += float(weights.sum())
            num_examples += len(weights)
        return {
            "dataset": d["name"],
            "split": split,
            "num_examples": num_examples,
            "num_tokens": int(round(num_tokens)),
            "nats_per_token": float(result["nats_per_token"]),
            "bits_per_token": float(result["bits_per_token"]),
        }
    if is_representation_model(model):
        # The reconstruction metric counted every example evaluate saw: no second pass over the data.
        num_examples = int(round(float(keras.ops.convert_to_numpy(model.reconstruction_tracker.count))))
        return {
            "dataset": d["name"],
            "split": split,
            "num_examples": num_examples,
            "reconstruction_error": float(result["reconstruction_error"]),
            "loss": float(result["loss"]),
        }
    images, _ = kdata.load_arrays(d["name"], split=split, **({"source": d["source"]} if d.get("source") else {}))
    return {
        "dataset": d["name"],
        "split": split,
        "num_examples": int(len(images)),
        "nats": float(result["nats"]),
        "bits_per_dim": float(result["bits_per_dim"]),
    }


def describe_result(model_name, result):
    """One printed line for an evaluation result."""
    if "reconstruction_error" in result:
        return (
            f"{model_name} on {result['dataset']} {result['split']} ({result['num_examples']} examples): "
            f"reconstruction error {result['reconstruction_error']:.4f} (summed squared error per example), "
            f"loss {result['loss']:.4f}"
        )
    if "bits_per_token" in result:
        unit = "sample" if result["dataset"] == "fsdd" else "byte"
        return (
            f"{model_name} on {result['dataset']} {result['split']} ({result['num_tokens']} {unit}s in "
            f"{result['num_examples']} sequences): {result['bits_per_token']:.4f} bits/{unit}, "
            f"{result['nats_per_token']:.4f} nats/{unit}"
        )
    return (
        f"{model_name} on {result['dataset']} {result['split']} ({result['num_examples']} images): "
        f"{result['nats']:.2f} nats/image, {result['bits_per_dim']:.4f} bits/dim"
    )


def write_json(path, obj):
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(obj, indent=2))


def write_samples(model, path, num_samples=16, seed=0, labels=None):
    """Sample images and write them as a PNG grid (pixel levels scaled to 0..255).

    For a class-conditional model without `labels`, the grid has one row per class (`num_samples` is rounded up to
    a multiple of the number of classes); with `labels` (an int or one per image) every image has its given class.
    """
    ncols = int(math.ceil(math.sqrt(num_samples)))
    if model.conditional and labels is None:
        per_class = max(1, int(math.ceil(num_samples / model.num_classes)))
        labels = np.repeat(np.arange(model.num_classes), per_class)
        num_samples, ncols = len(labels), per_class
    images = model.sample(num_samples, seed=seed, labels=labels)
    save_image_grid(levels_to_uint8(images, model.distribution.num_levels), path, ncols=ncols, scale=4)
    return images


def write_completions(model, images, path, rows, num_completions=3, seed=0, labels=None):
    """Image completion as in the PixelRNN paper: keep the top `rows` rows of each real image, sample the rest.

    Writes a PNG grid with one line per image: the occluded image (hidden part mid-grey), `num_completions`
    completions, and the original. Returns the completions, shape (N, num_completions, H, W, C).
    """
    images = model.validate_images(images, "images")
    h = model.image_shape[0]
    if not isinstance(rows, (int, np.integer)) or not 0 <= rows < h:
        raise ValueError(f"`rows` must be an int in 0..{h - 1} (the given top rows), got {rows!r}.")
    num_completions = int(num_completions)
    if num_completions < 1:
        raise ValueError(f"`num_completions` must be a positive int, got {num_completions!r}.")
    n = len(images)
    repeated = np.repeat(images, num_completions, axis=0)
    if labels is not None:
        labels = np.repeat(model.validate_labels(labels, n), num_completions)
    done = model.sample(n * num_completions, seed=seed, prefix=repeated[:, :rows], labels=labels)
    done = done.reshape((n, num_completions) + model.image_shape)
    levels = model.distribution.num_levels
    occluded = levels_to_uint8(images, levels)
    occluded[:, rows:] = 128
    tiles = [occluded[:, None], levels_to_uint8(done, levels), levels_to_uint8(images, levels)[:, None]]
    grid = np.concatenate(tiles, axis=1).reshape((-1,) + model.image_shape)
    save_image_grid(grid, path, ncols=num_completions + 2, scale=4)
    return done


AUDIO_RATE = 8000  # Free Spoken Digit recordings
TEXT_PROMPT = "ROMEO:\n"


def write_audio(model, path, seconds=1.0, label=None, prompt=None, rate=AUDIO_RATE, seed=0, method=None):
    """Generate audio with a sequence model over 8-bit mu-law codes and write it as a 16-bit WAV file.

    Args:
        model: a `WaveNet` (any sequence model over `num_levels` mu-law codes).
        path: the .wav file to write (atomically).
        seconds: length generated after the prompt.
        label: the class of a class-conditional model (e.g. the spoken digit).
        prompt: a float waveform in [-1, 1] to continue (its codes are kept at the start of the file).
        rate: samples per second.
    Returns:
        the generated codes (int32, prompt included).
    """
    from kgen import audio

    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
        raise ValueError(f"`seconds` must be a positive number, got {seconds!r}.")
    codes = None if prompt is None else audio.mu_law_encode(np.asarray(prompt, "float32"), model.num_levels)
    length = int(round(seconds * rate)) + (0 if codes is None else len(codes))
    generated = model.sample(1, length, seed=seed, prompt=codes, labels=label, method=method)[0]
    audio.write_wav(path, audio.mu_law_decode(generated, model.num_levels), rate)
    return generated


def write_text(model, path, prompt=TEXT_PROMPT, length=600, num_samples=1, sampler="top_k", seed=0, method=None):
    """Generate text from a byte-level sequence model continuing `prompt` and write it (UTF-8) to `path`."""
    from kgen.data.text import tokenize

    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"`prompt` must be a non-empty string, got {prompt!r}.")
    ids = tokenize(prompt)
    if len(ids) >= length:
        raise ValueError(f"`length` ({length}) must exceed the prompt's {len(ids)} bytes.")
    tokens = model.sample(num_samples, length, seed=seed, prompt=ids, sampler=sampler, method=method)
    texts = [bytes(row.astype("uint8").tolist()).decode("utf-8", errors="replace") for row in tokens]
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n\n---\n\n".join(texts), encoding="utf-8")
    return texts


def write_sequence_samples(model, recipe, out_dir, num_samples=4, seed=0):
    """A sequence model's samples after training: WAV files for audio (one per class for a conditional model, and
    a continuation of the first evaluation recording's first 0.25 s), each `sample_seconds` long (recipe [train],
    1 s by default; the continuation generates 3/4 of that), a text file for text. Returns the paths written."""
    out_dir = Path(out_dir)
    d = recipe["data"]
    paths = []
    if d["name"] == "fsdd":
        labels = list(range(model.num_classes)) if model.conditional else [None] * num_samples
        seconds = recipe["train"]["sample_seconds"]
        for i, label in enumerate(labels):
            path = out_dir / "samples" / (f"label{label}.wav" if label is not None else f"sample{i}.wav")
            write_audio(model, path, seconds=seconds, label=label, seed=seed + i)
            paths.append(path)
        waves, digits, _ = kdata.load_arrays("fsdd", split=f"{d['eval_split'].split('[')[0]}[:1]")
        prompt = waves[0][: AUDIO_RATE // 4]
        path = out_dir / "samples" / "continuation.wav"
        write_audio(model, path, seconds=0.75 * seconds, label=int(digits[0]) if model.conditional else None, prompt=prompt, seed=seed)
        paths.append(path)
    else:
        path = out_dir / "samples.txt"
        write_text(model, path, num_samples=num_samples, seed=seed)
        paths.append(path)
    return paths


FILTERS_FILE = "filters.png"


def write_filters(model, path):
    """Write a representation model's atoms or first-layer filters as a PNG grid; returns False when it has
    none to show."""
    from kgen.plotting import tile_filters

    filters = model.filters()
    if filters is None:
        return False
    tile_filters(filters, path)
    return True


def write_codes(model, recipe, path, split=None, batch_size=256):
    """Encode a split of the recipe's data set and write `codes` (and `labels` where the data set has them) to an
    .npz file, atomically. Returns the codes."""
    d = recipe["data"]
    split = split or d["eval_split"]
    arrays = kdata.load_arrays(d["name"], split=split, **({"source": d["source"]} if d.get("source") else {}))
    inputs, labels = (arrays[0], arrays[1]) if isinstance(arrays, tuple) else (arrays, None)
    codes = model.encode(inputs, batch_size=batch_size)
    out = {"codes": codes}
    if labels is not None:
        out["labels"] = np.asarray(labels)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **out)
    return codes


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


def levels_to_uint8(images, levels):
    """Scale pixel levels 0..levels-1 to 0..255 for display."""
    return (np.asarray(images, dtype="float32") * (255.0 / (levels - 1))).round().astype("uint8")

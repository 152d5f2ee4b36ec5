"""Training recipes: TOML files that `kgen train` runs.

The shipped recipes are package data (kgen/recipes/NAME.toml; in a checkout the top-level recipes/ folder is a link
to that folder). They are found with importlib.resources, so `kgen train NAME` works from an installed wheel as well
as from a source checkout.

A recipe names a zoo model and its data and training settings::

    model = "pixelcnn.mnist"
    [model_args]            # keyword overrides for kgen.zoo.get
    [data]
    name = "binarized_mnist"
    train_split = "train"
    eval_split = "test"
    monitor_split = "test[:1000]"   # evaluated after every epoch for the curve
    source = "local"                # or "embedded", "tfds"; omitted: automatic
    options = {}                    # loader arguments for the training split, e.g. {segment_length = 4000}
    eval_options = {}               # loader arguments for the monitor and evaluation splits
    eval_batch_size = 256
    [train]
    batch_size = 64
    epochs = 100
    steps_per_epoch = 200
    learning_rate = 1e-3
    time_budget_minutes = 60
    dtype = "mixed_bfloat16"        # mixed precision (likelihood heads and losses stay float32); omitted: float32
    distribute = "data_parallel"    # over every local device (kgen.distribute); omitted: one device
    num_devices = 4                 # omitted: all
"""

import copy
import importlib.resources
import os
import tomllib
from pathlib import Path

DEFAULTS = {
    "model": None,
    "description": "",
    "model_args": {},
    "data": {
        "name": "binarized_mnist",
        "train_split": "train",
        "eval_split": "test",
        "monitor_split": None,
        "source": None,
        "options": {},        # extra loader arguments for the training split (e.g. segment_length, sequence_length)
        "eval_options": {},   # extra loader arguments for the monitor and evaluation splits
        "eval_batch_size": 256,
    },
    "train": {
        "batch_size": 64,
        "epochs": 10,
        "steps_per_epoch": None,
        "learning_rate": 1e-3,
        "time_budget_minutes": None,
        "seed": 0,
        "num_samples": 16,
        "sample_seconds": 1.0,  # audio models: length of each WAV sample written after training
        "dtype": None,  # "mixed_bfloat16" or "mixed_float16": mixed precision (None: the model's default, float32)
        "distribute": "none",  # "data_parallel": keras.distribution (JAX) / tf.distribute (TensorFlow), kgen.distribute
        "num_devices": None,  # devices of data-parallel training (None: every local device)
    },
}


def _merge(base, update, where):
    out = copy.deepcopy(base)
    for key, value in update.items():
        if key not in base:
            raise ValueError(f"recipe {where}: unknown key {key!r}; expected one of {sorted(base)}.")
        if isinstance(base[key], dict) and key not in ("model_args", "options", "eval_options"):
            if not isinstance(value, dict):
                raise ValueError(f"recipe {where}: [{key}] must be a table.")
            out[key] = _merge(base[key], value, f"{where} [{key}]")
        else:
            out[key] = value
    return out


def _shipped():
    """{name: resource} for every recipe file shipped in this package (a path on disk, or a zip member)."""
    files = importlib.resources.files(__name__)
    return {f.name[: -len(".toml")]: f for f in files.iterdir() if f.name.endswith(".toml") and f.is_file()}


def available():
    """Names of the recipes shipped with kgen, sorted."""
    return sorted(_shipped())


def find(name_or_path):
    """The recipe given a .toml file path or the name of a shipped recipe; None if it is neither.

    A path is returned as a `pathlib.Path`; a shipped recipe as an `importlib.resources` resource (a `pathlib.Path`
    when kgen is installed as files, which is the usual case). Either can be passed to `load`.
    """
    if isinstance(name_or_path, (str, os.PathLike)) and Path(name_or_path).suffix == ".toml":
        path = Path(name_or_path)
        if not path.is_file():
            raise FileNotFoundError(f"recipe file {str(path)!r} does not exist.")
        return path
    return _shipped().get(str(name_or_path))


def load(path):
    """Read and validate a recipe file (a path, or a resource from `find`); returns the full recipe dict with
    defaults filled in."""
    if isinstance(path, (str, os.PathLike)):
        path = Path(path)
    try:
        with path.open("rb") as f:
            raw = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"recipe {str(path)!r} is not valid TOML: {e}") from None
    recipe = _merge(DEFAULTS, raw, str(path))
    if not isinstance(recipe["model"], str):
        raise ValueError(f"recipe {str(path)!r}: `model` must name a zoo model, got {recipe['model']!r}.")
    return recipe


def from_model(model_name):
    """A default recipe that trains a zoo model by name."""
    recipe = copy.deepcopy(DEFAULTS)
    recipe["model"] = model_name
    return recipe

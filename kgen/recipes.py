"""Training recipes: TOML files in recipes/ that `kgen train` runs.

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
"""

import copy
import tomllib
from pathlib import Path

RECIPES_DIR = Path(__file__).resolve().parent.parent / "recipes"

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


def available():
    """Names of the recipes shipped in recipes/."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.toml")) if RECIPES_DIR.is_dir() else []


def find(name_or_path):
    """Path of a recipe given a file path or the name of a file in recipes/; None if it is neither."""
    path = Path(name_or_path)
    if path.suffix == ".toml":
        if not path.is_file():
            raise FileNotFoundError(f"recipe file {str(path)!r} does not exist.")
        return path
    candidate = RECIPES_DIR / f"{name_or_path}.toml"
    return candidate if candidate.is_file() else None


def load(path):
    """Read and validate a recipe file; returns the full recipe dict with defaults filled in."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
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

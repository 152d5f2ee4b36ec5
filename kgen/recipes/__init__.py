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
    learning_rate = 1e-3            # the peak learning rate (Adam)
    warmup_steps = 500              # linear warm-up from 0 to learning_rate; omitted: 0 (none)
    schedule = "cosine"             # then cosine decay over decay_steps to final_lr_ratio * learning_rate;
    decay_steps = 20000             #   omitted: "constant" (learning_rate after the warm-up)
    final_lr_ratio = 0.05
    time_budget_minutes = 60
    dtype = "mixed_bfloat16"        # mixed precision (likelihood heads and losses stay float32); omitted: float32
    distribute = "data_parallel"    # over every local device (kgen.distribute); omitted: one device
    num_devices = 4                 # omitted: all
    init_weights = "pixelrnn_row.mnist"  # start from these weights (a preset name with shipped weights, or a preset
                                    #   folder) instead of a fresh initialisation: a second cycle or fine-tuning
    init_sha256 = "9f2c..."         # the sha256 of that preset's weights file: the run refuses any other weights
"""

import importlib.resources
import os
import tomllib
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class RecipeError(ValueError):
    """A recipe (a TOML file, a run's recipe.json, or flags) that is not valid: the message names where, the key and
    what was expected."""


# The schema of a recipe: one table, the same checks whether the values come from a TOML file, a run's recipe.json
# or the command line's flags (which apply the same bounds), all before anything is written. Strict types: 1.9 is not
# an int, "3" is not a number, true is not 1.
_STRICT = ConfigDict(extra="forbid", strict=True)


class DataSection(BaseModel):
    model_config = _STRICT
    name: str = "binarized_mnist"
    train_split: str = "train"
    eval_split: str = "test"
    monitor_split: Optional[str] = None  # evaluated after every epoch for the curve ("" or None: none)
    source: Optional[Literal["local", "tfds", "embedded"]] = None  # None: automatic
    options: dict[str, Any] = {}  # extra loader arguments for the training split (e.g. segment_length)
    eval_options: dict[str, Any] = {}  # extra loader arguments for the monitor and evaluation splits
    eval_batch_size: int = Field(256, ge=1, le=65_536)


class TrainSection(BaseModel):
    model_config = _STRICT
    batch_size: int = Field(64, ge=1, le=65_536)
    epochs: int = Field(10, ge=1, le=1_000_000)
    steps_per_epoch: Optional[int] = Field(None, ge=1, le=10_000_000)  # None: one pass over the data
    learning_rate: float = Field(1e-3, gt=0.0, le=10.0, allow_inf_nan=False)  # the peak, after any warm-up
    warmup_steps: int = Field(0, ge=0, le=100_000_000)  # linear warm-up from 0 to learning_rate
    schedule: Literal["constant", "cosine"] = "constant"  # after the warm-up
    decay_steps: Optional[int] = Field(None, ge=1, le=100_000_000)  # the cosine's length (steps after the warm-up)
    final_lr_ratio: float = Field(0.0, ge=0.0, le=1.0, allow_inf_nan=False)  # the cosine's end, x learning_rate
    time_budget_minutes: Optional[float] = Field(None, gt=0.0, le=525_600.0, allow_inf_nan=False)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    num_samples: int = Field(16, ge=0, le=1024)  # samples written at the end of the run
    sample_seconds: float = Field(1.0, gt=0.0, le=600.0, allow_inf_nan=False)  # audio models: seconds per sample
    dtype: Optional[Literal["float32", "mixed_bfloat16", "mixed_float16"]] = None  # None: float32
    # Polyak averaging: Adam keeps an exponential moving average of the weights (Keras' `use_ema`), each step
    # average = m * average + (1 - m) * weights; the run's curve, model.keras and evaluation use the average.
    # None: the weights as trained.
    ema_momentum: Optional[float] = Field(None, gt=0.0, lt=1.0, allow_inf_nan=False)
    # Classifier-free guidance needs a model that also knows the data without its label: each training example's
    # class label is replaced by the model's `null_label` with this probability (a class-conditional model that has
    # one). 0: every label kept.
    label_dropout: float = Field(0.0, ge=0.0, lt=1.0, allow_inf_nan=False)
    distribute: Literal["none", "data_parallel"] = "none"  # kgen.distribute
    num_devices: Optional[int] = Field(None, ge=1, le=65_536)  # None: every local device
    # Start from a preset's weights (a zoo name with shipped weights, or a preset folder) instead of a fresh
    # initialisation; `init_sha256` pins the weights file, so the recipe cannot silently start from others.
    init_weights: Optional[str] = Field(None, min_length=1, max_length=4096)
    init_sha256: Optional[str] = Field(None, pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _schedule_is_whole(self):
        if self.schedule == "cosine" and self.decay_steps is None:
            raise ValueError('`schedule = "cosine"` needs `decay_steps` (the number of steps after the warm-up '
                             'over which the learning rate falls to final_lr_ratio * learning_rate)')
        if self.schedule == "constant" and (self.decay_steps is not None or self.final_lr_ratio != 0.0):
            raise ValueError('`decay_steps` and `final_lr_ratio` are settings of `schedule = "cosine"`; the '
                             'schedule is "constant"')
        if self.init_sha256 is not None and self.init_weights is None:
            raise ValueError('`init_sha256` pins the weights of `init_weights`, which is not set')
        return self


class Recipe(BaseModel):
    model_config = _STRICT
    model: str = Field(min_length=1)  # a zoo name
    description: str = ""
    model_args: dict[str, Any] = {}  # keyword overrides for kgen.zoo.get
    data: DataSection = DataSection()
    train: TrainSection = TrainSection()


DEFAULTS = {"model": None, **Recipe.model_construct(model=None).model_dump(exclude={"model"})}


def _field(loc):
    """("train", "epochs") -> "[train] epochs"."""
    parts = [str(p) for p in loc]
    if len(parts) > 1 and parts[0] in ("data", "train"):
        return f"[{parts[0]}] {'.'.join(parts[1:])}"
    return ".".join(parts) or "the recipe"


def validate(recipe, where="recipe"):
    """A recipe dict checked against the schema (`Recipe`), with the defaults filled in; a ValueError naming
    `where`, the key and what was expected for the first value that does not fit."""
    try:
        return Recipe.model_validate(recipe).model_dump()
    except ValidationError as e:
        error = e.errors()[0]
        key = _field(error["loc"])
        if error["type"] == "extra_forbidden":
            section = Recipe if len(error["loc"]) == 1 else {"data": DataSection, "train": TrainSection}.get(
                str(error["loc"][0]), Recipe)
            raise RecipeError(f"{where}: unknown key {str(error['loc'][-1])!r}; expected one of "
                             f"{sorted(section.model_fields)}.") from None
        if error["type"] == "missing":
            raise RecipeError(f"{where}: `{key}` is required (a zoo model name).") from None
        if error["type"] == "value_error":  # a check across keys (the schedule's): its message names them
            message = str(error["ctx"]["error"]) if "ctx" in error else error["msg"]
            raise RecipeError(f"{where}: [{key}] {message}.") from None
        raise RecipeError(f"{where}: `{key}`: {error['msg'][0].lower()}{error['msg'][1:]}, got "
                         f"{error.get('input')!r}.") from None


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
        raise RecipeError(f"recipe {str(path)!r} is not valid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise RecipeError(f"recipe {str(path)!r} is not UTF-8 text (TOML is): {e}") from None
    except RecursionError:
        raise RecipeError(f"recipe {str(path)!r} is not a recipe (nested too deep).") from None
    return validate(raw, f"recipe {str(path)!r}")


def from_model(model_name):
    """A default recipe that trains a zoo model by name: on the data set its preset is made for (`data` in the
    family's presets.toml, `kgen.zoo.default_data`), with the schema's defaults for everything else (and for the
    data of a name that records none: a test size, a name the registry does not know)."""
    import kgen.models  # noqa: F401  (registers the families, and so their presets' data)
    from kgen import zoo

    recipe = {"model": model_name}
    data = zoo.default_data(model_name) if isinstance(model_name, str) else None
    if data is not None:
        recipe["data"] = data
    return validate(recipe, f"the recipe of {model_name!r} (its data from the preset's `data` in presets.toml)"
                    if data is not None else f"the recipe of {model_name!r}")

"""Trained weights as keras-hub-style preset folders: `config.json`, `model.weights.h5`, `metadata.json`.

A preset folder holds a model's architecture (config.json: the zoo name it was built as and the serialized model),
its weights (model.weights.h5, Keras' weights file) and what they are (metadata.json: the recipe and commit that
trained them, the data, the metric on the model card with the command that reproduces it, a check value on a small
slice of the test split, the parameter count and the sha256 of the weights file).

`kgen.zoo.get(name, pretrained=True)` loads the folder a family ships in its package (`kgen/models/<family>/
pretrained/<tag>/`); `kgen.zoo.get(name, weights=PATH_OR_URI)` and `load_preset(PATH_OR_URI)` load any folder, from
a local path or from a model hub through the libraries keras-hub uses (`hf://org/model` with huggingface_hub,
`kaggle://org/model/keras/variant[/version]` with kagglehub). `save_preset` writes one (atomically).

>>> model = kgen.zoo.get("bytenet.shakespeare", pretrained=True)
>>> kgen.pretrained.save_preset(model, "my_bytenet", name="bytenet.shakespeare", metadata={"note": "fine-tuned"})
>>> again = kgen.zoo.get("bytenet.shakespeare", weights="my_bytenet")
"""

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
#: The weight storage types a preset folder may use (float16 halves the file; the loader casts back to the model's).
WEIGHTS_DTYPES = ("float32", "float16")
HF_PREFIX = "hf://"
KAGGLE_PREFIX = "kaggle://"


def sha256(path):
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def preset_file(preset, filename):
    """The local path of `filename` in the preset folder `preset` (a path, or an `hf://` / `kaggle://` URI, which is
    downloaded into the hub library's cache); FileNotFoundError naming both if it is not there."""
    if not isinstance(preset, (str, os.PathLike)) or str(preset) == "":
        raise ValueError(f"`weights` must be a preset folder path or an hf:// or kaggle:// URI, got {preset!r}.")
    preset = str(preset)
    if preset.startswith(HF_PREFIX):
        import huggingface_hub

        repo = preset[len(HF_PREFIX):]
        try:
            return huggingface_hub.hf_hub_download(repo_id=repo, filename=filename)
        except huggingface_hub.errors.EntryNotFoundError as e:
            raise FileNotFoundError(f"`{filename}` is not in the Hugging Face preset {preset}.") from e
    if preset.startswith(KAGGLE_PREFIX):
        import kagglehub

        handle = preset[len(KAGGLE_PREFIX):]
        if len(handle.split("/")) not in (4, 5):
            raise ValueError(f"`weights`: a Kaggle preset looks like kaggle://org/model/keras/variant[/version], "
                             f"got {preset!r}.")
        return kagglehub.model_download(handle, filename)
    if "://" in preset:
        raise ValueError(f"`weights`: unknown scheme in {preset!r}; expected a folder path, hf:// or kaggle://.")
    folder = Path(preset)
    if not folder.is_dir():
        raise FileNotFoundError(f"`weights` folder {preset!r} does not exist (expected a preset folder with "
                                f"{CONFIG_FILE}, {WEIGHTS_FILE} and {METADATA_FILE}).")
    path = folder / filename
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; a preset folder holds {CONFIG_FILE}, {WEIGHTS_FILE} and "
                                f"{METADATA_FILE}.")
    return str(path)


def _read_json(path):
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a valid JSON file ({e}).") from None
    if not isinstance(obj, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(obj).__name__}.")
    return obj


def read_metadata(preset):
    """The metadata.json of a preset folder (path or URI) as a dict."""
    return _read_json(preset_file(preset, METADATA_FILE))


def load_preset(preset, name=None, verify=True, architecture_of=None, **overrides):
    """Build the model of a preset folder and load its weights.

    Args:
        preset: a preset folder path, or an `hf://` / `kaggle://` URI of one.
        name: the zoo name the caller asked for (`kgen.zoo.get(name, weights=...)`); the folder must hold a model of
            that architecture.
        verify: check the weights file against the sha256 in metadata.json.
        architecture_of: maps a zoo name to its architecture (`kgen.zoo.get` passes the registry's); needed with
            `name`. The model classes must be registered (`import kgen`).
        **overrides: constructor arguments that replace the saved ones (those that are not None), e.g. a dropout
            rate for fine-tuning; an override that changes a weight's shape is an error naming the file.

    Raises a ValueError naming the file for a wrong architecture, a corrupt or truncated file, or weights whose
    shapes do not fit.
    """
    config_path = preset_file(preset, CONFIG_FILE)
    config = _read_json(config_path)
    metadata = read_metadata(preset)
    weights_path = preset_file(preset, WEIGHTS_FILE)
    for key in ("name", "model"):
        if key not in config:
            raise ValueError(f"{config_path}: no {key!r} entry; not a kgen preset folder.")
    if name is not None:
        if architecture_of is None:
            raise ValueError("load_preset: give `architecture_of` with `name` (kgen.zoo.get does).")
        saved_arch = architecture_of(config["name"])
        wanted = architecture_of(name)
        if saved_arch != wanted:
            raise ValueError(f"{config_path}: the weights are for {config['name']!r} (architecture {saved_arch!r}), "
                             f"not for {name!r} (architecture {wanted!r}).")
    if verify:
        expected = metadata.get("sha256")
        if expected is None:
            raise ValueError(f"{Path(config_path).with_name(METADATA_FILE)}: no 'sha256' of {WEIGHTS_FILE}.")
        actual = sha256(weights_path)
        if actual != expected:
            raise ValueError(f"{weights_path}: sha256 {actual} does not match {expected} in {METADATA_FILE} "
                             f"(a corrupt or replaced weights file).")
    model = _build(config["model"], config_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.load_weights(weights_path)
        except Exception as e:  # h5py's OSError for a truncated file, ValueError for shapes that do not fit
            raise ValueError(f"{weights_path}: cannot load these weights into {config['name']!r} "
                             f"({type(e).__name__}: {e}).") from e
    # Keras only warns where the file's layer structure differs from the model's and leaves those layers as they
    # were initialised: for a preset that is a wrong file, not a partial success.
    skipped = [str(w.message) for w in caught if "Skipping" in str(w.message) or "freshly" in str(w.message)]
    if skipped:
        raise ValueError(f"{weights_path}: does not match the model described in {config_path}: {skipped[0]}")
    # Keras matches the file to the model by layer paths, so a file of another layer structure can also load
    # silently into the wrong places. Every array of the file must be in the model, and every weight of the
    # model must come from the file.
    unmatched = _unmatched_weights(model, weights_path)
    if unmatched:
        raise ValueError(f"{weights_path}: does not match the model described in {config_path}: {unmatched}.")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if not overrides:
        return model
    # Overrides build the model again and take the loaded weights in order: arguments that add or remove layers
    # without weights (a dropout rate) keep every weight; one that changes a weight's shape is refused.
    spec = {**config["model"], "config": {**config["model"].get("config", {}), **overrides}}
    changed = _build(spec, config_path)  # _build deep-copies the spec
    try:
        changed.set_weights(model.get_weights())
    except ValueError as e:
        raise ValueError(f"{weights_path}: the overrides {sorted(overrides)} change the weights of "
                         f"{config['name']!r}; these weights do not fit ({e}).") from e
    return changed


def _build(spec, config_path):
    import keras

    try:
        model = keras.saving.deserialize_keras_object(json.loads(json.dumps(spec)))
    except Exception as e:  # keras raises TypeError/ValueError/KeyError for configs it cannot rebuild
        raise ValueError(f"{config_path}: cannot build the model it describes ({type(e).__name__}: {e}).") from e
    if not isinstance(model, keras.Model):
        raise ValueError(f"{config_path}: cannot build the model it describes (its 'model' entry names no "
                         f"registered model class: {spec.get('class_name')!r}).")
    return model


def _unmatched_weights(model, weights_path):
    """A sentence saying which of the model's weights the file lacks and how many of the file's arrays the model
    did not take (compared as sets of (shape, values): a layer that the model reaches by two paths is stored twice),
    or an empty string when they are the same."""
    import h5py

    def key(array):
        array = np.ascontiguousarray(np.asarray(array).astype("float32"))
        return array.shape, hashlib.sha256(array.tobytes()).hexdigest()

    in_model = {key(w) for w in model.get_weights()}
    arrays = []
    with h5py.File(weights_path, "r") as f:
        # A compiled model's weights file also holds its optimizer's state, which a preset does not restore.
        f.visititems(lambda n, obj: arrays.append(obj[()])
                     if isinstance(obj, h5py.Dataset) and not n.startswith("optimizer/") else None)
    in_file = {key(a) for a in arrays}
    if in_model == in_file:
        return ""
    return (f"{len(in_model - in_file)} of the model's {len(in_model)} distinct weights did not come from the file, "
            f"and {len(in_file - in_model)} of its {len(in_file)} distinct arrays were not used")


def _cast_weights_file(source, target, dtype):
    """Copy a Keras weights file with every floating dataset stored as `dtype` (groups, attributes and the other
    datasets as they are)."""
    import h5py

    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        dst.attrs.update(dict(src.attrs))

        def copy(name, obj):
            if isinstance(obj, h5py.Group):
                dst.require_group(name).attrs.update(dict(obj.attrs))
                return
            data = obj[()]
            if np.issubdtype(np.asarray(data).dtype, np.floating):
                data = np.asarray(data).astype(dtype)
            dst.create_dataset(name, data=data).attrs.update(dict(obj.attrs))

        src.visititems(copy)


def save_preset(model, folder, name, metadata=None, weights_dtype="float32"):
    """Write `model` as a preset folder at `folder` (replaced atomically: nothing half-written is left).

    Args:
        model: a kgen zoo model.
        folder: the folder to write.
        name: the zoo name the model was built as (e.g. "bytenet.shakespeare").
        metadata: a dict of what the weights are (recipe, commit, data, metric, command...); the parameter count,
            the weight storage type, the library versions and the sha256 of the weights file are added.
        weights_dtype: "float32", or "float16" to halve the file (the loader casts back).
    Returns the written metadata.
    """
    import keras

    from importlib import metadata as package_metadata
    from kgen.io import atomic_path

    if not isinstance(name, str) or not name:
        raise ValueError(f"`name` must be the zoo name the model was built as, got {name!r}.")
    if weights_dtype not in WEIGHTS_DTYPES:
        raise ValueError(f"`weights_dtype` must be one of {WEIGHTS_DTYPES}, got {weights_dtype!r}.")
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError(f"`metadata` must be a dict, got {type(metadata).__name__}.")
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        spec = keras.saving.serialize_keras_object(model)
        spec.pop("compile_config", None)  # a preset is the model, not its training set-up: it loads uncompiled
        config = {"name": name, "model": spec}
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
        # The weights alone: an uncompiled copy, so that a trained model's optimizer state stays out of the file.
        weights = model.get_weights()
        model = _build(config["model"], tmp / CONFIG_FILE)
        model.set_weights(weights)
        if weights_dtype == "float32":
            model.save_weights(str(tmp / WEIGHTS_FILE))
        else:
            model.save_weights(str(tmp / "float32.weights.h5"))
            _cast_weights_file(tmp / "float32.weights.h5", tmp / WEIGHTS_FILE, weights_dtype)
            (tmp / "float32.weights.h5").unlink()
        meta = dict(metadata or {})
        meta.update({
            "name": name,
            "library": "kgen",
            "kgen_version": package_metadata.version("kgen"),
            "keras_version": keras.__version__,
            "parameters": int(model.count_params()),
            "weights_dtype": weights_dtype,
            "weights_file": WEIGHTS_FILE,
            "sha256": sha256(tmp / WEIGHTS_FILE),
        })
        (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return meta

"""Trained weights as keras-hub preset folders: `config.json`, `model.weights.h5`, `metadata.json`, `README.md`.

A preset folder is what keras-hub's own saver writes (`keras_hub.src.utils.preset_utils.KerasPresetSaver`):

- config.json: the model as `keras.saving.serialize_keras_object` writes it (class_name, config, module,
  registered_name; keras-hub drops `build_config` and `compile_config`, and so does kgen), byte for byte what
  keras-hub writes for the same model;
- model.weights.h5: Keras' weights file (float32, or float16 to halve it: the loader casts back);
- metadata.json: keras-hub's fields (keras_version, keras_hub_version, parameter_count, date_saved, tasks) and
  kgen's: the zoo name the weights are for (`name`), the recipe and commit that trained them, the data, the metric on
  the model card with the command that reproduces it, a check value on a small slice of the test split, the weight
  storage type and the sha256 of the weights file;
- README.md: the preset's model card (Hugging Face YAML header), generated from metadata.json by
  tools/preset_cards.py (which tools/make_pretrained.py runs), in the folders kgen ships.

Loading: `Model.from_preset(NAME_OR_PATH_OR_URI)` (any kgen model class; `kgen.models.KgenModel` takes every one),
`kgen.zoo.get(name, pretrained=True)` (the folder a family ships in its package, `kgen/models/<family>/pretrained/
<name>/`), `kgen.zoo.get(name, weights=PATH_OR_URI)` and `load_preset(PATH_OR_URI)`, from a local path or a model
hub through the libraries keras-hub uses (`hf://org/model` with huggingface_hub, `kaggle://org/model/keras/variant
[/version]` with kagglehub). They read kgen's folders, folders that keras-hub's saver wrote for a kgen model (no
zoo name, no sha256: the architecture is checked by building it, the weights by matching every array), and the
folders that kgen wrote before it followed keras-hub's format (config.json `{"name": ZOO_NAME, "model":
SERIALIZED_MODEL}`).

Checks, each an error naming the file: the zoo name in metadata.json and the class in config.json must be the
architecture asked for (`kgen.zoo.get(name, ...)`, `Model.from_preset`); the weights file must match its sha256 (a
folder kgen wrote always records one); every array of the file must go into the model and every weight of the model
come from the file.

Saving: `model.save_to_preset(FOLDER)` or `save_preset(model, FOLDER, name=...)` writes one, all or nothing; it
never replaces a folder that is not a preset folder kgen wrote. `keras_hub.upload_preset("hf://org/model", FOLDER)`
(or `kaggle://org/model/keras/variant`) uploads it. Upload a folder of your own, not one inside the kgen package:
to a Hugging Face repository without a README.md, keras-hub uploads a card it writes into the folder in place of
the folder's README.md, and then deletes that file.

>>> model = kgen.models.ByteNet.from_preset("bytenet.shakespeare")
>>> model.save_to_preset("my_bytenet", metadata={"note": "fine-tuned"})
>>> again = kgen.zoo.get("bytenet.shakespeare", weights="my_bytenet")
>>> keras_hub.upload_preset("hf://me/my_bytenet", "my_bytenet")
"""

import datetime
import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np


class PresetError(ValueError):
    """A preset folder that cannot be loaded as asked: a missing or malformed file, weights that do not match, or
    another architecture; the message names the file."""


CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
METADATA_FILE = "metadata.json"
README_FILE = "README.md"
#: The files of a preset folder kgen writes (README.md only in the folders kgen ships).
PRESET_FILES = (CONFIG_FILE, WEIGHTS_FILE, METADATA_FILE, README_FILE)
#: The weight storage types a preset folder may use (float16 halves the file; the loader casts back to the model's).
WEIGHTS_DTYPES = ("float32", "float16")
#: metadata.json's `library` in a folder kgen wrote (which must then record the sha256 of its weights).
LIBRARY = "kgen"
#: keras-hub's format of metadata.json's `date_saved`.
DATE_FORMAT = "%Y-%m-%d@%H:%M:%S"
#: The keys of a config.json that kgen wrote before it followed keras-hub's format.
LEGACY_KEYS = ("name", "model")
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
        raise PresetError(f"`weights` must be a preset folder path or an hf:// or kaggle:// URI, got {preset!r}.")
    preset = str(preset)
    if preset.startswith(HF_PREFIX):
        import huggingface_hub

        repo = preset[len(HF_PREFIX):]
        try:
            return huggingface_hub.hf_hub_download(repo_id=repo, filename=filename)
        except huggingface_hub.errors.LocalEntryNotFoundError as e:  # offline, and not in the local cache
            from huggingface_hub import constants

            offline = "HF_HUB_OFFLINE is set" if constants.HF_HUB_OFFLINE else "no network"
            raise ConnectionError(f"{preset}: the Hugging Face Hub cannot be reached ({offline}) and `{filename}` "
                                  "is not in the local Hugging Face cache; connect, or pass a local preset "
                                  "folder.") from e
        except huggingface_hub.errors.EntryNotFoundError as e:
            raise FileNotFoundError(f"`{filename}` is not in the Hugging Face preset {preset}.") from e
    if preset.startswith(KAGGLE_PREFIX):
        import kagglehub

        handle = preset[len(KAGGLE_PREFIX):]
        if len(handle.split("/")) not in (4, 5):
            raise PresetError(f"`weights`: a Kaggle preset looks like kaggle://org/model/keras/variant[/version], "
                             f"got {preset!r}.")
        import requests

        try:
            return kagglehub.model_download(handle, filename)
        except requests.exceptions.ConnectionError as e:  # no network (kagglehub asks the API before its cache)
            raise ConnectionError(f"{preset}: Kaggle cannot be reached (no network), so `{filename}` cannot be "
                                  "fetched; connect, or pass a local preset folder.") from e
    if "://" in preset:
        raise PresetError(f"`weights`: unknown scheme in {preset!r}; expected a folder path, hf:// or kaggle://.")
    folder = Path(preset)
    if not folder.is_dir():
        raise FileNotFoundError(f"`weights` folder {preset!r} does not exist (expected a preset folder with "
                                f"{CONFIG_FILE}, {WEIGHTS_FILE} and {METADATA_FILE}).")
    path = folder / filename
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; a preset folder holds {CONFIG_FILE}, {WEIGHTS_FILE} and "
                                f"{METADATA_FILE}.")
    return str(path)


#: The largest config.json or metadata.json read (kgen's are a few KB): a bigger one is refused unread.
MAX_JSON_BYTES = 4 * 1024 * 1024


def _read_json(path):
    from kgen.io import read_json_object

    return read_json_object(path, MAX_JSON_BYTES, "a preset's JSON file", error=PresetError)


def read_metadata(preset):
    """The metadata.json of a preset folder (path or URI) as a dict."""
    return _read_json(preset_file(preset, METADATA_FILE))


def read_config(preset):
    """The model a preset folder describes: (serialized Keras object, the zoo name config.json records or None,
    the local path of config.json).

    config.json is a serialized Keras object (`class_name`, `config`, ...), as keras-hub and kgen write it; the
    `{"name": ZOO_NAME, "model": SERIALIZED_MODEL}` of kgen's earlier folders is read too."""
    path = preset_file(preset, CONFIG_FILE)
    config = _read_json(path)
    zoo_name = None
    if "class_name" not in config and set(LEGACY_KEYS) <= set(config):
        zoo_name, config = config["name"], config["model"]
        if not isinstance(config, dict) or not isinstance(zoo_name, str):
            raise PresetError(f"{path}: its 'model' must be a serialized Keras object and its 'name' a zoo name.")
    for key in ("class_name", "config"):
        if key not in config:
            raise PresetError(f"{path}: no {key!r} entry; config.json of a preset folder is a serialized Keras model "
                             f"(keras.saving.serialize_keras_object, as keras-hub's save_to_preset writes it).")
    if not isinstance(config["config"], dict):
        raise PresetError(f"{path}: its 'config' must be a JSON object of constructor arguments.")
    for key in ("class_name", "registered_name", "module"):
        value = config.get(key)
        if not isinstance(value, str) and (key == "class_name" or value is not None):
            raise PresetError(f"{path}: its {key!r} must be a string (a Keras class name), got {value!r}.")
    return config, zoo_name, path


def preset_class(preset):
    """The registered Keras class that the config.json of `preset` names (the model classes must be registered:
    `import kgen`); a ValueError naming the file if none is."""
    import keras

    spec, _, path = read_config(preset)
    cls = keras.saving.get_registered_object(spec.get("registered_name") or spec["class_name"])
    if cls is None:
        raise PresetError(f"{path}: names the class {spec.get('registered_name') or spec['class_name']!r}, which is "
                         f"not a registered Keras class (import kgen first).")
    return cls


def _saved_zoo_name(metadata, legacy_name, metadata_path, config_path):
    """The zoo name the weights are for, and the file that says so (None, None for a folder without one, such as
    keras-hub's saver writes)."""
    if legacy_name is not None:
        return legacy_name, config_path
    name = metadata.get("name")
    if name is None:
        return None, None
    if not isinstance(name, str):
        raise PresetError(f"{metadata_path}: 'name' must be the zoo name of the weights, got {name!r}.")
    return name, metadata_path


def load_preset(preset, name=None, verify=True, registry=None, load_weights=True, **overrides):
    """Build the model of a preset folder and load its weights.

    Args:
        preset: a preset folder path, or an `hf://` / `kaggle://` URI of one.
        name: the zoo name the caller asked for (`kgen.zoo.get(name, weights=...)`); the folder must hold a model of
            that architecture: the zoo name in metadata.json must be one of it, and the architecture's builder
            builds the model from config.json, which must then be of the class config.json names.
        verify: check the weights file against the sha256 in metadata.json (which a folder kgen wrote must have; one
            that keras-hub's saver wrote has none and is checked by matching every array).
        registry: the registry that knows zoo names: `architecture_of(name)` (its architecture), `builder(name)`
            (the function that builds that architecture) and `list_models()`, as `kgen.zoo` has them; kgen.zoo
            passes itself (this module sits below the registry and never imports it). Needed with `name`; without
            `name`, it checks that the model is of the architecture of the zoo name the folder records.
        load_weights: False builds the model of config.json with freshly initialised weights (keras-hub's
            `from_preset(..., load_weights=False)`).
        **overrides: constructor arguments that replace the saved ones (those that are not None), e.g. a dropout
            rate for fine-tuning; an override that changes a weight's shape is an error naming the file.

    The model's `zoo_name` is the zoo name of the weights (that `save_to_preset` records again), when known.
    Raises a ValueError naming the file for a wrong architecture, a corrupt or truncated file, or weights whose
    shapes do not fit. The model classes must be registered (`import kgen`).
    """
    spec, legacy_name, config_path = read_config(preset)
    metadata_path = preset_file(preset, METADATA_FILE)
    metadata = _read_json(metadata_path)
    saved_name, said_by = _saved_zoo_name(metadata, legacy_name, metadata_path, config_path)
    build = _keras_builder(config_path)
    if name is not None:
        if registry is None:
            raise PresetError(f"`registry` is needed with `name` ({name!r}): the registry that knows the name, e.g. "
                             f"kgen.zoo (or call kgen.zoo.get(name, weights=...)).")
        architecture_of = registry.architecture_of
        wanted = architecture_of(name)
        if saved_name is not None and architecture_of(saved_name) != wanted:
            raise PresetError(f"{said_by}: the weights are for {saved_name!r} (architecture "
                             f"{architecture_of(saved_name)!r}), not for {name!r} (architecture {wanted!r}).")
        build = _architecture_builder(registry.builder(name), name, wanted, config_path)
    elif saved_name is not None and registry is not None and saved_name in registry.list_models():
        # The zoo name the folder records is the model's identity (`zoo_name`, what compress records, what
        # save_to_preset writes again): the model must be of that name's architecture, whatever config.json says.
        build = _architecture_builder(registry.builder(saved_name), saved_name, registry.architecture_of(saved_name),
                                      config_path)
    weights_path = preset_file(preset, WEIGHTS_FILE) if load_weights else None
    if load_weights and verify:
        _verify_sha256(metadata, metadata_path, weights_path)
    # The model config.json describes may hold at most twice the weights the weights file declares (plus 1 MB, as the
    # file may declare at most twice the model's): counted before any weight is allocated, so an edited width cannot
    # make the build take the machine's memory. (A smaller misfit is named by the weights loader.)
    declared = _declared_arrays(weights_path)[0] if load_weights else None
    model = _bounded_build(build, spec, declared, config_path, weights_path)
    _check_parts(model, metadata, metadata_path, config_path)
    model.load_shipped_parts()  # the build ran in a StatelessScope, which kept none of the parts' weights
    zoo_name = saved_name if saved_name is not None else name
    if load_weights:
        _load_weights(model, weights_path, config_path, zoo_name or spec["class_name"])
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if overrides:
        # Overrides build the model again and take the loaded weights in order: arguments that add or remove layers
        # without weights (a dropout rate) keep every weight; one that changes a weight's shape is refused.
        changed = build({**spec, "config": {**spec["config"], **overrides}})  # the builders deep-copy the spec
        try:
            changed.set_weights(model.get_weights())
        except ValueError as e:
            raise PresetError(f"{Path(config_path).with_name(WEIGHTS_FILE)}: the overrides {sorted(overrides)} change "
                             f"the weights of {zoo_name or spec['class_name']!r}; these weights do not fit ({e}).") from e
        model = changed
    model.zoo_name = zoo_name
    return model


def _verify_sha256(metadata, metadata_path, weights_path):
    expected = metadata.get("sha256")
    if expected is None:
        if metadata.get("library") == LIBRARY:
            raise PresetError(f"{metadata_path}: no 'sha256' of {WEIGHTS_FILE}.")
        return  # another saver's folder (keras-hub records no checksum): every array is matched instead
    actual = sha256(weights_path)
    if actual != expected:
        raise PresetError(f"{weights_path}: sha256 {actual} does not match {expected} in {METADATA_FILE} "
                         f"(a corrupt or replaced weights file).")


def _bounded_build(build, spec, declared, config_path, weights_path):
    """`build(spec)` with the model's weights created but not yet allocated (Keras defers a variable's initial value
    inside a `StatelessScope`); a model of more than twice the `declared` elements (plus 2^18) is refused, else its
    weights are allocated and initialised. The build is symbolic: the layers' masks are made with keras.ops when
    they run, so none of a kernel's size exists before the count either."""
    import keras
    from keras.src.backend.common import global_state

    # Keras keeps the deferred variables in one global list, which the next scope to close initialises: a build that
    # fails or is refused takes its own back out, or a later load would allocate them.
    pending = "uninitialized_variables"
    before = list(global_state.get_global_attribute(pending) or [])
    if declared is not None:
        _check_config_numbers(spec.get("config"), 2 * declared + (1 << 18), declared, config_path, weights_path)
    try:
        with keras.StatelessScope(initialize_variables=False):
            model = build(spec)
        count = sum(int(np.prod(w.shape)) for w in _held_weights(model))
        if declared is not None and count > 2 * declared + (1 << 18):
            raise PresetError(f"{config_path}: describes a model of {count:,} weights, but {weights_path} declares "
                             f"{declared:,} (refused before allocating them).")
    except BaseException:
        global_state.set_global_attribute(pending, before)
        raise
    with keras.StatelessScope():  # leaving a scope initialises every variable whose value was deferred
        pass
    return model


def _held_weights(model):
    """The weights a preset folder of `model` holds: all but those of its `preset_skips` (the shipped presets it is
    built with, which come from their own folders)."""
    skipped = {id(w) for layer in model.preset_skips() for w in layer.weights}
    return [w for w in model.weights if id(w) not in skipped]


def _parts_record(model):
    """metadata.json's `parts`: the zoo name and weights sha256 of each shipped preset the model is built with."""
    return [{"preset": part["preset"], "sha256": part["sha256"]} for part in model.shipped_parts()]


def _check_parts(model, metadata, metadata_path, config_path):
    """The shipped presets the model was built with (`shipped_parts`, each loaded and checked against its own
    sha256) must be those the folder's weights were saved with (metadata.json's `parts`), else its weights would
    meet other members' weights than those they were trained with."""
    recorded = metadata.get("parts", [])
    actual = _parts_record(model)
    if recorded != actual:
        raise PresetError(f"{metadata_path}: its weights were saved with the shipped presets {recorded} as parts, but "
                         f"the model {config_path} describes is built with {actual} (a preset replaced since, or an "
                         f"edited file).")


def _check_config_numbers(config, limit, declared, config_path, weights_path):
    """Refuse a config whose integers (widths, lengths, head counts, sizes...) exceed `limit`, twice the elements
    the weights file declares (plus 2^18): no model needs a dimension larger than its weights, and a layer may build
    lists or index arrays of such a size while the model is built, before its weights can be counted. (The shipped
    presets' largest integer is 1,000, against at least 16,384 declared elements.)"""
    stack = [("config", config)]  # named as in the file: config.json's "config" object
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and value > limit:
            raise PresetError(f"{config_path}: `{path}` is {value:,}, larger than a model whose weights file "
                             f"({weights_path}) declares {declared:,} elements can need (at most {limit:,}).")


def _declared_arrays(weights_path):
    """The elements and the bytes of the arrays a weights file declares (its datasets' shapes, read from the HDF5
    metadata alone, before any array is read; an optimizer's arrays not counted)."""
    import h5py

    declared = [0, 0]

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and not name.startswith("optimizer/"):
            declared[0] += int(obj.size)
            declared[1] += int(obj.size) * obj.dtype.itemsize

    try:
        with h5py.File(weights_path, "r") as f:
            f.visititems(visit)
    except (OSError, KeyError, RuntimeError) as e:  # h5py's errors for a file that is not HDF5 or is damaged
        raise PresetError(f"{weights_path}: not a readable weights file ({type(e).__name__}: {_first_line(e)}).") from e
    return tuple(declared)


def _check_declared_sizes(model, weights_path):
    """The arrays the weights file declares hold at most twice the model's own weights, plus 1 MB; a file that
    claims more is refused before any array is read."""
    limit = 2 * sum(int(np.prod(w.shape)) * 4 for w in _held_weights(model)) + (1 << 20)
    declared = _declared_arrays(weights_path)[1]
    if declared > limit:
        raise PresetError(f"{weights_path}: its arrays claim more than {declared:,} bytes; the model it is for holds "
                         f"{limit - (1 << 20):,} bytes of weights (refused before reading).")


def _first_line(error):
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[0] if lines else ""


def _load_weights(model, weights_path, config_path, what):
    _check_declared_sizes(model, weights_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            _read_weights(model, weights_path)
        except Exception as e:  # h5py's OSError for a truncated file, ValueError for shapes that do not fit
            raise PresetError(f"{weights_path}: cannot load these weights into {what!r} "
                             f"({type(e).__name__}: {e}).") from e
    # Keras only warns where the file's layer structure differs from the model's and leaves those layers as they
    # were initialised: for a preset that is a wrong file, not a partial success.
    skipped = [str(w.message) for w in caught if "Skipping" in str(w.message) or "freshly" in str(w.message)]
    if skipped:
        raise PresetError(f"{weights_path}: does not match the model described in {config_path}: {skipped[0]}")
    # Keras matches the file to the model by layer paths, so a file of another layer structure can also load
    # silently into the wrong places. Every array of the file must be in the model, and every weight of the
    # model must come from the file.
    unmatched = _unmatched_weights(model, weights_path)
    if unmatched:
        raise PresetError(f"{weights_path}: does not match the model described in {config_path}: {unmatched}.")


def _read_weights(model, path):
    """`model.load_weights(path)`, leaving its `preset_skips` as they are (Keras' `objects_to_skip`)."""
    skips = list(model.preset_skips())
    if not skips:
        return model.load_weights(path)
    from keras.src.saving import saving_lib  # Model.load_weights does not pass objects_to_skip on

    return saving_lib.load_weights_only(model, path, objects_to_skip=skips)


def _write_weights(model, path):
    """`model.save_weights(path)` without the weights of its `preset_skips`."""
    skips = list(model.preset_skips())
    if not skips:
        return model.save_weights(path)
    from keras.src.saving import saving_lib  # Model.save_weights does not pass objects_to_skip on

    return saving_lib.save_weights_only(model, path, objects_to_skip=skips)


def _keras_builder(config_path):
    """Build a serialized model with Keras (the class that config.json names)."""

    def build(spec):
        import keras

        try:
            model = keras.saving.deserialize_keras_object(json.loads(json.dumps(spec)))
        except Exception as e:  # keras raises TypeError/ValueError/KeyError for configs it cannot rebuild
            raise PresetError(f"{config_path}: cannot build the model it describes ({type(e).__name__}: {e}).") from e
        if not isinstance(model, keras.Model):
            raise PresetError(f"{config_path}: cannot build the model it describes (it names no registered model "
                             f"class: {spec.get('class_name')!r}).")
        return model

    return build


def _architecture_builder(builder, name, architecture, config_path):
    """Build a serialized model's constructor arguments with the zoo builder of `architecture`; the model must be of
    the class the serialized model names (else the folder holds another architecture)."""

    def build(spec):
        import keras

        saved = spec.get("registered_name") or spec["class_name"]
        if keras.saving.get_registered_object(saved) is None:  # before building anything
            raise PresetError(f"{config_path}: cannot build the model it describes (it names no registered model "
                             f"class: {saved!r}).")
        try:
            model = builder(**json.loads(json.dumps(spec["config"])))
        except Exception as e:  # a constructor argument the architecture does not take, or a value it refuses
            raise PresetError(f"{config_path}: the weights are for a {saved} model, which {name!r} (architecture "
                             f"{architecture!r}) cannot build ({type(e).__name__}: {e}).") from e
        built = keras.saving.get_registered_name(type(model))
        if saved not in (built, type(model).__name__):
            raise PresetError(f"{config_path}: the weights are for a {saved} model, not for {name!r} (architecture "
                             f"{architecture!r}, a {built} model).")
        return model

    return build


def _unmatched_weights(model, weights_path):
    """A sentence saying which of the model's weights the file lacks and how many of the file's arrays the model
    did not take (compared as sets of (shape, values): a layer that the model reaches by two paths is stored twice),
    or an empty string when they are the same."""
    import h5py

    def key(array):
        array = np.ascontiguousarray(np.asarray(array).astype("float32"))
        return array.shape, hashlib.sha256(array.tobytes()).hexdigest()

    in_model = {key(w.numpy()) for w in _held_weights(model)}
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


def serialize_model(model):
    """config.json of a preset folder: `keras.saving.serialize_keras_object(model)` without `compile_config` and
    `build_config` at any depth, as keras-hub's saver writes it (a preset is the model, not its training set-up)."""
    import keras

    def drop(config):
        for key in ("compile_config", "build_config"):
            config.pop(key, None)
        for value in config.values():
            if isinstance(value, dict):
                drop(value)
        return config

    return drop(keras.saving.serialize_keras_object(model))


def config_text(spec):
    """The text of config.json for a serialized model, formatted as keras-hub writes it."""
    return json.dumps(spec, indent=4)


def hub_metadata(parameter_count, date_saved=None):
    """metadata.json's fields that keras-hub's saver writes (`KerasPresetSaver._save_metadata`): the Keras and
    keras-hub versions, the parameter count, the date saved (a datetime, now by default) and the keras-hub tasks
    that take the model (none: a kgen model is not a keras-hub backbone)."""
    import keras

    from importlib import metadata as package_metadata

    try:
        keras_hub_version = package_metadata.version("keras-hub")
    except package_metadata.PackageNotFoundError:
        keras_hub_version = None
    date_saved = date_saved or datetime.datetime.now()
    return {
        "keras_version": keras.version(),
        "keras_hub_version": keras_hub_version,
        "parameter_count": int(parameter_count),
        "date_saved": date_saved.strftime(DATE_FORMAT),
        "tasks": [],
    }


def check_output_folder(folder):
    """An output folder may be absent, empty, or a preset folder that kgen wrote (its files all among
    `PRESET_FILES`, with a metadata.json whose `library` is kgen); anything else is never replaced."""
    folder = Path(folder)
    if not folder.exists() and not folder.is_symlink():
        return
    if not folder.is_dir() or folder.is_symlink():
        raise PresetError(f"the output folder {str(folder)!r} exists and is not a folder; kgen does not replace it.")
    names = {p.name for p in folder.iterdir()}
    if not names:
        return
    others = sorted(names - set(PRESET_FILES))
    try:
        library = _read_json(folder / METADATA_FILE).get("library") if METADATA_FILE in names else None
    except ValueError:
        library = None
    if others or library != LIBRARY:
        held = f"it holds {', '.join(others)}" if others else f"its {METADATA_FILE} is not kgen's"
        raise PresetError(f"the output folder {str(folder)!r} exists and is not a preset folder kgen wrote ({held}); "
                         f"kgen only replaces its own. Choose a new or empty folder.")


def save_preset(model, folder, name=None, metadata=None, weights_dtype="float32"):
    """Write `model` as a preset folder at `folder` (all or nothing: written beside it, then renamed into place).

    Args:
        model: a kgen zoo model.
        folder: the folder to write: absent, empty, or a preset folder kgen wrote (replaced); any other folder is
            refused.
        name: the zoo name the model was built as (e.g. "bytenet.shakespeare"), recorded in metadata.json and
            checked when it is loaded by name; default: the model's `zoo_name` (set when it came from a preset),
            or none.
        metadata: a dict of what the weights are (recipe, commit, data, metric, command...); keras-hub's fields,
            the parameter count, the weight storage type, the library versions and the sha256 of the weights file
            are added.
        weights_dtype: "float32", or "float16" to halve the file (the loader casts back).
    Returns the written metadata.
    """
    from importlib import metadata as package_metadata

    from kgen.io import atomic_path

    name = model.zoo_name if name is None else name
    if name is not None and (not isinstance(name, str) or not name):
        raise PresetError(f"`name` must be the zoo name the model was built as, got {name!r}.")
    if weights_dtype not in WEIGHTS_DTYPES:
        raise PresetError(f"`weights_dtype` must be one of {WEIGHTS_DTYPES}, got {weights_dtype!r}.")
    if metadata is not None and not isinstance(metadata, dict):
        raise PresetError(f"`metadata` must be a dict, got {type(metadata).__name__}.")
    check_output_folder(folder)
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        spec = serialize_model(model)
        (tmp / CONFIG_FILE).write_text(config_text(spec), encoding="utf-8")
        # The weights alone: an uncompiled copy, so that a trained model's optimizer state stays out of the file.
        weights = model.get_weights()
        model = _keras_builder(tmp / CONFIG_FILE)(spec)
        model.set_weights(weights)
        if weights_dtype == "float32":
            _write_weights(model, str(tmp / WEIGHTS_FILE))
        else:
            _write_weights(model, str(tmp / "float32.weights.h5"))
            _cast_weights_file(tmp / "float32.weights.h5", tmp / WEIGHTS_FILE, weights_dtype)
            (tmp / "float32.weights.h5").unlink()
        meta = hub_metadata(model.count_params())
        meta.update(metadata or {})
        meta.update({
            **({"name": name} if name is not None else {}),
            "library": LIBRARY,
            "kgen_version": package_metadata.version("kgen"),
            "parameters": int(model.count_params()),
            "weights_dtype": weights_dtype,
            "weights_file": WEIGHTS_FILE,
            "sha256": sha256(tmp / WEIGHTS_FILE),
            # the shipped presets whose weights the model is built with, which the file does not hold
            **({"parts": _parts_record(model)} if model.shipped_parts() else {}),
        })
        (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=4) + "\n", encoding="utf-8")
    return meta

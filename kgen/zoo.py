"""The model registry: `register_model`, `register_presets`, `get`, `list_models` ("arch.tag" names, timm style).

Families register themselves when `kgen.models` is imported (which `import kgen` does): each family's `__init__.py`
registers its architectures and reads its presets table, a `presets.toml` data file beside it with a required
`tiny` entry (the test walker builds every architecture from it). An entry holds the constructor's keyword arguments
(the model's facts, e.g. a WaveNet's `sample_rate`), a one-line `description` and, but for the test sizes, the
`data` set the preset is made for (a data set name, or an inline table of a recipe's [data] keys:
`data = { name = "moving_mnist", eval_options = { frame_size = 64 } }`), which `default_data` gives to the
default recipe of `kgen train NAME` (`kgen.recipes.from_model`) and to the models themselves. This module imports no
family.

>>> import kgen
>>> kgen.zoo.list_models("pixelcnn*")
['pixelcnn', 'pixelcnn.mnist', 'pixelcnn.mnist_8bit', 'pixelcnn.tiny']
>>> model = kgen.zoo.get("pixelcnn.mnist", num_residual_blocks=5)
>>> kgen.zoo.list_models(pretrained=True)          # the presets whose trained weights ship with kgen
>>> model = kgen.zoo.get("bytenet.shakespeare", pretrained=True)

A family ships trained weights as keras-hub preset folders in its package, `pretrained/<name>/` (config.json,
model.weights.h5, metadata.json, README.md; see `kgen.pretrained`); `register_family` finds them.
"""

import copy
import difflib
import fnmatch
import sys
import tomllib
from importlib import resources

_BUILDERS = {}  # architecture name -> builder(**kwargs) -> keras.Model
_PRESETS = {}  # "arch.tag" -> (architecture name, preset kwargs, description, data table or None)
_DESCRIPTIONS = {}
_PRETRAINED = {}  # "arch.tag" -> the shipped preset folder (a path inside the family's package)

#: The folder of a family's package that holds its shipped preset folders, one per tag.
PRETRAINED_DIR = "pretrained"

#: The preset every architecture must have: the test walker's configuration.
TINY = "tiny"


def register_model(name=None, description=""):
    """Decorator: register a builder `fn(**kwargs) -> keras.Model` (a function or a model class) under `name`
    (default: its name)."""

    def wrap(fn):
        key = name or fn.__name__
        if key in _BUILDERS:
            raise ValueError(f"register_model: the name {key!r} is already registered.")
        _BUILDERS[key] = fn
        doc_lines = (fn.__doc__ or "").strip().splitlines()
        _DESCRIPTIONS[key] = description or (doc_lines[0] if doc_lines else "")
        return fn

    return wrap


def register_preset(name, architecture, description="", data=None, **kwargs):
    """Register a named configuration `"arch.tag"` of a registered architecture: its constructor `kwargs`, a
    one-line `description` and the `data` set it is made for (a data set name or a table of a recipe's [data] keys
    with a "name"; None: none, as for the test sizes)."""
    if "." not in name or name.split(".")[0] != architecture:
        raise ValueError(f"register_preset: preset names look like '{architecture}.tag', got {name!r}.")
    if name in _PRESETS:
        raise ValueError(f"register_preset: the name {name!r} is already registered.")
    _PRESETS[name] = (architecture, dict(kwargs), description, _check_data(data, name))


def _check_data(data, name):
    """A preset's `data` as a table ({"name": ..., and any of a recipe's other [data] keys}), or None."""
    if data is None:
        return None
    if isinstance(data, str):
        data = {"name": data}
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        raise ValueError(f"register_preset: the `data` of {name!r} must be a data set name or a table of a recipe's "
                         f"[data] keys with a `name`, got {data!r}.")
    return copy.deepcopy(dict(data))


def read_presets(package, filename="presets.toml"):
    """The presets table of a family: `{architecture: {tag: {"description": ..., "data": ..., **kwargs}}}` from the
    TOML file `filename` in `package` (e.g. "kgen.models.pixelcnn"), read with importlib.resources so that it is
    found in an installed wheel too."""
    text = resources.files(package).joinpath(filename).read_text(encoding="utf-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{package}/{filename} is not valid TOML: {e}") from None


def register_presets(architecture, table):
    """Register every entry `{tag: {"description": ..., "data": ..., **kwargs}}` of a presets table as
    `architecture.tag` (`data` optional: see `register_preset`).

    The table must hold a `tiny` entry: the small configuration the test walker and the docs use.
    """
    if architecture not in _BUILDERS:
        raise ValueError(f"register_presets: register the architecture {architecture!r} first.")
    if TINY not in table:
        raise ValueError(f"register_presets: {architecture!r} has no {TINY!r} preset (every architecture needs one).")
    for tag, entry in table.items():
        entry = dict(entry)
        description = entry.pop("description", "")
        data = entry.pop("data", None)
        register_preset(f"{architecture}.{tag}", architecture, description=description, data=data, **entry)


def register_family(package, builders, filename="presets.toml"):
    """Register a family's architectures `{name: (builder, description)}` and the presets of each from the
    package's presets table (one TOML table per architecture)."""
    table = read_presets(package, filename)
    unknown = sorted(set(table) - set(builders))
    if unknown:
        raise ValueError(f"{package}/{filename}: tables {unknown} name no architecture of {sorted(builders)}.")
    for name, (builder, description) in builders.items():
        register_model(name, description=description)(builder)
        register_presets(name, table.get(name, {}))
    shipped = resources.files(package).joinpath(PRETRAINED_DIR)
    if shipped.is_dir():
        for folder in shipped.iterdir():
            if not folder.is_dir() or folder.name.startswith((".", "_")):
                continue
            # A folder is named by the preset's full name ("bytenet.shakespeare"), so that one family folder can
            # ship weights for several of its architectures.
            if folder.name not in _PRESETS:
                raise ValueError(f"{package}/{PRETRAINED_DIR}/{folder.name}: names no preset of this family.")
            _PRETRAINED[folder.name] = str(folder)


def architectures():
    """Sorted names of the registered architectures (no presets)."""
    return sorted(_BUILDERS)


def list_models(pattern="*", pretrained=False):
    """Sorted names of all architectures and presets matching a shell-style `pattern` (e.g. "pixel*"); with
    `pretrained=True` only the presets whose trained weights ship with kgen."""
    if not isinstance(pattern, str):
        raise ValueError(f"list_models: `pattern` must be a string such as 'pixel*', got {pattern!r}.")
    if not isinstance(pretrained, bool):
        raise ValueError(f"list_models: `pretrained` must be True or False, got {pretrained!r}.")
    names = set(_PRETRAINED) if pretrained else set(_BUILDERS) | set(_PRESETS)
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))


def describe(name):
    """A one-line description and the keyword arguments a name stands for."""
    arch, kwargs = resolve(name)
    if name in _PRESETS:
        return _PRESETS[name][2] or _DESCRIPTIONS.get(arch, ""), kwargs
    return _DESCRIPTIONS.get(arch, ""), kwargs


def resolve(name):
    """Return (architecture, preset kwargs) for a registered name; ValueError listing close matches otherwise."""
    if not isinstance(name, str):
        raise ValueError(f"`name` must be a model name string, got {name!r}.")
    if name in _PRESETS:
        arch, kwargs = _PRESETS[name][:2]
        return arch, dict(kwargs)
    if name in _BUILDERS:
        return name, {}
    known = list_models()
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"Unknown model name {name!r}.{hint} Registered models: {', '.join(known)}.")


def default_data(name):
    """The data set a registered name is made for, as a recipe's `[data]` table (`{"name": ..., **other [data]
    keys}`, a fresh copy): a preset's `data` from its presets table; for an architecture, the table every one of its
    presets that names a data set names alike. None where there is none (a test size, an architecture whose presets
    differ, a name that is not registered)."""
    if name in _PRESETS:
        data = _PRESETS[name][3]
        return None if data is None else copy.deepcopy(data)
    if name not in _BUILDERS:
        return None
    tables = [entry[3] for entry in _PRESETS.values() if entry[0] == name and entry[3] is not None]
    if not tables or any(table != tables[0] for table in tables):
        return None
    return copy.deepcopy(tables[0])


def architecture_of_class(cls):
    """The registered architecture whose builder is the model class `cls`, or None (a class registered under no
    architecture, or built by a builder function)."""
    found = [name for name, builder in _BUILDERS.items() if builder is cls]
    return found[0] if len(found) == 1 else None


def pretrained_folder(name):
    """The shipped preset folder of `name`; a ValueError listing the names that have one otherwise."""
    resolve(name)
    if name not in _PRETRAINED:
        raise ValueError(f"{name!r} has no shipped trained weights. Names with them: "
                         f"{', '.join(sorted(_PRETRAINED)) or 'none'} (kgen.zoo.list_models(pretrained=True)).")
    return _PRETRAINED[name]


def architecture_of(name):
    """The architecture of a registered zoo name; an unregistered name stands for itself (so that weights saved
    for a name this kgen does not know match no architecture but that name)."""
    return resolve(name)[0] if name in _BUILDERS or name in _PRESETS else name


def builder(name):
    """The builder of the architecture of a registered zoo name (called with every constructor argument, as a
    preset folder's config.json records them)."""
    return _BUILDERS[resolve(name)[0]]


def get(name, pretrained=False, weights=None, **overrides):
    """Build a model by architecture or preset name; keyword `overrides` that are not None replace preset values.

    With `pretrained=True` the model and its trained weights come from the preset folder kgen ships for `name`
    (the run behind its model card); `weights=PATH_OR_URI` loads a preset folder from a path or an `hf://` /
    `kaggle://` URI instead (see `kgen.pretrained`; a folder that keras-hub's saver wrote for a kgen model too).
    The folder must hold a model of `name`'s architecture. Overrides then replace the saved configuration (e.g. a
    dropout rate); one that changes a weight's shape is an error.
    """
    if not isinstance(pretrained, bool):
        raise ValueError(f"`pretrained` must be True or False, got {pretrained!r}.")
    if pretrained and weights is not None:
        raise ValueError("Give either `pretrained=True` (the weights kgen ships) or `weights=PATH_OR_URI`, not both.")
    if pretrained or weights is not None:
        from kgen import pretrained as presets

        folder = pretrained_folder(name) if pretrained else weights
        resolve(name)
        return presets.load_preset(folder, name=name, registry=sys.modules[__name__], **overrides)
    arch, kwargs = resolve(name)
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    return _BUILDERS[arch](**kwargs)

"""The registry at a glance without Keras: every architecture and preset name, its one-line description, its
architecture and whether trained weights ship for it, read from `catalog.json` beside this file. `kgen list` answers
from it in a fraction of a second (importing the model families, and so Keras and TensorFlow, takes seconds).

The file is generated from the live registry by `python tools/make_catalog.py`; tests/test_catalog.py fails when it
differs from the registry, so it cannot go stale silently. The recipes are read from their TOML files directly
(`kgen.recipes` needs no Keras either).

>>> from kgen import catalog
>>> catalog.list_models("pixelcnn*")          # the same names as kgen.zoo.list_models("pixelcnn*")
['pixelcnn', 'pixelcnn.mnist', 'pixelcnn.mnist_8bit', 'pixelcnn.tiny']
"""

import fnmatch
import json
from importlib import resources

#: The catalog's file name in this package.
FILE = "catalog.json"

_FORMAT = 1


def build():
    """The catalog of the live registry (this imports every model family): {"format", "models": {name:
    {"architecture", "description", "pretrained"}}}, names sorted."""
    import kgen.models  # noqa: F401  (registers every family)
    from kgen import zoo

    shipped = set(zoo.list_models(pretrained=True))
    models = {}
    for name in zoo.list_models():
        architecture, _ = zoo.resolve(name)
        description, _ = zoo.describe(name)
        models[name] = {"architecture": architecture, "description": description, "pretrained": name in shipped}
    return {"format": _FORMAT, "models": models}


def dumps(catalog):
    """The text of `catalog.json` for a catalog from `build`."""
    return json.dumps(catalog, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def load():
    """The shipped catalog (see `build`); FileNotFoundError where the package has none, ValueError where it is not
    one this kgen reads."""
    text = _read_text()
    try:
        catalog = json.loads(text)
    except ValueError as e:
        raise ValueError(f"kgen/{FILE} is not valid JSON ({e}); regenerate it with `python tools/make_catalog.py`.") \
            from None
    if not isinstance(catalog, dict) or catalog.get("format") != _FORMAT or not isinstance(catalog.get("models"),
                                                                                            dict):
        raise ValueError(f"kgen/{FILE} is not a format-{_FORMAT} catalog; regenerate it with "
                         "`python tools/make_catalog.py`.")
    return catalog


def _read_text():
    return resources.files(__package__).joinpath(FILE).read_text(encoding="utf-8")


def list_models(pattern="*", pretrained=False, catalog=None):
    """Sorted names matching the shell-style `pattern`, as `kgen.zoo.list_models` gives them, from the catalog."""
    if not isinstance(pattern, str):
        raise ValueError(f"list_models: `pattern` must be a string such as 'pixel*', got {pattern!r}.")
    if not isinstance(pretrained, bool):
        raise ValueError(f"list_models: `pretrained` must be True or False, got {pretrained!r}.")
    models = (catalog or load())["models"]
    return sorted(n for n, entry in models.items()
                  if fnmatch.fnmatchcase(n, pattern) and (entry["pretrained"] or not pretrained))


def describe(name, catalog=None):
    """The one-line description of a registered name, as `kgen.zoo.describe(name)[0]` gives it."""
    models = (catalog or load())["models"]
    if name not in models:
        raise ValueError(f"Unknown model name {name!r}; `kgen list` shows the registered names.")
    return models[name]["description"]

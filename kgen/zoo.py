"""The model registry: `register_model`, `get`, `list_models` and presets ("arch.tag" names, timm style).

>>> import kgen
>>> kgen.zoo.list_models("pixel*")
['pixelcnn', 'pixelcnn.mnist', 'pixelcnn.tiny']
>>> model = kgen.zoo.get("pixelcnn.mnist", num_residual_blocks=5)
"""

import difflib
import fnmatch

_BUILDERS = {}  # architecture name -> builder(**kwargs) -> keras.Model
_PRESETS = {}  # "arch.tag" -> (architecture name, preset kwargs, description)
_DESCRIPTIONS = {}


def register_model(name=None, description=""):
    """Decorator: register a builder function `fn(**kwargs) -> keras.Model` under `name` (default: its name)."""

    def wrap(fn):
        key = name or fn.__name__
        if key in _BUILDERS:
            raise ValueError(f"register_model: the name {key!r} is already registered.")
        _BUILDERS[key] = fn
        doc_lines = (fn.__doc__ or "").strip().splitlines()
        _DESCRIPTIONS[key] = description or (doc_lines[0] if doc_lines else "")
        return fn

    return wrap


def register_preset(name, architecture, description="", **kwargs):
    """Register a named configuration `"arch.tag"` of a registered architecture."""
    if "." not in name or name.split(".")[0] != architecture:
        raise ValueError(f"register_preset: preset names look like '{architecture}.tag', got {name!r}.")
    if name in _PRESETS:
        raise ValueError(f"register_preset: the name {name!r} is already registered.")
    _PRESETS[name] = (architecture, dict(kwargs), description)


def _ensure_registered():
    # Importing the model families runs their registrations.
    import kgen.models.pixelcnn.presets  # noqa: F401
    import kgen.models.pixelrnn.presets  # noqa: F401
    import kgen.models.gated_pixelcnn.presets  # noqa: F401
    import kgen.models.wavenet.presets  # noqa: F401
    import kgen.models.bytenet.presets  # noqa: F401
    import kgen.models.lstm_lm.presets  # noqa: F401
    import kgen.models.sparse_coding.presets  # noqa: F401
    import kgen.models.psd.presets  # noqa: F401
    import kgen.models.semantic_hashing.presets  # noqa: F401
    import kgen.models.autoencoder.presets  # noqa: F401


def list_models(pattern="*"):
    """Sorted names of all architectures and presets matching a shell-style `pattern` (e.g. "pixel*")."""
    _ensure_registered()
    if not isinstance(pattern, str):
        raise ValueError(f"list_models: `pattern` must be a string such as 'pixel*', got {pattern!r}.")
    names = set(_BUILDERS) | set(_PRESETS)
    return sorted(n for n in names if fnmatch.fnmatchcase(n, pattern))


def describe(name):
    """A one-line description and the keyword arguments a name stands for."""
    _ensure_registered()
    arch, kwargs = resolve(name)
    if name in _PRESETS:
        return _PRESETS[name][2] or _DESCRIPTIONS.get(arch, ""), kwargs
    return _DESCRIPTIONS.get(arch, ""), kwargs


def resolve(name):
    """Return (architecture, preset kwargs) for a registered name; ValueError listing close matches otherwise."""
    _ensure_registered()
    if not isinstance(name, str):
        raise ValueError(f"`name` must be a model name string, got {name!r}.")
    if name in _PRESETS:
        arch, kwargs, _ = _PRESETS[name]
        return arch, dict(kwargs)
    if name in _BUILDERS:
        return name, {}
    known = list_models()
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"Unknown model name {name!r}.{hint} Registered models: {', '.join(known)}.")


def get(name, **overrides):
    """Build a model by architecture or preset name; keyword `overrides` that are not None replace preset values."""
    arch, kwargs = resolve(name)
    kwargs.update({k: v for k, v in overrides.items() if v is not None})
    return _BUILDERS[arch](**kwargs)

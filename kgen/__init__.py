"""kgen: a Keras 3 model zoo of unsupervised and autoregressive generative models."""

import importlib
import os
import sys

__version__ = "0.1.0"

_SUBMODULES = ("compression", "data", "distributions", "hashing", "layers", "models", "pretrained", "zoo")
__all__ = list(_SUBMODULES) + ["__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"kgen.{name}")
    raise AttributeError(f"module 'kgen' has no attribute {name!r}")


def _started_as_the_command():
    """True in the `kgen` command (its console script, or `python -m kgen.cli`): it imports what a subcommand needs
    when it runs it, so that `kgen --help` and `kgen --version` start neither Keras nor TensorFlow."""
    return os.path.basename(sys.argv[0]) in ("kgen", "kgen.exe") or sys.argv[:1] == ["-m"]


if not _started_as_the_command():
    # `import kgen` registers every layer and model class, so that `.keras` files of kgen models load afterwards.
    from kgen import compression, data, distributions, hashing, layers, models, pretrained, zoo  # noqa: E402,F401

"""kgen: a Keras 3 model zoo of unsupervised and autoregressive generative models.

`import kgen` registers every layer and model class (so that `.keras` files of kgen models load afterwards) and gives
every public module as an attribute, imported on first use: `kgen.zoo`, `kgen.data`, `kgen.export`,
`kgen.compression`, `kgen.plotting`, `kgen.training`, ... (`dir(kgen)` lists them). TensorFlow's native log lines are
kept off stderr (see `kgen.native_logs`; TF_CPP_MIN_LOG_LEVEL=0 or 1 keeps them).
"""

import importlib
import os
import sys

from kgen.version import __version__  # noqa: F401  (kgen/version.py: the one place of the version)

#: Every public module of the package (tests/test_lazy_imports.py checks this against the files).
_SUBMODULES = (
    "artifacts", "audio", "backends", "catalog", "cli", "compression", "data", "distribute", "distributions",
    "export", "hashing", "io", "layers", "models", "native_logs", "plotting", "pretrained", "progress", "quality",
    "recipes", "samplers", "testing", "training", "validation", "version", "zoo",
)
__all__ = list(_SUBMODULES) + ["__version__"]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"kgen.{name}")  # also binds it in this module: found directly next time
    raise AttributeError(f"module 'kgen' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES))


def _started_as_the_command():
    """True in the `kgen` command (its console script, or `python -m kgen.cli`): it imports what a subcommand needs
    when it runs it, so that `kgen --help`, `kgen --version` and `kgen list` start neither Keras nor TensorFlow."""
    return os.path.basename(sys.argv[0]) in ("kgen", "kgen.exe") or sys.argv[:1] == ["-m"]


if not _started_as_the_command():
    from kgen import native_logs as _native_logs  # noqa: E402

    _native_logs.quiet_tensorflow()  # before anything below imports TensorFlow (Keras' TensorFlow backend does)
    # `import kgen` registers every layer and model class, so that `.keras` files of kgen models load afterwards.
    from kgen import compression, data, distributions, hashing, layers, models, pretrained, zoo  # noqa: E402,F401

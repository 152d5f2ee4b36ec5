"""The kgen version, in one place: `kgen.__version__`, `kgen --version` and the package metadata (pyproject.toml
reads it from here) all give this string. It imports nothing, so the command can print it without the package."""

__version__ = "0.1.0"

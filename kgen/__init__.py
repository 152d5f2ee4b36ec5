"""kgen: a Keras 3 model zoo of unsupervised and autoregressive generative models."""

__version__ = "0.1.0"

from kgen import compression, data, distributions, hashing, layers, models, pretrained, zoo  # noqa: E402

__all__ = ["compression", "data", "distributions", "hashing", "layers", "models", "pretrained", "zoo", "__version__"]

"""k-sparse activation: keep the k largest units of each example, zero the rest (k-sparse autoencoders)."""

import keras
from keras import ops

from kgen.layers.config import ArgumentConfig, same_shape
from kgen.validation import check_float, check_int


@keras.saving.register_keras_serializable(package="kgen")
class KSparse(ArgumentConfig, keras.layers.Layer):
    """Keeps the `k` largest values along the last axis of each example and sets the others to zero.

    The kept set comes from `keras.ops.top_k` and the others are replaced by zeros (`ops.where` with a constant
    mask), so gradients flow only through the kept units. Exactly `k` positions are kept even when values tie at
    the k-th largest (which of the tied positions is kept is up to the backend's `top_k`). In inference mode
    (`training=False`) the layer keeps `round(alpha * k)` units (at most the number of units): the paper's
    "alpha k" encoding, which with `alpha > 1` gives a denser code at test time. `alpha=1` keeps `k` in both modes.

    Args:
        k: int >= 1, units kept per example in training; at most the size of the last axis.
        alpha: float >= 1, inference multiplier: `round(alpha * k)` units are kept when `training` is False.
        **kwargs: `name`, `dtype`, `trainable` for `keras.layers.Layer`.

    Call arguments:
        inputs: (batch, ..., units) pre-activations.
        training: bool, True keeps `k` units, False (default) keeps `round(alpha * k)`.

    Returns:
        A tensor of the input's shape with all but the kept units set to zero.

    Example:
    >>> layer = KSparse(k=2)
    >>> layer(keras.ops.convert_to_tensor([[0.1, 3.0, -1.0, 2.0]]))   # [[0, 3, 0, 2]]

    Reference: Makhzani & Frey, 2013, "k-Sparse Autoencoders" (arXiv:1312.5663), Algorithm 1.
    """

    compute_output_shape = same_shape

    def __init__(self, k, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.k = check_int(k, "k", owner="KSparse")
        self.alpha = check_float(alpha, "alpha", "KSparse", minimum=1.0, inclusive=True)

    def build(self, input_shape):
        units = input_shape[-1]
        if units is None:
            raise ValueError("KSparse: the last axis of the inputs must have a known size, got None.")
        if self.k > units:
            raise ValueError(f"KSparse: `k` must be at most the number of units ({units}), got {self.k}.")
        self.units = int(units)

    def kept_units(self, training=False):
        """The number of units kept per example in training or inference mode."""
        k = self.k if training else int(round(self.alpha * self.k))
        return min(k, self.units)

    def call(self, inputs, training=False):
        k = self.kept_units(bool(training))
        if k == self.units:
            return inputs
        _, indices = ops.top_k(inputs, k=k, sorted=False)
        # (..., k, units) one-hot rows summed to a (..., units) 0/1 mask: exactly k ones even when values tie.
        keep = ops.sum(ops.one_hot(indices, self.units, dtype="int32"), axis=-2) > 0
        return ops.where(keep, inputs, ops.zeros_like(inputs))

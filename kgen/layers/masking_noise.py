"""Masking noise: the input corruption of denoising autoencoders (a random fraction of the inputs set to zero)."""

import keras
from keras import ops

from kgen.layers.config import ArgumentConfig, same_shape
from kgen.validation import check_fraction, check_layer_seed


@keras.saving.register_keras_serializable(package="kgen")
class MaskingNoise(ArgumentConfig, keras.layers.Layer):
    """Sets each input value to zero with probability `rate` in training; the identity at inference.

    Unlike `keras.layers.Dropout`, the kept values are NOT rescaled by 1 / (1 - rate): the corrupted input is
    the clean input with some components "destroyed", as in the denoising autoencoder, whose loss compares the
    reconstruction of the corrupted input with the clean one. Each value is masked independently (a fresh mask for
    every example and every call), drawn from the layer's own `keras.random.SeedGenerator`.

    Args:
        rate: float in [0, 1), the probability that a value is set to zero (the "destruction" level). 0 makes
            the layer the identity.
        seed: int or None, seed of the layer's `SeedGenerator` (same seed: same sequence of masks).
        **kwargs: `name`, `dtype`, `trainable` for `keras.layers.Layer`.

    Call arguments:
        inputs: a tensor of any shape.
        training: bool, corrupt only when True (the default False returns `inputs` unchanged).

    Returns:
        A tensor of the input's shape.

    Example:
    >>> noise = MaskingNoise(0.25, seed=0)
    >>> y = noise(keras.ops.ones((2, 784)), training=True)  # about a quarter of the values are 0, the rest 1

    Reference: Vincent, Larochelle, Bengio & Manzagol, 2008, "Extracting and Composing Robust Features with
    Denoising Autoencoders" (ICML), section 2.3.
    """

    compute_output_shape = same_shape

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        rate = check_fraction(rate, "rate", "MaskingNoise")
        self.rate = float(rate)
        self.seed = check_layer_seed(seed, "MaskingNoise")

    def build(self, input_shape):
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        keep = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) >= self.rate
        return inputs * ops.cast(keep, inputs.dtype)

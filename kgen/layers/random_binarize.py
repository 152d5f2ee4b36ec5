"""Random binarisation: a training-time augmentation that shows a classifier of grey images the binary images of
the same data (the stochastic binarisation of binarized MNIST)."""

import keras
from keras import ops

from kgen.layers.config import ArgumentConfig, same_shape
from kgen.validation import check_fraction, check_layer_seed


@keras.saving.register_keras_serializable(package="kgen")
class RandomBinarize(ArgumentConfig, keras.layers.Layer):
    """In training, replaces each example with probability `rate` by a stochastic binarisation of it (each value
    `p` in [0, 1] becomes 1 with probability `p`, else 0); the identity at inference.

    A classifier trained behind this layer on grey-level digits reads both grey digits (8-bit PixelCNN samples) and
    binary ones (binarized-MNIST samples) as what they are: `kgen.quality` scores both kinds with one classifier.

    Args:
        rate: float in [0, 1), the fraction of examples binarised in each training batch.
        seed: int or None, seed of the layer's `keras.random.SeedGenerator`.
        **kwargs: `name`, `dtype`, `trainable` for `keras.layers.Layer`.

    Call arguments:
        inputs: a tensor (batch, ...) of values in [0, 1].
        training: bool, binarise only when True.

    Returns:
        A tensor of the input's shape: in training each example is either itself or all 0/1.
    """

    compute_output_shape = same_shape

    def __init__(self, rate=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = float(check_fraction(rate, "rate", "RandomBinarize"))
        self.seed = check_layer_seed(seed, "RandomBinarize")

    def build(self, input_shape):
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def call(self, inputs, training=False):
        if not training or self.rate == 0.0:
            return inputs
        shape = ops.shape(inputs)
        noise = keras.random.uniform(shape, seed=self.seed_generator, dtype=inputs.dtype)
        binary = ops.cast(noise < inputs, inputs.dtype)
        per_example = (shape[0],) + (1,) * (len(inputs.shape) - 1)
        chosen = keras.random.uniform(per_example, seed=self.seed_generator) < self.rate
        return ops.where(chosen, binary, inputs)

"""A code layer that becomes binary: noisy sigmoid units in training, hard bits at inference (semantic hashing)."""

import keras
from keras import ops

from kgen.layers.config import ArgumentConfig, same_shape
from kgen.validation import check_float, check_int


@keras.saving.register_keras_serializable(package="kgen")
class BinaryCode(ArgumentConfig, keras.layers.Layer):
    """Logistic code units that are pushed to binary values by noise, and read as hard bits at inference.

    In training the layer returns `sigmoid(inputs + noise_stddev * eps)` with fresh standard Gaussian `eps` per
    unit and example. The noise makes every unit whose pre-activation is near 0 useless to the decoder, so training
    drives the pre-activations far from 0 and the sigmoid into saturation: the code becomes (nearly) binary while the
    gradient still flows. At inference (and whenever `training` is not True) it returns hard bits,
    1.0 where `inputs > 0` and 0.0 elsewhere: the threshold of the sigmoid at 0.5.

    The layer has no weights; its input is the pre-sigmoid activation (e.g. a linear `Dense(num_bits)`).

    Args:
        noise_stddev: float >= 0, the standard deviation of the Gaussian noise added before the sigmoid in
            training (Salakhutdinov & Hinton used noise of variance 16, i.e. 4). 0 trains a plain sigmoid layer.
        seed: int or None, seeds the layer's `keras.random.SeedGenerator`.
        **kwargs: `name`, `dtype`, `trainable` for `keras.layers.Layer`.

    Call arguments:
        inputs: pre-sigmoid activations (batch, ..., num_bits).
        training: bool; True for noisy sigmoid units, otherwise hard 0/1 bits.

    Returns:
        a tensor of the input's shape: values in (0, 1) in training, exactly 0.0 or 1.0 at inference.

    Example:
    >>> layer = BinaryCode(noise_stddev=4.0, seed=0)
    >>> layer(keras.ops.convert_to_tensor([[-2.0, 0.5, 3.0]]))  # [[0., 1., 1.]]

    Reference: Salakhutdinov & Hinton, 2009, "Semantic hashing", International Journal of Approximate Reasoning
    50(7), section 3 (deterministic Gaussian noise added to the code units' inputs during fine-tuning).
    """

    compute_output_shape = same_shape

    def __init__(self, noise_stddev=4.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.noise_stddev = check_float(noise_stddev, "noise_stddev", "BinaryCode", inclusive=True)
        if seed is not None:
            seed = check_int(seed, "seed", minimum=0, owner="BinaryCode")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"BinaryCode: inputs must be (batch, ..., num_bits) with a known last axis, got shape "
                f"{tuple(input_shape)}."
            )
        self.built = True

    def call(self, inputs, training=None):
        if training:
            if self.noise_stddev > 0:
                noise = keras.random.normal(
                    ops.shape(inputs), stddev=self.noise_stddev, dtype=inputs.dtype, seed=self.seed_generator
                )
                inputs = inputs + noise
            return ops.sigmoid(inputs)
        return ops.cast(ops.greater(inputs, 0), inputs.dtype)

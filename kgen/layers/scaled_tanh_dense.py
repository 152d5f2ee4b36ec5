"""The feed-forward encoder of predictive sparse decomposition: g * tanh(x W + b) with a learned gain per unit."""

import keras
from keras import ops

from kgen.layers.config import ArgumentConfig
from kgen.validation import check_int


@keras.saving.register_keras_serializable(package="kgen")
class ScaledTanhDense(ArgumentConfig, keras.layers.Layer):
    """A dense layer with a tanh non-linearity and a learned gain per output unit: `g * tanh(x W + b)`.

    The encoder F(x; G, W, b) = G tanh(W x + b) of predictive sparse decomposition, G a diagonal matrix of gains:
    the gains let the bounded tanh match codes of any size, and tanh's flat tails let a unit sit near zero for
    most inputs, as a sparse code does. The gains start at `gain_initializer` (default ones).

    Args:
        units: int, the output width (the number of atoms of the dictionary whose codes it predicts).
        kernel_initializer: initializer of W (default "glorot_uniform").
        gain_initializer: initializer of g (default "ones").
        **kwargs: `name`, `dtype`, `trainable` of `keras.layers.Layer`.

    Call arguments:
        inputs: (batch, input_dim).

    Returns:
        (batch, units).

    Example:
    >>> encoder = ScaledTanhDense(256)
    >>> codes = encoder(keras.random.normal((32, 64)))     # (32, 256)

    Reference: Kavukcuoglu, Ranzato & LeCun, 2009, "Fast Inference in Sparse Coding Algorithms with Applications
    to Object Recognition", section 2.
    """

    def __init__(self, units, kernel_initializer="glorot_uniform", gain_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        self.units = check_int(units, "units", owner="ScaledTanhDense")
        for name, value in (("kernel_initializer", kernel_initializer), ("gain_initializer", gain_initializer)):
            try:
                keras.initializers.get(value)
            except (ValueError, TypeError) as e:
                raise ValueError(
                    f"ScaledTanhDense: `{name}` must be a Keras initializer or its name, got {value!r} ({e})."
                ) from None
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.gain_initializer = keras.initializers.get(gain_initializer)

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                f"ScaledTanhDense: inputs must be (batch, input_dim) with a known input_dim, got {tuple(input_shape)}."
            )
        self.kernel = self.add_weight(
            name="kernel", shape=(int(input_shape[-1]), self.units), initializer=self.kernel_initializer
        )
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros")
        self.gain = self.add_weight(name="gain", shape=(self.units,), initializer=self.gain_initializer)

    def call(self, inputs):
        return self.gain * ops.tanh(ops.matmul(inputs, self.kernel) + self.bias)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

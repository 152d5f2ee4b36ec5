"""The residual multiplicative block (RMB) of the Video Pixel Network."""

import keras
from keras import ops

from kgen.layers.config import ArgumentConfig, same_shape
from kgen.layers.masked_conv2d import bias_and_activation
from kgen.layers.multiplicative_unit import MultiplicativeUnit, set_unit_arguments
from kgen.validation import check_int


@keras.saving.register_keras_serializable(package="kgen")
class ResidualMultiplicativeBlock(ArgumentConfig, keras.layers.Layer):
    """A 1x1 convolution from 2c to c channels, `num_units` multiplicative units, a 1x1 back to 2c, plus the input.

    With `mask_type="B"` the units are masked (the VPN decoder); the 1x1 convolutions read only the current pixel,
    so the block stays raster-causal and can be evaluated one pixel at a time. An optional condition map enters
    every unit (see `MultiplicativeUnit`).

    Args:
        filters: int, c: the units' channels; the block's input and output have 2c.
        kernel_size: odd int, the units' window.
        dilation_rate: int, the units' dilation (the encoder's blocks use 1, 2, 4, 8).
        mask_type: None (unmasked) or "B" (masked).
        num_units: int, multiplicative units in a row (2 in the paper).
        kernel_initializer, bias_initializer: for every convolution.

    Call arguments:
        inputs: (batch, H, W, 2 * filters).
        condition: optional (batch, H, W, d) map given to every unit.

    Example:
    >>> block = ResidualMultiplicativeBlock(16, dilation_rate=2)
    >>> y = block(keras.ops.ones((2, 16, 16, 32)))  # (2, 16, 16, 32)

    Reference: Kalchbrenner et al., 2017, "Video Pixel Networks", section 4.2.
    """

    def __init__(self, filters, kernel_size=3, dilation_rate=1, mask_type=None, num_units=2,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        owner = "ResidualMultiplicativeBlock"
        common = set_unit_arguments(self, owner, filters, kernel_size, dilation_rate, mask_type, kernel_initializer,
                                    bias_initializer)
        self.num_units = check_int(num_units, "num_units", owner=owner)
        self.reduce = keras.layers.Conv2D(self.filters, 1, name="reduce", **common)
        self.units = [
            MultiplicativeUnit(self.filters, self.kernel_size, self.dilation_rate, self.mask_type, name=f"unit{i}",
                               **common)
            for i in range(self.num_units)
        ]
        self.expand = None

    def build(self, inputs_shape, condition_shape=None):
        if inputs_shape[-1] != 2 * self.filters:
            raise ValueError(
                f"ResidualMultiplicativeBlock {self.name!r}: the input must have 2 * filters = {2 * self.filters} "
                f"channels, got shape {tuple(inputs_shape)}."
            )
        self.reduce.build(inputs_shape)
        inner = tuple(inputs_shape[:-1]) + (self.filters,)
        for unit in self.units:
            unit.build(inner, condition_shape)
        self.expand = keras.layers.Conv2D(2 * self.filters, 1, name="expand",
                                          kernel_initializer=self.kernel_initializer,
                                          bias_initializer=self.bias_initializer)
        self.expand.build(inner)

    def call(self, inputs, condition=None):
        h = self.reduce(inputs)
        for unit in self.units:
            h = unit(h, condition)
        return inputs + self.expand(h)

    compute_output_shape = same_shape

    # ------------------------------------------------------------------------------------------ one pixel at a time
    def init_cache(self, batch_size, width, dtype="float32"):
        """One row buffer per unit."""
        return [unit.init_cache(batch_size, width, dtype) for unit in self.units]

    def begin_row(self, cache):
        return [unit.begin_row(c) for unit, c in zip(self.units, cache)]

    def condition_preactivation(self, condition):
        """Each unit's condition pre-activation over a whole frame (a list), for `call_with_cache`."""
        return [unit.condition_preactivation(condition) for unit in self.units]

    def call_with_cache(self, inputs, cache, col, condition_pre=None):
        """The output at column `col` of the current row from the input there, `inputs` (batch, 2 * filters), and
        each unit's condition pre-activation at that pixel (a list, or None). Returns `(outputs, cache)`."""
        h = bias_and_activation(self.reduce, ops.matmul(inputs, self.reduce.kernel[0, 0]))
        new_cache = []
        for i, (unit, c) in enumerate(zip(self.units, cache)):
            h, c = unit.call_with_cache(h, c, col, None if condition_pre is None else condition_pre[i])
            new_cache.append(c)
        return inputs + bias_and_activation(self.expand, ops.matmul(h, self.expand.kernel[0, 0])), new_cache

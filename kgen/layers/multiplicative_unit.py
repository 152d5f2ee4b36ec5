"""The multiplicative unit (MU) of the Video Pixel Network."""

import keras
from keras import ops

from kgen.layers.config import ArgumentConfig, same_shape
from kgen.layers.masked_conv2d import MaskedConv2D
from kgen.validation import check_int


def check_mask_type(mask_type, owner):
    """None (an ordinary convolution) or "B" (a raster-causal one that sees the current pixel)."""
    if mask_type is None:
        return None
    if not isinstance(mask_type, str) or mask_type.upper() != "B":
        raise ValueError(
            f"{owner}: `mask_type` must be None (unmasked) or 'B' (masked, the current pixel visible), got "
            f"{mask_type!r}. A unit mixes its input at the current pixel into its output, so it cannot hide it (type "
            "'A'): put a type 'A' MaskedConv2D before the first unit instead."
        )
    return "B"


def set_unit_arguments(layer, owner, filters, kernel_size, dilation_rate, mask_type, kernel_initializer,
                       bias_initializer):
    """Check and keep the arguments a multiplicative unit and a residual multiplicative block share; returns the
    initializer keyword arguments for their convolutions."""
    layer.filters = check_int(filters, "filters", owner=owner)
    layer.kernel_size = check_int(kernel_size, "kernel_size", odd=True, owner=owner)
    layer.dilation_rate = check_int(dilation_rate, "dilation_rate", owner=owner)
    layer.mask_type = check_mask_type(mask_type, owner)
    layer.kernel_initializer = keras.initializers.get(kernel_initializer)
    layer.bias_initializer = keras.initializers.get(bias_initializer)
    return dict(kernel_initializer=layer.kernel_initializer, bias_initializer=layer.bias_initializer)


@keras.saving.register_keras_serializable(package="kgen")
class MultiplicativeUnit(ArgumentConfig, keras.layers.Layer):
    """g1 * tanh(g2 * h + g3 * u): an LSTM-like gated update of a feature map without recurrence.

    From h (batch, H, W, filters): g1, g2, g3 = sigmoid(conv(h)), u = tanh(conv(h)), with the four convolutions
    computed as one of 4 * filters output channels. An optional condition map (batch, H, W, d) enters every gate
    through a 1x1 convolution (the decoder's context). With `mask_type="B"` the convolution is a raster-causal
    `MaskedConv2D` (the masked unit of the VPN decoder): the output at a pixel then depends only on h at that pixel
    and before it, and the unit can be evaluated one pixel at a time (`init_cache`, `begin_row`, `call_with_cache`).

    Args:
        filters: int, channels of h and of the output.
        kernel_size: odd int, the convolution's window.
        dilation_rate: int, the convolution's dilation (the encoder's units; 1 for a masked unit evaluated one pixel
            at a time).
        mask_type: None (unmasked, the encoder) or "B" (masked, the decoder).
        kernel_initializer, bias_initializer: for the convolutions.

    Call arguments:
        inputs: h, (batch, H, W, filters).
        condition: optional (batch, H, W, d) map added to every gate's pre-activation through a 1x1 convolution.

    Example:
    >>> unit = MultiplicativeUnit(32, dilation_rate=2)
    >>> y = unit(keras.ops.ones((2, 16, 16, 32)))  # (2, 16, 16, 32)

    Reference: Kalchbrenner et al., 2017, "Video Pixel Networks", section 4.1.
    """

    def __init__(self, filters, kernel_size=3, dilation_rate=1, mask_type=None, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        common = set_unit_arguments(self, "MultiplicativeUnit", filters, kernel_size, dilation_rate, mask_type,
                                    kernel_initializer, bias_initializer)
        if self.mask_type is None:
            self.conv = keras.layers.Conv2D(4 * self.filters, self.kernel_size, padding="same",
                                            dilation_rate=self.dilation_rate, name="gates", **common)
        else:
            self.conv = MaskedConv2D(4 * self.filters, self.kernel_size, mask_type="B",
                                     dilation_rate=self.dilation_rate, name="gates", **common)
        self.condition_projection = None

    def build(self, inputs_shape, condition_shape=None):
        if inputs_shape[-1] != self.filters:
            raise ValueError(
                f"MultiplicativeUnit {self.name!r}: the input must have `filters` = {self.filters} channels (h is "
                f"gated by g2 channel by channel), got shape {tuple(inputs_shape)}."
            )
        self.conv.build(inputs_shape)
        if condition_shape is not None:
            if condition_shape[-1] is None:
                raise ValueError(f"MultiplicativeUnit {self.name!r}: the condition's channel count must be known.")
            self.condition_projection = keras.layers.Conv2D(
                4 * self.filters, 1, use_bias=False, kernel_initializer=self.kernel_initializer, name="condition")
            self.condition_projection.build(condition_shape)

    def _check_condition(self, condition):
        if (condition is None) != (self.condition_projection is None):
            given = "without" if condition is None else "with"
            built = "with" if self.condition_projection is not None else "without"
            raise ValueError(f"MultiplicativeUnit {self.name!r} was built {built} a condition; called {given} one.")

    def gate(self, h, pre):
        """The unit's output from h and the four pre-activations (..., 4 * filters): g1, g2, g3, u in that order."""
        g1, g2, g3, u = ops.split(pre, 4, axis=-1)
        return ops.sigmoid(g1) * ops.tanh(ops.sigmoid(g2) * h + ops.sigmoid(g3) * ops.tanh(u))

    def call(self, inputs, condition=None):
        self._check_condition(condition)
        pre = self.conv(inputs)
        if condition is not None:
            pre = pre + self.condition_projection(condition)
        return self.gate(inputs, pre)

    compute_output_shape = same_shape

    # ------------------------------------------------------------------------------------------ one pixel at a time
    def _check_masked(self):
        if self.mask_type is None:
            raise ValueError(
                f"MultiplicativeUnit {self.name!r}: pixel-at-a-time evaluation needs a masked unit (mask_type='B')."
            )

    def init_cache(self, batch_size, width, dtype="float32"):
        """The masked convolution's row buffer (see `MaskedConv2D.init_cache`)."""
        self._check_masked()
        return self.conv.init_cache(batch_size, width, dtype)

    def begin_row(self, cache):
        return self.conv.begin_row(cache)

    def condition_preactivation(self, condition):
        """The condition's contribution to the gates, (batch, H, W, 4 * filters): computed once per frame when the
        condition is known before its pixels are."""
        self._check_condition(condition)
        return self.condition_projection(condition)

    def call_with_cache(self, inputs, cache, col, condition_pre=None):
        """The output at column `col` of the current row from h there, `inputs` (batch, filters), and the condition's
        pre-activation at that pixel (batch, 4 * filters), if any. Returns `(outputs, cache)`."""
        pre, cache = self.conv.call_with_cache(inputs, cache, col)
        if condition_pre is not None:
            pre = pre + condition_pre
        return self.gate(ops.cast(inputs, pre.dtype), pre), cache

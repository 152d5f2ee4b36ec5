"""Dilated causal 1-D convolution: the building block of WaveNet and the ByteNet decoder."""

import keras
from keras import ops

from kgen.validation import check_int


def check_mask_type(mask_type, owner):
    if not isinstance(mask_type, str) or mask_type.upper() not in ("A", "B"):
        raise ValueError(f"{owner}: `mask_type` must be 'A' or 'B', got {mask_type!r}.")
    return mask_type.upper()


def causal_pad(x, kernel_size, dilation_rate, mask_type="B"):
    """Pad (batch, time, channels) on the left so a 'valid' convolution becomes causal.

    Type "B": output t reads inputs t - (k - 1) d .. t. Type "A": the sequence is first shifted one step to the
    right (zeros in front, the last step dropped), so output t reads inputs t - 1 - (k - 1) d .. t - 1 and never
    its own position: the first layer of a model that predicts x_t from x_<t.
    """
    left = (kernel_size - 1) * dilation_rate
    if mask_type == "A":
        x = x[:, :-1]
        left += 1
    return ops.pad(x, ((0, 0), (left, 0), (0, 0)))


def causal_receptive_field(kernel_size, dilation_rate):
    """Number of input steps one output of a causal convolution reads: (k - 1) d + 1."""
    return (kernel_size - 1) * dilation_rate + 1


def _single(value):
    """An int given as itself or as the 1-tuple that `Conv1D.get_config` writes."""
    return value[0] if isinstance(value, (tuple, list)) and len(value) == 1 else value


@keras.saving.register_keras_serializable(package="kgen")
class DilatedCausalConv1D(keras.layers.Conv1D):
    """A 1-D convolution whose output at step t depends only on inputs up to t (type "B") or before t (type "A").

    Causality comes from left padding with `ops.pad` (so the time length may be unknown), not from a mask: the
    kernel has k taps spaced `dilation_rate` apart, the last tap on the current step. Stacking dilations
    1, 2, 4, ..., 512 with k = 2 gives a receptive field of 1,024 steps in 10 layers (WaveNet).

    Args:
        filters: int, output channels.
        kernel_size: int k (2 in WaveNet, 3 in ByteNet).
        dilation_rate: int d, the spacing of the taps.
        mask_type: "B" (output t sees inputs <= t) or "A" (output t sees inputs < t: the first layer on the raw
            sequence of a model that predicts each step from the earlier ones).
        **kwargs: the other `keras.layers.Conv1D` arguments (activation, use_bias, initializers, regularizers,
            name, dtype); `padding`, `strides` and `data_format` are fixed.

    Call arguments:
        inputs: (batch, time, channels); time may be None.

    Returns:
        (batch, time, filters).

    Example:
    >>> conv = DilatedCausalConv1D(32, kernel_size=2, dilation_rate=4)
    >>> y = conv(keras.ops.ones((2, 100, 8)))  # (2, 100, 32); y[:, t] depends on inputs t - 4 and t
    >>> conv.receptive_field
    5

    Reference: van den Oord et al., 2016, "WaveNet: A Generative Model for Raw Audio", section 2.1.
    """

    def __init__(self, filters, kernel_size=2, dilation_rate=1, mask_type="B", **kwargs):
        for fixed, allowed in (("padding", "valid"), ("strides", 1), ("data_format", "channels_last")):
            value = kwargs.pop(fixed, allowed)
            if value not in (allowed, (allowed,), [allowed]):
                raise ValueError(f"DilatedCausalConv1D: `{fixed}` is fixed to {allowed!r}, got {value!r}.")
        filters = check_int(filters, "filters", owner="DilatedCausalConv1D")
        kernel_size = check_int(_single(kernel_size), "kernel_size", owner="DilatedCausalConv1D")
        dilation_rate = check_int(_single(dilation_rate), "dilation_rate", owner="DilatedCausalConv1D")
        self.mask_type = check_mask_type(mask_type, "DilatedCausalConv1D")
        super().__init__(filters, kernel_size, dilation_rate=dilation_rate, padding="valid", **kwargs)

    @property
    def receptive_field(self):
        """Input steps that reach one output: (kernel_size - 1) * dilation_rate + 1."""
        return causal_receptive_field(self.kernel_size[0], self.dilation_rate[0])

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                f"DilatedCausalConv1D: inputs must be (batch, time, channels), got shape {tuple(input_shape)}."
            )
        super().build(input_shape)

    def call(self, inputs):
        return super().call(causal_pad(inputs, self.kernel_size[0], self.dilation_rate[0], self.mask_type))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.filters,)

    # ------------------------------------------------------------------------------------------ one step at a time
    def init_cache(self, batch_size, dtype="float32"):
        """A queue of the layer's last (k - 1) * d inputs (`kgen.layers.queues`), for `call_with_cache`."""
        from kgen.layers.queues import init_queue

        return init_queue(batch_size, self.kernel_size[0], self.dilation_rate[0], self.kernel.shape[1], dtype)

    def call_with_cache(self, inputs, cache, index):
        """The output of step `index` only, from `inputs` (batch, channels), the input the causal window ends on
        (for a type-A layer: the input of step index - 1, as the shift in `call`). Returns (outputs, cache)."""
        from kgen.layers.masked_conv2d import bias_and_activation
        from kgen.layers.queues import queue_taps

        taps, cache = queue_taps(cache, index, inputs, self.kernel_size[0], self.dilation_rate[0])
        return bias_and_activation(self, ops.einsum("bkc,kcf->bf", taps, self.kernel)), cache

    def get_config(self):
        config = super().get_config()
        for fixed in ("padding", "strides", "data_format"):
            config.pop(fixed, None)
        config["mask_type"] = self.mask_type
        return config

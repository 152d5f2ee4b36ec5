"""Masked 2-D convolution for autoregressive image models."""

import numpy as np
import keras
from keras import ops

from kgen.layers.constants import layer_constant, numpy_constant
from kgen.validation import check_int


def causal_conv_mask(kernel_size, in_channels, out_channels, mask_type, channel_groups=1):
    """Build the (kh, kw, in, out) 0/1 mask of a raster-order causal convolution.

    Rows above the centre are visible, in the centre row only the columns left of the centre; at the centre tap an
    input channel group ``g_in`` feeds an output group ``g_out`` when ``g_in < g_out`` (type "A") or
    ``g_in <= g_out`` (type "B"). Channels are split into ``channel_groups`` contiguous blocks (R, G, B for three
    groups), which is the R -> G -> B order of the PixelRNN paper.
    """
    kh, kw = kernel_size
    mask = np.zeros((kh, kw, in_channels, out_channels), dtype="float32")
    ch, cw = kh // 2, kw // 2
    mask[:ch, :, :, :] = 1.0
    mask[ch, :cw, :, :] = 1.0
    g_in = np.arange(in_channels) * channel_groups // in_channels
    g_out = np.arange(out_channels) * channel_groups // out_channels
    if mask_type == "A":
        centre = g_in[:, None] < g_out[None, :]
    else:
        centre = g_in[:, None] <= g_out[None, :]
    mask[ch, cw] = centre.astype("float32")
    return mask


def channel_group_ids(count, channel_groups, repeats=1):
    """The colour group of each of `count` channels (contiguous blocks), repeated `repeats` times, as a keras.ops
    int32 tensor: the index arithmetic of `causal_conv_mask`."""
    groups = ops.floor_divide(ops.arange(count, dtype="int32") * channel_groups, count)
    return ops.tile(groups, (repeats,)) if repeats > 1 else groups


def group_visibility(in_groups, out_groups, mask_type):
    """(in, out) bool tensor: an input group may feed an output group (earlier groups; the same one too for "B")."""
    in_groups, out_groups = in_groups[:, None], out_groups[None, :]
    return ops.less(in_groups, out_groups) if mask_type == "A" else ops.less_equal(in_groups, out_groups)


def causal_mask(kernel_size, in_channels, out_channels, mask_type, channel_groups=1, dtype="float32", repeats=1):
    """`causal_conv_mask` made with keras.ops from index comparisons (its output channels tiled `repeats` times, as
    the four gates of an LSTM are): what the masked layers use while Keras builds a model symbolically, where it
    allocates nothing, so a preset's config.json cannot make kgen build an array of a kernel's size before its
    weights are counted (`kgen.layers.constants.layer_constant`)."""
    kh, kw = kernel_size
    ch, cw = kh // 2, kw // 2
    rows = ops.reshape(ops.arange(kh, dtype="int32"), (kh, 1, 1, 1))
    cols = ops.reshape(ops.arange(kw, dtype="int32"), (1, kw, 1, 1))
    centre_row = ops.equal(rows, ch)
    above = ops.logical_or(ops.less(rows, ch), ops.logical_and(centre_row, ops.less(cols, cw)))
    centre = ops.logical_and(centre_row, ops.equal(cols, cw))
    visible = group_visibility(channel_group_ids(in_channels, channel_groups),
                               channel_group_ids(out_channels, channel_groups, repeats), mask_type)
    return ops.cast(ops.logical_or(above, ops.logical_and(centre, visible[None, None])), dtype)


# ------------------------------------------------------------------------------------------- receptive fields
# The exact pixel dependencies of stacked masked convolutions, which the models' `receptive_field` and the causality
# tests use (channels collapsed: a type-B layer counts the current pixel as reachable).


def causal_offsets(kernel_size, mask_type):
    """The (dy, dx) input offsets a masked kernel reads for one output pixel (channels collapsed)."""
    r = kernel_size // 2
    offsets = [(dy, dx) for dy in range(-r, 0) for dx in range(-r, r + 1)]
    offsets += [(0, dx) for dx in range(-r, 0)]
    if mask_type == "B":
        offsets.append((0, 0))
    return offsets


def conv_inputs(reach, offsets):
    """Input pixels of a masked convolution with the (dy, dx) `offsets` (see `causal_offsets`): the boolean (H, W)
    map of the pixels that reach the True pixels of `reach`; paths that would leave the image are not counted."""
    height, width = reach.shape
    out = np.zeros_like(reach)
    ys, xs = np.nonzero(reach)
    for dy, dx in offsets:
        yy, xx = ys + dy, xs + dx
        ok = (yy >= 0) & (yy < height) & (xx >= 0) & (xx < width)
        out[yy[ok], xx[ok]] = True
    return out


def stacked_receptive_field(layer_offsets, height, width):
    """Exact pixel dependencies of a chain of masked convolutions with zero ("same") padding.

    Propagates each output pixel backwards through every layer, so paths that would leave the image (and read
    padding) are not counted. Returns a boolean (H*W, H*W) matrix: [t, s] is True when input pixel s reaches t.
    """
    n = height * width
    field = np.zeros((n, n), dtype=bool)
    for t in range(n):
        reach = np.zeros((height, width), dtype=bool)
        reach[t // width, t % width] = True
        for offsets in reversed(layer_offsets):
            reach = conv_inputs(reach, offsets)
        field[t] = reach.reshape(-1)
    return field


def bias_and_activation(layer, outputs):
    """A convolution layer's bias (added with `+` on the 1-D variable) and activation, after its kernel."""
    if layer.use_bias:
        outputs = outputs + layer.bias
    if layer.activation is not None:
        outputs = layer.activation(outputs)
    return outputs


@keras.saving.register_keras_serializable(package="kgen")
class MaskedConv2D(keras.layers.Conv2D):
    """A 2-D convolution whose kernel only sees pixels before the current one in raster order.

    Type "A" also hides the current pixel (first layer of a PixelCNN); type "B" lets it through (every later layer).
    With ``channel_groups=3`` the channels are split into R, G, B blocks and, at the current pixel, a block only sees
    the blocks before it (type "A") or up to and including it (type "B").

    Args:
        filters: int, number of output channels.
        kernel_size: odd int or pair of odd ints.
        mask_type: "A" or "B".
        channel_groups: int, number of colour groups (1 for grey images, 3 for RGB). Input and output channel counts
            must be divisible by it.
        **kwargs: the other `keras.layers.Conv2D` arguments (activation, dilation_rate, use_bias, initializers...).
            `padding` must be "same" and `strides` 1, so outputs line up with inputs.

    Call arguments:
        inputs: a (batch, height, width, channels) tensor.

    Example:
    >>> layer = MaskedConv2D(32, 7, mask_type="A")
    >>> y = layer(keras.ops.ones((2, 28, 28, 1)))  # (2, 28, 28, 32)

    Reference: van den Oord et al., 2016, "Pixel Recurrent Neural Networks", section 3.4.
    """

    def __init__(self, filters, kernel_size, mask_type="B", channel_groups=1, **kwargs):
        if not isinstance(mask_type, str) or mask_type.upper() not in ("A", "B"):
            raise ValueError(f"MaskedConv2D: `mask_type` must be 'A' or 'B', got {mask_type!r}.")
        channel_groups = check_int(channel_groups, "channel_groups", owner="MaskedConv2D")
        padding = kwargs.pop("padding", "same")
        if padding != "same":
            raise ValueError(f"MaskedConv2D: `padding` must be 'same' so outputs align with inputs, got {padding!r}.")
        strides = kwargs.pop("strides", 1)
        if strides not in (1, (1, 1), [1, 1]):
            raise ValueError(f"MaskedConv2D: `strides` must be 1, got {strides!r}.")
        if kwargs.get("groups", 1) != 1:
            raise ValueError(f"MaskedConv2D: `groups` must be 1, got {kwargs['groups']!r}.")
        if kwargs.get("data_format", "channels_last") not in (None, "channels_last"):
            raise ValueError("MaskedConv2D: only `data_format='channels_last'` is supported.")
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if len(ks) != 2 or any((not isinstance(k, int)) or k < 1 or k % 2 == 0 for k in ks):
            raise ValueError(f"MaskedConv2D: `kernel_size` must be an odd int or a pair of odd ints, got {kernel_size!r}.")
        if filters % channel_groups:
            raise ValueError(
                f"MaskedConv2D: `filters` ({filters}) must be divisible by `channel_groups` ({channel_groups})."
            )
        super().__init__(filters, ks, strides=1, padding="same", **kwargs)
        self.mask_type = mask_type.upper()
        self.channel_groups = channel_groups
        self._constants = {}

    def build(self, input_shape):
        in_channels = input_shape[-1]
        if in_channels is None or in_channels % self.channel_groups:
            raise ValueError(
                f"MaskedConv2D: the input channel count ({in_channels}) must be known and divisible by "
                f"`channel_groups` ({self.channel_groups})."
            )
        super().build(input_shape)

    @property
    def kernel_mask(self):
        """The (kh, kw, in, out) 0/1 numpy mask (`causal_conv_mask`), computed once when the layer first runs or is
        asked; while a model is built symbolically the layer makes it with keras.ops (`causal_mask`). Assigning an
        array replaces the mask (a test's deliberately wrong one)."""
        return numpy_constant(self._constants, "kernel_mask", self._numpy_mask)

    @kernel_mask.setter
    def kernel_mask(self, value):
        self._constants["kernel_mask"] = value

    def _numpy_mask(self):
        return causal_conv_mask(self.kernel_size, self.kernel.shape[2], self.filters, self.mask_type,
                                self.channel_groups)

    def _mask(self, dtype):
        return layer_constant(self._constants, "kernel_mask", self._numpy_mask, lambda: causal_mask(
            self.kernel_size, self.kernel.shape[2], self.filters, self.mask_type, self.channel_groups), dtype)

    def convolution_op(self, inputs, kernel):
        return super().convolution_op(inputs, ops.multiply(kernel, self._mask(kernel.dtype)))

    def call(self, inputs):
        # Same computation as keras' Conv.call, but the bias is added with `+` on the 1-D variable. Under TensorFlow,
        # keras' `ops.add` of the bias made Grappler's remapper abort on residual stacks ("remapper failed:
        # Mutation::Apply error"), which drops its convolution fusions for the whole graph.
        return bias_and_activation(self, self.convolution_op(inputs, self.kernel))

    # ------------------------------------------------------------------------------------------ one pixel at a time
    def _check_incremental(self):
        if tuple(self.dilation_rate) != (1, 1):
            raise ValueError(f"MaskedConv2D {self.name!r}: pixel-at-a-time evaluation needs an undilated kernel.")

    def init_cache(self, batch_size, width, dtype="float32"):
        """The state of pixel-at-a-time evaluation over rows of `width` pixels: the layer's last kh // 2 + 1 input
        rows, oldest first, the current row last (zero-padded by kw // 2 columns on both sides), and the masked
        kernel over those rows as one (patch, filters) matrix, computed once. A 1x1 layer keeps no rows."""
        self._check_incremental()
        kh, kw = self.kernel_size
        # Rows below the current one are masked out.
        kernel = ops.multiply(self.kernel, self._mask(self.kernel.dtype))[: kh // 2 + 1]
        kernel = ops.reshape(kernel, (-1, self.filters))
        if (kh, kw) == (1, 1):
            return (kernel,)
        rows = ops.zeros((batch_size, kh // 2 + 1, width + 2 * (kw // 2), self.kernel.shape[2]), dtype=dtype)
        return (rows, kernel)

    def begin_row(self, cache):
        """A new row starts: the rows move up one (the oldest is dropped) and the current row starts as zeros."""
        if len(cache) == 1:
            return cache
        rows, kernel = cache
        return (ops.concatenate([rows[:, 1:], ops.zeros_like(rows[:, :1])], axis=1), kernel)

    def write_cache(self, inputs, cache, col):
        """The cache with `inputs` (batch, in_channels) stored as the layer's input at column `col` of the current
        row."""
        if len(cache) == 1:
            return cache
        rows, kernel = cache
        kh, kw = self.kernel_size
        if inputs.dtype != rows.dtype:
            inputs = ops.cast(inputs, rows.dtype)
        rows = ops.slice_update(rows, (0, kh // 2, col + kw // 2, 0), inputs[:, None, None, :])
        return (rows, kernel)

    def call_with_cache(self, inputs, cache, col):
        """The layer's output at column `col` of the current row only, from `inputs` (batch, in_channels), its
        input there.

        The input is written into the current row; the patch is the kh // 2 + 1 rows at columns col - kw // 2 ..
        col + kw // 2. Rows not yet reached hold zeros (the "same" padding above the image), and whatever the
        current row holds right of `col` is hidden by the causal mask. Call `begin_row` before a row's first pixel.
        Returns `(outputs (batch, filters), cache)`.
        """
        if len(cache) == 1:  # 1x1: a matrix product at the pixel
            outputs = ops.matmul(inputs, cache[0])
        else:
            cache = self.write_cache(inputs, cache, col)
            rows, kernel = cache
            batch = rows.shape[0] if rows.shape[0] is not None else ops.shape(rows)[0]
            patch = ops.slice(rows, (0, 0, col, 0), (batch, rows.shape[1], self.kernel_size[1], rows.shape[3]))
            outputs = ops.matmul(ops.reshape(patch, (batch, -1)), kernel)
        return bias_and_activation(self, outputs), cache

    def get_config(self):
        config = super().get_config()
        for key in ("strides", "padding", "groups"):
            config.pop(key, None)
        config.update({"mask_type": self.mask_type, "channel_groups": self.channel_groups})
        return config

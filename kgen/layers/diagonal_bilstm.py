"""Diagonal BiLSTM: a 2-D LSTM layer that sweeps an image along its diagonals, in two directions."""

import keras
import numpy as np
from keras import ops

from kgen.layers.constants import layer_constant
from kgen.layers.row_lstm import ImageLSTM, lstm_update, recurrence, resolve_unroll
from kgen.layers.steps import dim, equals, select


def _shape(x):
    """The shape of `x` with static sizes as ints and unknown ones (a traced batch) as scalar tensors."""
    dynamic = ops.shape(x)
    return [d if d is not None else dynamic[i] for i, d in enumerate(x.shape)]


def skew(x, axis=1):
    """Shift row i right by i: rows on `axis` (H), columns on `axis + 1` (W) -> W + H - 1 columns, zeros elsewhere.

    For a (batch, H, W, C) map the result is (batch, H, W + H - 1, C). Pixel (i, j) lands in column i + j, so each
    column of the skewed map holds one diagonal of the image (i + j constant) and the pixels above and to the left of
    (i, j) sit in the previous column.
    """
    shape = _shape(x)
    lead, (h, w), rest = shape[:axis], shape[axis : axis + 2], shape[axis + 2 :]
    pad = [(0, 0)] * len(shape)
    pad[axis + 1] = (0, h)
    x = ops.reshape(ops.pad(x, pad), lead + [h * (w + h)] + rest)  # each row followed by h zeros, flattened
    x = x[(slice(None),) * axis + (slice(0, h * (w + h - 1)),)]  # read back in rows one shorter: row i moves by i
    return ops.reshape(x, lead + [h, w + h - 1] + rest)


def unskew(x, axis=1):
    """Inverse of `skew`: rows on `axis`, W + H - 1 skewed columns on `axis + 1` -> W columns, row i read from
    column i on."""
    shape = _shape(x)
    lead, (h, wide), rest = shape[:axis], shape[axis : axis + 2], shape[axis + 2 :]
    pad = [(0, 0)] * (len(shape) - 1)
    pad[axis] = (0, h)
    x = ops.reshape(ops.pad(ops.reshape(x, lead + [h * wide] + rest), pad), lead + [h, wide + 1] + rest)
    return x[(slice(None),) * (axis + 1) + (slice(0, wide - h + 1),)]


@keras.saving.register_keras_serializable(package="kgen")
class DiagonalBiLSTM(ImageLSTM):
    """Diagonal BiLSTM: two diagonal LSTMs whose states together see every earlier pixel.

    Each direction skews its input map (row i shifted right by i, `skew`) so the diagonals become columns, then runs
    an LSTM over the columns: the input-to-state part is a masked 1x1 convolution, the state-to-state part an
    unmasked convolution of kernel size 2 down the previous column, which in image coordinates reads the states of
    the pixel above and the pixel to the left (both parts are one matmul per column); the cell state comes from the
    pixel to the left. Unskewing gives a state at (i, j) that has seen every pixel (i', j') with i' <= i, j' <= j.

    The second direction runs on the horizontally mirrored input and is mirrored back, so it sees the pixels above
    and to the right; its output map is shifted down one row before the two are added, so the current row to the
    right (the future) never leaks. Together: every pixel above, every pixel to the left, and the current pixel
    through the masked 1x1 convolution. States outside the image (the skew's padding) are held at zero.

    With `channel_groups=3` the hidden and cell channels are split into R, G, B groups aligned across the four gates
    (channel j of each gate belongs to group `j * 3 // units`), and at the current pixel a group sees the input
    groups before it (type "A") or up to and including it (type "B"). States of neighbouring pixels are earlier
    pixels and are not masked. Type "A" needs colour groups (with one group the 1x1 input-to-state would see
    nothing): on grey images put a type-A convolution first and use type "B" here, as the paper does.

    Args:
        units: int, hidden state size h of each direction.
        mask_type: "A" (the current pixel's channel group and later ones hidden; needs `channel_groups` > 1) or "B".
        channel_groups: int, colour groups (1 or 3); the input channels and `units` must be divisible by it.
        unroll: True runs the column recurrence as a Python loop unrolled in the graph, False as `keras.ops.scan`,
            None (default) picks per backend as `RowLSTM` does (`scan` under JAX, unrolled otherwise).
        unit_forget_bias: start the forget-gate bias at 1.
        kernel_initializer: initializer of the input-to-state kernel (2 directions, input channels, 4 * units).
        recurrent_initializer: initializer of the state-to-state kernel (2 directions, 2 * units, 4 * units):
            rows `:units` read the state above, rows `units:` the state to the left (to the right, mirrored).
        bias_initializer: initializer of the bias (2 directions, 4 * units).
        **kwargs: `keras.layers.Layer` arguments (name, dtype, trainable).

    Call arguments:
        inputs: (batch, height, width, channels) with known height and width.

    Returns:
        (batch, height, width, units): the sum of the two directions' hidden states.

    Example:
    >>> layer = DiagonalBiLSTM(16)
    >>> h = layer(keras.ops.ones((2, 28, 28, 32)))  # (2, 28, 28, 16)

    Reference: van den Oord et al., 2016, "Pixel Recurrent Neural Networks", section 3.2.
    """

    def __init__(self, units, mask_type="B", channel_groups=1, **kwargs):
        super().__init__(units, mask_type=mask_type, channel_groups=channel_groups, **kwargs)
        if self.mask_type == "A" and self.channel_groups == 1:
            raise ValueError(
                "DiagonalBiLSTM: `mask_type` 'A' with one channel group hides the whole input from the 1x1 "
                "input-to-state convolution; put a type-A convolution first and use 'B' here (as PixelRNN does)."
            )

    def build(self, input_shape):
        _, _, in_channels = self.check_input_shape(input_shape)
        u = self.units
        self.input_kernel = self.add_weight(
            name="input_kernel", shape=(2, in_channels, 4 * u), initializer=self.kernel_initializer
        )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(2, 2 * u, 4 * u), initializer=self.recurrent_initializer
        )
        self.bias = self.add_weight(name="bias", shape=(2, 4 * u), initializer=self.bias_initializer_with_forget((2,)))

    def call(self, inputs):
        height, width = int(inputs.shape[1]), int(inputs.shape[2])
        u = self.units
        wide = width + height - 1
        # Skew the input (C channels, cheaper than the 4u gate channels) of both directions, the second mirrored,
        # laid out (direction, H, W, batch, C): a skewed column is one step, the state-to-state shift runs along H.
        x = ops.transpose(inputs, (1, 2, 0, 3))  # (H, W, B, C)
        x = skew(ops.stack([x, ops.flip(x, axis=1)], axis=0))  # (2, H, W, B, C) -> (2, H, wide, B, C)
        # valid[r, c]: row r, skewed column c holds an image pixel (column c - r of row r).
        rows_shape, cols_shape = (1, height, 1, 1, 1), (1, 1, wide, 1, 1)

        def numpy_valid():
            rows, cols = np.arange(height).reshape(rows_shape), np.arange(wide).reshape(cols_shape)
            return ((cols >= rows) & (cols < rows + width)).astype("float32")

        def ops_valid():
            rows = ops.reshape(ops.arange(height, dtype="int32"), rows_shape)
            cols = ops.reshape(ops.arange(wide, dtype="int32"), cols_shape)
            return ops.logical_and(ops.greater_equal(cols, rows), ops.less(cols, rows + width))

        valid = layer_constant(self._constants, ("valid", height, width), numpy_valid, ops_valid, x.dtype)
        # One matmul per step and direction: [input (masked 1x1), state above, state to the left] -> gates.
        kernel = ops.concatenate([self.masked_input_kernel(), self.recurrent_kernel], axis=1)
        bias = ops.reshape(self.bias, (2, 1, 1, 4 * u))

        def step(carry, xs):
            h, c = carry  # (2, H, B, u)
            x_col, valid_col = xs
            above = ops.pad(h[:, :-1], ((0, 0), (1, 0), (0, 0), (0, 0)))  # row r - 1 of the previous column
            z = ops.einsum("dhbk,dkg->dhbg", ops.concatenate([x_col, above, h], axis=-1), kernel) + bias
            i, f, o, g = ops.split(z, 4, axis=-1)
            c = (ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)) * valid_col  # zero outside the image ...
            return ops.sigmoid(o) * ops.tanh(c), c  # ... and so is h = o * tanh(0)

        zeros = ops.tile(ops.zeros_like(x[:, :, 0, :, :1]), (1, 1, 1, u))  # (2, H, B, u)
        hs = recurrence(step, (zeros, zeros), [x, valid], 2, resolve_unroll(self.unroll))  # (2, H, wide, B, u)
        hs = unskew(hs)  # (2, H, W, B, u)
        left = hs[0]
        right = ops.flip(hs[1], axis=1)
        right = ops.pad(right[:-1], ((1, 0), (0, 0), (0, 0), (0, 0)))  # down one row: no pixel to the right
        return ops.transpose(left + right, (2, 0, 1, 3))

    # ------------------------------------------------------------------------------------------ one pixel at a time
    # In image coordinates the left-to-right state at (i, j) reads the input there, the state above (i - 1, j) and
    # the state and cell to the left (i, j - 1); the right-to-left state at (i, j) reads the input there, the state
    # above and the state and cell to the right (i, j + 1), and the output at (i, j) adds the right-to-left state of
    # (i - 1, j). So a pixel needs one left-to-right update, and when a row is finished one right-to-left sweep over
    # it (its inputs are all known by then) gives the right-to-left states the next row adds.
    def init_cache(self, batch_size, width, in_channels, dtype="float32"):
        """The state of pixel-at-a-time evaluation over rows of `width` pixels: (the current row's inputs
        (batch, width, in); the masked input kernel and the state-to-state kernel as one (2, in + 2u, 4u) matrix per
        direction, computed once; the left-to-right hidden states of the row above (batch, width, u); the current
        row's left-to-right hidden states and cells (batch, 1 + width, u), column 0 the zero state left of the
        image; the right-to-left hidden states of the row above (batch, width, u), zeros above row 0)."""
        u = self.units
        kernel = ops.cast(ops.concatenate([self.masked_input_kernel(), self.recurrent_kernel], axis=1), dtype)
        states = ops.zeros((batch_size, width, u), dtype=dtype)
        padded = ops.zeros((batch_size, width + 1, u), dtype=dtype)
        return (ops.zeros((batch_size, width, in_channels), dtype=dtype), kernel, states, padded, padded, states)

    def begin_row(self, cache, row):
        """Row `row` starts: the finished row's left-to-right states become the row above's, and one right-to-left
        sweep over the finished row's inputs (from the row before it) gives its right-to-left states; above row 0
        there is no finished row and they stay zero."""
        inputs, kernel, _, hidden, cells, right_above = cache
        width, u = int(inputs.shape[1]), self.units
        bias = ops.cast(self.bias[1], inputs.dtype)
        h = c = ops.zeros_like(right_above[:, 0])
        swept = [None] * width
        for col in range(width - 1, -1, -1):  # right to left; the state and cell to the right come in as h, c
            z = ops.matmul(ops.concatenate([inputs[:, col], right_above[:, col], h], axis=-1), kernel[1]) + bias
            h, c = lstm_update(z, c)
            swept[col] = h
        right = select(equals(row, 0), ops.zeros_like(right_above), ops.stack(swept, axis=1))
        return (inputs, kernel, hidden[:, 1:], hidden, cells, right)

    def call_with_cache(self, inputs, cache, col):
        """The output (batch, units) at column `col` of the current row from `inputs` (batch, in_channels), the
        layer's input there (call `begin_row` before a row's first pixel; a pixel may be computed again, as colour
        groups do, and the last call counts). Returns `(output, cache)`."""
        row, kernel, above, hidden, cells, right_above = cache
        batch, u = dim(row, 0), self.units
        x = ops.cast(inputs, row.dtype)
        row = ops.slice_update(row, (0, col, 0), x[:, None, :])

        def at(states, index):
            return ops.squeeze(ops.slice(states, (0, index, 0), (batch, 1, u)), 1)

        z = ops.matmul(ops.concatenate([x, at(above, col), at(hidden, col)], axis=-1), kernel[0])
        h, c = lstm_update(z + ops.cast(self.bias[0], z.dtype), at(cells, col))
        hidden = ops.slice_update(hidden, (0, col + 1, 0), h[:, None, :])
        cells = ops.slice_update(cells, (0, col + 1, 0), c[:, None, :])
        return h + at(right_above, col), (row, kernel, above, hidden, cells, right_above)

"""Row LSTM: a 2-D LSTM layer that processes an image row by row, a whole row at a time."""

import numpy as np
import keras
from keras import ops

from kgen.layers.config import ArgumentConfig
from kgen.layers.constants import layer_constant, numpy_constant
from kgen.layers.masked_conv2d import causal_conv_mask, causal_mask
from kgen.validation import check_int


def check_mask_type(mask_type, owner):
    if not isinstance(mask_type, str) or mask_type.upper() not in ("A", "B"):
        raise ValueError(f"{owner}: `mask_type` must be 'A' or 'B', got {mask_type!r}.")
    return mask_type.upper()


def check_unroll(unroll, owner):
    if unroll is not None and not isinstance(unroll, bool):
        raise ValueError(f"{owner}: `unroll` must be None (automatic), True or False, got {unroll!r}.")
    return unroll


def resolve_unroll(unroll):
    """`unroll=None` picks per backend (measured on CPU, zoo/pixelrnn.md): `keras.ops.scan` under JAX (unrolled,
    XLA's CPU code is several times slower), an unrolled loop under TensorFlow (as fast as keras' scan in graph
    mode, and XLA can compile its gradient, which it cannot for the scan) and PyTorch (as fast or faster)."""
    if unroll is None:
        return keras.backend.backend() != "jax"
    return unroll


def recurrence(step, init, xs, axis, unroll):
    """Run `carry = step(carry, x)` over axis `axis` of the tensors `xs` and stack `carry[0]` of every step there.

    `unroll=True` is a Python loop over `ops.unstack` (whose gradient is one stack, not one padded copy of the
    sequence per step); `unroll=False` is `keras.ops.scan` over the axis moved to the front.
    """
    length = int(xs[0].shape[axis])
    if unroll:
        steps = [ops.unstack(x, num=length, axis=axis) for x in xs]
        carry, outputs = init, []
        for t in range(length):
            carry = step(carry, [x[t] for x in steps])
            outputs.append(carry[0])
        return ops.stack(outputs, axis=axis)

    def scan_step(carry, x):
        carry = step(carry, x)
        return carry, carry  # keras' TensorFlow scan wants outputs shaped like the carry

    _, outputs = ops.scan(scan_step, init, [ops.moveaxis(x, axis, 0) for x in xs], length=length)
    return ops.moveaxis(outputs[0], 0, axis)


# Whether the Row LSTM's state-to-state step is `ops.conv` (default) or one matmul of the k shifted copies of the
# state: under JAX the matmul trains faster (XLA's CPU convolution gradients are slow), elsewhere the conv does.
_STATE_CONV = {"jax": False}


def gate_mask(kernel_size, in_channels, units, mask_type, channel_groups):
    """The (kh, kw, in, 4 * units) 0/1 mask of an input-to-state convolution with gates (i, f, o, g).

    Gate channel j of every gate belongs to colour group `j * channel_groups // units`, so the hidden and cell
    channels of one group line up across the four gates; the mask of each gate block is `causal_conv_mask`.
    """
    mask = causal_conv_mask(kernel_size, in_channels, units, mask_type, channel_groups)
    return np.concatenate([mask] * 4, axis=-1)


def lstm_update(z, cell):
    """One LSTM update from the summed gate pre-activations `z` (..., 4 * units), order (i, f, o, g)."""
    i, f, o, g = ops.split(z, 4, axis=-1)
    cell = ops.sigmoid(f) * cell + ops.sigmoid(i) * ops.tanh(g)
    return ops.sigmoid(o) * ops.tanh(cell), cell


def forget_bias_initializer(base, units, leading=()):
    """Wrap a bias initializer so that the forget-gate block (i, **f**, o, g) starts at 1 (Jozefowicz et al.)."""

    def init(shape, dtype=None):
        parts = [
            base(leading + (units,), dtype=dtype),
            ops.ones(leading + (units,), dtype=dtype),
            base(leading + (2 * units,), dtype=dtype),
        ]
        return ops.concatenate(parts, axis=-1)

    return init


class ImageLSTM(ArgumentConfig, keras.layers.Layer):
    """What the PixelRNN layers share: the LSTM arguments, their checks, the input-shape checks and the config.

    Not a layer to use on its own: `RowLSTM` and `DiagonalBiLSTM` add their weights and recurrence.
    """

    def __init__(
        self,
        units,
        mask_type="B",
        channel_groups=1,
        unroll=None,
        unit_forget_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.units = check_int(units, "units", owner=owner)
        self.mask_type = check_mask_type(mask_type, owner)
        self.channel_groups = check_int(channel_groups, "channel_groups", owner=owner)
        if self.units % self.channel_groups:
            raise ValueError(
                f"{owner}: `units` ({self.units}) must be divisible by `channel_groups` ({self.channel_groups})."
            )
        self.unroll = check_unroll(unroll, owner)
        if keras.backend.backend() == "tensorflow" and not resolve_unroll(self.unroll):
            self.supports_jit = False  # XLA cannot compile the gradient of keras' TensorFlow scan
        if not isinstance(unit_forget_bias, bool):
            raise ValueError(f"{owner}: `unit_forget_bias` must be True or False, got {unit_forget_bias!r}.")
        self.unit_forget_bias = unit_forget_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self._constants = {}

    #: (kh, kw) of the masked input-to-state kernel: (1, k) for the Row LSTM, (1, 1) for the Diagonal BiLSTM.
    input_mask_size = (1, 1)

    @property
    def input_mask(self):
        """The 0/1 numpy mask of the input-to-state kernel (`gate_mask`; (in, 4 * units) when the kernel is 1x1),
        computed once when the layer first runs or is asked; while a model is built symbolically the layer makes it
        with keras.ops (`causal_mask`). Assigning an array replaces it (a test's deliberate leak)."""
        return numpy_constant(self._constants, "input_mask", self._numpy_input_mask)

    @input_mask.setter
    def input_mask(self, value):
        self._constants["input_mask"] = value

    def _numpy_input_mask(self):
        mask = gate_mask(self.input_mask_size, self.input_kernel.shape[-2], self.units, self.mask_type,
                         self.channel_groups)
        return mask[0, 0] if self.input_mask_size == (1, 1) else mask

    def _ops_input_mask(self):
        mask = causal_mask(self.input_mask_size, self.input_kernel.shape[-2], self.units, self.mask_type,
                           self.channel_groups, repeats=4)
        return mask[0, 0] if self.input_mask_size == (1, 1) else mask

    def masked_input_kernel(self):
        """`input_kernel` times its mask."""
        mask = layer_constant(self._constants, "input_mask", self._numpy_input_mask, self._ops_input_mask,
                              self.input_kernel.dtype)
        return ops.multiply(self.input_kernel, mask)

    def check_input_shape(self, input_shape):
        """Return (height, width, channels) of a (batch, height, width, channels) input, or raise naming the layer."""
        owner = type(self).__name__
        if len(input_shape) != 4:
            raise ValueError(f"{owner}: inputs must be (batch, height, width, channels), got shape {input_shape}.")
        height, width, in_channels = input_shape[1:]
        if height is None or width is None:
            raise ValueError(f"{owner}: the input height and width must be known, got shape {input_shape}.")
        if in_channels is None or in_channels % self.channel_groups:
            raise ValueError(
                f"{owner}: the input channel count ({in_channels}) must be known and divisible by "
                f"`channel_groups` ({self.channel_groups})."
            )
        return height, width, in_channels

    def bias_initializer_with_forget(self, leading=()):
        """The bias initializer, with the forget-gate block at 1 when `unit_forget_bias`."""
        if self.unit_forget_bias:
            return forget_bias_initializer(self.bias_initializer, self.units, leading)
        return self.bias_initializer

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)


@keras.saving.register_keras_serializable(package="kgen")
class RowLSTM(ImageLSTM):
    """Row LSTM: an LSTM over the rows of an image, top to bottom, computing a whole row per step.

    The input-to-state part is a 1 x k convolution along the row, masked so that a pixel sees only the pixels to
    its left (and itself for type "B"), computed for the whole map at once. The state-to-state part is an unmasked
    1-D convolution of width k over the hidden state of the previous row, which lies entirely in the past. The
    gates (i, f, o, g), cell and hidden state follow the usual LSTM update, so the hidden state at (row, col) sees a
    triangle of pixels above it: k // 2 more columns on each side per row up.

    With `channel_groups=3` the hidden and cell channels are split into R, G, B groups aligned across the four gates
    (channel j of each gate belongs to group `j * 3 // units`), and at the current pixel a group sees the input groups
    before it (type "A") or up to and including it (type "B"). States from the previous row come from earlier pixels
    and are not masked.

    Args:
        units: int, hidden state size h.
        kernel_size: odd int k, the width of both convolutions (3 in the paper).
        mask_type: "A" (the current pixel hidden: the first layer on the image itself) or "B".
        channel_groups: int, colour groups (1 or 3); the input channels and `units` must be divisible by it.
        unroll: True runs the row recurrence as a Python loop unrolled in the graph, False as `keras.ops.scan`,
            None (default) picks per backend: `scan` under JAX, unrolled under TensorFlow and PyTorch. TensorFlow's
            XLA cannot compile the gradient of keras' `scan`, so a layer with `unroll=False` under TensorFlow sets
            `supports_jit = False` (`jit_compile="auto"` then trains without XLA).
        unit_forget_bias: start the forget-gate bias at 1.
        kernel_initializer: initializer of the input-to-state kernel (1, k, input channels, 4 * units).
        recurrent_initializer: initializer of the state-to-state kernel (k, units, 4 * units).
        bias_initializer: initializer of the bias (4 * units,).
        **kwargs: `keras.layers.Layer` arguments (name, dtype, trainable).

    Call arguments:
        inputs: (batch, height, width, channels) with known height and width.

    Returns:
        (batch, height, width, units): the hidden state at every pixel.

    Example:
    >>> layer = RowLSTM(16, mask_type="B")
    >>> h = layer(keras.ops.ones((2, 28, 28, 32)))  # (2, 28, 28, 16)

    Reference: van den Oord et al., 2016, "Pixel Recurrent Neural Networks", section 3.1.
    """

    def __init__(self, units, kernel_size=3, mask_type="B", channel_groups=1, **kwargs):
        super().__init__(units, mask_type=mask_type, channel_groups=channel_groups, **kwargs)
        self.kernel_size = check_int(kernel_size, "kernel_size", odd=True, owner="RowLSTM")

    def build(self, input_shape):
        _, _, in_channels = self.check_input_shape(input_shape)
        k, u = self.kernel_size, self.units
        self.input_kernel = self.add_weight(
            name="input_kernel", shape=(1, k, in_channels, 4 * u), initializer=self.kernel_initializer
        )
        self.recurrent_kernel = self.add_weight(
            name="recurrent_kernel", shape=(k, u, 4 * u), initializer=self.recurrent_initializer
        )
        self.bias = self.add_weight(name="bias", shape=(4 * u,), initializer=self.bias_initializer_with_forget())

    @property
    def input_mask_size(self):
        return (1, self.kernel_size)

    def call(self, inputs):
        u = self.units
        kernel = self.masked_input_kernel()
        # Input-to-state for every pixel at once: (batch, H, W, 4u), then one row per step.
        gates_in = ops.conv(inputs, kernel, strides=1, padding="same") + self.bias

        def step(carry, x):
            h, c = carry
            return lstm_update(x[0] + self.state_to_state(h), c)

        zeros = ops.zeros_like(gates_in[:, 0, :, :u])
        return recurrence(step, (zeros, zeros), [gates_in], 1, resolve_unroll(self.unroll))

    def state_to_state(self, h):
        """The gate pre-activations (batch, width, 4u) that a row's hidden state `h` (batch, width, u) gives the row
        below: an unmasked width-k convolution (the whole row above lies in the past)."""
        k, r, u = self.kernel_size, self.kernel_size // 2, self.units
        if _STATE_CONV.get(keras.backend.backend(), True):
            return ops.conv(h, ops.cast(self.recurrent_kernel, h.dtype), strides=1, padding="same")
        # The same as one matmul of the k shifted copies (XLA's CPU convolution gradients are slow).
        width = int(h.shape[1])
        padded = ops.pad(h, ((0, 0), (r, r), (0, 0)))
        recurrent = ops.cast(ops.reshape(self.recurrent_kernel, (k * u, 4 * u)), h.dtype)
        return ops.matmul(ops.concatenate([padded[:, d : d + width] for d in range(k)], axis=-1), recurrent)

    # ------------------------------------------------------------------------------------------ one pixel at a time
    # Pixel (row, col) needs its input at columns col - k // 2 .. col of its own row (the masked 1 x k kernel) and
    # the finished row above's states at col - k // 2 .. col + k // 2: the state-to-state term of a whole row is
    # computed once, when the row starts, and each pixel adds its input term and one LSTM update.
    def init_cache(self, batch_size, width, in_channels, dtype="float32"):
        """The state of pixel-at-a-time evaluation over rows of `width` pixels: (inputs of the current row,
        zero-padded by k // 2 columns on both sides; the masked input kernel as one (k * in, 4u) matrix, computed
        once; the row's state-to-state terms plus the bias (batch, width, 4u); the cells of the row above; the
        hidden states and cells of the current row)."""
        k, u = self.kernel_size, self.units
        kernel = ops.cast(ops.reshape(self.masked_input_kernel(), (k * in_channels, 4 * u)), dtype)
        states = ops.zeros((batch_size, width, u), dtype=dtype)
        return (
            ops.zeros((batch_size, width + 2 * (k // 2), in_channels), dtype=dtype),
            kernel,
            ops.zeros((batch_size, width, 4 * u), dtype=dtype),
            states,
            states,
            states,
        )

    def begin_row(self, cache, row=None):
        """A new row starts: the current row's states become the row above's, their state-to-state terms are
        computed for the whole new row, and its inputs start as zeros. `row` (the new row's index, as
        `DiagonalBiLSTM.begin_row` takes it) is not needed: above row 0 the cache's zero states are already right."""
        inputs, kernel, _, _, hidden, cells = cache
        above = self.state_to_state(hidden) + ops.cast(self.bias, hidden.dtype)
        return (ops.zeros_like(inputs), kernel, above, cells, hidden, cells)

    def call_with_cache(self, inputs, cache, col):
        """The hidden state (batch, units) at column `col` of the current row from `inputs` (batch, in_channels),
        the layer's input there (earlier columns' inputs are in the cache; call `begin_row` before a row's first
        pixel). Returns `(hidden, cache)`."""
        row, kernel, above, cells_above, hidden, cells = cache
        k = self.kernel_size
        row = ops.slice_update(row, (0, col + k // 2, 0), ops.cast(inputs, row.dtype)[:, None, :])
        batch = row.shape[0] if row.shape[0] is not None else ops.shape(row)[0]
        patch = ops.reshape(ops.slice(row, (0, col, 0), (batch, k, row.shape[2])), (batch, -1))
        z = ops.matmul(patch, kernel) + ops.squeeze(ops.slice(above, (0, col, 0), (batch, 1, above.shape[2])), 1)
        cell_above = ops.squeeze(ops.slice(cells_above, (0, col, 0), (batch, 1, cells.shape[2])), 1)
        h, c = lstm_update(z, cell_above)
        hidden = ops.slice_update(hidden, (0, col, 0), h[:, None, :])
        cells = ops.slice_update(cells, (0, col, 0), c[:, None, :])
        return h, (row, kernel, above, cells_above, hidden, cells)

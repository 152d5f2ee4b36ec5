"""Cached fast generation for convolutional image models (Ramachandran et al. 2017, "Fast Generation for
Convolutional Autoregressive Models").

Instead of re-running the whole network for every new pixel, a model's generator keeps, for every layer, only the
activations that later pixels still need (a few rows, so memory grows with the image width, never with
height x width x layers), and computes each layer once per new pixel (or once per row for parts that depend only
on rows above). This module holds what every such generator shares:

- `run_generator`: the raster-order loop (rows, then columns, then R -> G -> B within a pixel), compiled per backend,
  which asks the model's generator for the parameters of one pixel at a time and draws it with the distribution's
  deterministic `sample_from_noise`, so the same noise gives exactly the naive loop's samples;
- small helpers for row buffers and for applying masked 1x1 convolutions to one pixel.

A generator is an object with four methods over a tuple `state` of tensors:

    init(batch, labels) -> state
    begin_row(state, r) -> state                 # row r starts: rows < r are final
    pixel_params(state, c, pixel) -> (params, state)   # parameters of pixel (r, c); `pixel` (batch, C) holds its
                                                        # channels drawn so far (zeros after them)
    end_pixel(state, c, pixel) -> state          # pixel (r, c) is final
"""

from keras import ops

from kgen.samplers.naive import run_compiled


# ---------------------------------------------------------------------------------------------- buffer helpers
def dim(x, axis):
    """Size of `x` along `axis`: a Python int when known, else a scalar tensor (a batch traced as None)."""
    size = x.shape[axis]
    return ops.shape(x)[axis] if size is None else size


def shift_in_row(buffer, row, left_pad):
    """Drop the oldest row of `buffer` (batch, rows, width, ch) and append `row` (batch, W, ch) at column `left_pad`."""
    width = buffer.shape[2]
    pad_right = width - left_pad - row.shape[1]
    row = ops.pad(row, [[0, 0], [left_pad, pad_right], [0, 0]])
    return ops.concatenate([buffer[:, 1:], row[:, None]], axis=1)


def write_column(buffer, col, value):
    """Set column `col` of a (batch, width, ch) row buffer to `value` (batch, ch)."""
    return ops.slice_update(buffer, (0, col, 0), value[:, None, :])


def read_columns(buffer, col, size):
    """Columns col .. col + size - 1 of a (batch, width, ch) row buffer (or of a (batch, rows, width, ch) one)."""
    shape = list(buffer.shape)
    if len(shape) == 3:
        return ops.slice(buffer, (0, col, 0), (dim(buffer, 0), size, shape[2]))
    return ops.slice(buffer, (0, 0, col, 0), (dim(buffer, 0), shape[1], size, shape[3]))


def patch_kernel(layer):
    """The masked kernel of a k x k `MaskedConv2D` as a matrix over its causal rows (see `masked_conv_at`)."""
    p = layer.kernel_size[0] // 2
    mask = ops.convert_to_tensor(layer.kernel_mask, dtype=layer.kernel.dtype)
    return ops.reshape(ops.multiply(layer.kernel, mask)[: p + 1], (-1, layer.filters))


def pointwise_kernel(layer):
    """The masked kernel of a 1x1 `MaskedConv2D` as a (in, out) matrix."""
    mask = ops.convert_to_tensor(layer.kernel_mask, dtype=layer.kernel.dtype)
    return ops.multiply(layer.kernel, mask)[0, 0]


def masked_conv_at(layer, buffer, col, kernel=None):
    """A `MaskedConv2D` (k x k, stride 1, no dilation) evaluated at one pixel from its row buffer.

    `buffer` (batch, k//2 + 1, W + 2 * (k//2), ch) holds the layer's input rows r - k//2 .. r with k//2 zero columns
    on both sides; only those kernel rows can be non-zero under a causal mask. `kernel`: `patch_kernel(layer)`,
    computed once by the caller (else here).
    """
    kernel = patch_kernel(layer) if kernel is None else kernel
    patch = read_columns(buffer, col, layer.kernel_size[1])
    out = ops.matmul(ops.reshape(patch, (dim(patch, 0), -1)), kernel)
    if layer.use_bias:
        out = out + layer.bias
    return out


def write_pixel(buffer, col, value, left_pad):
    """Set the current (last) row of a (batch, rows, width, ch) buffer at column col + left_pad to `value`."""
    return ops.slice_update(buffer, (0, buffer.shape[1] - 1, col + left_pad, 0), value[:, None, None, :])


def shift_up(buffer):
    """Move a (batch, rows, width, ch) row buffer up by one row; the new current row is zeros."""
    return ops.concatenate([buffer[:, 1:], ops.zeros_like(buffer[:, :1])], axis=1)


def pointwise(layer, x, kernel=None):
    """A masked 1x1 `MaskedConv2D` applied to one pixel's features x (batch, ch); `kernel`: `pointwise_kernel`."""
    kernel = pointwise_kernel(layer) if kernel is None else kernel
    out = ops.matmul(x, kernel)
    if layer.use_bias:
        out = out + layer.bias
    return out


# ---------------------------------------------------------------------------------------------- the loop
def run_generator(model, generator, canvas, noise, start, labels):
    """Fill `canvas` (batch, H, W, C) in raster order from step `start` on; earlier steps keep the canvas values."""
    height, width, channels = model.image_shape
    dist = model.distribution
    joint = dist.joint_channels
    batch = dim(canvas, 0)
    channel_ids = ops.arange(channels, dtype="int32")[None, :]

    def row_body(r, carry):
        state, canvas = carry
        state = generator.begin_row(state, r)
        known_row = ops.take(canvas, r, axis=1)
        noise_row = ops.take(noise, r, axis=1)

        def col_body(col, carry):
            state, row = carry
            known = ops.take(known_row, col, axis=1)
            pixel_noise = ops.take(noise_row, col, axis=1)
            pixel = ops.zeros((batch, channels), dtype="float32")
            for ch in range(1 if joint else channels):
                params, state = generator.pixel_params(state, col, pixel)
                drawn = dist.sample_from_noise(params, pixel_noise)
                step = r * width + col if joint else (r * width + col) * channels + ch
                chosen = ops.where(ops.less(step, start), known, drawn)
                pixel = chosen if joint else ops.where(ops.equal(channel_ids, ch), chosen, pixel)
            state = generator.end_pixel(state, col, pixel)
            return state, write_column(row, col, pixel)

        row = ops.zeros((batch, width, channels), dtype="float32")
        state, row = ops.fori_loop(0, width, col_body, (state, row))
        return state, ops.slice_update(canvas, (0, r, 0, 0), row[:, None])

    state = generator.init(batch, labels)
    _, canvas = ops.fori_loop(0, height, row_body, (state, canvas))
    return canvas


def make_sample_loop(generator_cls):
    """A `sample_loop(model, noise, canvas, start, labels)` (the naive loop's signature) for a generator class."""

    def sample_loop(model, noise, canvas, start=0, labels=None):
        def run(canvas, noise, start, labels):
            generator = generator_cls(model)
            return run_generator(model, generator, canvas, noise, start, labels if model.conditional else None)

        key = ("cached", generator_cls.__name__)
        return run_compiled(model, key, run, canvas, noise, start, labels, small_ops=True)

    return sample_loop

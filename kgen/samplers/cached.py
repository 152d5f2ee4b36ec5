"""Cached fast generation for the autoregressive image models (Ramachandran et al. 2017, "Fast Generation for
Convolutional Autoregressive Models"), driven by the models' incremental protocol.

An image is generated as a raster sequence of steps: sub-pixels R -> G -> B within a pixel, or whole pixels for a
head that models a pixel's channels jointly. The model says how one step is computed from what came before:

    model.init_cache(batch_size, labels=None) -> cache
    model.begin_row(pixel, row, cache) -> cache          # rows above `row` are final (optional: once-per-row work)
    model.call_with_cache(pixel, index, cache) -> (params, cache)

`pixel` (batch, channels) is the pixel that step `index - 1` wrote into, as it stands after that step (so at the
first channel of a pixel it is the finished previous pixel, at a later channel the current pixel's channels drawn so
far, zeros after them); `params` are the likelihood parameters of the pixel of step `index`. The layers that own the
weights compute their own one-pixel step (`MaskedConv2D.call_with_cache`, `GatedPixelBlock.row_with_cache` /
`call_with_cache`), keeping only the rows later pixels still need, so memory grows with the image width, never with
height x width x layers. The cache is any nest of tensors: row rings here, and equally a transformer's keys and
values or a video model's per-frame recurrent state.

`generate` is the one loop for every image model: it draws each step with the distribution's deterministic
`sample_from_noise` from noise drawn up front, so the same noise gives exactly the naive loop's samples, and it is
compiled once per backend by `kgen.samplers.compiled`.
"""

import numpy as np
from keras import ops

from kgen.samplers.naive import run_compiled


def dim(x, axis):
    """Size of `x` along `axis`: a Python int when known, else a scalar tensor (a batch traced as None)."""
    size = x.shape[axis]
    return ops.shape(x)[axis] if size is None else size


def is_static(value):
    """True for a Python int or bool (an eager loop's step, under torch), False for a traced tensor."""
    return isinstance(value, (bool, int, np.integer))


def same_dtypes(new, old):
    """`new` (a nested cache) with each tensor cast to the dtype of its counterpart in `old`: a loop's carry keeps
    its dtypes under mixed precision, where a layer's step returns its compute dtype (bfloat16) into a float32
    cache. Tensors that already match are returned as they are."""
    import keras

    def cast(n, o):
        return n if n.dtype == o.dtype else ops.cast(n, o.dtype)

    return keras.tree.map_structure(cast, new, old)


def previous_step(index):
    """max(index - 1, 0): the step whose value comes in with step `index` (0 itself at the start)."""
    return max(int(index) - 1, 0) if is_static(index) else ops.maximum(index - 1, 0)


def equals(value, target):
    """value == target: a Python bool for a Python-int value, a tensor otherwise."""
    return value == target if is_static(value) else ops.equal(value, target)


def select(condition, if_true, if_false):
    """`if_true` where `condition` holds, else `if_false`: a Python choice when `condition` is a Python bool (eager
    loops skip the tensor ops), `ops.where` otherwise."""
    if is_static(condition):
        return if_true if condition else if_false
    return ops.where(condition, if_true, if_false)


def step_position(model, index):
    """(row, col, channel) of step `index` (channel 0 for a joint-channel head, whose steps are whole pixels);
    Python ints for a Python-int step."""
    h, w, c = model.image_shape
    per_pixel = 1 if model.distribution.joint_channels else c
    if is_static(index):
        index = int(index)
    pixel = index // per_pixel
    return pixel // w, pixel % w, index % per_pixel


def generate(model, canvas, noise, start, labels):
    """Fill `canvas` (batch, H, W, C) step by step from the model's incremental protocol; steps before `start`
    keep the canvas values (they still pass through the model, to fill its cache). Traced code: call it inside a
    compiled function (`sample_loop`) or an export signature."""
    dist = model.distribution
    joint = dist.joint_channels
    channels = model.image_shape[-1]
    batch = dim(canvas, 0)
    channel_ids = ops.arange(channels, dtype="int32")[None, :]
    channel_masks = [ops.equal(channel_ids, ch) for ch in range(channels)]
    height, width = model.image_shape[:2]
    # The known values (before `start`, read but never written) and the noise, one row of pixels per image.
    given = ops.reshape(canvas, (-1, height * width, channels))
    noise = ops.reshape(noise, (-1, height * width) + tuple(noise.shape[3:]))

    steps_per_row = model.num_steps // height

    def step(index, carry):
        pixel, cache, canvas = carry
        params, new_cache = model.call_with_cache(pixel, index, cache)
        cache = same_dtypes(new_cache, cache)
        row, col, channel = step_position(model, index)
        drawn = dist.sample_from_noise(params, ops.take(noise, row * width + col, axis=1))
        chosen = ops.where(ops.less(index, start), ops.take(given, row * width + col, axis=1), drawn)
        if not joint:
            current = select(equals(channel, 0), ops.zeros_like(pixel), pixel)
            mask = channel_masks[channel] if is_static(channel) else ops.equal(channel_ids, channel)
            chosen = ops.where(mask, chosen, current)
        canvas = ops.slice_update(canvas, (0, row, col, 0), chosen[:, None, None, :])
        return chosen, cache, canvas

    def row_body(row, carry):
        pixel, cache, canvas = carry
        cache = same_dtypes(model.begin_row(pixel, row, cache), cache)  # rows above are final: the model's once-per-row work
        first = row * steps_per_row
        return ops.fori_loop(first, first + steps_per_row, step, (pixel, cache, canvas))

    pixel = ops.zeros((batch, channels), dtype="float32")
    cache = model.init_cache(batch, labels=labels if model.conditional else None)
    _, _, canvas = ops.fori_loop(0, height, row_body, (pixel, cache, canvas))
    return canvas


def sample_loop(model, noise, canvas, start=0, labels=None):
    """A batch of images with the model's cached generation (the naive loop's signature and results)."""
    return run_compiled(model, "cached", lambda c, n, s, y: generate(model, c, n, s, y), canvas, noise, start, labels,
                        small_ops=True)

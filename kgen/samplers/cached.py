"""Cached fast generation for the autoregressive image models (Ramachandran et al. 2017, "Fast Generation for
Convolutional Autoregressive Models"), driven by the models' incremental protocol.

An image is generated as a raster sequence of steps: sub-pixels R -> G -> B within a pixel, or whole pixels for a
head that models a pixel's channels jointly. The model says how one step is computed from what came before:

    model.init_cache(batch_size, labels=None) -> cache
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

from keras import ops

from kgen.samplers.naive import run_compiled


def dim(x, axis):
    """Size of `x` along `axis`: a Python int when known, else a scalar tensor (a batch traced as None)."""
    size = x.shape[axis]
    return ops.shape(x)[axis] if size is None else size


def step_position(model, index):
    """(row, col, channel) of step `index` (channel 0 for a joint-channel head, whose steps are whole pixels)."""
    h, w, c = model.image_shape
    per_pixel = 1 if model.distribution.joint_channels else c
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

    given = canvas  # the known values (before `start`), read but never written

    def body(index, carry):
        pixel, cache, canvas = carry
        params, cache = model.call_with_cache(pixel, index, cache)
        row, col, channel = step_position(model, index)
        known = ops.take(ops.take(given, row, axis=1), col, axis=1)
        drawn = dist.sample_from_noise(params, ops.take(ops.take(noise, row, axis=1), col, axis=1))
        chosen = ops.where(ops.less(index, start), known, drawn)
        if not joint:
            current = ops.where(ops.equal(channel, 0), ops.zeros_like(pixel), pixel)
            chosen = ops.where(ops.equal(channel_ids, channel), chosen, current)
        canvas = ops.slice_update(canvas, (0, row, col, 0), chosen[:, None, None, :])
        return chosen, cache, canvas

    pixel = ops.zeros((batch, channels), dtype="float32")
    cache = model.init_cache(batch, labels=labels if model.conditional else None)
    _, _, canvas = ops.fori_loop(0, model.num_steps, body, (pixel, cache, canvas))
    return canvas


def sample_loop(model, noise, canvas, start=0, labels=None):
    """A batch of images with the model's cached generation (the naive loop's signature and results)."""
    return run_compiled(model, "cached", lambda c, n, s, y: generate(model, c, n, s, y), canvas, noise, start, labels,
                        small_ops=True)

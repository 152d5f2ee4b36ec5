"""Pixel-by-pixel generation of the autoregressive image models: the naive reference loop and the cached one.

An image is generated as a raster sequence of steps: sub-pixels R -> G -> B within a pixel, or whole pixels for a
head that models a pixel's channels jointly (`model.steps_per_pixel`). Each step draws its values with the
distribution's deterministic `sample_from_noise` from noise drawn up front, so the two loops give exactly the same
images for the same noise.

- naive (`naive_loop`): re-run the whole network on the canvas for every step and keep what that step fills;
- cached (`cached_loop`; Ramachandran et al. 2017, "Fast Generation for Convolutional Autoregressive Models"): the
  model's incremental protocol (`kgen.models.KgenModel`), in keras-hub's order:

      model.init_cache(batch_size, **conditioning) -> cache
      model.begin_row(pixel, cache, row) -> cache           # rows above `row` are final (optional once-per-row work)
      model.call_with_cache(pixel, cache, index) -> (params, cache)

  `pixel` (batch, channels) is the pixel that step `index - 1` wrote into, as it stands after that step (at the
  first channel of a pixel the finished previous pixel, at a later channel the current pixel's channels drawn so
  far, zeros after them); `params` are the likelihood parameters of the pixel of step `index`. The layers that own
  the weights compute their own one-pixel step, keeping only the rows later pixels still need, so memory grows with
  the image width, never with height x width x layers.

Both loops are compiled once per model and backend (`kgen.samplers.compiled`).
"""

import numpy as np
from keras import ops

from kgen.layers.steps import dim, equals, is_static, raster_position, same_dtypes, select
from kgen.samplers.compiled import compiled


def step_positions(model):
    """(1, H, W, C) int32 tensor: the sampling step that fills each sub-pixel (joint heads fill a pixel at once)."""
    h, w, c = model.image_shape
    if model.distribution.joint_channels:
        steps = np.repeat(np.arange(h * w, dtype="int32").reshape(h, w, 1), c, axis=-1)
    else:
        steps = np.arange(h * w * c, dtype="int32").reshape(h, w, c)
    return ops.convert_to_tensor(steps[None])


def naive_body(model, noise, forward):
    """One step `i` of the naive loop: run the network (`forward(canvas) -> params`) on the canvas, sample
    everywhere, keep only what step `i` fills (also the body of an exported `sample` signature)."""
    positions = step_positions(model)

    def body(i, canvas):
        params = forward(canvas)
        drawn = model.distribution.sample_from_noise(params, noise)
        return ops.where(ops.equal(positions, i), drawn, canvas)

    return body


def cached_generate(model, canvas, noise, start, labels):
    """Fill `canvas` (batch, H, W, C) step by step from the model's incremental protocol; steps before `start`
    keep the canvas values (they still pass through the model, to fill its cache). Traced code: call it inside a
    compiled function (`cached_loop`) or an export signature."""
    dist = model.distribution
    joint = dist.joint_channels
    channels = model.image_shape[-1]
    batch = dim(canvas, 0)
    channel_ids = ops.arange(channels, dtype="int32")[None, :]
    channel_masks = [ops.equal(channel_ids, ch) for ch in range(channels)]
    height, width = model.image_shape[:2]
    per_pixel = model.steps_per_pixel
    # The known values (before `start`, read but never written) and the noise, one row of pixels per image.
    given = ops.reshape(canvas, (-1, height * width, channels))
    noise = ops.reshape(noise, (-1, height * width) + tuple(noise.shape[3:]))

    def step(index, carry):
        pixel, cache, canvas = carry
        params, new_cache = model.call_with_cache(pixel, cache, index)
        cache = same_dtypes(new_cache, cache)
        row, col, channel = raster_position(index, width, per_pixel)
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
        cache = same_dtypes(model.begin_row(pixel, cache, row), cache)  # rows above are final
        first = row * width * per_pixel
        return ops.fori_loop(first, first + width * per_pixel, step, (pixel, cache, canvas))

    pixel = ops.zeros((batch, channels), dtype="float32")
    cache = model.init_cache(batch, **conditioning(model, labels))
    _, _, canvas = ops.fori_loop(0, height, row_body, (pixel, cache, canvas))
    return canvas


def conditioning(model, labels):
    """The conditioning keyword arguments of an image model's `init_cache`: its class labels when it has them."""
    return {"labels": labels} if model.conditional else {}


def naive_loop(model, noise, canvas, start=0, labels=None):
    """Generate a batch of images with the naive loop.

    Args:
        model: an `AutoregressiveImageModel`.
        noise: numpy noise from `model.distribution.sample_noise` for the batch.
        canvas: numpy float32 (batch, H, W, C): known values before step `start`, anything after.
        start: the first sampling step (0: sample everything).
        labels: int class labels (batch,) for a conditional model.

    Returns:
        numpy float32 array of pixel levels, shape (batch,) + model.image_shape.
    """
    conditional = model.conditional

    def run(canvas, noise, start, labels):
        def forward(c):
            return model(model.model_inputs(c, labels if conditional else None), training=False)

        return ops.fori_loop(start, model.num_steps, naive_body(model, noise, forward), canvas)

    return _run_compiled(model, "naive", run, canvas, noise, start, labels)


def cached_loop(model, noise, canvas, start=0, labels=None):
    """A batch of images with the model's cached generation (`naive_loop`'s signature and results)."""
    return _run_compiled(model, "cached", lambda c, n, s, y: cached_generate(model, c, n, s, y), canvas, noise,
                         start, labels, small_ops=True)


LOOPS = {"naive": naive_loop, "cached": cached_loop}


def export_sample(model, num_samples, seed, labels=None):
    """The naive loop as traced TensorFlow code for an exported `sample` signature: float32 images (num_samples,
    H, W, C) from noise drawn with `tf.random.stateless_uniform` and `seed` (int32 (2,))."""
    import tensorflow as tf

    dist = model.distribution
    noise_shape = tf.concat([[num_samples], dist.noise_shape(tuple(model.image_shape))], axis=0)
    noise = dist.noise_from_uniform(tf.random.stateless_uniform(noise_shape, seed=seed))
    canvas = tf.zeros(tf.stack((num_samples,) + tuple(model.image_shape)), dtype=tf.float32)
    body = naive_body(model, noise, lambda c: model(model.model_inputs(c, labels), training=False))
    return ops.fori_loop(0, model.num_steps, body, canvas)


def _run_compiled(model, key, run, canvas, noise, start, labels, small_ops=False):
    """Call the compiled `run(canvas, noise, start, labels)` of a sampling loop on numpy inputs; numpy out.

    `run` is compiled once per model and `key` by `kgen.samplers.compiled.compiled` (`small_ops`: see there)."""
    fn = compiled(model, key, run, small_ops=small_ops)
    labels = np.zeros((len(canvas),), "int32") if labels is None else np.asarray(labels, "int32")
    out = fn(
        ops.convert_to_tensor(np.asarray(canvas, "float32")),
        ops.convert_to_tensor(noise),
        ops.convert_to_tensor(np.int32(start)),
        ops.convert_to_tensor(labels),
    )
    return ops.convert_to_numpy(out)

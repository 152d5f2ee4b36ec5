"""The reference sampler: re-run the whole network for every pixel, in one compiled loop per backend."""

import numpy as np
import keras
from keras import ops


def loop_body(model, noise, forward):
    """One step: run the network on the canvas, sample everywhere, keep only the sample at position `i`."""
    positions = ops.reshape(ops.arange(model.num_dims, dtype="int32"), (1,) + model.image_shape)

    def body(i, canvas):
        params = forward(canvas)
        drawn = model.distribution.sample_from_noise(params, noise)
        return ops.where(ops.equal(positions, i), drawn, canvas)

    return body


def _compiled_loop(model):
    """Return fn(canvas, noise) -> canvas that fills every position in raster order, compiled for the backend."""
    backend = keras.backend.backend()
    num_dims = model.num_dims
    key = ("naive", backend)
    if key in model._sampler_cache:
        return model._sampler_cache[key]

    def run(canvas, noise):
        body = loop_body(model, noise, lambda c: model(c, training=False))
        return ops.fori_loop(0, num_dims, body, canvas)

    if backend == "jax":
        import jax

        @jax.jit
        def run_jax(trainable, non_trainable, canvas, noise):
            def forward(c):
                return model.stateless_call(trainable, non_trainable, c, training=False)[0]

            return ops.fori_loop(0, num_dims, loop_body(model, noise, forward), canvas)

        def fn(canvas, noise):
            trainable = [v.value for v in model.trainable_variables]
            non_trainable = [v.value for v in model.non_trainable_variables]
            return run_jax(trainable, non_trainable, canvas, noise)

    elif backend == "tensorflow":
        import tensorflow as tf

        fn = tf.function(run, jit_compile=True, reduce_retracing=True)
    elif backend == "torch":
        import torch

        def fn(canvas, noise):
            with torch.no_grad():
                return run(canvas, noise)

    else:  # pragma: no cover - the other keras backends cannot train these models
        fn = run

    model._sampler_cache[key] = fn
    return fn


def sample_loop(model, noise):
    """Generate a batch of images pixel by pixel with the naive loop.

    Args:
        model: an `AutoregressiveImageModel`.
        noise: numpy noise from `model.distribution.sample_noise` for a batch of images.

    Returns:
        numpy float32 array of pixel levels, shape (batch,) + model.image_shape.
    """
    canvas = np.zeros((noise.shape[0],) + model.image_shape, dtype="float32")
    out = _compiled_loop(model)(ops.convert_to_tensor(canvas), ops.convert_to_tensor(noise))
    return ops.convert_to_numpy(out)

"""The reference sampler: re-run the whole network for every sampling step, in one compiled loop per backend
(`kgen.samplers.compiled`)."""

import numpy as np
from keras import ops

from kgen.samplers.compiled import compiled


def step_positions(model):
    """(1, H, W, C) int32 tensor: the sampling step that fills each sub-pixel (joint heads fill a pixel at once)."""
    h, w, c = model.image_shape
    if model.distribution.joint_channels:
        steps = np.repeat(np.arange(h * w, dtype="int32").reshape(h, w, 1), c, axis=-1)
    else:
        steps = np.arange(h * w * c, dtype="int32").reshape(h, w, c)
    return ops.convert_to_tensor(steps[None])


def loop_body(model, noise, forward):
    """One step `i`: run the network on the canvas, sample everywhere, keep only what step `i` fills."""
    positions = step_positions(model)

    def body(i, canvas):
        params = forward(canvas)
        drawn = model.distribution.sample_from_noise(params, noise)
        return ops.where(ops.equal(positions, i), drawn, canvas)

    return body


def sample_loop(model, noise, canvas, start=0, labels=None):
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

        return ops.fori_loop(start, model.num_steps, loop_body(model, noise, forward), canvas)

    return run_compiled(model, "naive", run, canvas, noise, start, labels)


def run_compiled(model, key, run, canvas, noise, start, labels, small_ops=False):
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

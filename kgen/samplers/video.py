"""Frame-by-frame, pixel-by-pixel generation of the autoregressive video models: the naive reference loop and the
cached one.

Each new frame is drawn pixel by pixel in raster order from noise drawn up front, with the model's deterministic
`sample_from_noise(logits, uniform)`, so the two loops give the same frames for the same noise:

- naive (`naive_frames`): re-run the whole model on the video so far for every pixel of every new frame;
- cached (`cached_frames`): the model's incremental protocol (`kgen.models.KgenModel`) with its frame hooks:

      condition, state = model.init_video_state(context)     # the context frames, all at once
      cache = model.init_cache(batch_size, condition=condition)  # before a frame's first pixel
      cache = model.begin_row(pixel, cache, row)                # rows above `row` are final
      logits, cache = model.call_with_cache(pixel, cache, index)  # pixel `index` of the frame, raster order
      condition, state = model.next_video_state(frame, state)  # after the frame is drawn

  `pixel` is the last pixel drawn (batch, channels); one compiled loop draws a frame.

Both are compiled once per model, batch (and, for the naive loop, video length) and backend
(`kgen.samplers.compiled`).
"""

import numpy as np
from keras import ops

from kgen.layers.steps import same_dtypes
from kgen.samplers.compiled import compiled


def naive_frames(model, context, noise):
    """Frames after `context` (float32 numpy (batch, frames, H, W, C)) with the naive loop, one per frame of `noise`
    (uniform (batch, new frames, H, W, C)): float32 numpy (batch, new frames, H, W, C) of levels 0 or 255."""
    h, w, c = model.frame_shape
    batch = len(context)
    video = np.concatenate([context, np.zeros((batch, noise.shape[1]) + model.frame_shape, "float32")], 1)

    def run(video, frame_noise, t):
        def body(index, video):
            row, col = index // w, index % w
            logits = model(video, training=False)[:, -1]  # the last frame's, from all the frames before it
            at = ops.reshape(ops.slice(logits, (0, row, col, 0), (batch, 1, 1, c)), (-1, c))
            u = ops.reshape(ops.slice(frame_noise, (0, row, col, 0), (batch, 1, 1, c)), (-1, c))
            return ops.slice_update(video, (0, t, row, col, 0), model.sample_from_noise(at, u)[:, None, None, None, :])

        return ops.fori_loop(0, h * w, body, video)

    for f in range(noise.shape[1]):
        t = context.shape[1] + f
        fn = compiled(model, ("video-naive", batch, t + 1), run)
        prefix = fn(ops.convert_to_tensor(video[:, : t + 1]), ops.convert_to_tensor(noise[:, f]), t)
        video[:, : t + 1] = ops.convert_to_numpy(prefix)
    return video[:, context.shape[1]:]


def cached_frames(model, context, noise):
    """`naive_frames`' signature and results, with the model's incremental protocol and frame hooks."""
    h, w, c = model.frame_shape
    batch = len(context)

    def run(condition, frame_noise):
        def step(index, carry):
            pixel, cache, frame = carry
            row, col = index // w, index % w
            logits, new_cache = model.call_with_cache(pixel, cache, index)
            cache = same_dtypes(new_cache, cache)
            u = ops.reshape(ops.slice(frame_noise, (0, row, col, 0), (batch, 1, 1, c)), (batch, c))
            pixel = model.sample_from_noise(logits, u)
            return pixel, cache, ops.slice_update(frame, (0, row, col, 0), pixel[:, None, None, :])

        def row_body(row, carry):
            pixel, cache, frame = carry
            cache = same_dtypes(model.begin_row(pixel, cache, row), cache)
            return ops.fori_loop(row * w, (row + 1) * w, step, (pixel, cache, frame))

        carry = (ops.zeros((batch, c)), model.init_cache(batch, condition=condition), ops.zeros((batch, h, w, c)))
        return ops.fori_loop(0, h, row_body, carry)[2]

    fn = compiled(model, ("video-cached", batch), run, small_ops=True)
    condition, state = model.init_video_state(ops.convert_to_tensor(context))
    frames = []
    for f in range(noise.shape[1]):
        frame = fn(condition, ops.convert_to_tensor(noise[:, f]))
        frames.append(ops.convert_to_numpy(frame))
        if f + 1 < noise.shape[1]:
            condition, state = model.next_video_state(frame, state)
    return np.stack(frames, axis=1)


LOOPS = {"naive": naive_frames, "cached": cached_frames}

"""Probability tables of the next symbol, one step at a time, for entropy coding (`kgen.compression`).

An entropy coder needs, before each symbol, the model's whole distribution over it; the decoder can only compute
that distribution once it has decoded every earlier symbol. So both sides run the same loop through the model's
incremental protocol (the one cached generation uses, `kgen.samplers.image` for images and
`kgen.samplers.sequence` for tokens):

    steps = model.coding_steps(batch_size, labels=..., features=...)
    previous = None
    for t in range(num_steps):
        probabilities = steps.next(previous)    # float64 (batch, num_levels): the symbols of step t
        previous = <the batch's symbols of step t>   # read from the data (encoder) or decoded (decoder)

The encoder feeds the symbols it reads, the decoder the symbols it decodes: both call the same compiled step
function on the same batch layout with the same inputs, so they compute bit for bit the same tables (on one
backend: the container records it). The step is compiled like the generation loops (`compiled`), one call per
symbol position: a compiled whole loop cannot stop between positions to let the decoder read a symbol. (Under
TensorFlow the step is a plain `tf.function` graph, not XLA: XLA would compile it again for every step index.)

`ImageSteps` walks an image in raster order, one step per sub-pixel (R -> G -> B), or one per pixel for a head that
models a pixel's channels jointly (then only one channel is supported: the joint table of 256**3 values would not
fit). `SequenceSteps` walks tokens left to right.
"""

import numpy as np
from keras import ops

from kgen.samplers.compiled import compiled


def _to_numpy_table(probabilities):
    return np.asarray(ops.convert_to_numpy(probabilities), dtype=np.float64)


def _backend_is_torch():
    import keras

    return keras.backend.backend() == "torch"


def _index_arg(index):
    """The step index as the compiled step takes it: a Python int under torch (its eager int fast paths), an int32
    scalar tensor elsewhere (one traced function for every step)."""
    return int(index) if _backend_is_torch() else ops.convert_to_tensor(np.int32(index))


def level_probabilities(distribution, params, channels):
    """Probability of every level, per channel, of one pixel: `params` (batch,) + param_shape((channels,)) ->
    (batch, channels, num_levels), for a head with independent sub-pixels; (batch, 1, num_levels) for a joint head
    of one channel."""
    num_levels = distribution.num_levels
    levels = ops.arange(num_levels, dtype="float32")
    batch = ops.shape(params)[0]
    tiled = ops.repeat(ops.expand_dims(params, 1), num_levels, axis=1)  # (batch, L, ...)
    x = ops.broadcast_to(ops.reshape(levels, (1, num_levels, 1)), (batch, num_levels, channels))
    log_p = ops.cast(distribution.log_prob_per_dim(x, tiled), "float32")  # (batch, L, C), or (batch, L) joint
    if distribution.joint_channels:
        log_p = ops.expand_dims(log_p, -1)
    return ops.exp(ops.transpose(log_p, (0, 2, 1)))


class ImageSteps:
    """The coding steps of a batch of images (see the module docstring); made by
    `AutoregressiveImageModel.coding_steps`."""

    def __init__(self, model, batch_size, labels=None):
        dist = model.distribution
        channels = model.image_shape[-1]
        if "cached" not in model.sampling_methods:
            raise ValueError(
                f"{type(model).__name__} has no incremental protocol (cached generation), so it cannot drive an "
                "entropy coder step by step."
            )
        if dist.joint_channels and channels != 1:
            raise ValueError(
                f"Compression with a joint-channel likelihood ({dist.name}) supports one channel, not {channels}: "
                f"its table over all {dist.num_levels}**{channels} pixel values is too large to code with."
            )
        self.model = model
        self.batch_size = int(batch_size)
        self.channels = channels
        self.num_levels = dist.num_levels
        self.num_steps = model.num_steps
        self.joint = dist.joint_channels
        self._cache = model.init_cache(self.batch_size, **({"labels": labels} if model.conditional else {}))
        self._pixel = np.zeros((self.batch_size, channels), dtype="float32")
        self._index = 0
        self._row_step = compiled(model, ("coding", "image", "row"), self._make_step(True), small_ops=True,
                                  tf_jit=False)
        self._step = compiled(model, ("coding", "image", "pixel"), self._make_step(False), small_ops=True,
                              tf_jit=False)

    def _make_step(self, begins_row):
        model, channels = self.model, self.channels
        width = model.image_shape[1]
        per_pixel = 1 if self.joint else channels

        def step(pixel, cache, index):
            if begins_row:
                cache = model.begin_row(pixel, cache, index // (width * per_pixel))
            params, cache = model.call_with_cache(pixel, cache, index)
            return level_probabilities(model.distribution, params, channels), cache

        return step

    def symbols(self, images):
        """Images (N, H, W, C) of levels -> int32 symbols (N, num_steps) in step order."""
        return np.asarray(images).reshape(len(images), -1).astype(np.int32)

    def data(self, symbols):
        """The inverse of `symbols`: uint8 images (N, H, W, C)."""
        return np.asarray(symbols).reshape((-1,) + tuple(self.model.image_shape)).astype(np.uint8)

    def next(self, previous):
        """The symbols of the last step (None before the first) -> the table of the next: float64 (batch, L)."""
        index = self._index
        if index >= self.num_steps:
            raise ValueError(f"All {self.num_steps} steps of this image batch are done.")
        if (previous is None) != (index == 0):
            raise ValueError("`previous` must be None at the first step and the last step's symbols after it.")
        if previous is not None:
            _, _, prev_channel = self.model.step_position(index - 1)
            if self.joint:
                self._pixel = np.asarray(previous, dtype="float32").reshape(self.batch_size, 1)
            else:
                if prev_channel == 0:
                    self._pixel = np.zeros_like(self._pixel)
                self._pixel[:, prev_channel] = previous
        _, col, channel = self.model.step_position(index)
        fn = self._row_step if col == 0 and channel == 0 else self._step
        tables, self._cache = fn(ops.convert_to_tensor(self._pixel), self._cache, _index_arg(index))
        self._index = index + 1
        return _to_numpy_table(tables)[:, channel]


class SequenceSteps:
    """The coding steps of a batch of token sequences (see the module docstring); made by
    `AutoregressiveSequenceModel.coding_steps`."""

    def __init__(self, model, batch_size, labels=None, features=None):
        if "cached" not in model.sampling_methods:
            raise ValueError(
                f"{type(model).__name__} has no incremental protocol (cached generation), so it cannot drive an "
                "entropy coder step by step."
            )
        self.model = model
        self.batch_size = int(batch_size)
        self.num_levels = model.num_levels
        self._cache = model.init_cache(self.batch_size, labels=labels, features=features)
        self._index = 0

        def step(previous, cache, index):
            logits, cache = model.call_with_cache(previous, cache, index)
            return ops.softmax(ops.cast(logits, "float32"), axis=-1), cache

        self._step = compiled(model, ("coding", "sequence"), step, small_ops=True, tf_jit=False)

    def symbols(self, tokens):
        return np.asarray(tokens).astype(np.int32)

    def data(self, symbols):
        return np.asarray(symbols).astype(np.int32)

    def next(self, previous):
        """The tokens of the last step (None before the first) -> the table of the next: float64 (batch, L)."""
        index = self._index
        if self.model.max_length is not None and index >= self.model.max_length:
            raise ValueError(f"This {type(self.model).__name__} takes at most {self.model.max_length} tokens.")
        if (previous is None) != (index == 0):
            raise ValueError("`previous` must be None at the first step and the last step's tokens after it.")
        prev = np.zeros(self.batch_size, np.int32) if previous is None else np.asarray(previous, np.int32)
        tables, self._cache = self._step(ops.convert_to_tensor(prev), self._cache, _index_arg(index))
        self._index = index + 1
        return _to_numpy_table(tables)

"""Stochastic binarisation of grey frames, for a video model that generates binary pixels: it shows the network in
training and evaluation the kind of frames it draws itself when it samples."""

import keras
import numpy as np
from keras import ops

from kgen.layers.config import ArgumentConfig, same_shape
from kgen.validation import check_int, check_layer_seed


#: Bounds on the fixed inference pattern (a config from elsewhere must not allocate without limit).
MAX_PATTERN_FRAMES = 1000
MAX_PATTERN_VALUES = 2**25


@keras.saving.register_keras_serializable(package="kgen")
class FrameBinarize(ArgumentConfig, keras.layers.Layer):
    """Each value p in [0, 1] of a video becomes 1 with probability p, else 0.

    In training the noise is fresh at every call (the layer's `keras.random.SeedGenerator`). At inference it is a
    fixed pattern, uniform noise drawn once with numpy from `pattern_seed` for `pattern_frames` frames and repeated
    along the time axis after that: evaluation is deterministic and the same on every backend. Values that are
    already 0 or 1 pass unchanged in both modes, so frames a model drew itself come through as they are.

    A model of grey levels read as Bernoulli probabilities (Moving MNIST's loss) that conditions on the grey frames
    never sees the binary pixels it draws when it generates; behind this layer it conditions on binary frames of the
    same distribution, while its loss keeps the grey targets (the expected loss is that of the binarised data).

    Args:
        pattern_frames: int >= 1, the frames of the fixed inference pattern before it repeats.
        pattern_seed: int >= 0, numpy seed of the inference pattern.
        seed: int or None, seed of the training noise.
        **kwargs: `name`, `dtype`, `trainable` for `keras.layers.Layer`.

    Call arguments:
        inputs: a tensor (batch, frames, ...) of values in [0, 1]; the sizes after the frame axis must be known.
        training: bool, fresh noise when True, the fixed pattern otherwise.

    Returns:
        A tensor of the input's shape and dtype holding 0s and 1s.
    """

    compute_output_shape = same_shape

    def __init__(self, pattern_frames=20, pattern_seed=0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.pattern_frames = check_int(pattern_frames, "pattern_frames", maximum=MAX_PATTERN_FRAMES,
                                        owner="FrameBinarize")
        self.pattern_seed = check_int(pattern_seed, "pattern_seed", minimum=0, owner="FrameBinarize")
        self.seed = check_layer_seed(seed, "FrameBinarize")

    def build(self, input_shape):
        frame = tuple(input_shape[2:])
        if len(input_shape) < 3 or any(d is None for d in frame):
            raise ValueError(f"FrameBinarize: inputs must be (batch, frames, ...) with known sizes after the frame "
                             f"axis, got shape {tuple(input_shape)}.")
        shape = (self.pattern_frames,) + frame
        if np.prod(shape, dtype=np.int64) > MAX_PATTERN_VALUES:
            raise ValueError(f"FrameBinarize: the inference pattern of `pattern_frames` = {self.pattern_frames} "
                             f"frames of {frame} would hold more than {MAX_PATTERN_VALUES:,} values.")
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self._pattern = np.random.default_rng(self.pattern_seed).random(shape, dtype=np.float32)

    def inference_pattern(self):
        """The fixed noise, (pattern_frames, ...) float32 in [0, 1), as numpy (after the layer is built)."""
        return self._pattern

    def call(self, inputs, training=False):
        if training:
            noise = keras.random.uniform(ops.shape(inputs), seed=self.seed_generator, dtype="float32")
        else:
            frames = ops.shape(inputs)[1]
            index = ops.mod(ops.arange(frames), self.pattern_frames)
            noise = ops.take(ops.convert_to_tensor(self.inference_pattern()), index, axis=0)[None]
        return ops.cast(ops.less(noise, ops.cast(inputs, "float32")), inputs.dtype)

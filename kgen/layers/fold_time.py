"""Folding a video's time axis into its batch axis and back, so per-frame layers see every frame at once."""

import keras
from keras import ops

from kgen.layers.config import ArgumentConfig


@keras.saving.register_keras_serializable(package="kgen")
class FoldTime(ArgumentConfig, keras.layers.Layer):
    """(batch, time, ...) -> (batch * time, ...), or back with a `reference` of the unfolded shape.

    The batch and time sizes may be unknown when the model is built (any batch, any number of frames): they are read
    from the tensors when the layer is called.

    Call arguments:
        inputs: (batch, time, ...) to fold, or (batch * time, ...) to unfold.
        reference: None to fold; to unfold, a (batch, time, ...) tensor whose first two sizes are used.

    Example:
    >>> frames = FoldTime()(video)                    # (batch * time, H, W, C)
    >>> features = FoldTime()(encoder(frames), video)   # (batch, time, H, W, features)
    """

    def call(self, inputs, reference=None):
        if reference is None:
            if len(inputs.shape) < 3:
                raise ValueError(f"FoldTime {self.name!r}: expected (batch, time, ...) inputs, got {inputs.shape}.")
            return ops.reshape(inputs, (-1,) + tuple(inputs.shape[2:]))
        shape = ops.shape(reference)
        return ops.reshape(inputs, (shape[0], shape[1]) + tuple(inputs.shape[1:]))

    def compute_output_shape(self, inputs_shape, reference_shape=None):
        if reference_shape is None:
            batch = None if None in inputs_shape[:2] else inputs_shape[0] * inputs_shape[1]
            return (batch,) + tuple(inputs_shape[2:])
        return tuple(reference_shape[:2]) + tuple(inputs_shape[1:])

"""The logits of a mixture of categorical distributions, with the mixture weights as a trainable vector: the head that
turns several next-token models into one."""

import math

import keras
import numpy as np
from keras import ops

from kgen.layers.config import ArgumentConfig
from kgen.validation import check_int

#: The most components a mixture takes (a config from elsewhere must not allocate without limit).
MAX_COMPONENTS = 16


def check_mixture_weights(weights, num_components, owner):
    """`weights`: None (equal) or `num_components` positive finite numbers; returned as a list of floats that sum
    to 1, or a ValueError naming `mixture_weights`."""
    if weights is None:
        return [1.0 / num_components] * num_components
    ok = isinstance(weights, (list, tuple)) and all(
        isinstance(w, (int, float, np.integer, np.floating)) and not isinstance(w, bool) for w in weights)
    if not ok or len(weights) != num_components or not all(math.isfinite(w) and w > 0 for w in weights):
        raise ValueError(f"{owner}: `mixture_weights` must be None (equal weights) or a list of {num_components} "
                         f"positive finite numbers (one per component), got {weights!r}.")
    total = float(sum(weights))
    return [float(w) / total for w in weights]


@keras.saving.register_keras_serializable(package="kgen")
class LogitMixture(ArgumentConfig, keras.layers.Layer):
    """Mixes K categorical distributions given as logits: log sum_k pi_k softmax(logits_k), as float32 logits.

    The mixture weights pi = softmax(w) come from a trainable vector w of K numbers, initialised to
    log(`mixture_weights`) (equal weights by default), so fitting the layer learns how much to trust each component;
    the output is a normalised log-distribution (its softmax is the mixture itself), usable as the logits of any
    loss or sampler. Every component's logits are taken in float32.

    Args:
        num_components: int K in 2..16, how many logits tensors the layer mixes.
        mixture_weights: None (1 / K each) or a list of K positive numbers (normalised to sum to 1), the initial
            mixture weights.
        **kwargs: `name`, `dtype`, `trainable` for `keras.layers.Layer`.

    Call arguments:
        inputs: a list of K tensors of one shape (..., num_classes), each the logits of a categorical distribution.

    Returns:
        A float32 tensor (..., num_classes) of log-probabilities.

    Example:
    >>> mix = LogitMixture(2, mixture_weights=[0.75, 0.25])
    >>> logits = mix([transformer_logits, bytenet_logits])

    Reference: Bishop, 2006, "Pattern Recognition and Machine Learning", section 9.2 (mixtures and their weights);
    the per-token mixture of language models is the classic interpolation of Jelinek and Mercer, 1980.
    """

    def __init__(self, num_components=2, mixture_weights=None, **kwargs):
        super().__init__(**kwargs)
        self.num_components = check_int(num_components, "num_components", minimum=2, maximum=MAX_COMPONENTS,
                                        owner="LogitMixture")
        self.mixture_weights = check_mixture_weights(mixture_weights, self.num_components, "LogitMixture")

    def build(self, input_shape):
        shapes = list(input_shape) if isinstance(input_shape, (list, tuple)) and input_shape and isinstance(
            input_shape[0], (list, tuple)) else None
        if shapes is None or len(shapes) != self.num_components:
            raise ValueError(f"LogitMixture: inputs must be a list of num_components = {self.num_components} logits "
                             f"tensors, got shapes {input_shape}.")
        if any(tuple(s)[-1:] != tuple(shapes[0])[-1:] or len(s) != len(shapes[0]) for s in shapes):
            raise ValueError(f"LogitMixture: every component's logits must have one shape (..., num_classes), got "
                             f"{[tuple(s) for s in shapes]}.")
        self.logits = self.add_weight(
            name="logits", shape=(self.num_components,),
            initializer=keras.initializers.Constant(np.log(self.mixture_weights)), dtype="float32")

    def weights_now(self):
        """The current mixture weights pi = softmax(w), as a numpy float64 array of K numbers that sum to 1."""
        w = np.asarray(ops.convert_to_numpy(self.logits), dtype=np.float64)
        e = np.exp(w - w.max())
        return e / e.sum()

    def call(self, inputs):
        log_pi = ops.log_softmax(ops.cast(self.logits, "float32"))
        parts = [ops.log_softmax(ops.cast(x, "float32"), axis=-1) + log_pi[k] for k, x in enumerate(inputs)]
        return ops.logsumexp(ops.stack(parts, axis=0), axis=0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

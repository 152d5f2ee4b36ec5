"""The ByteNet residual block: LayerNorm-ReLU bottleneck around a masked (causal) dilated 1-D convolution."""

import keras
from keras import ops

from kgen.layers.config import ArgumentConfig, same_shape
from kgen.layers.dilated_causal_conv1d import causal_pad, causal_receptive_field
from kgen.validation import check_fraction, check_int


@keras.saving.register_keras_serializable(package="kgen")
class ByteNetResidualBlock(ArgumentConfig, keras.layers.Layer):
    """One residual block of the ByteNet decoder (the language-modelling block of the paper, Figure 3 left).

    With `channels` = 2d and `bottleneck_channels` = d:

        y = x + 1x1_{d -> 2d}(ReLU(LN(conv_{1 x k, dilation}(ReLU(LN(1x1_{2d -> d}(ReLU(LN(x))))))))),

    where `conv` is a masked (causal) dilated convolution over time, type "B": output t reads the bottleneck
    activations at t - (k - 1) d, ..., t - d, t (left zero padding by `causal_pad`). LayerNorm (`LN`) normalizes
    over the channels of one time step (with a learned scale and offset), so everything but `conv` is pointwise in
    time.

    The pieces are shared with the step-by-step generator (`call_with_cache`): `pre` (LN -> ReLU ->
    1x1 -> LN -> ReLU, any leading shape), `conv` (the whole sequence) or `step_conv` (one step from its k taps),
    and `post` (LN -> ReLU -> 1x1, plus the residual). A generator keeps a queue of the last (k - 1) d outputs of
    `pre` and calls `post(x_t, step_conv(taps))`.

    Args:
        channels: int 2d, channels of the input and the output (the residual stream).
        bottleneck_channels: int d, channels of the masked convolution (default channels // 2).
        kernel_size: int k, taps of the masked convolution (3 in the paper's decoder).
        dilation_rate: int, spacing of the taps (1, 2, 4, 8, 16 repeated in the paper).
        epsilon: float, the variance epsilon of the three layer normalizations.
        kernel_initializer, bias_initializer: initializers of the 1x1 and masked convolution kernels and biases.
        dropout: float in [0, 1), dropout of the residual branch (before it is added to the input) in training.
        seed: int or None, the seed of the dropout.
        **kwargs: `keras.layers.Layer` arguments (name, dtype, trainable).

    Call arguments:
        inputs: (batch, time, channels); time may be None.

    Returns:
        (batch, time, channels): the input plus the block's update, step t computed from inputs
        t - (k - 1) * dilation_rate .. t only.

    Example:
    >>> block = ByteNetResidualBlock(512, kernel_size=3, dilation_rate=4)
    >>> y = block(keras.ops.ones((2, 100, 512)))  # y[:, t] depends on inputs t - 8 .. t
    >>> block.receptive_field
    9

    Reference: Kalchbrenner et al., 2016, "Neural Machine Translation in Linear Time", section 3 (Residual Blocks) and
    Figure 3 (left).
    """

    compute_output_shape = same_shape

    def __init__(
        self,
        channels,
        bottleneck_channels=None,
        kernel_size=3,
        dilation_rate=1,
        epsilon=1e-3,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "ByteNetResidualBlock"
        self.channels = check_int(channels, "channels", minimum=2 if bottleneck_channels is None else 1, owner=owner)
        self.bottleneck_channels = self.channels // 2 if bottleneck_channels is None else check_int(
            bottleneck_channels, "bottleneck_channels", owner=owner
        )
        self.kernel_size = check_int(kernel_size, "kernel_size", owner=owner)
        self.dilation_rate = check_int(dilation_rate, "dilation_rate", owner=owner)
        if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not epsilon > 0:
            raise ValueError(f"{owner}: `epsilon` must be a positive float, got {epsilon!r}.")
        self.epsilon = float(epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.dropout = check_fraction(dropout, "dropout", owner)
        self.seed = None if seed is None else check_int(seed, "seed", minimum=0, owner=owner)
        if self.dropout > 0:  # only then: a block without dropout keeps the variables of earlier saved files
            self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def receptive_field(self):
        """Input steps that reach one output: (kernel_size - 1) * dilation_rate + 1."""
        return causal_receptive_field(self.kernel_size, self.dilation_rate)

    def build(self, inputs_shape):
        if len(inputs_shape) != 3 or inputs_shape[-1] != self.channels:
            raise ValueError(
                f"ByteNetResidualBlock: `inputs` must be (batch, time, {self.channels}), got shape "
                f"{tuple(inputs_shape)}."
            )
        c, d, k = self.channels, self.bottleneck_channels, self.kernel_size

        def add(name, shape, init):
            return self.add_weight(name=name, shape=shape, initializer=init)

        kernel, bias = self.kernel_initializer, self.bias_initializer
        self.norm1_gamma, self.norm1_beta = add("norm1_gamma", (c,), "ones"), add("norm1_beta", (c,), "zeros")
        self.reduce_kernel, self.reduce_bias = add("reduce_kernel", (c, d), kernel), add("reduce_bias", (d,), bias)
        self.norm2_gamma, self.norm2_beta = add("norm2_gamma", (d,), "ones"), add("norm2_beta", (d,), "zeros")
        self.conv_kernel, self.conv_bias = add("conv_kernel", (k, d, d), kernel), add("conv_bias", (d,), bias)
        self.norm3_gamma, self.norm3_beta = add("norm3_gamma", (d,), "ones"), add("norm3_beta", (d,), "zeros")
        self.expand_kernel, self.expand_bias = add("expand_kernel", (d, c), kernel), add("expand_bias", (c,), bias)

    # --------------------------------------------------------------------------------- pieces (shared with the
    # step-by-step generator)
    def _norm_relu(self, x, gamma, beta):
        """ReLU(LayerNorm(x)) over the last axis, normalized in float32."""
        dtype = x.dtype
        x = ops.cast(x, "float32")
        mean = ops.mean(x, axis=-1, keepdims=True)
        variance = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
        y = (x - mean) * ops.rsqrt(variance + self.epsilon)
        y = y * ops.cast(gamma, "float32") + ops.cast(beta, "float32")
        return ops.cast(ops.relu(y), dtype)

    def pre(self, inputs):
        """LN -> ReLU -> 1x1 (channels -> bottleneck) -> LN -> ReLU: (..., channels) -> (..., bottleneck), the
        input of the masked convolution. Pointwise in time."""
        h = self._norm_relu(inputs, self.norm1_gamma, self.norm1_beta)
        h = ops.matmul(h, self.reduce_kernel) + self.reduce_bias
        return self._norm_relu(h, self.norm2_gamma, self.norm2_beta)

    def conv(self, h):
        """The masked dilated convolution of a whole sequence (batch, time, bottleneck), plus bias."""
        padded = causal_pad(h, self.kernel_size, self.dilation_rate, "B")
        out = ops.conv(padded, self.conv_kernel, strides=1, padding="valid", dilation_rate=self.dilation_rate)
        return out + self.conv_bias

    def step_conv(self, taps):
        """The same for one step from its k taps (batch, k, bottleneck), oldest first: (batch, bottleneck)."""
        return ops.einsum("bkc,kcf->bf", taps, self.conv_kernel) + self.conv_bias

    def post(self, inputs, conv_out, training=None):
        """inputs + 1x1 (bottleneck -> channels) of LN -> ReLU of the convolution's output, the branch dropped out
        in training when `dropout` > 0. Pointwise in time."""
        h = self._norm_relu(conv_out, self.norm3_gamma, self.norm3_beta)
        branch = ops.matmul(h, self.expand_kernel) + self.expand_bias
        if training and self.dropout > 0:
            branch = keras.random.dropout(branch, self.dropout, seed=self.seed_generator)
        return inputs + branch

    def call(self, inputs, training=None):
        return self.post(inputs, self.conv(self.pre(inputs)), training=training)

    # ------------------------------------------------------------------------------------------ one step at a time
    def init_cache(self, batch_size, dtype="float32"):
        """A queue of the masked convolution's last (k - 1) * d inputs (`kgen.layers.queues`)."""
        from kgen.layers.queues import init_queue

        return init_queue(batch_size, self.kernel_size, self.dilation_rate, self.bottleneck_channels, dtype)

    def call_with_cache(self, inputs, cache, index):
        """Step `index` only, from its input (batch, channels): `pre`, the masked convolution over the queued
        taps, `post`. Returns (outputs, cache)."""
        from kgen.layers.queues import queue_taps

        taps, cache = queue_taps(cache, index, self.pre(inputs), self.kernel_size, self.dilation_rate)
        return self.post(inputs, self.step_conv(taps)), cache

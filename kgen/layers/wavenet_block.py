"""The WaveNet residual block: a gated dilated causal convolution with residual and skip outputs."""

import keras
from keras import ops

from kgen.layers.config import ArgumentConfig
from kgen.layers.dilated_causal_conv1d import causal_pad, causal_receptive_field
from kgen.validation import check_int


@keras.saving.register_keras_serializable(package="kgen")
class WaveNetResidualBlock(ArgumentConfig, keras.layers.Layer):
    """One WaveNet layer: z = tanh(W_f * x + V_f h) . sigmoid(W_g * x + V_g h), then 1x1 residual and skip outputs.

    `*` is a dilated causal convolution (kernel `kernel_size`, dilation `dilation_rate`; output t reads inputs
    t - (k - 1) d .. t). The conditioning terms `V h` are added inside both gates: a global condition (batch, Cg)
    (a one-hot label or a speaker embedding) is projected once and broadcast over time; a local condition
    (batch, time, Cl) (features already upsampled to the sample rate) is projected by a 1x1 convolution. The
    block returns `(inputs + 1x1(z), 1x1_skip(z))`, or only the skip output with `return_residual=False` (the last
    block, whose residual output nothing reads: leaving it out leaves no weight without a gradient).

    The pieces (`preactivation`, `condition_terms`, `gate`, `outputs`) are shared with the cached generator
    (`call_with_cache`), which runs the same weights one step at a time.

    Args:
        residual_channels: int R, channels of the input and the residual output.
        gate_channels: int G, channels of each gate (the "dilation channels"; default R).
        skip_channels: int S, channels of the skip output (default R).
        kernel_size: int k of the dilated convolution (2 in WaveNet).
        dilation_rate: int d.
        return_residual: whether to compute and return the residual output.
        kernel_initializer, bias_initializer: initializers of every kernel and bias.
        **kwargs: `keras.layers.Layer` arguments (name, dtype, trainable).

    Call arguments:
        inputs: (batch, time, R).
        condition: optional (batch, Cg) global condition.
        local_condition: optional (batch, time, Cl) local condition at the sample rate.

    Returns:
        `(residual, skip)`: (batch, time, R) and (batch, time, S); only `skip` when `return_residual=False`.

    Example:
    >>> block = WaveNetResidualBlock(32, skip_channels=64, dilation_rate=8)
    >>> res, skip = block(keras.ops.ones((2, 100, 32)), condition=keras.ops.ones((2, 10)))

    Reference: van den Oord et al., 2016, "WaveNet: A Generative Model for Raw Audio", sections 2.3-2.5.
    """

    def __init__(
        self,
        residual_channels,
        gate_channels=None,
        skip_channels=None,
        kernel_size=2,
        dilation_rate=1,
        return_residual=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "WaveNetResidualBlock"
        self.residual_channels = check_int(residual_channels, "residual_channels", owner=owner)
        self.gate_channels = self.residual_channels if gate_channels is None else check_int(
            gate_channels, "gate_channels", owner=owner
        )
        self.skip_channels = self.residual_channels if skip_channels is None else check_int(
            skip_channels, "skip_channels", owner=owner
        )
        self.kernel_size = check_int(kernel_size, "kernel_size", owner=owner)
        self.dilation_rate = check_int(dilation_rate, "dilation_rate", owner=owner)
        if not isinstance(return_residual, bool):
            raise ValueError(f"{owner}: `return_residual` must be True or False, got {return_residual!r}.")
        self.return_residual = return_residual
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    @property
    def receptive_field(self):
        """Input steps that reach one output: (kernel_size - 1) * dilation_rate + 1."""
        return causal_receptive_field(self.kernel_size, self.dilation_rate)

    def build(self, inputs_shape, condition_shape=None, local_condition_shape=None):
        owner = "WaveNetResidualBlock"
        if len(inputs_shape) != 3 or inputs_shape[-1] != self.residual_channels:
            raise ValueError(
                f"{owner}: `inputs` must be (batch, time, {self.residual_channels}), got shape {tuple(inputs_shape)}."
            )
        if condition_shape is not None and (len(condition_shape) != 2 or condition_shape[-1] is None):
            raise ValueError(f"{owner}: `condition` must be (batch, channels), got shape {tuple(condition_shape)}.")
        if local_condition_shape is not None and (
            len(local_condition_shape) != 3 or local_condition_shape[-1] is None
        ):
            raise ValueError(
                f"{owner}: `local_condition` must be (batch, time, channels), got shape {tuple(local_condition_shape)}."
            )
        r, g, s, k = self.residual_channels, self.gate_channels, self.skip_channels, self.kernel_size

        def add(name, shape, bias=False):
            init = self.bias_initializer if bias else self.kernel_initializer
            return self.add_weight(name=name, shape=shape, initializer=init)

        self.kernel = add("kernel", (k, r, 2 * g))
        self.bias = add("bias", (2 * g,), bias=True)
        self.condition_kernel = add("condition_kernel", (condition_shape[-1], 2 * g)) if condition_shape else None
        self.local_kernel = add("local_kernel", (local_condition_shape[-1], 2 * g)) if local_condition_shape else None
        if self.return_residual:
            self.residual_kernel = add("residual_kernel", (g, r))
            self.residual_bias = add("residual_bias", (r,), bias=True)
        self.skip_kernel = add("skip_kernel", (g, s))
        self.skip_bias = add("skip_bias", (s,), bias=True)

    # --------------------------------------------------------------------------------- pieces (shared with the
    # step-by-step generator)
    def preactivation(self, inputs):
        """The dilated causal convolution of the whole sequence plus bias: (batch, time, 2G)."""
        padded = causal_pad(inputs, self.kernel_size, self.dilation_rate)
        return ops.conv(padded, self.kernel, strides=1, padding="valid", dilation_rate=self.dilation_rate) + self.bias

    def step_preactivation(self, taps):
        """The same for one step from its k taps (batch, k, R), oldest first: (batch, 2G)."""
        return ops.einsum("bkr,krg->bg", taps, self.kernel) + self.bias

    def condition_terms(self, condition=None, local_condition=None):
        """V h added inside the gates: (batch, 1, 2G) for a global condition, (batch, time, 2G) for a local one
        (their sum when both are given), or None. For one step pass local_condition as (batch, 1, Cl)."""
        terms = None
        if condition is not None:
            if self.condition_kernel is None:
                raise ValueError("WaveNetResidualBlock: built without `condition`, called with one.")
            terms = ops.matmul(condition, self.condition_kernel)[:, None, :]
        if local_condition is not None:
            if self.local_kernel is None:
                raise ValueError("WaveNetResidualBlock: built without `local_condition`, called with one.")
            local = ops.matmul(local_condition, self.local_kernel)
            terms = local if terms is None else terms + local
        return terms

    def gate(self, z):
        """tanh(filter) * sigmoid(gate) of pre-activations (..., 2G) -> (..., G)."""
        filt, gate = ops.split(z, 2, axis=-1)
        return ops.tanh(filt) * ops.sigmoid(gate)

    def outputs(self, inputs, gated):
        """The residual output (inputs + 1x1) and the skip output (1x1) of the gated activations."""
        skip = ops.matmul(gated, self.skip_kernel) + self.skip_bias
        if not self.return_residual:
            return skip
        return inputs + ops.matmul(gated, self.residual_kernel) + self.residual_bias, skip

    # ------------------------------------------------------------------------------------------ one step at a time
    def init_cache(self, batch_size, dtype="float32"):
        """A queue of the block's last (k - 1) * d inputs (`kgen.layers.queues`), for `call_with_cache`."""
        from kgen.layers.queues import init_queue

        return init_queue(batch_size, self.kernel_size, self.dilation_rate, self.kernel.shape[1], dtype)

    def call_with_cache(self, inputs, cache, index, condition_terms=None, local_condition=None):
        """Step `index` only: `inputs` (batch, R) its input; `condition_terms` (batch, 2G) the global terms
        (`condition_terms(condition)[:, 0]`, computed once per sequence); `local_condition` (batch, 1, Cl) the
        local features of this step. Returns (`call`'s outputs for the step, cache)."""
        from kgen.layers.queues import queue_taps

        taps, cache = queue_taps(cache, index, inputs, self.kernel_size, self.dilation_rate)
        z = self.step_preactivation(taps)
        if condition_terms is not None:
            z = z + condition_terms
        if local_condition is not None:
            z = z + self.condition_terms(local_condition=local_condition)[:, 0]
        return self.outputs(inputs, self.gate(z)), cache

    def call(self, inputs, condition=None, local_condition=None):
        z = self.preactivation(inputs)
        terms = self.condition_terms(condition, local_condition)
        if terms is not None:
            z = z + terms
        return self.outputs(inputs, self.gate(z))

    def compute_output_shape(self, inputs_shape, condition_shape=None, local_condition_shape=None):
        skip = tuple(inputs_shape[:-1]) + (self.skip_channels,)
        return (tuple(inputs_shape), skip) if self.return_residual else skip

"""One residual block of the Sparse Transformer: pre-normalised sparse attention and feed-forward branches."""

import keras
from keras import layers, ops

from kgen.layers.config import ArgumentConfig, same_shape
from kgen.layers.sparse_attention import SparseAttention
from kgen.validation import check_bool, check_float, check_fraction, check_int


def quick_gelu(x):
    """f(x) = x * sigmoid(1.702 x), the Sparse Transformer's approximation of the GELU."""
    return x * ops.sigmoid(1.702 * x)


def residual_output_initializer(num_layers):
    """Glorot-uniform scaled by 1 / sqrt(2 N) (variance by 1 / (2 N)): the output projections of the residual
    branches of an N-block network, so the residual stream keeps its scale with depth (paper section 5.3)."""
    return keras.initializers.VarianceScaling(scale=1.0 / (2 * num_layers), mode="fan_avg", distribution="uniform")


@keras.saving.register_keras_serializable(package="kgen")
class SparseTransformerBlock(ArgumentConfig, keras.layers.Layer):
    """H -> H + drop(attn(LN(H))), then -> H + drop(ff(LN(H))), with ff(x) = W2 f(W1 x + b1) + b2, f = quick GELU.

    Dropout acts only at the end of each residual branch. The attention is a `SparseAttention` (its pattern and head
    integration pass through); the branches' output projections (the attention's and W2) start scaled by
    1 / sqrt(2 N) for N = `num_layers` blocks in the network.

    Args:
        num_heads, key_dim, block_size, pattern, integration, summary_size, interleave_step: of the
            `SparseAttention` (key_dim defaults to width // num_heads).
        feedforward_dim: int, width of the hidden feed-forward layer (default 4 x the input width).
        dropout: float in [0, 1), dropout at the end of both residual branches.
        num_layers: int N, blocks in the network, for the initialisation scale.
        epsilon: float, the layer normalisations' epsilon.
        recompute: bool, recompute the block in the backward pass instead of keeping its activations (Keras
            rematerialisation: jax.checkpoint, tf.recompute_grad, torch.utils.checkpoint).
        seed: int or None, the seed of the dropout masks.
        **kwargs: `keras.layers.Layer` arguments (name, dtype, trainable).

    Call arguments:
        inputs: (batch, time, width); time may be None.
        training: bool, dropout on or off.

    Returns:
        (batch, time, width); step t depends on inputs 0 .. t only.

    `call_with_cache(x, cache, index)` computes one position (batch, width) with the attention's key/value cache
    (`init_cache(batch_size, max_length)`).

    Reference: Child, Gray, Radford & Sutskever, 2019, "Generating Long Sequences with Sparse Transformers",
    sections 5.2-5.3.
    """

    compute_output_shape = same_shape

    def __init__(
        self,
        num_heads,
        block_size,
        key_dim=None,
        pattern="strided",
        integration="merged",
        summary_size=None,
        interleave_step=0,
        feedforward_dim=None,
        dropout=0.0,
        num_layers=1,
        epsilon=1e-5,
        recompute=False,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = "SparseTransformerBlock"
        self.num_heads = check_int(num_heads, "num_heads", owner=owner)
        self.block_size = check_int(block_size, "block_size", owner=owner)
        self.key_dim = None if key_dim is None else check_int(key_dim, "key_dim", owner=owner)
        self.pattern = pattern
        self.integration = integration
        self.summary_size = summary_size
        self.interleave_step = interleave_step
        self.feedforward_dim = None if feedforward_dim is None else check_int(feedforward_dim, "feedforward_dim",
                                                                              owner=owner)
        self.dropout = check_fraction(dropout, "dropout", owner)
        self.num_layers = check_int(num_layers, "num_layers", owner=owner)
        self.epsilon = check_float(epsilon, "epsilon", owner)
        self.recompute = check_bool(recompute, "recompute")
        self.seed = None if seed is None else check_int(seed, "seed", minimum=0, owner=owner)
        self.seed_generator = keras.random.SeedGenerator(seed)
        # Bad attention arguments fail here, not at build (the attention layer itself is made there, with the width).
        self._attention_kwargs(1)

    def _attention_kwargs(self, key_dim, output_dim=None):
        kwargs = dict(num_heads=self.num_heads, key_dim=key_dim, block_size=self.block_size, pattern=self.pattern,
                      integration=self.integration, summary_size=self.summary_size,
                      interleave_step=self.interleave_step, output_dim=output_dim)
        SparseAttention(**kwargs)  # checks them
        return kwargs

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"SparseTransformerBlock: inputs must be (batch, time, width) with a known width, got {input_shape}."
            )
        width = int(input_shape[-1])
        key_dim = self.key_dim or width // self.num_heads
        if key_dim < 1:
            raise ValueError(f"SparseTransformerBlock: the width ({width}) is smaller than `num_heads`.")
        self.attention = SparseAttention(
            **self._attention_kwargs(key_dim, width),
            output_initializer=residual_output_initializer(self.num_layers), name="attention",
        )
        self.attention_norm = layers.LayerNormalization(epsilon=self.epsilon, name="attention_norm")
        self.feedforward_norm = layers.LayerNormalization(epsilon=self.epsilon, name="feedforward_norm")
        self.expand = layers.Dense(self.feedforward_dim or 4 * width, name="expand")
        self.contract = layers.Dense(width, kernel_initializer=residual_output_initializer(self.num_layers),
                                     name="contract")
        for layer, shape in ((self.attention_norm, input_shape), (self.attention, input_shape),
                             (self.feedforward_norm, input_shape), (self.expand, input_shape)):
            layer.build(shape)
        self.contract.build(tuple(input_shape[:-1]) + (self.feedforward_dim or 4 * width,))

    def feedforward(self, x):
        return self.contract(quick_gelu(self.expand(self.feedforward_norm(x))))

    def call(self, inputs, training=None):
        # The dropout masks are drawn here, outside the (possibly recomputed) branches, so that a recomputation in
        # the backward pass sees the same masks.
        masks = ()
        if training and self.dropout > 0:
            keep = 1.0 - self.dropout
            masks = tuple(
                ops.cast(keras.random.uniform(ops.shape(inputs), seed=self.seed_generator) < keep, inputs.dtype) / keep
                for _ in range(2)
            )
        branches = keras.remat(self.branches) if self.recompute else self.branches
        return branches(inputs, *masks)

    def branches(self, inputs, attention_mask=None, feedforward_mask=None):
        """Both residual branches, dropout given as masks (scaled by 1 / keep) or not at all; positional
        arguments only, as TensorFlow's rematerialisation wants."""
        attended = self.attention(self.attention_norm(inputs))
        x = inputs + (attended if attention_mask is None else attended * attention_mask)
        fed = self.feedforward(x)
        return x + (fed if feedforward_mask is None else fed * feedforward_mask)

    def init_cache(self, batch_size, max_length):
        return self.attention.init_cache(batch_size, max_length)

    def call_with_cache(self, inputs, cache, index):
        """One position (batch, width) at `index`: (output (batch, width), cache)."""
        attended, cache = self.attention.call_with_cache(self.attention_norm(inputs), cache, index)
        x = ops.add(inputs, attended)  # ops.add promotes (bfloat16 branches and a float32 step under mixed precision)
        return ops.add(x, self.feedforward(x)), cache

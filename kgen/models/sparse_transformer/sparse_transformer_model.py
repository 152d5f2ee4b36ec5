"""The Sparse Transformer (Child, Gray, Radford & Sutskever, 2019, "Generating Long Sequences with Sparse
Transformers"): a decoder-only transformer whose attention reads factorised sparse patterns, for text (bytes) and for
images read as raster sequences of sub-pixels."""

import math

import keras
import numpy as np
from keras import layers, ops

from kgen.layers.shifted_token_embedding import ShiftedTokenEmbedding
from kgen.layers.sparse_attention import INTEGRATIONS, PATTERNS
from kgen.layers.sparse_transformer_block import SparseTransformerBlock
from kgen.models import image_base
from kgen.models.image_base import AutoregressiveImageModel, check_model_kwargs
from kgen.models.sequence_base import AutoregressiveSequenceModel, check_sample_rate
from kgen.validation import check_bool, check_int


def check_trunk_args(owner, hidden_dim, num_layers, num_heads, block_size, pattern, integration, summary_size,
                     feedforward_dim, dropout, recompute):
    """The transformer's arguments, checked (the attention's own checks run when the blocks are built)."""
    args = dict(
        hidden_dim=check_int(hidden_dim, "hidden_dim", owner=owner),
        num_layers=check_int(num_layers, "num_layers", owner=owner),
        num_heads=check_int(num_heads, "num_heads", owner=owner),
        block_size=check_int(block_size, "block_size", owner=owner),
        pattern=pattern, integration=integration,
        summary_size=None if summary_size is None else check_int(summary_size, "summary_size", owner=owner),
        feedforward_dim=None if feedforward_dim is None else check_int(feedforward_dim, "feedforward_dim", owner=owner),
        dropout=dropout, recompute=check_bool(recompute, "recompute"),
    )
    if pattern not in PATTERNS:
        raise ValueError(f"{owner}: `pattern` must be one of {', '.join(map(repr, PATTERNS))}, got {pattern!r}.")
    if integration not in INTEGRATIONS:
        raise ValueError(
            f"{owner}: `integration` must be one of {', '.join(map(repr, INTEGRATIONS))}, got {integration!r}."
        )
    if pattern != "dense" and args["num_layers"] < 2:
        raise ValueError(
            f"{owner}: a sparse pattern needs `num_layers` >= 2 (one layer of A1 and A2 does not connect every earlier "
            f"position to every later one), got {num_layers}."
        )
    if args["hidden_dim"] % args["num_heads"]:
        raise ValueError(f"{owner}: `hidden_dim` ({hidden_dim}) must be divisible by `num_heads` ({num_heads}).")
    return args


def transformer_trunk(x, steps, num_layers, num_heads, block_size, pattern, integration, summary_size,
                      feedforward_dim, dropout, recompute, **unused):
    """The residual blocks (block i interleaves with step i) and the output normalisation over the embedded
    sequence `x`; the layers go into `steps` for the one-position computation. With `recompute`, each block is
    recomputed in the backward pass (Keras' rematerialisation: jax.checkpoint, tf.recompute_grad,
    torch.utils.checkpoint) instead of keeping its activations."""
    steps["blocks"] = []
    for i in range(num_layers):
        block = SparseTransformerBlock(
            num_heads, block_size, pattern=pattern, integration=integration, summary_size=summary_size,
            interleave_step=i, feedforward_dim=feedforward_dim, dropout=dropout, num_layers=num_layers,
            recompute=recompute, name=f"block{i}",
        )
        x = block(x)
        steps["blocks"].append(block)
    steps["norm"] = layers.LayerNormalization(epsilon=1e-5, name="output_norm")
    return steps["norm"](x)


def trunk_with_cache(steps, x, cache, index):
    """The blocks and the output normalisation at one position: (features (batch, hidden_dim), cache)."""
    new_cache = []
    for block, block_cache in zip(steps["blocks"], cache):
        x, block_cache = block.call_with_cache(x, block_cache, index)
        new_cache.append(block_cache)
    return steps["norm"](x), tuple(new_cache)


@keras.saving.register_keras_serializable(package="kgen")
class SparseTransformer(AutoregressiveSequenceModel):
    """A decoder-only Sparse Transformer over tokens (bytes by default): a language model in O(n sqrt n) memory.

    Architecture (paper section 5): the embedding of the previous token plus a learned factorised position
    embedding (the row and column of position t in a matrix of width `block_size`), then `num_layers`
    pre-activation residual blocks H + drop(attn(LN(H))), then + drop(ff(LN(.))), ff(x) = W2 f(W1 x) with
    f(x) = x sigmoid(1.702 x) and W1 4x wide, each attention a `SparseAttention` with the factorised `pattern`
    ("fixed" or "strided"; "dense" for the full reference) whose heads read A1 and A2 as `integration` says
    ("interleaved": block i reads A1 when i is even and A2 when odd); then LN and float32 logits, which start at 0.
    Residual output projections start scaled by 1 / sqrt(2N); dropout only at the end of each residual branch;
    `recompute=True` recomputes each block in the backward pass (Keras rematerialisation) to save memory.

    Generation is cached by default: the incremental protocol keeps each layer's keys and values (a cache laid out in
    blocks of `block_size`) and every new token attends only to the cached keys its pattern reads.

    Args:
        num_levels: int, vocabulary (256 bytes, from keras-nlp's `ByteTokenizer`).
        max_length: int, the longest sequence (the position table and the generation cache).
        hidden_dim: int d, the width of the residual stream.
        num_layers: int N, residual blocks (>= 2 for a sparse pattern).
        num_heads: int, attention heads per block (hidden_dim / num_heads wide each).
        block_size: int l, the stride of the patterns (about sqrt(max_length)).
        pattern: "fixed", "strided" or "dense".
        integration: "interleaved", "merged" or "multihead".
        summary_size: int c, summary positions per block of the fixed pattern (default max(1, l // 16)).
        feedforward_dim: int, the feed-forward width (default 4d).
        dropout: float in [0, 1), at the end of each residual branch.
        recompute: bool, rematerialise each block in the backward pass.
        sample_rate: int or None, samples per second when the tokens are mu-law audio samples (recorded in the
            config: WAV samples at that rate), None for text and other tokens.
        **kwargs: `name`, `trainable`, `dtype` for `keras.Model`.

    Example:
    >>> model = SparseTransformer(max_length=256, hidden_dim=128, num_layers=4, block_size=16)
    >>> model.compile(optimizer="adam")
    >>> model.fit(kgen.data.load("tinyshakespeare", "train", sequence_length=256), epochs=1)
    >>> model.generate_text("ROMEO:", 100, sampler="top_p", seed=0)
    """

    def __init__(self, num_levels=256, max_length=1024, hidden_dim=256, num_layers=8, num_heads=4, block_size=32,
                 pattern="fixed", integration="interleaved", summary_size=None, feedforward_dim=None, dropout=0.0,
                 recompute=False, sample_rate=None, **kwargs):
        owner = "SparseTransformer"
        check_model_kwargs(kwargs, owner)
        sample_rate = check_sample_rate(sample_rate, owner)
        num_levels = check_int(num_levels, "num_levels", minimum=2, owner=owner)
        max_length = check_int(max_length, "max_length", minimum=2, owner=owner)
        trunk = check_trunk_args(owner, hidden_dim, num_layers, num_heads, block_size, pattern, integration,
                                 summary_size, feedforward_dim, dropout, recompute)

        # === Functional model ===
        tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
        rows = -(-max_length // trunk["block_size"])
        steps = {"embedding": ShiftedTokenEmbedding(num_levels, trunk["hidden_dim"], [rows, trunk["block_size"]],
                                                    name="embedding")}
        x = transformer_trunk(steps["embedding"](tokens), steps, **trunk)
        steps["logits"] = layers.Dense(num_levels, kernel_initializer="zeros", name="logits", dtype="float32")
        super().__init__(inputs=tokens, outputs=steps["logits"](x), **kwargs)
        object.__setattr__(self, "_steps", steps)  # plain references: the layers are tracked through the graph

        # === Config (returned by get_config) ===
        self._record_config(num_levels=num_levels, max_length=max_length, **trunk, sample_rate=sample_rate)
        self.max_length = max_length  # the base's attribute (None there: any length)
        self._setup_sequence(num_levels)

    @property
    def receptive_field(self):
        """Every earlier token, up to `max_length` (two layers of a sparse pattern connect every pair)."""
        return math.inf

    # ------------------------------------------------------------------------------------------ incremental protocol
    def init_cache(self, batch_size, labels=None, features=None):
        return tuple(block.init_cache(batch_size, self.max_length) for block in self._steps["blocks"])

    def call_with_cache(self, previous, cache, index):
        """The logits of token `index` from token index - 1 (`previous`; ignored at step 0)."""
        x, _ = self._steps["embedding"].call_with_cache(previous, None, index)
        x, cache = trunk_with_cache(self._steps, x, cache, index)
        return self._steps["logits"](x), cache


@keras.saving.register_keras_serializable(package="kgen")
class SparseTransformerImage(AutoregressiveImageModel):
    """The Sparse Transformer over images read as raster sequences of sub-pixels (R -> G -> B within a pixel).

    The same network as `SparseTransformer` (see there), with each sub-pixel level a token, positions embedded by
    (row, column, channel), and a likelihood head per sub-pixel: "bernoulli" (binary images, e.g. binarized MNIST as
    784 binary tokens) or "categorical" (num_levels levels). A head that models a pixel's channels jointly (the
    logistic mixture) does not fit a sub-pixel sequence and is refused. Generation is cached by default: one
    position per sub-pixel, each attending to the cached keys its pattern reads. The transformer's arguments are
    those of `SparseTransformer` (the sequence is height x width x channels long).

    Args:
        image_shape: (height, width, channels).
        likelihood: "bernoulli" or "categorical".
        num_levels: pixel levels of a categorical head.
        num_mixtures: None (in the config of every image model; no head here has mixtures).
    """

    def __init__(self, image_shape=(28, 28, 1), likelihood="bernoulli", num_levels=None, num_mixtures=None,
                 hidden_dim=256, num_layers=8, num_heads=4, block_size=28, pattern="fixed", integration="interleaved",
                 summary_size=None, feedforward_dim=None, dropout=0.0, recompute=False, **kwargs):
        owner = "SparseTransformerImage"
        image_shape, distribution, _ = image_base.check_image_model_args(owner, kwargs, image_shape, likelihood,
                                                                   num_levels, num_mixtures)
        if distribution.joint_channels:
            raise ValueError(
                f"{owner}: `likelihood` {likelihood!r} models a pixel's channels jointly; the Sparse Transformer "
                "generates one sub-pixel per step: use 'bernoulli' or 'categorical'."
            )
        trunk = check_trunk_args(owner, hidden_dim, num_layers, num_heads, block_size, pattern, integration,
                                 summary_size, feedforward_dim, dropout, recompute)
        channels = image_shape[-1]
        per_token = distribution.params_per_pixel(channels) // channels

        # === Functional model ===
        images = keras.Input(shape=image_shape, name="images")
        steps = {"embedding": ShiftedTokenEmbedding(distribution.num_levels, trunk["hidden_dim"], list(image_shape),
                                                    name="embedding")}
        x = transformer_trunk(steps["embedding"](images), steps, **trunk)
        steps["logits"] = layers.Dense(per_token, kernel_initializer="zeros", name="logits", dtype="float32")
        params = layers.Reshape(distribution.param_shape(image_shape), name="params", dtype="float32")(steps["logits"](x))
        super().__init__(inputs=images, outputs=params, **kwargs)
        object.__setattr__(self, "_steps", steps)

        # === Config (returned by get_config) ===
        self._record_config(image_shape=image_shape, **image_base.likelihood_config(distribution), **trunk)
        self._setup_generative(image_shape, distribution)

    sampling_methods = ("cached", "naive")

    @property
    def sequence_length(self):
        return int(np.prod(self.image_shape))

    # ------------------------------------------------------------------------------------------ incremental protocol
    def init_cache(self, batch_size, labels=None):
        return tuple(block.init_cache(batch_size, self.sequence_length) for block in self._steps["blocks"])

    def call_with_cache(self, pixel, cache, index):
        """The parameters of the sub-pixel of step `index` (repeated over the pixel's channels, of which the
        driver reads that one) from the sub-pixel step index - 1 drew, which `pixel` holds."""
        channels = self.image_shape[-1]
        if channels == 1:
            previous = pixel[:, 0]
        else:
            from kgen.layers.steps import previous_step

            previous = ops.take(pixel, previous_step(index) % channels, axis=1)
        x, _ = self._steps["embedding"].call_with_cache(previous, None, index)
        x, cache = trunk_with_cache(self._steps, x, cache, index)
        params = self._steps["logits"](x)  # (batch, params of one sub-pixel)
        params = ops.repeat(params[:, None], channels, axis=1)
        return ops.reshape(params, (-1,) + tuple(self.distribution.param_shape((channels,)))), cache


def sparse_transformer(**kwargs):
    """The "sparse_transformer" architecture: `SparseTransformerImage` when `image_shape` is given, else the token
    model `SparseTransformer`."""
    if kwargs.get("image_shape") is not None:
        return SparseTransformerImage(**kwargs)
    kwargs.pop("image_shape", None)
    return SparseTransformer(**kwargs)

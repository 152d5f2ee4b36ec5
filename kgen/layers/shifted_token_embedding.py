"""The input of an autoregressive transformer: the previous token's embedding plus a factorised position embedding."""

import math

import keras
import numpy as np
from keras import ops

from kgen.layers.config import ArgumentConfig
from kgen.validation import check_int


@keras.saving.register_keras_serializable(package="kgen")
class ShiftedTokenEmbedding(ArgumentConfig, keras.layers.Layer):
    """Position t gets the embedding of token t - 1 (a learned start vector at t = 0) plus a learned position
    embedding factorised over `position_shape`: with t = (p_1, ..., p_k) in that mixed radix (the last factor
    fastest), the sum E_1[p_1] + ... + E_k[p_k].

    So the output at t holds nothing of token t: a causal network on top predicts token t from the tokens before
    it. `position_shape` is (rows, block_size) for text laid out in rows of the attention's block size, and
    (height, width, channels) for images read as raster sequences of sub-pixels (the Sparse Transformer's
    factorised position embeddings). Token and position tables start from N(0, (0.125 / sqrt(output_dim))^2)
    (paper section 5.3).

    Args:
        num_tokens: int, the vocabulary (token ids 0 .. num_tokens - 1; id num_tokens is the start vector).
        output_dim: int, the embedding width.
        position_shape: ints, the factors of the position; their product is the longest sequence.
        **kwargs: `keras.layers.Layer` arguments (name, dtype, trainable).

    Call arguments:
        tokens: int tokens (batch, time) with time <= prod(position_shape), or (batch, *position_shape) (read in
            raster order).

    Returns:
        (batch, time, output_dim).

    `call_with_cache(previous, cache, index)` gives the one position `index` (batch, output_dim) from token index - 1
    (`previous`, ignored at index 0).
    """

    def __init__(self, num_tokens, output_dim, position_shape, **kwargs):
        super().__init__(**kwargs)
        owner = "ShiftedTokenEmbedding"
        self.num_tokens = check_int(num_tokens, "num_tokens", owner=owner)
        self.output_dim = check_int(output_dim, "output_dim", owner=owner)
        if (not isinstance(position_shape, (list, tuple)) or not position_shape
                or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 1
                           for d in position_shape)):
            raise ValueError(
                f"{owner}: `position_shape` must be a non-empty list of positive ints, got {position_shape!r}."
            )
        shape = [int(d) for d in position_shape]
        self.position_shape = shape
        self.max_length = int(np.prod(shape))

    def build(self, input_shape):
        init = keras.initializers.RandomNormal(stddev=0.125 / math.sqrt(self.output_dim))
        self.token_table = self.add_weight(name="token_table", shape=(self.num_tokens + 1, self.output_dim),
                                           initializer=init)
        self.position_tables = [
            self.add_weight(name=f"position_table_{i}", shape=(size, self.output_dim), initializer=init)
            for i, size in enumerate(self.position_shape)
        ]

    def compute_output_shape(self, input_shape):
        time = None if any(d is None for d in input_shape[1:]) else int(np.prod(input_shape[1:]))
        return (input_shape[0], time, self.output_dim)

    def position_embedding(self, positions):
        """The factorised embedding of int positions (any shape) -> positions.shape + (output_dim,)."""
        out, stride = 0.0, 1
        for size, table in zip(reversed(self.position_shape), reversed(self.position_tables)):
            out = out + ops.take(table, (positions // stride) % size, axis=0)
            stride *= size
        return out

    def call(self, tokens):
        tokens = ops.cast(tokens, "int32")
        if len(tokens.shape) > 2:
            tokens = ops.reshape(tokens, (-1, int(np.prod(tokens.shape[1:]))))
        start = ops.full_like(tokens[:, :1], self.num_tokens)
        previous = ops.concatenate([start, tokens[:, :-1]], axis=1)
        time = tokens.shape[1] if tokens.shape[1] is not None else ops.shape(tokens)[1]
        x = ops.take(self.token_table, previous, axis=0)
        return x + self.position_embedding(ops.arange(time, dtype="int32"))[None]

    def call_with_cache(self, inputs, cache, index):
        """The embedding of position `index` from `inputs`, the token at index - 1 (batch,) (the start token at
        index 0); returns (embedding (batch, hidden_dim), cache): the layer keeps no state, `cache` (any value,
        e.g. None) comes back as it is."""
        token = ops.where(ops.equal(index, 0), self.num_tokens, ops.cast(inputs, "int32"))
        x = ops.take(self.token_table, token, axis=0) + self.position_embedding(ops.convert_to_tensor(index, "int32"))
        return x, cache

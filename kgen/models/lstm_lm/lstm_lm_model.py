"""An LSTM byte-level language model: the recurrent baseline the ByteNet decoder is compared with."""

import math

import keras
from keras import layers, ops

from kgen.models.kgen_model import check_model_kwargs
from kgen.models.sequence_base import AutoregressiveSequenceModel, check_sample_rate
from kgen.validation import check_int


@keras.saving.register_keras_serializable(package="kgen")
class LSTMLanguageModel(AutoregressiveSequenceModel):
    """A stack of `keras.layers.LSTM`s over embedded tokens, predicting each token from the ones before it.

    Architecture: tokens (batch, time) -> `Embedding(num_levels, embedding_dim)` -> shifted right by one step
    (`ZeroPadding1D((1, 0))` then `Cropping1D((0, 1))`: step t sees the embedding of token t - 1, a zero vector at
    step 0) -> `num_layers` x `LSTM(units, return_sequences=True)` -> `Dense(num_levels)` float32 logits.

    Every earlier token reaches a prediction (the `receptive_field` is unbounded). Generation is cached by default:
    the generator carries each layer's (h, c) state and runs the layers' own `LSTMCell`s one step per token, with
    exactly the tokens of the naive loop (which re-runs the whole sequence for every token).

    Args:
        num_levels: int, vocabulary (256 bytes).
        units: int, LSTM units per layer.
        num_layers: int, stacked LSTM layers.
        embedding_dim: int, width of the token embedding (default `units`).
        sample_rate: int or None, samples per second when the tokens are mu-law audio samples (recorded in the
            config: WAV samples at that rate), None for text and other tokens.
        **kwargs: `name`, `trainable`, `dtype` for `keras.Model`.

    Example:
    >>> model = LSTMLanguageModel(units=340, num_layers=2)
    >>> model.compile(optimizer="adam")
    >>> model.fit(kgen.data.load("tinyshakespeare", "train", sequence_length=256), epochs=1)
    >>> model.generate_text("ROMEO:", 100, sampler="top_k", seed=0)

    Reference: Graves, 2013, "Generating Sequences With Recurrent Neural Networks" (character-level LSTM language
    models); Hochreiter & Schmidhuber, 1997, "Long Short-Term Memory".
    """

    def __init__(self, num_levels=256, units=512, num_layers=2, embedding_dim=None, sample_rate=None, **kwargs):
        owner = "LSTMLanguageModel"
        check_model_kwargs(kwargs, owner)
        sample_rate = check_sample_rate(sample_rate, owner)
        num_levels = check_int(num_levels, "num_levels", minimum=2, owner=owner)
        units = check_int(units, "units", owner=owner)
        num_layers = check_int(num_layers, "num_layers", owner=owner)
        embedding_dim = units if embedding_dim is None else check_int(embedding_dim, "embedding_dim", owner=owner)

        # === Functional model ===
        tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
        steps = {  # the layers in order, for the one-step computation of `call_with_cache`
            "embedding": layers.Embedding(num_levels, embedding_dim, name="embedding"),
            "lstm": [layers.LSTM(units, return_sequences=True, name=f"lstm{i}") for i in range(num_layers)],
            "logits": layers.Dense(num_levels, name="logits", dtype="float32"),
        }
        x = steps["embedding"](tokens)
        x = layers.ZeroPadding1D((1, 0), name="shift_pad")(x)  # step t reads token t - 1 ...
        x = layers.Cropping1D((0, 1), name="shift_crop")(x)  # ... and the sequence keeps its length
        for lstm in steps["lstm"]:
            x = lstm(x)
        logits = steps["logits"](x)
        super().__init__(inputs=tokens, outputs=logits, **kwargs)
        object.__setattr__(self, "_steps", steps)  # plain references: the layers are tracked through the graph

        # === Config (returned by get_config) ===
        self._record_config(num_levels=num_levels, units=units, num_layers=num_layers,
            embedding_dim=embedding_dim, sample_rate=sample_rate)
        self._setup_sequence(num_levels)

    @property
    def receptive_field(self):
        """Unbounded: every earlier token reaches a prediction through the recurrent state. `math.inf`, so a
        causality check expects every t - s >= 1 (pass it an explicit length) and nothing can use it as a size."""
        return math.inf

    # ------------------------------------------------------------------------------------------ incremental protocol
    # The cache is the (h, c) state of every layer; a step runs each layer's own `LSTMCell` on one time step, so the
    # state is 2 x num_layers x units floats per sequence, whatever the length generated.
    def init_cache(self, batch_size, labels=None, features=None):
        return tuple((ops.zeros((batch_size, self.units)), ops.zeros((batch_size, self.units))) for _ in self._cells)

    def call_with_cache(self, previous, cache, index):
        """The logits of token `index` from token index - 1 (a zero vector at step 0, as the shift in the graph)."""
        x = ops.cast(self._steps["embedding"](previous), "float32") * ops.cast(index > 0, "float32")
        states = []
        for cell, (h, c) in zip(self._cells, cache):
            x, (h, c) = cell(x, [h, c], training=False)
            states.append((h, c))
        return self._steps["logits"](x), tuple(states)

    @property
    def _cells(self):
        return [layer.cell for layer in self._steps["lstm"]]

"""The LSTM language model family (registers "lstm_lm" and its presets from presets.toml)."""

from kgen import zoo
from kgen.models.lstm_lm.lstm_lm_model import LSTMLanguageModel

zoo.register_family(__name__, {
    "lstm_lm": (
        LSTMLanguageModel,
        "LSTM language model: stacked keras.layers.LSTM over embedded tokens (the recurrent baseline of ByteNet), "
        "with cached generation that carries the (h, c) states",
    ),
})

__all__ = ["LSTMLanguageModel"]

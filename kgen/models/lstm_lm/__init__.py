"""The LSTM language-model family (the recurrent baseline of ByteNet)."""

from kgen.models.lstm_lm.lstm_lm_model import LSTMLanguageModel

__all__ = ["LSTMLanguageModel"]

"""Registered names of the LSTM language-model family."""

from kgen.models.lstm_lm.lstm_lm_model import LSTMLanguageModel
from kgen.zoo import register_model, register_preset


@register_model(
    "lstm_lm",
    description="LSTM language model: stacked keras.layers.LSTM over embedded tokens (the recurrent baseline of "
    "ByteNet), with fast generation that carries the (h, c) states",
)
def lstm_lm(**kwargs):
    """LSTMLanguageModel with any keyword of `kgen.models.LSTMLanguageModel` (defaults: 256 levels, 2 layers of
    512 units)."""
    return LSTMLanguageModel(**kwargs)


register_preset(
    "lstm_lm.shakespeare",
    "lstm_lm",
    description="Tiny Shakespeare bytes, the baseline of bytenet.shakespeare at a similar size: 2 LSTM layers of "
    "340 units, embedding 340; 2,026,656 parameters (bytenet.shakespeare: 2,072,064), unbounded receptive field",
    num_levels=256,
    units=340,
    num_layers=2,
)
register_preset(
    "lstm_lm.tiny",
    "lstm_lm",
    description="test size: 256 bytes, 1 LSTM layer of 8 units",
    num_levels=256,
    units=8,
    num_layers=1,
)

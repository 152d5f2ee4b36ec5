"""The PixelRNN family (registers "pixelrnn_row" and "pixelrnn_diagonal" and their presets from presets.toml).

The paper's best binarized-MNIST model is a Diagonal BiLSTM of 7 layers with h=16 (its MNIST table); the Row LSTM
entry of that table does not state its size, so the Row LSTM preset uses the same 7 x h=16 for a like-for-like pair.
"""

from kgen import zoo
from kgen.models.pixelrnn.pixelrnn_model import PixelRNN, pixelrnn_builder

zoo.register_family(__name__, {
    "pixelrnn_row": (
        pixelrnn_builder("row"),
        "PixelRNN with Row LSTM layers (van den Oord et al. 2016): triangular context",
    ),
    "pixelrnn_diagonal": (
        pixelrnn_builder("diagonal"),
        "PixelRNN with Diagonal BiLSTM layers (van den Oord et al. 2016): full context",
    ),
})

__all__ = ["PixelRNN"]

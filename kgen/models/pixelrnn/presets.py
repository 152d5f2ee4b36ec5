"""Registered names of the PixelRNN family: `pixelrnn_row` (Row LSTM) and `pixelrnn_diagonal` (Diagonal BiLSTM)."""

from kgen.models.pixelrnn.pixelrnn_model import PixelRNN
from kgen.zoo import register_model, register_preset


def _with_layer_type(layer_type, kwargs):
    given = kwargs.pop("layer_type", layer_type)
    if given != layer_type:
        raise ValueError(
            f"pixelrnn_{layer_type}: `layer_type` is fixed to {layer_type!r} by the name, got {given!r}; "
            f"use 'pixelrnn_{given}' instead."
        )
    return PixelRNN(layer_type=layer_type, **kwargs)


@register_model(
    "pixelrnn_row", description="PixelRNN with Row LSTM layers (van den Oord et al. 2016): triangular context"
)
def pixelrnn_row(**kwargs):
    """PixelRNN with Row LSTM layers and any other keyword of `kgen.models.PixelRNN` (defaults: binarized MNIST,
    2h=32, 7 layers, k=3)."""
    return _with_layer_type("row", kwargs)


@register_model(
    "pixelrnn_diagonal", description="PixelRNN with Diagonal BiLSTM layers (van den Oord et al. 2016): full context"
)
def pixelrnn_diagonal(**kwargs):
    """PixelRNN with Diagonal BiLSTM layers and any other keyword of `kgen.models.PixelRNN` (defaults: binarized
    MNIST, 2h=32, 7 layers)."""
    return _with_layer_type("diagonal", kwargs)


# The paper's best binarized-MNIST model is a Diagonal BiLSTM of 7 layers with h=16 (its MNIST table); the Row LSTM
# entry of that table does not state its size, so the Row LSTM preset uses the same 7 x h=16 for a like-for-like pair.
register_preset(
    "pixelrnn_row.mnist",
    "pixelrnn_row",
    description="binarized MNIST: 7x7 type-A input, 7 Row LSTM layers of h=16 (k=3) in a 2h=32 residual stream, "
    "two 1x1 layers of 32, Bernoulli (the paper's MNIST size, 7 layers x h=16)",
    image_shape=(28, 28, 1),
    hidden_dim=32,
    num_layers=7,
    output_dim=32,
    kernel_size=3,
    likelihood="bernoulli",
)
register_preset(
    "pixelrnn_diagonal.mnist",
    "pixelrnn_diagonal",
    description="binarized MNIST: 7x7 type-A input, 7 Diagonal BiLSTM layers of h=16 in a 2h=32 residual stream, "
    "two 1x1 layers of 32, Bernoulli (the paper's best MNIST model, 7 layers x h=16)",
    image_shape=(28, 28, 1),
    hidden_dim=32,
    num_layers=7,
    output_dim=32,
    likelihood="bernoulli",
)
register_preset(
    "pixelrnn_row.tiny",
    "pixelrnn_row",
    description="test size: 8x8 binary images, 2 Row LSTM layers of h=4, 5x5 first layer",
    image_shape=(8, 8, 1),
    hidden_dim=8,
    num_layers=2,
    output_dim=8,
    first_kernel_size=5,
    likelihood="bernoulli",
)
register_preset(
    "pixelrnn_diagonal.tiny",
    "pixelrnn_diagonal",
    description="test size: 8x8 binary images, 2 Diagonal BiLSTM layers of h=4, 5x5 first layer",
    image_shape=(8, 8, 1),
    hidden_dim=8,
    num_layers=2,
    output_dim=8,
    first_kernel_size=5,
    likelihood="bernoulli",
)

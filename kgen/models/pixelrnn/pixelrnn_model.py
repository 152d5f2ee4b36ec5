"""PixelRNN (van den Oord et al., 2016, "Pixel Recurrent Neural Networks", sections 3.1-3.4)."""

import numpy as np
import keras
from keras import layers, ops

from kgen.layers.diagonal_bilstm import DiagonalBiLSTM
from kgen.layers.masked_conv2d import MaskedConv2D
from kgen.layers.row_lstm import RowLSTM
from kgen.models import image_base
from kgen.layers.masked_conv2d import causal_offsets, conv_inputs
from kgen.validation import check_int

LAYER_TYPES = ("row", "diagonal")


# ------------------------------------------------------------------------------------------- receptive fields
# Each function maps a boolean (H, W) map of pixels at a layer's output to the map of input pixels that reach them
# (the current pixel counted as reachable through type-B masks). Paths that would leave the image read zero
# padding or zero states and are not counted.


def _shift_cols(row, d):
    """row shifted so out[x] = row[x + d] (zeros from outside)."""
    out = np.zeros_like(row)
    w = len(row)
    if d >= 0:
        out[: w - d] = row[d:]
    else:
        out[-d:] = row[: w + d]
    return out


def row_lstm_inputs(reach, kernel_size):
    """Input pixels of a type-B `RowLSTM`: the states reached go up one row and k // 2 columns either way per
    step (state-to-state), then each reached state reads its pixel and k // 2 pixels to its left (input-to-state)."""
    r = kernel_size // 2
    states = reach.copy()
    for y in range(states.shape[0] - 1, 0, -1):
        states[y - 1] |= np.any([_shift_cols(states[y], d) for d in range(-r, r + 1)], axis=0)
    return np.any([np.stack([_shift_cols(row, d) for row in states]) for d in range(0, r + 1)], axis=0)


def diagonal_bilstm_inputs(reach):
    """Input pixels of a type-B `DiagonalBiLSTM`: the left-to-right states reach every pixel above-left
    (i' <= i, j' <= j); the right-to-left states, shifted down one row, every pixel (i' <= i - 1, j' >= j)."""
    up = np.flip(np.logical_or.accumulate(np.flip(reach, 0), axis=0), 0)  # any reached pixel at or below
    up_left = np.flip(np.logical_or.accumulate(np.flip(up, 1), axis=1), 1)  # ... at or to the right
    shifted = np.zeros_like(reach)
    shifted[:-1] = reach[1:]  # the state one row up feeds the output
    up = np.flip(np.logical_or.accumulate(np.flip(shifted, 0), axis=0), 0)
    up_right = np.logical_or.accumulate(up, axis=1)  # ... at or to the left
    return up_left | up_right


def pixelrnn_receptive_field(
    layer_type, num_layers, height, width, first_kernel_size=7, kernel_size=3, channel_groups=1
):
    """Exact (H*W, H*W) pixel dependencies of a PixelRNN: a type-A convolution, then `num_layers` residual
    recurrent layers (the identity path included); the 1x1 layers are pixel-local.

    With one channel group the type-A input layer hides each pixel from its own position, so pixel (i - 1, W - 1),
    the last of the row above, enters the network only at positions (i, >= W - 1 - first_kernel_size // 2): no later
    layer can bring it to the pixels of row i further left. With colour groups the G and B features at a position
    already hold the earlier channels of that pixel, so at the pixel level that gap closes.
    """
    n = height * width
    field = np.zeros((n, n), dtype=bool)
    first = causal_offsets(first_kernel_size, "A") + ([(0, 0)] if channel_groups > 1 else [])
    for t in range(n):
        reach = np.zeros((height, width), dtype=bool)
        reach[t // width, t % width] = True
        for _ in range(num_layers):
            layer = row_lstm_inputs(reach, kernel_size) if layer_type == "row" else diagonal_bilstm_inputs(reach)
            reach = reach | layer
        field[t] = conv_inputs(reach, first).reshape(-1)
    np.fill_diagonal(field, False)  # a pixel's own earlier channels are the within-pixel order, not its context
    return field


# ------------------------------------------------------------------------------------------- model
@keras.saving.register_keras_serializable(package="kgen")
class PixelRNN(image_base.AutoregressiveImageModel):
    """PixelRNN: residual stacks of Row LSTM or Diagonal BiLSTM layers that model p(x) pixel by pixel.

    Architecture (paper sections 3.1-3.4, figure 5, table 1): a 7x7 type-A masked convolution to `hidden_dim`
    (2h) channels; `num_layers` residual blocks, each a recurrent layer of h units (`RowLSTM` with k x 1
    convolutions, or `DiagonalBiLSTM`; type-B masks) followed by a 1x1 type-B convolution back to 2h, added to the
    block input; then ReLU -> 1x1 type B (`output_dim`) -> ReLU -> 1x1 type B to the parameters of the likelihood
    head. For RGB images every masked layer and both LSTMs use R -> G -> B channel groups.

    The Row LSTM sees a triangle above each pixel (k // 2 more columns each side per row up, widened by the first
    layer); the Diagonal BiLSTM sees every earlier pixel. `dependencies` gives the exact pattern, which the
    causality test checks.

    Args:
        image_shape: (height, width, channels), channels 1 or 3.
        layer_type: "row" (Row LSTM) or "diagonal" (Diagonal BiLSTM).
        hidden_dim: int, 2h, the residual stream width; each recurrent layer has h = hidden_dim // 2 units (for RGB
            h must be divisible by 3).
        num_layers: int, number of recurrent layers.
        output_dim: int, width of the 1x1 output layers (default `hidden_dim`).
        first_kernel_size: odd int, the type-A input layer (7 in the paper).
        kernel_size: odd int k of the Row LSTM's convolutions (3 in the paper, the default); must be None for
            "diagonal", whose kernels are fixed (1x1 input-to-state, 2x1 state-to-state).
        likelihood: "bernoulli" (binary images), "categorical" or "logistic_mixture" (PixelCNN++'s discretized
            logistic mixture, which models a pixel's channels jointly).
        num_levels: levels per sub-pixel for "categorical" and "logistic_mixture" (256 for 8-bit images).
        num_mixtures: mixture components for "logistic_mixture" (default 5).
        **kwargs: `name`, `trainable`, `dtype` for `keras.Model`.

    Example:
    >>> model = PixelRNN(image_shape=(28, 28, 1), layer_type="diagonal", hidden_dim=32, num_layers=7)
    >>> model.compile(optimizer="adam")
    >>> images = model.sample(4, seed=0)
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        layer_type="diagonal",
        hidden_dim=32,
        num_layers=7,
        output_dim=None,
        first_kernel_size=7,
        kernel_size=None,
        likelihood="bernoulli",
        num_levels=None,
        num_mixtures=None,
        **kwargs,
    ):
        image_shape, distribution, groups = image_base.check_image_model_args(
            "PixelRNN", kwargs, image_shape, likelihood, num_levels, num_mixtures
        )
        if layer_type not in LAYER_TYPES:
            raise ValueError(f"PixelRNN: `layer_type` must be 'row' or 'diagonal', got {layer_type!r}.")
        num_layers = check_int(num_layers, "num_layers", minimum=0, owner="PixelRNN")
        if layer_type == "row":
            kernel_size = 3 if kernel_size is None else check_int(kernel_size, "kernel_size", odd=True,
                                                                  owner="PixelRNN")
        elif kernel_size is not None:
            raise ValueError(
                f"PixelRNN: `kernel_size` applies to layer_type='row' only (the Diagonal BiLSTM's kernels are fixed), "
                f"got kernel_size={kernel_size!r} with layer_type='diagonal'."
            )
        hidden_dim, output_dim, first_kernel_size = image_base.check_residual_args(
            "PixelRNN", hidden_dim, output_dim, first_kernel_size, groups
        )
        units = hidden_dim // 2

        # === Functional model ===
        steps = {"blocks": []}  # the layers in order, for the one-pixel steps of `call_with_cache`
        images, x = image_base.masked_input_stem(image_shape, distribution, hidden_dim, first_kernel_size, groups, steps)
        for i in range(num_layers):
            if layer_type == "row":
                lstm = RowLSTM(units, kernel_size, "B", channel_groups=groups, name=f"layer{i}_lstm")
            else:
                lstm = DiagonalBiLSTM(units, "B", channel_groups=groups, name=f"layer{i}_lstm")
            expand = MaskedConv2D(hidden_dim, 1, "B", channel_groups=groups, name=f"layer{i}_expand")
            x = layers.Add(name=f"layer{i}_add")([x, expand(lstm(x))])
            steps["blocks"].append((lstm, expand))
        params = image_base.output_head(x, distribution, image_shape, output_dim, groups, steps)
        super().__init__(inputs=images, outputs=params, **kwargs)
        object.__setattr__(self, "_steps", steps)  # plain references: the layers are tracked through the graph

        # === Config (returned by get_config) ===
        self._record_config(image_shape=image_shape, layer_type=layer_type, hidden_dim=hidden_dim,
            num_layers=num_layers, output_dim=output_dim, first_kernel_size=first_kernel_size,
            kernel_size=kernel_size, **image_base.likelihood_config(distribution))
        self._setup_generative(image_shape, distribution)

    sampling_methods = ("cached", "naive")

    # ------------------------------------------------------------------------------------------ incremental protocol
    # Per layer the recurrent layer's cache (`RowLSTM.init_cache`: the current row's inputs, the row above's
    # state-to-state terms and cells, the current row's states; `DiagonalBiLSTM.init_cache`: the current row's inputs
    # and left-to-right states, the row above's states of both directions) and its 1x1 expansion; the type-A input
    # convolution keeps its last k // 2 + 1 input rows. Memory grows with the width, not the height.
    def init_cache(self, batch_size, labels=None):
        width = self.image_shape[1]
        stem, blocks, head = self._steps["stem"], self._steps["blocks"], self._steps["head"]
        return {
            "stem": stem.init_cache(batch_size, width),
            "blocks": [(lstm.init_cache(batch_size, width, stem.filters), expand.init_cache(batch_size, width))
                       for lstm, expand in blocks],
            "head": [layer.init_cache(batch_size, width) for layer in head],
        }

    def begin_row(self, pixel, cache, row):
        """Row `row` starts: the last pixel drawn (the end of the row above) goes into the input layer's current
        row, the input layer moves its rows up one, and every recurrent layer takes the finished row's states as the
        row above (the Diagonal BiLSTM also sweeps the finished row right to left)."""
        return {
            "stem": image_base.stem_begin_row(self, pixel, cache["stem"], row),
            "blocks": [(lstm.begin_row(c_lstm, row), c_expand)
                       for (lstm, _), (c_lstm, c_expand) in zip(self._steps["blocks"], cache["blocks"])],
            "head": cache["head"],
        }

    def call_with_cache(self, pixel, cache, index):
        """Every layer once at the pixel of step `index` (see `kgen.samplers.image`)."""
        x, stem_cache, col = image_base.stem_with_cache(self, pixel, cache["stem"], index)
        block_caches = []
        for (lstm, expand), (c_lstm, c_expand) in zip(self._steps["blocks"], cache["blocks"]):
            h, c_lstm = lstm.call_with_cache(x, c_lstm, col)
            y, c_expand = expand.call_with_cache(h, c_expand, col)
            x = x + y
            block_caches.append((c_lstm, c_expand))
        x, head_cache = image_base.head_with_cache(self._steps, x, cache["head"], col)
        params = ops.reshape(x, (-1,) + tuple(self.distribution.param_shape((self.image_shape[-1],))))
        return params, {"stem": stem_cache, "blocks": block_caches, "head": head_cache}

    def dependencies(self, height, width):
        groups = image_base.channel_groups_for(self.distribution, self.image_shape[-1])
        return pixelrnn_receptive_field(
            self.layer_type, self.num_layers, height, width, self.first_kernel_size, self.kernel_size or 3, groups
        )


def pixelrnn_builder(layer_type):
    """A registry builder for PixelRNN with `layer_type` fixed by the architecture name ("pixelrnn_row",
    "pixelrnn_diagonal"); any other keyword of `PixelRNN` passes through."""

    def build(**kwargs):
        given = kwargs.pop("layer_type", layer_type)
        if given != layer_type:
            raise ValueError(
                f"pixelrnn_{layer_type}: `layer_type` is fixed to {layer_type!r} by the name, got {given!r}; "
                f"use 'pixelrnn_{given}' instead."
            )
        return PixelRNN(layer_type=layer_type, **kwargs)

    build.__name__ = f"pixelrnn_{layer_type}"
    return build

"""Reusable Keras layers, one per file."""

from kgen.layers.gated_pixel_block import GatedPixelBlock
from kgen.layers.masked_conv2d import MaskedConv2D, causal_conv_mask
from kgen.layers.row_lstm import RowLSTM
from kgen.layers.diagonal_bilstm import DiagonalBiLSTM

__all__ = [
    "DiagonalBiLSTM",
    "GatedPixelBlock",
    "MaskedConv2D",
    "RowLSTM",
    "causal_conv_mask",
]

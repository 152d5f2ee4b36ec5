"""Reusable Keras layers, one per file."""

from kgen.layers.gated_pixel_block import GatedPixelBlock
from kgen.layers.masked_conv2d import MaskedConv2D, causal_conv_mask

__all__ = ["GatedPixelBlock", "MaskedConv2D", "causal_conv_mask"]

"""Reusable Keras layers, one per file."""

from kgen.layers.masked_conv2d import MaskedConv2D, causal_conv_mask

__all__ = ["MaskedConv2D", "causal_conv_mask"]

"""Reusable Keras layers, one per file."""

from kgen.layers.binary_code import BinaryCode
from kgen.layers.bytenet_block import ByteNetResidualBlock
from kgen.layers.fold_time import FoldTime
from kgen.layers.frame_binarize import FrameBinarize
from kgen.layers.gated_pixel_block import GatedPixelBlock
from kgen.layers.masked_conv2d import MaskedConv2D, causal_conv_mask
from kgen.layers.row_lstm import RowLSTM
from kgen.layers.wavenet_block import WaveNetResidualBlock
from kgen.layers.diagonal_bilstm import DiagonalBiLSTM
from kgen.layers.dilated_causal_conv1d import DilatedCausalConv1D
from kgen.layers.k_sparse import KSparse
from kgen.layers.log_spectrogram import LogSpectrogram
from kgen.layers.logit_mixture import LogitMixture
from kgen.layers.masking_noise import MaskingNoise
from kgen.layers.multiplicative_unit import MultiplicativeUnit
from kgen.layers.random_binarize import RandomBinarize
from kgen.layers.residual_multiplicative_block import ResidualMultiplicativeBlock
from kgen.layers.scaled_tanh_dense import ScaledTanhDense
from kgen.layers.sparse_attention import SparseAttention
from kgen.layers.sparse_coding_inference import SparseCodingInference

__all__ = [
    "BinaryCode",
    "KSparse",
    "LogSpectrogram",
    "LogitMixture",
    "MaskingNoise",
    "MultiplicativeUnit",
    "RandomBinarize",
    "ResidualMultiplicativeBlock",
    "ScaledTanhDense",
    "SparseAttention",
    "SparseCodingInference",
    "ByteNetResidualBlock",
    "DiagonalBiLSTM",
    "DilatedCausalConv1D",
    "FoldTime",
    "FrameBinarize",
    "GatedPixelBlock",
    "MaskedConv2D",
    "RowLSTM",
    "WaveNetResidualBlock",
    "causal_conv_mask",
]

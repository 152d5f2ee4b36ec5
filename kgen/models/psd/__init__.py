"""Predictive sparse decomposition: sparse coding with a feed-forward encoder that predicts the codes."""

from kgen.models.psd.psd_model import PredictiveSparseDecomposition

__all__ = ["PredictiveSparseDecomposition"]

"""Registered names of the predictive sparse decomposition family."""

from kgen.models.psd.psd_model import PredictiveSparseDecomposition
from kgen.zoo import register_model, register_preset


@register_model(
    "psd",
    description="Predictive sparse decomposition (Kavukcuoglu, Ranzato & LeCun 2009): a sparse-coding dictionary "
    "plus a feed-forward encoder g * tanh(Wx + b) trained to predict the FISTA codes",
)
def psd(**kwargs):
    """PredictiveSparseDecomposition with any keyword of `kgen.models.PredictiveSparseDecomposition` (defaults:
    64 inputs, 256 atoms, penalty 1, prediction weight 1, 100 FISTA steps)."""
    return PredictiveSparseDecomposition(**kwargs)


register_preset(
    "psd.patches",
    "psd",
    description="8x8 ZCA-whitened grey photograph patches (data set photo_patches): 256 atoms, penalty 1.0, "
    "prediction weight 1, 100 FISTA steps",
    input_shape=(64,),
    num_atoms=256,
    penalty=1.0,
    prediction_weight=1.0,
    num_iterations=100,
)
register_preset(
    "psd.mnist",
    "psd",
    description="MNIST digits (28x28x1, levels scaled to [0, 1]): 256 atoms of 784 pixels, penalty 1.0, "
    "prediction weight 1, 100 FISTA steps; its encoder's codes are the PSD row of the linear probe (zoo/psd.md)",
    input_shape=(28, 28, 1),
    input_scale=1.0 / 255.0,
    num_atoms=256,
    penalty=1.0,
    prediction_weight=1.0,
    num_iterations=100,
)
register_preset(
    "psd.tiny",
    "psd",
    description="test size: 16 inputs, 8 atoms, 10 FISTA steps",
    input_shape=(16,),
    num_atoms=8,
    penalty=0.5,
    prediction_weight=1.0,
    num_iterations=10,
)

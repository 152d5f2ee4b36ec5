"""The predictive sparse decomposition family (registers "psd" and its presets from presets.toml)."""

from kgen import zoo
from kgen.models.psd.psd_model import PredictiveSparseDecomposition

zoo.register_family(__name__, {
    "psd": (
        PredictiveSparseDecomposition,
        "Predictive sparse decomposition (Kavukcuoglu, Ranzato & LeCun 2009): a sparse-coding dictionary plus a "
        "feed-forward encoder g * tanh(Wx + b) trained to predict the FISTA codes",
    ),
})

__all__ = ["PredictiveSparseDecomposition"]

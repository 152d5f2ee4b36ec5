"""The autoencoder family: plain (and linear), denoising, k-sparse and deep autoencoders (registers all four and
their presets from presets.toml)."""

from kgen import zoo
from kgen.models.autoencoder.autoencoder_model import (
    Autoencoder,
    DeepAutoencoder,
    DenoisingAutoencoder,
    KSparseAutoencoder,
)

zoo.register_family(__name__, {
    "autoencoder": (
        Autoencoder,
        "fully connected autoencoder (encoder MLP -> code -> mirrored decoder); with linear activations and no "
        "biases its code spans the PCA subspace",
    ),
    "denoising_autoencoder": (
        DenoisingAutoencoder,
        "denoising autoencoder (Vincent et al. 2008): reconstructs clean inputs from inputs corrupted by masking or "
        "Gaussian noise, in training only",
    ),
    "ksparse_autoencoder": (
        KSparseAutoencoder,
        "k-sparse autoencoder (Makhzani & Frey 2013): only the k largest code units of each example are kept",
    ),
    "deep_autoencoder": (
        DeepAutoencoder,
        "deep autoencoder (Hinton & Salakhutdinov 2006): 784-1000-500-250-30 with a linear 30-unit code and its "
        "mirror image as decoder",
    ),
})

__all__ = ["Autoencoder", "DeepAutoencoder", "DenoisingAutoencoder", "KSparseAutoencoder"]

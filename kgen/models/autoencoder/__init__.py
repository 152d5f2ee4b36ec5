"""The autoencoder family: plain (and linear), denoising, k-sparse and deep autoencoders."""

from kgen.models.autoencoder.autoencoder_model import (
    Autoencoder,
    DeepAutoencoder,
    DenoisingAutoencoder,
    KSparseAutoencoder,
)

__all__ = ["Autoencoder", "DeepAutoencoder", "DenoisingAutoencoder", "KSparseAutoencoder"]

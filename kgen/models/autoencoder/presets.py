"""Registered names of the autoencoder family: autoencoder, denoising_autoencoder, ksparse_autoencoder,
deep_autoencoder."""

from kgen.models.autoencoder.autoencoder_model import (
    Autoencoder,
    DeepAutoencoder,
    DenoisingAutoencoder,
    KSparseAutoencoder,
)
from kgen.zoo import register_model, register_preset

MNIST = dict(input_shape=(28, 28, 1), input_scale=1.0 / 255.0)
TINY = dict(input_shape=(6, 6, 1), input_scale=1.0 / 255.0)


@register_model(
    "autoencoder",
    description="fully connected autoencoder (encoder MLP -> code -> mirrored decoder); with linear activations "
    "and no biases its code spans the PCA subspace",
)
def autoencoder(**kwargs):
    """Autoencoder with any keyword of `kgen.models.Autoencoder`."""
    return Autoencoder(**kwargs)


register_preset(
    "autoencoder.mnist",
    "autoencoder",
    description="MNIST 784-512-32-512-784, ReLU hidden, linear code, sigmoid output, cross-entropy loss",
    hidden_units=(512,),
    code_dim=32,
    activation="relu",
    code_activation="linear",
    output_activation="sigmoid",
    reconstruction_loss="bce",
    **MNIST,
)
register_preset(
    "autoencoder.linear_mnist",
    "autoencoder",
    description="MNIST 784-30-784 linear autoencoder with biases and squared-error loss: at its minimum it "
    "reconstructs exactly as well as PCA with 30 components",
    code_dim=30,
    activation="linear",
    code_activation="linear",
    output_activation="linear",
    reconstruction_loss="mse",
    **MNIST,
)
register_preset(
    "autoencoder.tiny",
    "autoencoder",
    description="test size: 6x6x1 inputs, 36-8-4-8-36",
    hidden_units=(8,),
    code_dim=4,
    **TINY,
)


@register_model(
    "denoising_autoencoder",
    description="denoising autoencoder (Vincent et al. 2008): reconstructs clean inputs from inputs corrupted by "
    "masking or Gaussian noise, in training only",
)
def denoising_autoencoder(**kwargs):
    """DenoisingAutoencoder with any keyword of `kgen.models.DenoisingAutoencoder`."""
    return DenoisingAutoencoder(**kwargs)


register_preset(
    "denoising_autoencoder.mnist",
    "denoising_autoencoder",
    description="MNIST 784-500-784, sigmoid units, untied weights, cross-entropy loss, 25% masking noise "
    "(corruption_level=0.0 / 0.5 for the paper's other filter pictures)",
    code_dim=500,
    activation="sigmoid",
    code_activation="sigmoid",
    output_activation="sigmoid",
    reconstruction_loss="bce",
    corruption="masking",
    corruption_level=0.25,
    **MNIST,
)
register_preset(
    "denoising_autoencoder.tiny",
    "denoising_autoencoder",
    description="test size: 6x6x1 inputs, 36-8-36, 25% masking noise",
    code_dim=8,
    corruption="masking",
    corruption_level=0.25,
    **TINY,
)


@register_model(
    "ksparse_autoencoder",
    description="k-sparse autoencoder (Makhzani & Frey 2013): only the k largest code units of each example are "
    "kept",
)
def ksparse_autoencoder(**kwargs):
    """KSparseAutoencoder with any keyword of `kgen.models.KSparseAutoencoder`."""
    return KSparseAutoencoder(**kwargs)


register_preset(
    "ksparse_autoencoder.mnist",
    "ksparse_autoencoder",
    description="MNIST 784-1000-784 with k = 25 of 1000 linear code units, sigmoid output, squared-error loss",
    code_dim=1000,
    k=25,
    alpha=1.0,
    code_activation="linear",
    output_activation="sigmoid",
    reconstruction_loss="mse",
    **MNIST,
)
register_preset(
    "ksparse_autoencoder.tiny",
    "ksparse_autoencoder",
    description="test size: 6x6x1 inputs, 36-12-36 with k = 3",
    code_dim=12,
    k=3,
    **TINY,
)


@register_model(
    "deep_autoencoder",
    description="deep autoencoder (Hinton & Salakhutdinov 2006): 784-1000-500-250-30 with a linear 30-unit code "
    "and its mirror image as decoder",
)
def deep_autoencoder(**kwargs):
    """DeepAutoencoder with any keyword of `kgen.models.DeepAutoencoder`."""
    return DeepAutoencoder(**kwargs)


register_preset(
    "deep_autoencoder.mnist",
    "deep_autoencoder",
    description="MNIST 784-1000-500-250-30 (linear code) and back, ReLU hidden, sigmoid output, cross-entropy "
    "loss, trained end to end (no RBM pretraining)",
    hidden_units=(1000, 500, 250),
    code_dim=30,
    activation="relu",
    code_activation="linear",
    output_activation="sigmoid",
    reconstruction_loss="bce",
    **MNIST,
)
register_preset(
    "deep_autoencoder.tiny",
    "deep_autoencoder",
    description="test size: 6x6x1 inputs, 36-16-8-6-3 and back",
    hidden_units=(16, 8, 6),
    code_dim=3,
    **TINY,
)

"""Registered names of the semantic hashing family."""

from kgen.models.semantic_hashing.semantic_hashing_model import SemanticHashing
from kgen.zoo import register_model, register_preset


@register_model(
    "semantic_hashing",
    description="Semantic hashing (Salakhutdinov & Hinton 2009): a deep autoencoder whose code layer becomes binary "
    "(noisy sigmoids in training, hard bits at inference), for retrieval by Hamming distance",
)
def semantic_hashing(**kwargs):
    """SemanticHashing with any keyword of `kgen.models.SemanticHashing` (defaults: inputs (28, 28, 1) on scale 1,
    encoder 500-500, 32 bits, noise std 4, squared-error reconstruction)."""
    return SemanticHashing(**kwargs)


register_preset(
    "semantic_hashing.mnist",
    "semantic_hashing",
    description="MNIST levels 0..255 (input_scale 1/255), 784-500-500-32 bits and back, noise std 4 before the code "
    "sigmoids (the paper's variance 16), Bernoulli cross-entropy reconstruction; 1,318,816 parameters",
    input_shape=(28, 28, 1),
    hidden_dims=(500, 500),
    num_bits=32,
    noise_stddev=4.0,
    input_scale=1.0 / 255.0,
    reconstruction_loss="bce",
)
register_preset(
    "semantic_hashing.tiny",
    "semantic_hashing",
    description="test size: inputs (8, 8, 1) on scale 1, one hidden layer of 16 units, 8 bits",
    input_shape=(8, 8, 1),
    hidden_dims=(16,),
    num_bits=8,
    noise_stddev=4.0,
    input_scale=1.0,
    reconstruction_loss="bce",
)

"""The semantic hashing family (registers "semantic_hashing" and its presets from presets.toml)."""

from kgen import zoo
from kgen.models.semantic_hashing.semantic_hashing_model import SemanticHashing

zoo.register_family(__name__, {
    "semantic_hashing": (
        SemanticHashing,
        "Semantic hashing (Salakhutdinov & Hinton 2009): a deep autoencoder whose code layer becomes binary "
        "(noisy sigmoids in training, hard bits at inference), for retrieval by Hamming distance",
    ),
})

__all__ = ["SemanticHashing"]

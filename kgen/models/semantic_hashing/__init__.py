"""The semantic hashing family: a deep autoencoder with a binary code layer, for retrieval by Hamming distance."""

from kgen.models.semantic_hashing.semantic_hashing_model import SemanticHashing

__all__ = ["SemanticHashing"]

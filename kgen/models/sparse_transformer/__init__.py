"""The Sparse Transformer family (registers "sparse_transformer" and its presets from presets.toml): token models
(bytes) and image models (raster sequences of sub-pixels), chosen by whether a preset gives `image_shape`."""

from kgen import zoo
from kgen.models.sparse_transformer.sparse_transformer_model import (
    SparseTransformer,
    SparseTransformerImage,
    sparse_transformer,
)

zoo.register_family(__name__, {
    "sparse_transformer": (
        sparse_transformer,
        "Sparse Transformer (Child et al. 2019): a decoder-only transformer whose attention reads factorised "
        "strided or fixed patterns in O(n sqrt n) memory, over bytes or over images as sub-pixel sequences, with "
        "key/value-cache generation",
    ),
})

__all__ = ["SparseTransformer", "SparseTransformerImage"]

"""Registered names of the sparse coding family."""

from kgen.models.sparse_coding.sparse_coding_model import SparseCoding
from kgen.zoo import register_model, register_preset


@register_model(
    "sparse_coding",
    description="Sparse coding (Olshausen & Field 1996): unit-norm dictionary atoms, Lasso codes by FISTA in "
    "keras.ops, learned by alternating code inference and dictionary gradient steps",
)
def sparse_coding(**kwargs):
    """SparseCoding with any keyword of `kgen.models.SparseCoding` (defaults: 64 inputs, 256 atoms, penalty 1,
    100 FISTA steps)."""
    return SparseCoding(**kwargs)


register_preset(
    "sparse_coding.patches",
    "sparse_coding",
    description="8x8 ZCA-whitened grey photograph patches (data set photo_patches): 256 atoms (4x overcomplete), "
    "penalty 1.0, 100 FISTA steps",
    input_shape=(64,),
    num_atoms=256,
    penalty=1.0,
    num_iterations=100,
)
register_preset(
    "sparse_coding.mnist",
    "sparse_coding",
    description="MNIST digits (28x28x1, levels scaled to [0, 1]): 256 atoms of 784 pixels, penalty 1.0, "
    "100 FISTA steps; its codes are the sparse-coding row of the linear probe (zoo/sparse_coding.md)",
    input_shape=(28, 28, 1),
    input_scale=1.0 / 255.0,
    num_atoms=256,
    penalty=1.0,
    num_iterations=100,
)
register_preset(
    "sparse_coding.tiny",
    "sparse_coding",
    description="test size: 16 inputs, 8 atoms, 10 FISTA steps",
    input_shape=(16,),
    num_atoms=8,
    penalty=0.5,
    num_iterations=10,
)

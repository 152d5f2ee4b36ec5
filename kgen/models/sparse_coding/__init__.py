"""The sparse coding family: a dictionary of unit-norm atoms, codes by FISTA (registers "sparse_coding" and its
presets from presets.toml)."""

from kgen import zoo
from kgen.models.sparse_coding.sparse_coding_model import SparseCoding

zoo.register_family(__name__, {
    "sparse_coding": (
        SparseCoding,
        "Sparse coding (Olshausen & Field 1996): unit-norm dictionary atoms, Lasso codes by FISTA in keras.ops, "
        "learned by alternating code inference and dictionary gradient steps",
    ),
})

__all__ = ["SparseCoding"]

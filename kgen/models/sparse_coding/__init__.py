"""The sparse coding family: a dictionary of unit-norm atoms, codes by FISTA."""

from kgen.models.sparse_coding.sparse_coding_model import SparseCoding

__all__ = ["SparseCoding"]

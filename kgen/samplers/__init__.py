"""Autoregressive sampling: the naive reference loop (and, per model, cached fast samplers)."""

from kgen.samplers.naive import sample_loop

__all__ = ["sample_loop"]

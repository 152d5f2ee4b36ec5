"""Likelihood heads: Bernoulli and Categorical(K), with nats and bits per dimension."""

from kgen.distributions.base import LN2, Bernoulli, Categorical, Distribution, get

__all__ = ["LN2", "Bernoulli", "Categorical", "Distribution", "get"]

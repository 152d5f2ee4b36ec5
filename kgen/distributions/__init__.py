"""Likelihood heads: Bernoulli, Categorical(K) and PixelCNN++'s DiscretizedLogisticMixture, with nats and bits
per dimension."""

from kgen.distributions.base import LN2, Bernoulli, Categorical, Distribution, get
from kgen.distributions.logistic_mixture import DiscretizedLogisticMixture

__all__ = ["LN2", "Bernoulli", "Categorical", "DiscretizedLogisticMixture", "Distribution", "get"]

"""Likelihood heads: Bernoulli, Categorical(K) and PixelCNN++'s DiscretizedLogisticMixture, with nats and bits
per dimension."""

from kgen.distributions.base import LN2, Bernoulli, Categorical, Distribution
from kgen.distributions.logistic_mixture import DiscretizedLogisticMixture


def get(name, num_levels=None, num_mixtures=None):
    """Make a head by name: "bernoulli", "categorical" (with `num_levels`, default 256) or "logistic_mixture"
    (PixelCNN++'s discretized logistic mixture, with `num_mixtures`, default 5, and `num_levels`, default 256)."""
    if isinstance(name, Distribution):
        return name
    key = str(name).lower()
    if key == "logistic_mixture":
        return DiscretizedLogisticMixture(
            num_mixtures=5 if num_mixtures is None else num_mixtures,
            num_levels=256 if num_levels is None else num_levels,
        )
    if key in ("bernoulli", "categorical") and num_mixtures is not None:
        raise ValueError(
            f"`num_mixtures` applies only to the 'logistic_mixture' likelihood, not {key!r}; got "
            f"num_mixtures={num_mixtures!r}."
        )
    if key == "bernoulli":
        if num_levels not in (None, 2):
            raise ValueError(f"A bernoulli likelihood has 2 levels; got `num_levels`={num_levels!r}.")
        return Bernoulli()
    if key == "categorical":
        return Categorical(256 if num_levels is None else num_levels)
    raise ValueError(
        f"Unknown `likelihood` {name!r}; expected one of 'bernoulli', 'categorical', 'logistic_mixture'."
    )


__all__ = ["LN2", "Bernoulli", "Categorical", "DiscretizedLogisticMixture", "Distribution", "get"]

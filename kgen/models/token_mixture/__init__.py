"""The token mixture family (registers "token_mixture" and its presets from presets.toml): several autoregressive
sequence models as one, by a learned per-token mixture of their next-token distributions."""

from kgen import zoo
from kgen.models.token_mixture.token_mixture_model import TokenMixture

zoo.register_family(__name__, {
    "token_mixture": (
        TokenMixture,
        "Token mixture: the learned per-token mixture of several sequence models' next-token distributions "
        "(interpolated language models), with cached generation that steps every member's cache",
    ),
})

__all__ = ["TokenMixture"]

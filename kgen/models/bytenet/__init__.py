"""The ByteNet family (registers "bytenet" and its presets from presets.toml)."""

from kgen import zoo
from kgen.models.bytenet.bytenet_model import ByteNet

zoo.register_family(__name__, {
    "bytenet": (
        ByteNet,
        "ByteNet decoder (Kalchbrenner et al. 2016): residual blocks of masked dilated 1-D convolutions "
        "(dilations 1, 2, 4, 8, 16 repeated) over bytes, a character-level language model with cached "
        "generation",
    ),
})

__all__ = ["ByteNet"]

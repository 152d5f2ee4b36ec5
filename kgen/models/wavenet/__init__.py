"""The WaveNet family (registers "wavenet" and its presets from presets.toml)."""

from kgen import zoo
from kgen.models.wavenet.wavenet_model import WaveNet

zoo.register_family(__name__, {
    "wavenet": (
        WaveNet,
        "WaveNet (van den Oord et al. 2016): gated dilated causal convolutions over 8-bit mu-law audio, "
        "global (num_classes) and local (local_channels) conditioning",
    ),
})

__all__ = ["WaveNet"]

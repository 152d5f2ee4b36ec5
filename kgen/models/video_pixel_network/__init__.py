"""The Video Pixel Network family (registers "video_pixel_network" and its presets from presets.toml)."""

from kgen import zoo
from kgen.models.video_pixel_network.video_pixel_network_model import VideoPixelNetwork

zoo.register_family(__name__, {
    "video_pixel_network": (
        VideoPixelNetwork,
        "Video Pixel Network (Kalchbrenner et al. 2017): per-frame encoder of residual multiplicative blocks, a "
        "ConvLSTM over time and a masked PixelCNN decoder of multiplicative units; frames, rows, columns in order",
    ),
})

__all__ = ["VideoPixelNetwork"]

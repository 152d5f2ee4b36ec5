"""The PixelCNN family (registers "pixelcnn" and its presets from presets.toml)."""

from kgen import zoo
from kgen.models.pixelcnn.pixelcnn_model import PixelCNN

zoo.register_family(__name__, {
    "pixelcnn": (PixelCNN, "PixelCNN (van den Oord et al. 2016): masked convolutions, raster order"),
})

__all__ = ["PixelCNN"]

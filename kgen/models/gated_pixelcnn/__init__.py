"""The Gated PixelCNN family (registers "gated_pixelcnn" and its presets from presets.toml)."""

from kgen import zoo
from kgen.models.gated_pixelcnn.gated_pixelcnn_model import GatedPixelCNN

zoo.register_family(__name__, {
    "gated_pixelcnn": (
        GatedPixelCNN,
        "Gated PixelCNN (van den Oord et al. 2016): gated vertical + horizontal stacks, no blind spot, "
        "class-conditional with num_classes",
    ),
})

__all__ = ["GatedPixelCNN"]

"""The Gated PixelCNN family."""

from kgen.models.gated_pixelcnn.gated_pixelcnn_model import GatedPixelCNN

__all__ = ["GatedPixelCNN"]

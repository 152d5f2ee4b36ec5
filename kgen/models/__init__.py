"""kgen's models, one folder per family."""

from kgen.models.base import AutoregressiveImageModel
from kgen.models.pixelcnn import PixelCNN

__all__ = ["AutoregressiveImageModel", "PixelCNN"]

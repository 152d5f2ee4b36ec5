"""kgen's models, one folder per family."""

from kgen.models.base import AutoregressiveImageModel
from kgen.models.pixelcnn import PixelCNN
from kgen.models.pixelrnn import PixelRNN
from kgen.models.gated_pixelcnn import GatedPixelCNN

__all__ = ["AutoregressiveImageModel", "GatedPixelCNN", "PixelCNN", "PixelRNN"]

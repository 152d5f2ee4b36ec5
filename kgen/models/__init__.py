"""kgen's models, one folder per family."""

from kgen.models.base import AutoregressiveImageModel
from kgen.models.pixelcnn import PixelCNN
from kgen.models.pixelrnn import PixelRNN
from kgen.models.gated_pixelcnn import GatedPixelCNN
from kgen.models.sequence_base import AutoregressiveSequenceModel
from kgen.models.wavenet import WaveNet
from kgen.models.bytenet import ByteNet
from kgen.models.lstm_lm import LSTMLanguageModel

__all__ = [
    "AutoregressiveImageModel",
    "AutoregressiveSequenceModel",
    "ByteNet",
    "GatedPixelCNN",
    "LSTMLanguageModel",
    "PixelCNN",
    "PixelRNN",
    "WaveNet",
]

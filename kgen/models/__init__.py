"""kgen's models, one folder per family. Importing a family registers its architectures and presets with kgen.zoo."""

from kgen.models.kgen_model import KgenModel
from kgen.models.base import AutoregressiveImageModel
from kgen.models.representation_base import RepresentationModel
from kgen.models.pixelcnn import PixelCNN
from kgen.models.pixelrnn import PixelRNN
from kgen.models.gated_pixelcnn import GatedPixelCNN
from kgen.models.sequence_base import AutoregressiveSequenceModel
from kgen.models.wavenet import WaveNet
from kgen.models.bytenet import ByteNet
from kgen.models.lstm_lm import LSTMLanguageModel
from kgen.models.sparse_transformer import SparseTransformer, SparseTransformerImage
from kgen.models.video_base import AutoregressiveVideoModel
from kgen.models.video_pixel_network import VideoPixelNetwork
from kgen.models.semantic_hashing import SemanticHashing
from kgen.models.sparse_coding import SparseCoding
from kgen.models.psd import PredictiveSparseDecomposition
from kgen.models.autoencoder import Autoencoder, DeepAutoencoder, DenoisingAutoencoder, KSparseAutoencoder

__all__ = [
    "KgenModel",
    "RepresentationModel",
    "Autoencoder",
    "DeepAutoencoder",
    "DenoisingAutoencoder",
    "KSparseAutoencoder",
    "AutoregressiveImageModel",
    "AutoregressiveSequenceModel",
    "AutoregressiveVideoModel",
    "ByteNet",
    "GatedPixelCNN",
    "LSTMLanguageModel",
    "PixelCNN",
    "PixelRNN",
    "SemanticHashing",
    "SparseCoding",
    "SparseTransformer",
    "SparseTransformerImage",
    "PredictiveSparseDecomposition",
    "VideoPixelNetwork",
    "WaveNet",
]

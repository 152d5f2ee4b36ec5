from kgen.models.pixelrnn.pixelrnn_model import PixelRNN

__all__ = ["PixelRNN"]

from kgen.models.pixelcnn.pixelcnn_model import PixelCNN

__all__ = ["PixelCNN"]

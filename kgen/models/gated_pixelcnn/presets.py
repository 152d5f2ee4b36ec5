"""Registered names of the Gated PixelCNN family."""

from kgen.models.gated_pixelcnn.gated_pixelcnn_model import GatedPixelCNN
from kgen.zoo import register_model, register_preset


@register_model(
    "gated_pixelcnn",
    description="Gated PixelCNN (van den Oord et al. 2016): gated vertical + horizontal stacks, no blind spot, "
    "class-conditional with num_classes",
)
def gated_pixelcnn(**kwargs):
    """Gated PixelCNN with any keyword of `kgen.models.GatedPixelCNN` (defaults: binarized MNIST, 10 x 128)."""
    return GatedPixelCNN(**kwargs)


register_preset(
    "gated_pixelcnn.mnist",
    "gated_pixelcnn",
    description="binarized MNIST, the size public implementations use: 10 gated layers of 128 channels, 7x7 first "
    "layer, 3x3 after it, Bernoulli",
    image_shape=(28, 28, 1),
    filters=128,
    num_layers=10,
    first_kernel_size=7,
    kernel_size=3,
    likelihood="bernoulli",
)
register_preset(
    "gated_pixelcnn.tiny",
    "gated_pixelcnn",
    description="test size: 8x8 binary images, 3 gated layers of 8 channels",
    image_shape=(8, 8, 1),
    filters=8,
    num_layers=3,
    first_kernel_size=5,
    kernel_size=3,
    likelihood="bernoulli",
)

"""Registered names of the PixelCNN family."""

from kgen.models.pixelcnn.pixelcnn_model import PixelCNN
from kgen.zoo import register_model, register_preset


@register_model("pixelcnn", description="PixelCNN (van den Oord et al. 2016): masked convolutions, raster order")
def pixelcnn(**kwargs):
    """PixelCNN with any keyword of `kgen.models.PixelCNN` (defaults: binarized MNIST, 2h=64, 7 blocks)."""
    return PixelCNN(**kwargs)


register_preset(
    "pixelcnn.mnist",
    "pixelcnn",
    description="binarized MNIST: 7x7 type-A input, 7 residual blocks of 2h=64, two 1x1 layers of 64, Bernoulli",
    image_shape=(28, 28, 1),
    hidden_dim=64,
    num_residual_blocks=7,
    output_dim=64,
    likelihood="bernoulli",
)
register_preset(
    "pixelcnn.tiny",
    "pixelcnn",
    description="test size: 8x8 binary images, 2 residual blocks of 2h=8",
    image_shape=(8, 8, 1),
    hidden_dim=8,
    num_residual_blocks=2,
    output_dim=8,
    first_kernel_size=5,
    likelihood="bernoulli",
)

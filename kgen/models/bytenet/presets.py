"""Registered names of the ByteNet family."""

from kgen.models.bytenet.bytenet_model import ByteNet
from kgen.zoo import register_model, register_preset


@register_model(
    "bytenet",
    description="ByteNet decoder (Kalchbrenner et al. 2016): residual blocks of masked dilated 1-D convolutions "
    "(dilations 1, 2, 4, 8, 16 repeated) over bytes, a character-level language model with fast cached generation",
)
def bytenet(**kwargs):
    """ByteNet with any keyword of `kgen.models.ByteNet` (defaults: the paper's character-level decoder, 30 blocks
    of 2d = 1024 channels, dilations 1..16 six times, masked kernel 3)."""
    return ByteNet(**kwargs)


register_preset(
    "bytenet.shakespeare",
    "bytenet",
    description="Tiny Shakespeare bytes, sized for a 45-minute training run on 2 CPU cores: 15 blocks (dilations "
    "1..16 three times), 2d = 256 channels, masked kernel 3; 2,072,064 parameters, receptive field 189 bytes",
    num_levels=256,
    hidden_dim=256,
    num_layers=15,
    dilation_cycle=5,
    kernel_size=3,
)
register_preset(
    "bytenet.tiny",
    "bytenet",
    description="test size: 256 bytes, 4 blocks of 8 channels (bottleneck 4), dilations 1, 2, 1, 2, kernel 3",
    num_levels=256,
    hidden_dim=8,
    num_layers=4,
    dilation_cycle=2,
    kernel_size=3,
)

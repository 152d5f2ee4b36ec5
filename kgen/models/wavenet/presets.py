"""Registered names of the WaveNet family."""

from kgen.models.wavenet.wavenet_model import WaveNet
from kgen.zoo import register_model, register_preset


@register_model(
    "wavenet",
    description="WaveNet (van den Oord et al. 2016): gated dilated causal convolutions over 8-bit mu-law audio, "
    "global (num_classes) and local (local_channels) conditioning",
)
def wavenet(**kwargs):
    """WaveNet with any keyword of `kgen.models.WaveNet` (defaults: 256 mu-law levels, 20 layers of 32 channels,
    dilations 1..512 twice)."""
    return WaveNet(**kwargs)


register_preset(
    "wavenet.fsdd",
    "wavenet",
    description="Free Spoken Digit audio (8 kHz, 8-bit mu-law), conditioned on the digit: dilations 1..512 twice "
    "(20 layers, receptive field 2,048 samples = 0.26 s), 32 residual / 32 gate / 64 skip channels",
    num_levels=256,
    residual_channels=32,
    gate_channels=32,
    skip_channels=64,
    output_channels=64,
    num_layers=20,
    dilation_cycle=10,
    num_classes=10,
)
register_preset(
    "wavenet.tiny",
    "wavenet",
    description="test size: 16 levels, 4 layers of 8 channels, dilations 1, 2, 1, 2",
    num_levels=16,
    residual_channels=8,
    skip_channels=8,
    num_layers=4,
    dilation_cycle=2,
)

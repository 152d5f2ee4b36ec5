"""The WaveNet family."""

from kgen.models.wavenet.wavenet_model import WaveNet

__all__ = ["WaveNet"]

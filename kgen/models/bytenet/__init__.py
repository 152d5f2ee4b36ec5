"""The ByteNet family."""

from kgen.models.bytenet.bytenet_model import ByteNet

__all__ = ["ByteNet"]

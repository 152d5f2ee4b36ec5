"""Test helpers shared by every kgen test: `TestCase`, the dependency measurement, `sparse_signals`, and the small
inputs and builders of `kgen.testing.fixtures`."""

from kgen.testing.fixtures import (
    SequenceModelChecks,
    bad_arguments,
    binary_images,
    ramp_tokens,
    random_tokens,
    striped_images,
    tiny_builder,
)
from kgen.testing.test_case import TestCase, format_reach, measure_dependencies, sparse_signals

__all__ = [
    "SequenceModelChecks",
    "TestCase",
    "bad_arguments",
    "binary_images",
    "format_reach",
    "measure_dependencies",
    "ramp_tokens",
    "random_tokens",
    "sparse_signals",
    "striped_images",
    "tiny_builder",
]

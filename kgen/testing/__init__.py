"""Test helpers shared by every kgen test: `TestCase`, the dependency measurement and `sparse_signals`."""

from kgen.testing.test_case import TestCase, format_reach, measure_dependencies, sparse_signals

__all__ = ["TestCase", "format_reach", "measure_dependencies", "sparse_signals"]

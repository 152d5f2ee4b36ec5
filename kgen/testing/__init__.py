"""Test helpers shared by every kgen test: `TestCase` and the dependency measurement."""

from kgen.testing.test_case import TestCase, measure_dependencies

__all__ = ["TestCase", "measure_dependencies"]

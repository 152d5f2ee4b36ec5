"""Test helpers shared by every kgen test: `TestCase` and the dependency measurement."""

from kgen.testing.test_case import TestCase, format_reach, measure_dependencies

__all__ = ["TestCase", "format_reach", "measure_dependencies"]

"""MultiplicativeUnit and ResidualMultiplicativeBlock: shapes, config round trips, training, the formula, raster
causality of the masked variants, the one-pixel step against the full call, conditions, and bad arguments."""

import numpy as np
import pytest
from keras import ops

from kgen.layers.multiplicative_unit import MultiplicativeUnit
from kgen.layers.residual_multiplicative_block import ResidualMultiplicativeBlock
from kgen.testing import TestCase
from kgen.testing.fixtures import random_weights

H = W = 5


def _maps(channels, seed=0, batch=2):
    return np.random.default_rng(seed).normal(size=(batch, H, W, channels)).astype("float32")


def _changed_pixels(layer, x, row, col, condition=None):
    """The output pixels (a boolean H x W map) that move when the input at (row, col) does."""
    args = () if condition is None else (condition,)
    base = ops.convert_to_numpy(layer(x, *args))
    moved = x.copy()
    moved[:, row, col] += 1.0
    return np.abs(ops.convert_to_numpy(layer(moved, *args)) - base).max(axis=(0, 3)) > 1e-6


def _stepped(layer, x, condition=None):
    """The layer evaluated one pixel at a time through init_cache / begin_row / call_with_cache."""
    cache = layer.init_cache(x.shape[0], W)
    pre = None if condition is None else layer.condition_preactivation(ops.convert_to_tensor(condition))
    rows = []
    for r in range(H):
        cache = layer.begin_row(cache)
        row = []
        for c in range(W):
            at = None
            if pre is not None:
                at = [p[:, r, c] for p in pre] if isinstance(pre, list) else pre[:, r, c]
            y, cache = layer.call_with_cache(ops.convert_to_tensor(x[:, r, c]), cache, c, at)
            row.append(ops.convert_to_numpy(y))
        rows.append(np.stack(row, axis=1))
    return np.stack(rows, axis=1)


CASES = [
    (MultiplicativeUnit, dict(filters=4), 4),
    (MultiplicativeUnit, dict(filters=4, dilation_rate=2), 4),
    (MultiplicativeUnit, dict(filters=4, mask_type="B"), 4),
    (ResidualMultiplicativeBlock, dict(filters=3), 6),
    (ResidualMultiplicativeBlock, dict(filters=3, dilation_rate=2, num_units=1), 6),
    (ResidualMultiplicativeBlock, dict(filters=3, mask_type="b"), 6),
]


class TestMultiplicativeLayers(TestCase):
    @pytest.mark.parametrize("cls, kwargs, channels", CASES)
    def test_shapes_serialization_training(self, cls, kwargs, channels):
        x = _maps(channels)
        layer = self.run_layer_test(cls, kwargs, x, x.shape)
        assert layer.get_config()["mask_type"] == (None if kwargs.get("mask_type") is None else "B")

    def test_the_unit_computes_its_formula(self):
        unit = MultiplicativeUnit(2, kernel_size=1)
        x = _maps(2)
        y = ops.convert_to_numpy(unit(x))
        kernel, bias = (np.asarray(w) for w in unit.conv.get_weights())
        pre = x @ kernel[0, 0] + bias
        sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        g1, g2, g3, u = np.split(pre, 4, axis=-1)
        np.testing.assert_allclose(y, sig(g1) * np.tanh(sig(g2) * x + sig(g3) * np.tanh(u)), rtol=1e-5, atol=1e-6)

    @pytest.mark.parametrize("cls, channels", [(MultiplicativeUnit, 4), (ResidualMultiplicativeBlock, 6)])
    def test_masked_variants_are_raster_causal_and_reach_back(self, cls, channels):
        layer = cls(channels if cls is MultiplicativeUnit else channels // 2, mask_type="B")
        x = _maps(channels, seed=2)
        layer(x)
        random_weights(layer, seed=1)
        for row in range(H):
            for col in range(W):
                changed = _changed_pixels(layer, x, row, col)
                before = np.arange(H * W).reshape(H, W) < row * W + col
                assert not changed[before].any(), f"input ({row}, {col}) reached an earlier output"
                assert changed[row, col], "the current pixel's input must reach its output (type B)"
        # The 3x3 window: the pixel right after and the three below reach back to (2, 2).
        changed = _changed_pixels(layer, x, 2, 2)
        assert changed[2, 3] and changed[3, 1] and changed[3, 2] and changed[3, 3]

    def test_unmasked_dilated_unit_sees_both_sides_at_its_dilation(self):
        unit = MultiplicativeUnit(2, dilation_rate=2)
        x = _maps(2, seed=3)
        unit(x)
        random_weights(unit, seed=4)
        changed = _changed_pixels(unit, x, 2, 2)
        assert changed[0, 0] and changed[4, 4] and changed[2, 2] and not changed[1, 2] and not changed[2, 3]

    @pytest.mark.parametrize("cls, channels", [(MultiplicativeUnit, 4), (ResidualMultiplicativeBlock, 6)])
    @pytest.mark.parametrize("conditioned", [False, True])
    def test_one_pixel_at_a_time_equals_the_full_call(self, cls, channels, conditioned):
        layer = cls(channels if cls is MultiplicativeUnit else channels // 2, mask_type="B")
        x = _maps(channels, seed=5)
        condition = _maps(3, seed=6) if conditioned else None
        layer(x, condition)
        random_weights(layer, seed=7)
        full = ops.convert_to_numpy(layer(x, condition))
        np.testing.assert_allclose(_stepped(layer, x, condition), full, rtol=1e-4, atol=1e-5)

    def test_a_condition_reaches_every_pixel_through_its_own_position_only(self):
        block = ResidualMultiplicativeBlock(2, mask_type="B")
        x, condition = _maps(4, seed=8), _maps(3, seed=9)
        block(x, condition)
        random_weights(block, seed=10)
        base = ops.convert_to_numpy(block(x, condition))
        moved = condition.copy()
        moved[:, 4, 0] += 1.0
        changed = np.abs(ops.convert_to_numpy(block(x, moved)) - base).max(axis=(0, 3)) > 1e-6
        # A 1x1 projection at (4, 0), then the masked units carry it only forward in raster order.
        assert changed[4, 0] and changed[4, 1] and not changed[:4].any()

    def test_bad_arguments_and_inputs(self):
        with pytest.raises(ValueError, match="mask_type.*cannot hide it"):
            MultiplicativeUnit(4, mask_type="A")
        with pytest.raises(ValueError, match="kernel_size"):
            ResidualMultiplicativeBlock(4, kernel_size=2)
        with pytest.raises(ValueError, match="num_units"):
            ResidualMultiplicativeBlock(4, num_units=0)
        with pytest.raises(ValueError, match="`filters` = 4 channels"):
            MultiplicativeUnit(4)(_maps(3))
        with pytest.raises(ValueError, match="2 \\* filters = 8 channels"):
            ResidualMultiplicativeBlock(4)(_maps(4))
        with pytest.raises(ValueError, match="needs a masked unit"):
            MultiplicativeUnit(4).init_cache(2, W)
        unit = MultiplicativeUnit(4)
        unit(_maps(4))
        with pytest.raises(ValueError, match="built without a condition; called with one"):
            unit(_maps(4), _maps(2))

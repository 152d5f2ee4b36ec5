import numpy as np
import pytest
from keras import ops

from kgen.layers import MaskingNoise
from kgen.testing import TestCase


class TestMaskingNoise(TestCase):
    def test_layer(self):
        self.run_layer_test(MaskingNoise, dict(rate=0.3, seed=1), np.ones((3, 5), "float32"), (3, 5),
                            run_training_check=False)

    @pytest.mark.parametrize("rate", [0.1, 0.25, 0.5, 0.9])
    def test_fraction_zeroed_and_no_rescaling(self, rate):
        x = np.random.default_rng(0).uniform(0.5, 1.0, size=(200, 500)).astype("float32")  # no zeros in x
        y = ops.convert_to_numpy(MaskingNoise(rate, seed=0)(x, training=True))
        zeroed = y == 0
        # 100,000 Bernoulli(rate) draws: the fraction lies within 0.01 of rate (more than 6 standard deviations).
        assert abs(zeroed.mean() - rate) < 0.01, zeroed.mean()
        np.testing.assert_array_equal(y[~zeroed], x[~zeroed])  # kept values are not rescaled
        assert 0 < zeroed.mean(axis=1).min() and zeroed.mean(axis=1).max() < 1  # each row gets its own mask
        assert not np.array_equal(zeroed[0], zeroed[1])

    def test_identity_at_inference_and_at_rate_zero(self):
        x = np.random.default_rng(1).normal(size=(4, 30)).astype("float32")
        np.testing.assert_array_equal(ops.convert_to_numpy(MaskingNoise(0.5)(x)), x)
        np.testing.assert_array_equal(ops.convert_to_numpy(MaskingNoise(0.5)(x, training=False)), x)
        np.testing.assert_array_equal(ops.convert_to_numpy(MaskingNoise(0.0)(x, training=True)), x)

    def test_seeded(self):
        x = np.ones((8, 50), "float32")
        a, b = MaskingNoise(0.5, seed=3), MaskingNoise(0.5, seed=3)
        first = ops.convert_to_numpy(a(x, training=True))
        np.testing.assert_array_equal(first, ops.convert_to_numpy(b(x, training=True)))
        assert not np.array_equal(first, ops.convert_to_numpy(a(x, training=True))), "a second call reused the mask"

    def test_bad_arguments(self):
        for bad in (-0.1, 1.0, 1.5, "0.5", None, True, float("nan")):
            with pytest.raises(ValueError, match="`rate` must be a number in \\[0, 1\\)"):
                MaskingNoise(bad)
        for bad in ("1", 1.5, True):
            with pytest.raises(ValueError, match="`seed`"):
                MaskingNoise(0.5, seed=bad)

"""ScaledTanhDense, PSD's encoder layer: g * tanh(x W + b) against numpy, saving, and its argument checks."""

import numpy as np
import pytest
from keras import ops

from kgen.layers import ScaledTanhDense
from kgen.testing import TestCase


class TestScaledTanhDense(TestCase):
    def test_layer(self):
        x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
        self.run_layer_test(ScaledTanhDense, dict(units=3, gain_initializer="random_normal"), x, (4, 3))

    def test_matches_numpy_reference(self):
        rng = np.random.default_rng(1)
        x = rng.normal(size=(5, 7)).astype("float32")
        layer = ScaledTanhDense(4)
        layer.build((None, 7))
        w, b, g = (rng.normal(size=s).astype("float32") for s in ((7, 4), (4,), (4,)))
        layer.set_weights([w, b, g])
        np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), g * np.tanh(x @ w + b), rtol=1e-5, atol=1e-6)
        # the gain scales each unit: outputs are bounded by |g|
        assert np.all(np.abs(ops.convert_to_numpy(layer(100 * x))) <= np.abs(g) + 1e-5)

    def test_bad_arguments_are_named(self):
        for kwargs, name in ((dict(units=0), "units"), (dict(units=2.5), "units"),
                             (dict(units=3, kernel_initializer="no_such_init"), "kernel_initializer"),
                             (dict(units=3, gain_initializer=7), "gain_initializer")):
            with pytest.raises(ValueError, match=name):
                ScaledTanhDense(**kwargs)
        with pytest.raises(ValueError, match="batch, input_dim"):
            ScaledTanhDense(3)(np.zeros((2, 3, 4), "float32"))

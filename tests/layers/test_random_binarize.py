import numpy as np
import pytest
from keras import ops

from kgen.layers import RandomBinarize
from kgen.testing import TestCase


class TestRandomBinarize(TestCase):
    def test_layer(self):
        self.run_layer_test(RandomBinarize, dict(rate=0.5, seed=1), np.full((3, 4, 4, 1), 0.5, "float32"),
                            (3, 4, 4, 1), run_training_check=False)

    def test_binarises_a_fraction_of_the_examples_with_the_right_ink(self):
        x = np.full((2000, 10, 10, 1), 0.3, "float32")
        y = ops.convert_to_numpy(RandomBinarize(0.25, seed=0)(x, training=True))
        binary = np.all((y == 0) | (y == 1), axis=(1, 2, 3))
        untouched = np.all(y == x, axis=(1, 2, 3))
        assert np.all(binary | untouched)
        assert abs(binary.mean() - 0.25) < 0.04, binary.mean()  # 2,000 examples: > 4 standard deviations
        assert abs(y[binary].mean() - 0.3) < 0.01  # each value is 1 with its own probability

    def test_identity_at_inference_and_seeded(self):
        x = np.random.default_rng(0).uniform(size=(6, 5, 5, 1)).astype("float32")
        np.testing.assert_array_equal(ops.convert_to_numpy(RandomBinarize(0.9)(x)), x)
        a = ops.convert_to_numpy(RandomBinarize(0.5, seed=4)(x, training=True))
        b = ops.convert_to_numpy(RandomBinarize(0.5, seed=4)(x, training=True))
        np.testing.assert_array_equal(a, b)

    def test_bad_arguments(self):
        for bad in (-0.1, 1.0, "0.5"):
            with pytest.raises(ValueError, match="`rate`"):
                RandomBinarize(bad)
        with pytest.raises(ValueError, match="`seed` must be an int or None"):
            RandomBinarize(0.5, seed=1.5)

import numpy as np
import pytest
import keras
from keras import ops

from kgen.layers import KSparse
from kgen.testing import TestCase


def reference(x, k):
    """numpy: keep the k largest values of each row (no ties in random data), zero the others."""
    out = np.zeros_like(x)
    idx = np.argsort(-x, axis=-1)[..., :k]
    np.put_along_axis(out, idx, np.take_along_axis(x, idx, axis=-1), axis=-1)
    return out


class TestKSparse(TestCase):
    def test_layer(self):
        # No weights of its own, so no training step to check.
        self.run_layer_test(KSparse, dict(k=2, alpha=1.5), np.random.default_rng(0).normal(size=(3, 5)).astype(
            "float32"), (3, 5), run_training_check=False)

    @pytest.mark.parametrize("k", [1, 3, 7, 8])
    def test_matches_numpy_reference(self, k):
        x = np.random.default_rng(k).normal(size=(6, 8)).astype("float32")
        for training in (True, False):
            y = ops.convert_to_numpy(KSparse(k)(x, training=training))
            np.testing.assert_array_equal(y, reference(x, k))
            assert np.all(np.count_nonzero(y, axis=-1) == k)

    def test_higher_rank_inputs(self):
        x = np.random.default_rng(1).normal(size=(2, 3, 10)).astype("float32")
        y = ops.convert_to_numpy(KSparse(4)(x))
        np.testing.assert_array_equal(y, reference(x, 4))

    def test_ties_keep_exactly_k(self):
        x = np.ones((4, 9), "float32")
        x[1, :4] = 2.0  # four tied at the top, k = 3 of them kept
        y = ops.convert_to_numpy(KSparse(3)(x, training=True))
        np.testing.assert_array_equal(np.count_nonzero(y, axis=-1), [3, 3, 3, 3])
        assert np.all(y[1, 4:] == 0) and np.all(y[1][y[1] != 0] == 2.0)

    def test_alpha_keeps_more_units_at_inference(self):
        x = np.random.default_rng(2).normal(size=(5, 20)).astype("float32")
        layer = KSparse(3, alpha=2.5)  # round(7.5) = 8 at inference
        np.testing.assert_array_equal(np.count_nonzero(ops.convert_to_numpy(layer(x, training=True)), -1), [3] * 5)
        np.testing.assert_array_equal(ops.convert_to_numpy(layer(x, training=False)), reference(x, 8))
        big = KSparse(5, alpha=10.0)  # alpha * k beyond the number of units keeps them all
        np.testing.assert_array_equal(ops.convert_to_numpy(big(x)), x)

    def test_gradients_reach_only_kept_units(self):
        # Dense(identity) -> KSparse(1): for input [5, 1, 0.5, 0.2] only unit 0 is kept, so one SGD step may change
        # kernel column 0 only.
        inputs = keras.Input((4,))
        dense = keras.layers.Dense(4, use_bias=False, kernel_initializer="identity")
        model = keras.Model(inputs, KSparse(1)(dense(inputs)))
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        x = np.array([[5.0, 1.0, 0.5, 0.2]], "float32")
        before = ops.convert_to_numpy(dense.kernel).copy()
        model.fit(x, np.zeros((1, 4), "float32"), epochs=1, verbose=0)
        changed = np.abs(ops.convert_to_numpy(dense.kernel) - before).max(axis=0) > 0
        np.testing.assert_array_equal(changed, [True, False, False, False])

    def test_bad_arguments(self):
        for bad in (0, -1, 1.5, True, None, "3"):
            with pytest.raises(ValueError, match="`k`"):
                KSparse(bad)
        for bad in (0.5, 0, float("nan"), float("inf"), "2", True):
            with pytest.raises(ValueError, match="`alpha`"):
                KSparse(2, alpha=bad)
        with pytest.raises(ValueError, match="`k` must be at most the number of units \\(4\\)"):
            KSparse(5)(np.ones((2, 4), "float32"))

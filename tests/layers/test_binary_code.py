import numpy as np
import pytest
import keras
from keras import ops

from kgen.layers import BinaryCode
from kgen.testing import TestCase


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class TestBinaryCode(TestCase):
    def test_layer(self):
        # The layer has no weights, so there is no training step to check here (see test_gradient_in_training).
        x = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
        self.run_layer_test(BinaryCode, dict(noise_stddev=2.0, seed=1), x, (3, 5), run_training_check=False)
        self.run_layer_test(BinaryCode, dict(noise_stddev=0.0), np.ones((2, 4, 6), "float32"), (2, 4, 6),
                            run_training_check=False)

    def test_inference_is_the_threshold_of_the_sigmoid(self):
        x = np.array([[-3.0, -1e-6, 0.0, 1e-6, 2.5, 40.0]], "float32")
        layer = BinaryCode(noise_stddev=4.0, seed=0)
        for training in (None, False):
            y = ops.convert_to_numpy(layer(x, training=training))
            np.testing.assert_array_equal(y, [[0, 0, 0, 1, 1, 1]])
            np.testing.assert_array_equal(y, (sigmoid(x.astype("float64")) > 0.5).astype("float32"))
        x = np.random.default_rng(1).normal(scale=3.0, size=(64, 16)).astype("float32")
        y = ops.convert_to_numpy(layer(x))
        assert y.dtype == np.float32 and set(np.unique(y)) <= {0.0, 1.0}
        np.testing.assert_array_equal(y, (x > 0).astype("float32"))
        np.testing.assert_array_equal(ops.convert_to_numpy(layer(x)), y)  # no randomness at inference

    def test_noise_only_in_training(self):
        x = np.zeros((2000, 8), "float32")
        # Std 2 keeps sigmoid(noise) away from float32's 0 and 1, so the noise can be recovered exactly.
        layer = BinaryCode(noise_stddev=2.0, seed=3)
        y = ops.convert_to_numpy(layer(x, training=True))
        assert np.all((y > 0) & (y < 1))
        # sigmoid(2 * eps) with eps ~ N(0, 1): recover the noise and check its moments.
        noise = np.log(y.astype("float64")) - np.log1p(-y.astype("float64"))
        assert abs(noise.mean()) < 0.08 and abs(noise.std() - 2.0) < 0.05, (noise.mean(), noise.std())
        y2 = ops.convert_to_numpy(layer(x, training=True))
        assert not np.array_equal(y, y2), "two training calls drew the same noise"
        # Without noise, training is a plain sigmoid.
        x = np.random.default_rng(0).normal(size=(4, 8)).astype("float32")
        y = ops.convert_to_numpy(BinaryCode(noise_stddev=0.0)(x, training=True))
        np.testing.assert_allclose(y, sigmoid(x), rtol=1e-5, atol=1e-6)

    def test_same_seed_same_noise(self):
        x = np.zeros((4, 8), "float32")
        a = ops.convert_to_numpy(BinaryCode(4.0, seed=7)(x, training=True))
        b = ops.convert_to_numpy(BinaryCode(4.0, seed=7)(x, training=True))
        np.testing.assert_array_equal(a, b)

    def test_gradient_in_training(self):
        # Inside a model, training moves the weights of the layer before the codes (the sigmoid passes gradients).
        inputs = keras.Input((5,))
        model = keras.Model(inputs, BinaryCode(1.0, seed=0)(keras.layers.Dense(3)(inputs)))
        model.compile(optimizer="sgd", loss="mse")
        before = [w.copy() for w in model.get_weights()]
        x = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
        model.fit(x, np.ones((8, 3), "float32"), epochs=1, batch_size=8, verbose=0)
        assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
        assert set(np.unique(model.predict(x, verbose=0))) <= {0.0, 1.0}

    def test_bad_arguments(self):
        for bad in (-1.0, float("nan"), float("inf"), "4", True, None):
            with pytest.raises(ValueError, match="noise_stddev"):
                BinaryCode(noise_stddev=bad)
        with pytest.raises(ValueError, match="seed"):
            BinaryCode(seed=-1)
        with pytest.raises(ValueError, match="seed"):
            BinaryCode(seed=1.5)
        with pytest.raises(ValueError, match="num_bits"):
            BinaryCode()(np.ones((3,), "float32"))

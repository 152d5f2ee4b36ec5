import keras
import numpy as np
import pytest
from keras import ops

from kgen.layers import LogitMixture
from kgen.layers.logit_mixture import MAX_COMPONENTS
from kgen.testing import TestCase


def logits(shape, seed=0, scale=3.0):
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype("float32")


def log_softmax(x):
    x = x.astype(np.float64)
    return x - np.log(np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)) - x.max(-1, keepdims=True)


class TestLogitMixture(TestCase):
    def test_layer(self):
        a, b = logits((2, 5, 7), 0), logits((2, 5, 7), 1)
        layer = LogitMixture(2, mixture_weights=[3, 1])
        out = layer([a, b])
        assert tuple(out.shape) == (2, 5, 7) and layer.compute_output_shape([a.shape, b.shape]) == (2, 5, 7)
        assert keras.backend.standardize_dtype(out.dtype) == "float32"
        self.run_serialization_test(layer)
        revived = LogitMixture.from_config(layer.get_config())
        revived([a, b])
        revived.set_weights(layer.get_weights())
        np.testing.assert_allclose(ops.convert_to_numpy(revived([a, b])), ops.convert_to_numpy(out), rtol=1e-6)

    def test_is_the_log_of_the_weighted_average_of_the_softmaxes(self):
        parts = [logits((3, 4, 11), seed) for seed in range(3)]
        layer = LogitMixture(3, mixture_weights=[0.5, 0.3, 0.2])
        out = ops.convert_to_numpy(layer(parts)).astype(np.float64)
        expected = np.log(sum(w * np.exp(log_softmax(p)) for w, p in zip([0.5, 0.3, 0.2], parts)))
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.exp(out).sum(-1), 1.0, rtol=1e-5)  # a normalised log-distribution
        np.testing.assert_allclose(layer.weights_now(), [0.5, 0.3, 0.2], rtol=1e-6)

    def test_equal_weights_by_default_and_one_component_repeated_is_itself(self):
        a = logits((2, 6, 5))
        layer = LogitMixture(2)
        np.testing.assert_allclose(ops.convert_to_numpy(layer([a, a])), log_softmax(a), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(layer.weights_now(), [0.5, 0.5])

    def test_training_fits_the_weights_toward_the_better_component(self):
        # targets drawn from component a: maximum likelihood moves the weight toward a
        rng = np.random.default_rng(0)
        a, b = logits((256, 8), 1), logits((256, 8), 2)
        targets = np.array([rng.choice(8, p=np.exp(log_softmax(row))) for row in a])
        ia, ib = keras.Input((8,)), keras.Input((8,))
        layer = LogitMixture(2)
        model = keras.Model([ia, ib], layer([ia, ib]))
        model.compile(optimizer=keras.optimizers.Adam(0.05),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit([a, b], targets, epochs=20, batch_size=64, verbose=0)
        assert layer.weights_now()[0] > 0.8, layer.weights_now()

    @pytest.mark.parametrize("kwargs, match", [
        (dict(num_components=1), "`num_components`"),
        (dict(num_components=MAX_COMPONENTS + 1), "`num_components`"),
        (dict(num_components=2, mixture_weights=[1.0]), "`mixture_weights`"),
        (dict(num_components=2, mixture_weights=[1.0, 0.0]), "`mixture_weights`"),
        (dict(num_components=2, mixture_weights=[1.0, float("nan")]), "`mixture_weights`"),
        (dict(num_components=2, mixture_weights=[1.0, True]), "`mixture_weights`"),
        (dict(num_components=2, mixture_weights="equal"), "`mixture_weights`"),
    ])
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            LogitMixture(**kwargs)

    def test_bad_inputs(self):
        with pytest.raises(ValueError, match="list of num_components = 2"):
            LogitMixture(2)([logits((2, 3, 4))])
        with pytest.raises(ValueError, match="one shape"):
            LogitMixture(2)([logits((2, 3, 4)), logits((2, 3, 5))])

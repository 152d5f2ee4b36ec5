import math

import numpy as np
import pytest
import keras
from keras import ops

from kgen import distributions
from kgen.distributions import Bernoulli, Categorical


def test_bernoulli_log_prob_matches_formula():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4, 4, 1)).astype("float32")
    x = (rng.random((3, 4, 4, 1)) > 0.5).astype("float32")
    p = 1 / (1 + np.exp(-logits.astype("float64")))
    expected = np.sum(np.where(x == 1, np.log(p), np.log(1 - p)).reshape(3, -1), axis=1)
    got = ops.convert_to_numpy(Bernoulli().log_prob(x, logits))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(Bernoulli().nll(x, logits)), -expected.mean(), rtol=1e-5)


def test_categorical_log_prob_matches_formula():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(2, 3, 3, 3, 5)).astype("float32")
    x = rng.integers(0, 5, size=(2, 3, 3, 3)).astype("float32")
    ls = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    expected = np.take_along_axis(ls, x.astype(int)[..., None], -1)[..., 0].reshape(2, -1).sum(1)
    np.testing.assert_allclose(ops.convert_to_numpy(Categorical(5).log_prob(x, logits)), expected, rtol=1e-5)


def test_bits_per_dim():
    assert distributions.Distribution.bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)


@pytest.mark.parametrize("dist,params", [(Bernoulli(), np.array([[-1.0, 0.0, 2.0]])), (Categorical(4), np.array([[[0.0, 1.0, -1.0, 2.0]]]))])
def test_sample_frequencies_match_probabilities(dist, params):
    n = 20000
    params = np.repeat(params.astype("float32"), n, axis=0)
    samples = ops.convert_to_numpy(dist.sample(params, keras.random.SeedGenerator(0)))
    if isinstance(dist, Bernoulli):
        expected = 1 / (1 + np.exp(-params[0]))
        np.testing.assert_allclose(samples.mean(0), expected, atol=0.015)
    else:
        p = np.exp(params[0, 0]) / np.exp(params[0, 0]).sum()
        freq = np.bincount(samples[:, 0].astype(int), minlength=4) / n
        np.testing.assert_allclose(freq, p, atol=0.015)


@pytest.mark.parametrize("dist", [Bernoulli(), Categorical(8)])
def test_same_seed_same_samples(dist):
    params = np.zeros((4,) + dist.param_shape((5, 5, 1)), "float32")
    a = ops.convert_to_numpy(dist.sample(params, keras.random.SeedGenerator(7)))
    b = ops.convert_to_numpy(dist.sample(params, keras.random.SeedGenerator(7)))
    c = ops.convert_to_numpy(dist.sample(params, keras.random.SeedGenerator(8)))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize(
    "dist,x,match",
    [
        (Bernoulli(), np.full((1, 2, 2, 1), 255.0), r"levels in 0\.\.1"),
        (Bernoulli(), np.array([[[[0.5]]]]), "integer levels"),
        (Bernoulli(), np.array([[[[np.nan]]]]), "NaN"),
        (Categorical(256), np.full((1, 2, 2, 1), 256.0), r"0\.\.255"),
        (Categorical(256), np.full((1, 2, 2, 1), -1.0), r"0\.\.255"),
        (Categorical(4), np.array(["a"]), "numeric"),
    ],
)
def test_validate_rejects_bad_data(dist, x, match):
    with pytest.raises(ValueError, match=match):
        dist.validate(x, name="x")


def test_get():
    assert isinstance(distributions.get("bernoulli"), Bernoulli)
    assert distributions.get("categorical", 16).num_levels == 16
    with pytest.raises(ValueError, match="likelihood"):
        distributions.get("gaussian")
    with pytest.raises(ValueError, match="num_levels"):
        distributions.get("categorical", 1)

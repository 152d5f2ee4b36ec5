import itertools

import numpy as np
import pytest
import keras
from keras import ops

from kgen import distributions
from kgen.distributions import Bernoulli, Categorical, DiscretizedLogisticMixture


# ---------------------------------------------------------------------------------------------------- reference
def _log_sigmoid(z):
    return -np.logaddexp(0.0, -z)


def _logsumexp(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


def reference_log_prob(x, params, num_mixtures, num_levels):
    """PixelCNN++ (2.1, 2.2) in float64 numpy: x (N, C) integer levels, params (N, P) -> log p(pixel) (N,).

    Written from the paper, independently of the implementation: per component the probability of a bin is
    sigmoid((x + h - mu) / s) - sigmoid((x - h - mu) / s) in [-1, 1] units (h = half a bin), taken in log space as
    log F(hi) + log(1 - F(lo) / F(hi)), from the upper tail when the bin lies above the mean, so that it keeps its
    precision far in the tails; the lowest level takes the CDF at its upper edge, the highest 1 - CDF at its lower
    edge.
    """
    x = np.asarray(x, np.float64)
    params = np.asarray(params, np.float64)
    n, c = x.shape
    k = num_mixtures
    logits = params[:, :k]
    mu = params[:, k : k + c * k].reshape(n, c, k)
    log_s = np.maximum(params[:, k + c * k : k + 2 * c * k].reshape(n, c, k), -7.0)
    coeff = np.tanh(params[:, k + 2 * c * k :]).reshape(n, c * (c - 1) // 2, k)
    pair = {(1, 0): 0, (2, 0): 1, (2, 1): 2}
    xs = 2.0 * x / (num_levels - 1) - 1.0
    h = 1.0 / (num_levels - 1)
    log_mix = logits - _logsumexp(logits, 1)[:, None]
    total = log_mix.copy()
    for ch in range(c):
        mean = mu[:, ch].copy()
        for j in range(ch):
            mean += coeff[:, pair[(ch, j)]] * xs[:, j : j + 1]
        s = np.exp(log_s[:, ch])
        centred = xs[:, ch : ch + 1] - mean
        hi, lo = (centred + h) / s, (centred - h) / s
        # log(F(hi) - F(lo)) = log F(hi) + log(1 - F(lo) / F(hi)), or the same with the upper tail 1 - F.
        with np.errstate(divide="ignore"):  # the branch not taken may hit log(0)
            below = _log_sigmoid(hi) + np.log1p(-np.exp(_log_sigmoid(lo) - _log_sigmoid(hi)))
            above = _log_sigmoid(-lo) + np.log1p(-np.exp(_log_sigmoid(-hi) - _log_sigmoid(-lo)))
        log_delta = np.where(centred > 0, above, below)
        level = x[:, ch : ch + 1]
        lp = np.where(level == 0, _log_sigmoid(hi), np.where(level == num_levels - 1, _log_sigmoid(-lo), log_delta))
        total += lp
    return _logsumexp(total, 1)


def random_params(rng, n, channels, k, log_scale=(-5.0, 0.5), coeff_std=1.0):
    dist = DiscretizedLogisticMixture(k)
    p = np.zeros((n, dist.params_per_pixel(channels)))
    p[:, :k] = rng.normal(size=(n, k))
    p[:, k : k + channels * k] = rng.uniform(-1.2, 1.2, size=(n, channels * k))
    p[:, k + channels * k : k + 2 * channels * k] = rng.uniform(*log_scale, size=(n, channels * k))
    p[:, k + 2 * channels * k :] = rng.normal(0.0, coeff_std, size=(n, p.shape[1] - k - 2 * channels * k))
    return p.astype("float32")


def all_pixels(channels, num_levels):
    return np.array(list(itertools.product(range(num_levels), repeat=channels)), "float32")


def total_variation(samples, probs, channels, num_levels):
    """0.5 * sum |empirical - probs| over every pixel value (probs ordered like `all_pixels`)."""
    index = np.zeros(len(samples), np.int64)
    for ch in range(channels):
        index = index * num_levels + samples[:, ch].astype(np.int64)
    freq = np.bincount(index, minlength=num_levels**channels) / len(samples)
    return 0.5 * np.abs(freq - probs).sum()


def _compiled(fn):
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(fn)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    return fn


class PixelParams(keras.Model):
    """Trainable parameter vectors (N or 1, P), broadcast over the batch of pixels."""

    def __init__(self, init):
        super().__init__(name="pixel_params")
        self.w = self.add_weight(shape=init.shape, initializer="zeros", name="w")
        self.w.assign(init)

    def call(self, x):
        return ops.zeros_like(x[..., :1]) + self.w


# ---------------------------------------------------------------------------------------------------- shapes
def test_shapes_and_config():
    dist = DiscretizedLogisticMixture(num_mixtures=5)
    assert dist.name == "logistic_mixture" and dist.joint_channels and dist.num_levels == 256
    assert dist.params_per_pixel(1) == 15 and dist.params_per_pixel(3) == 50 and dist.params_per_dim == 15
    assert dist.param_shape((32, 32, 3)) == (32, 32, 50)
    assert dist.param_shape((2, 28, 28, 1)) == (2, 28, 28, 15)
    assert dist.noise_shape((4, 8, 8, 3)) == (4, 8, 8, 8)
    assert dist.channels_from_params(50) == 3 and dist.channels_from_params(15) == 1
    assert dist.get_config() == {"name": "logistic_mixture", "num_levels": 256, "num_mixtures": 5}
    with pytest.raises(ValueError, match="params"):
        dist.channels_from_params(16)
    with pytest.raises(ValueError, match="params"):
        dist.log_prob_per_dim(np.zeros((2, 3), "float32"), np.zeros((2, 15), "float32"))
    with pytest.raises(ValueError, match="data_shape"):
        dist.param_shape(())


# ---------------------------------------------------------------------------------------------------- log_prob
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("num_levels", [256, 4])
def test_log_prob_matches_reference(channels, num_levels):
    rng = np.random.default_rng(10 * channels + num_levels)
    k, n = 4, 400
    dist = DiscretizedLogisticMixture(k, num_levels)
    params = random_params(rng, n, channels, k)
    params[:50, k + channels * k : k + 2 * channels * k] = -9.0  # below the clamp
    x = rng.integers(0, num_levels, size=(n, channels)).astype("float32")
    x[:40] = 0
    x[40:80] = num_levels - 1
    x[80:120, 0] = 0
    x[120:160, -1] = num_levels - 1
    expected = reference_log_prob(x, params, k, num_levels)
    assert np.all(np.isfinite(expected))
    got = ops.convert_to_numpy(dist.log_prob_per_dim(x, params))
    assert got.shape == (n,)
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-4)
    # Integer data give the same numbers.
    got_int = ops.convert_to_numpy(dist.log_prob_per_dim(x.astype("int32"), params))
    np.testing.assert_allclose(got_int, got, rtol=1e-6, atol=1e-6)


def test_log_prob_flat_bins_match_reference():
    """Huge scales take the centre-density branch; it must agree with the exact bin probability."""
    rng = np.random.default_rng(3)
    k, n, c = 3, 200, 3
    dist = DiscretizedLogisticMixture(k)
    params = random_params(rng, n, c, k, log_scale=(6.0, 14.0))
    x = rng.integers(1, 255, size=(n, c)).astype("float32")
    expected = reference_log_prob(x, params, k, 256)
    got = ops.convert_to_numpy(dist.log_prob_per_dim(x, params))
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-4)


def test_base_log_prob_and_nll_sum_pixels_per_example():
    rng = np.random.default_rng(4)
    k, b, h, w, c = 3, 2, 3, 4, 3
    dist = DiscretizedLogisticMixture(k)
    params = random_params(rng, b * h * w, c, k).reshape(b, h, w, -1)
    x = rng.integers(0, 256, size=(b, h, w, c)).astype("float32")
    per_pixel = reference_log_prob(x.reshape(-1, c), params.reshape(-1, params.shape[-1]), k, 256)
    expected = per_pixel.reshape(b, -1).sum(1)
    assert tuple(dist.log_prob_per_dim(x, params).shape) == (b, h, w)
    np.testing.assert_allclose(ops.convert_to_numpy(dist.log_prob(x, params)), expected, rtol=1e-5)
    np.testing.assert_allclose(ops.convert_to_numpy(dist.nll(x, params)), -expected.mean(), rtol=1e-5)


@pytest.mark.parametrize("num_levels", [2, 8, 256])
def test_probabilities_sum_to_one_grey(num_levels):
    rng = np.random.default_rng(num_levels)
    k = 3
    dist = DiscretizedLogisticMixture(k, num_levels)
    for _ in range(3):
        params = np.repeat(random_params(rng, 1, 1, k), num_levels, axis=0)
        x = all_pixels(1, num_levels)
        total = np.exp(ops.convert_to_numpy(dist.log_prob_per_dim(x, params)).astype("float64")).sum()
        assert abs(total - 1.0) < 1e-5


def test_probabilities_sum_to_one_rgb():
    """Every colour triple of one pixel: a mean that depended on its own channel or a later one would not sum to 1."""
    rng = np.random.default_rng(5)
    k, levels = 3, 4
    dist = DiscretizedLogisticMixture(k, levels)
    x = all_pixels(3, levels)
    for _ in range(3):
        params = np.repeat(random_params(rng, 1, 3, k, log_scale=(-3.0, 0.0), coeff_std=2.0), len(x), axis=0)
        total = np.exp(ops.convert_to_numpy(dist.log_prob_per_dim(x, params)).astype("float64")).sum()
        assert abs(total - 1.0) < 1e-5


def test_extreme_params_give_finite_log_probs_and_gradients():
    k, c = 2, 3
    dist = DiscretizedLogisticMixture(k)
    rows = []
    grid = itertools.product([-60.0, -7.0, 0.0, 20.0, 90.0], [-1e3, -5.0, 0.3, 5.0, 1e3], [-50.0, 50.0], [-30.0, 30.0])
    for log_s, mean, logit, coeff in grid:
        p = np.zeros(dist.params_per_pixel(c), "float32")
        p[:k] = [logit, -logit]
        p[k : k + c * k] = mean
        p[k + c * k : k + 2 * c * k] = log_s
        p[k + 2 * c * k :] = coeff
        rows.append(p)
    params = np.stack(rows)
    levels = np.array([[0, 0, 0], [255, 255, 255], [1, 128, 254], [0, 255, 7], [254, 1, 255]], "float32")
    x = levels[np.arange(len(params)) % len(levels)]
    lp = ops.convert_to_numpy(dist.log_prob_per_dim(x, params))
    assert np.all(np.isfinite(lp)), params[~np.isfinite(lp)]
    # Gradients: one plain SGD step on these parameters must leave them finite.
    model = PixelParams(params)
    model.compile(optimizer=keras.optimizers.SGD(1e-6), loss=lambda y, p: -dist.log_prob_per_dim(y, p))
    history = model.fit(x, x, batch_size=len(x), epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert np.all(np.isfinite(ops.convert_to_numpy(model.w)))


def test_log_scale_is_clamped_at_minus_seven():
    rng = np.random.default_rng(6)
    k = 2
    dist = DiscretizedLogisticMixture(k)
    params = random_params(rng, 50, 3, k)
    x = rng.integers(0, 256, size=(50, 3)).astype("float32")
    a, b = params.copy(), params.copy()
    a[:, k + 3 * k : k + 6 * k] = -7.0
    b[:, k + 3 * k : k + 6 * k] = -30.0
    np.testing.assert_array_equal(
        ops.convert_to_numpy(dist.log_prob_per_dim(x, a)), ops.convert_to_numpy(dist.log_prob_per_dim(x, b))
    )


# ---------------------------------------------------------------------------------------------------- sampling
def test_same_seed_same_samples():
    rng = np.random.default_rng(7)
    dist = DiscretizedLogisticMixture(3)
    params = random_params(rng, 4 * 5 * 5, 3, 3).reshape(4, 5, 5, -1)
    a = ops.convert_to_numpy(dist.sample(params, keras.random.SeedGenerator(7)))
    b = ops.convert_to_numpy(dist.sample(params, keras.random.SeedGenerator(7)))
    c = ops.convert_to_numpy(dist.sample(params, keras.random.SeedGenerator(8)))
    assert a.shape == (4, 5, 5, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(a == np.round(a)) and a.min() >= 0 and a.max() <= 255


def test_sample_from_noise_is_deterministic():
    rng = np.random.default_rng(8)
    dist = DiscretizedLogisticMixture(4)
    params = random_params(rng, 2 * 3 * 3, 3, 4).reshape(2, 3, 3, -1)
    noise = dist.sample_noise((2, 3, 3, 3), keras.random.SeedGenerator(1))
    assert tuple(noise.shape) == (2, 3, 3, 7)
    a = ops.convert_to_numpy(dist.sample_from_noise(params, noise))
    b = ops.convert_to_numpy(dist.sample_from_noise(params, noise))
    np.testing.assert_array_equal(a, b)


def test_sample_from_noise_follows_component_and_quantised_earlier_channels():
    """Hand-made noise: the Gumbel part picks component 1, zero logistic noise gives each mean, rounded; G's and B's
    means move with the quantised R (and G) already drawn, not with the unrounded draws."""
    k, levels = 2, 4
    dist = DiscretizedLogisticMixture(k, levels)
    p = np.zeros(dist.params_per_pixel(3), "float32")
    p[:k] = [3.0, 0.0]  # component 0 is the more likely one a priori
    p[k : k + 3 * k] = [0.9, 0.3, -0.9, -0.305, 0.9, -0.3]  # means mu[c, k]
    p[k + 3 * k : k + 6 * k] = -5.0
    raw = np.array([[0.0, 2.0], [0.0, -1.0], [0.0, 0.25]])  # pairs G|R, B|R, B|G by component
    p[k + 6 * k :] = raw.reshape(-1)
    noise = np.array([[-100.0, 100.0, 0.0, 0.0, 0.0]], "float32")
    got = ops.convert_to_numpy(dist.sample_from_noise(p[None], noise))[0]

    def to_level(v):
        return np.clip(np.round((np.clip(v, -1, 1) + 1) * (levels - 1) / 2), 0, levels - 1)

    def to_unit(level):
        return level * 2 / (levels - 1) - 1

    r = to_level(0.3)
    g = to_level(-0.305 + np.tanh(2.0) * to_unit(r))
    b = to_level(-0.3 + np.tanh(-1.0) * to_unit(r) + np.tanh(0.25) * to_unit(g))
    assert g != to_level(-0.305 + np.tanh(2.0) * 0.3)  # the test tells quantised from unrounded R
    np.testing.assert_array_equal(got, [r, g, b])
    # Flipping the Gumbel noise picks component 0 instead.
    noise[0, :2] = [100.0, -100.0]
    got0 = ops.convert_to_numpy(dist.sample_from_noise(p[None], noise))[0]
    np.testing.assert_array_equal(got0, [to_level(0.9), to_level(-0.9), to_level(0.9)])


@pytest.mark.parametrize("channels,num_levels,n", [(1, 8, 20000), (3, 4, 60000)])
def test_sample_frequencies_match_probabilities(channels, num_levels, n):
    rng = np.random.default_rng(9)
    k = 3
    dist = DiscretizedLogisticMixture(k, num_levels)
    one = random_params(rng, 1, channels, k, log_scale=(-2.5, -0.5), coeff_std=2.0)
    x = all_pixels(channels, num_levels)
    probs = np.exp(ops.convert_to_numpy(dist.log_prob_per_dim(x, np.repeat(one, len(x), axis=0))).astype("float64"))
    samples = ops.convert_to_numpy(dist.sample(np.repeat(one, n, axis=0), keras.random.SeedGenerator(0)))
    assert samples.shape == (n, channels)
    assert total_variation(samples, probs, channels, num_levels) < 0.03


def test_compiled_matches_eager():
    rng = np.random.default_rng(11)
    dist = DiscretizedLogisticMixture(3)
    params = ops.convert_to_tensor(random_params(rng, 2 * 4 * 4, 3, 3).reshape(2, 4, 4, -1))
    x = ops.convert_to_tensor(rng.integers(0, 256, size=(2, 4, 4, 3)).astype("float32"))
    noise = dist.sample_noise((2, 4, 4, 3), keras.random.SeedGenerator(2))
    np.testing.assert_allclose(
        ops.convert_to_numpy(_compiled(dist.log_prob)(x, params)),
        ops.convert_to_numpy(dist.log_prob(x, params)),
        rtol=1e-5,
    )
    np.testing.assert_array_equal(
        ops.convert_to_numpy(_compiled(dist.sample_from_noise)(params, noise)),
        ops.convert_to_numpy(dist.sample_from_noise(params, noise)),
    )


# ---------------------------------------------------------------------------------------------------- get
def test_get():
    dist = distributions.get("logistic_mixture", num_mixtures=3)
    assert isinstance(dist, DiscretizedLogisticMixture)
    assert (dist.num_mixtures, dist.num_levels) == (3, 256)
    default = distributions.get("logistic_mixture")
    assert (default.num_mixtures, default.num_levels) == (5, 256)
    assert distributions.get("logistic_mixture", num_levels=16).num_levels == 16
    assert isinstance(distributions.get("bernoulli"), Bernoulli)
    assert isinstance(distributions.get("categorical", 16), Categorical)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"name": "logistic_mixture", "num_mixtures": 0}, "num_mixtures"),
        ({"name": "logistic_mixture", "num_mixtures": "x"}, "num_mixtures"),
        ({"name": "logistic_mixture", "num_mixtures": 2.0}, "num_mixtures"),
        ({"name": "logistic_mixture", "num_levels": 1}, "num_levels"),
        ({"name": "bernoulli", "num_mixtures": 3}, "num_mixtures"),
        ({"name": "categorical", "num_mixtures": 3}, "num_mixtures"),
        ({"name": "x"}, "likelihood.*logistic_mixture"),
    ],
)
def test_get_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        distributions.get(**kwargs)


def test_validate_rejects_bad_data():
    dist = DiscretizedLogisticMixture(2, 16)
    with pytest.raises(ValueError, match=r"0\.\.15"):
        dist.validate(np.full((1, 2, 2, 3), 16.0))
    with pytest.raises(ValueError, match="integer levels"):
        dist.validate(np.full((1, 2, 2, 3), 0.5))


# ---------------------------------------------------------------------------------------------------- learning
def test_fitting_one_pixel_reaches_the_entropy():
    """Adam on one pixel's parameters, weighted by a target made by another mixture: the cross-entropy must come
    down to that target's entropy."""
    rng = np.random.default_rng(12)
    k, levels, channels = 2, 4, 3
    dist = DiscretizedLogisticMixture(k, levels)
    x = all_pixels(channels, levels)
    target = random_params(rng, 1, channels, k, log_scale=(-1.5, -0.5), coeff_std=1.0)
    p = np.exp(reference_log_prob(x, np.repeat(target, len(x), axis=0), k, levels))
    entropy = -np.sum(p * np.log(p))
    model = PixelParams(rng.normal(0.0, 0.1, size=target.shape).astype("float32"))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=lambda y, q: -dist.log_prob_per_dim(y, q))
    steps = 300
    weights = np.tile(p * len(x), steps).astype("float32")  # the batch mean is then the cross-entropy
    data = np.tile(x, (steps, 1))
    model.fit(data, data, sample_weight=weights, batch_size=len(x), shuffle=False, epochs=1, verbose=0)
    q = np.repeat(ops.convert_to_numpy(model.w), len(x), axis=0)
    cross_entropy = -np.sum(p * reference_log_prob(x, q, k, levels))
    start = -np.sum(p * reference_log_prob(x, np.zeros_like(q), k, levels))
    assert start - entropy > 0.3
    assert cross_entropy - entropy < 1e-3, (cross_entropy, entropy)

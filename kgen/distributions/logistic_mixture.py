"""PixelCNN++'s discretized logistic mixture: one joint likelihood per pixel over all of its channels."""

import math

from keras import backend
from keras import ops

from kgen.distributions.base import Distribution
from kgen.validation import check_int

# Smallest log-scale, as in PixelCNN++: keeps exp(-log_scale) finite and the bins from becoming delta spikes.
MIN_LOG_SCALE = -7.0
# Below this ratio of bin width to scale the logistic density is flat across the bin, and the bin's log-probability
# is the log-density at the bin centre plus log(bin width) (the PixelCNN++ fallback), accurate to ~ratio**2.
FLAT_BIN_RATIO = 1e-5
# Uniform draws are kept inside (0, 1) before the Gumbel and logistic transforms.
UNIFORM_EPS = 1e-7


class DiscretizedLogisticMixture(Distribution):
    """Mixture of discretized logistics over the channels of a pixel (PixelCNN++, Salimans et al. 2017, 2.1-2.2).

    The network outputs one parameter vector per pixel, computed from earlier pixels only (`joint_channels`). Data
    are integer levels `0 .. num_levels - 1`, mapped to [-1, 1] (bin width `2 / (num_levels - 1)`); the lowest and
    highest levels take the whole left and right tails. Channels are modelled in order: under component k the mean
    of channel c is `mu[c, k] + sum_{j < c} coeff[c, j, k] * x_j`, with `x_j` the pixel's actual earlier channel
    values in [-1, 1], so G depends on R, and B on R and G.

    Parameter layout, for K = `num_mixtures` and C channels (P = K * (1 + 2C + C(C-1)/2) values per pixel, 3K for
    C = 1, 10K for C = 3), with k the component index:

    - `[0, K)`: mixture logits, `logit[k]` at `k`;
    - `[K, K + CK)`: means in [-1, 1] units, `mu[c, k]` at `K + c*K + k`;
    - `[K + CK, K + 2CK)`: log-scales, `log_s[c, k]` at `K + C*K + c*K + k`, clamped below at -7;
    - `[K + 2CK, P)`: the C(C-1)/2 raw coefficients, pairs (c, j) with j < c in the order (1, 0), (2, 0), (2, 1)
      (G|R, B|R, B|G for RGB), the pair numbered p at `K + 2*C*K + p*K + k`; the coefficient used is `tanh(raw)`.

    Args:
        num_mixtures: number of logistic components K.
        num_levels: number of data levels (256 for 8-bit images).

    Example:
        >>> dist = DiscretizedLogisticMixture(num_mixtures=5)
        >>> dist.param_shape((32, 32, 3))
        (32, 32, 50)

    Reference: Salimans, Karpathy, Chen, Kingma, "PixelCNN++: Improving the PixelCNN with Discretized Logistic
    Mixture Likelihood and Other Modifications", ICLR 2017.
    """

    name = "logistic_mixture"
    joint_channels = True

    def __init__(self, num_mixtures=5, num_levels=256):
        owner = "DiscretizedLogisticMixture"
        self.num_mixtures = check_int(num_mixtures, "num_mixtures", minimum=1, owner=owner)
        self.num_levels = check_int(num_levels, "num_levels", minimum=2, owner=owner)

    # ----------------------------------------------------------------------------------------------- shapes
    @property
    def params_per_dim(self):
        return self.params_per_pixel(1)

    def params_per_pixel(self, channels):
        channels = check_int(channels, "channels", owner="DiscretizedLogisticMixture")
        return self.num_mixtures * (1 + 2 * channels + channels * (channels - 1) // 2)

    def channels_from_params(self, num_params):
        """The number of channels C whose parameter vector has `num_params` values (a ValueError if none)."""
        channels = 1
        while self.params_per_pixel(channels) < num_params:
            channels += 1
        if self.params_per_pixel(channels) != num_params:
            raise ValueError(
                f"`params` must have K * (1 + 2C + C(C-1)/2) values per pixel for a logistic mixture with "
                f"K={self.num_mixtures} components ({self.params_per_pixel(1)} for 1 channel, "
                f"{self.params_per_pixel(3)} for 3), got a last axis of {num_params}."
            )
        return channels

    def param_shape(self, data_shape):
        data_shape = self._check_data_shape(data_shape)
        return data_shape[:-1] + (self.params_per_pixel(data_shape[-1]),)

    def noise_shape(self, data_shape):
        data_shape = self._check_data_shape(data_shape)
        return data_shape[:-1] + (self.num_mixtures + data_shape[-1],)

    def _check_data_shape(self, data_shape):
        data_shape = tuple(data_shape)
        if not data_shape or data_shape[-1] is None or int(data_shape[-1]) < 1:
            raise ValueError(
                "`data_shape` must end with the number of channels, e.g. (height, width, channels), "
                f"got {data_shape!r}."
            )
        return data_shape

    # ----------------------------------------------------------------------------------------------- parameters
    def _compute_dtype(self, params):
        return "float64" if backend.standardize_dtype(params.dtype) == "float64" else "float32"

    def _unpack(self, params, channels):
        """Split `params` (..., P) into logits (..., K), and per channel lists of means, log-scales, coefficients."""
        k = self.num_mixtures
        num_params = params.shape[-1]
        if num_params is not None and int(num_params) != self.params_per_pixel(channels):
            raise ValueError(
                f"`params` must have {self.params_per_pixel(channels)} values per pixel for {channels} channel(s) and "
                f"{k} mixture components, got a last axis of {num_params}."
            )
        logits = params[..., :k]
        means = [params[..., k + c * k : k + (c + 1) * k] for c in range(channels)]
        start = k + channels * k
        log_scales = [
            ops.maximum(params[..., start + c * k : start + (c + 1) * k], MIN_LOG_SCALE) for c in range(channels)
        ]
        start = k + 2 * channels * k
        coeffs = {}
        pair = 0
        for c in range(1, channels):
            for j in range(c):
                coeffs[(c, j)] = ops.tanh(params[..., start + pair * k : start + (pair + 1) * k])
                pair += 1
        return logits, means, log_scales, coeffs

    def _to_unit(self, levels):
        """Levels 0..L-1 -> [-1, 1]."""
        return levels * (2.0 / (self.num_levels - 1)) - 1.0

    # ----------------------------------------------------------------------------------------------- log-probability
    def _bin_log_prob(self, levels, mean, log_scale):
        """log P(level) under one discretized logistic, for every component: levels (..., 1), the rest (..., K)."""
        half_bin = 1.0 / (self.num_levels - 1)
        centred = self._to_unit(levels) - mean
        inv_scale = ops.exp(-log_scale)
        upper = inv_scale * (centred + half_bin)  # logistic-standardised top edge of the bin
        lower = inv_scale * (centred - half_bin)  # and bottom edge
        # Lowest level: log CDF(upper). Highest level: log(1 - CDF(lower)).
        log_cdf_upper = ops.log_sigmoid(upper)
        log_sf_lower = ops.log_sigmoid(-lower)
        # Interior: log(sigmoid(u) - sigmoid(l)) = log sigmoid(u) + log sigmoid(-l) + log(1 - exp(l - u)), exact and
        # free of cancellation in both tails (the bin's probability never underflows in log space).
        ratio = 2.0 * half_bin * inv_scale  # u - l: bin width over scale
        log_width_term = ops.log(-ops.expm1(-ops.maximum(ratio, FLAT_BIN_RATIO)))
        log_delta = log_cdf_upper + log_sf_lower + log_width_term
        # When the bin is negligibly narrow against the scale (ratio underflows for huge scales): the log-density at
        # the bin centre plus log(bin width), the PixelCNN++ fallback.
        mid = inv_scale * centred
        log_pdf_mid = mid - log_scale - 2.0 * ops.softplus(mid)
        log_centre = log_pdf_mid + math.log(2.0 * half_bin)
        interior = ops.where(ratio < FLAT_BIN_RATIO, log_centre, log_delta)
        return ops.where(
            levels < 0.5, log_cdf_upper, ops.where(levels > self.num_levels - 1.5, log_sf_lower, interior)
        )

    def log_prob_per_dim(self, x, params):
        """Log-probability in nats of every PIXEL (all channels jointly): `x` (..., C), `params` (..., P) ->
        shape x.shape[:-1]. The base class's `log_prob` sums this to one number per example."""
        channels = x.shape[-1]
        if channels is None:
            raise ValueError("`x` must have a known number of channels (its last axis).")
        channels = int(channels)
        dtype = self._compute_dtype(params)
        params = ops.cast(params, dtype)
        x = ops.cast(x, dtype)
        logits, means, log_scales, coeffs = self._unpack(params, channels)
        total = ops.log_softmax(logits, axis=-1)
        for c in range(channels):
            mean = means[c]
            for j in range(c):
                mean = mean + coeffs[(c, j)] * self._to_unit(x[..., j : j + 1])
            total = total + self._bin_log_prob(x[..., c : c + 1], mean, log_scales[c])
        return ops.logsumexp(total, axis=-1)

    # ----------------------------------------------------------------------------------------------- sampling
    def noise_from_uniform(self, u):
        """First K values: Gumbel noise for the component choice; last C values: standard logistic noise."""
        k = self.num_mixtures
        u = ops.clip(u, UNIFORM_EPS, 1.0 - UNIFORM_EPS)
        gumbel = -ops.log(-ops.log(u[..., :k]))
        logistic = ops.log(u[..., k:]) - ops.log1p(-u[..., k:])
        return ops.concatenate([gumbel, logistic], axis=-1)

    def sample_from_noise(self, params, noise):
        """Deterministic pixel sample: the component is argmax(logits + Gumbel); channel c is its logistic draw with
        the mean shifted by the quantised values of the channels already drawn, rounded to the nearest level.
        Returns float32 levels shaped params.shape[:-1] + (C,)."""
        k = self.num_mixtures
        channels = noise.shape[-1]
        if channels is None or int(channels) <= k:
            raise ValueError(
                f"`noise` must have K + C values on its last axis (K={k} components, C channels), got {channels}."
            )
        channels = int(channels) - k
        dtype = self._compute_dtype(params)
        params = ops.cast(params, dtype)
        noise = ops.cast(noise, dtype)
        logits, means, log_scales, coeffs = self._unpack(params, channels)
        choice = ops.one_hot(ops.argmax(logits + noise[..., :k], axis=-1), k, dtype=dtype)
        top = float(self.num_levels - 1)
        drawn = []  # quantised values in [-1, 1]
        levels = []
        for c in range(channels):
            mean = means[c]
            for j in range(c):
                mean = mean + coeffs[(c, j)] * drawn[j]
            mean = ops.sum(choice * mean, axis=-1, keepdims=True)
            log_scale = ops.sum(choice * log_scales[c], axis=-1, keepdims=True)
            value = mean + ops.exp(log_scale) * noise[..., k + c : k + c + 1]
            level = ops.clip(ops.round((ops.clip(value, -1.0, 1.0) + 1.0) * (top / 2.0)), 0.0, top)
            levels.append(level)
            drawn.append(self._to_unit(level))
        return ops.cast(ops.concatenate(levels, axis=-1), "float32")

    def sample(self, params, seed):
        """Draw one pixel sample per parameter vector: `params` (..., P) -> float32 levels (..., C)."""
        channels = self.channels_from_params(int(params.shape[-1]))
        data_shape = tuple(params.shape)[:-1] + (channels,)
        return self.sample_from_noise(params, self.sample_noise(data_shape, seed))

    def get_config(self):
        return {"name": self.name, "num_levels": self.num_levels, "num_mixtures": self.num_mixtures}

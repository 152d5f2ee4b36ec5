"""Likelihood heads: turn network outputs into log-probabilities, losses and samples."""

import abc
import math

import numpy as np
import keras
from keras import ops

from kgen.validation import check_int

LN2 = math.log(2.0)


class Distribution(abc.ABC):
    """Base class of a per-dimension discrete likelihood head.

    A head knows how many network outputs it needs per data dimension (`params_per_dim`), how to reshape the raw
    network output into its parameters, the log-probability of data in nats, and how to sample. Sampling is split into
    drawing noise (`sample_noise`, the only random step, driven by a `keras.random.SeedGenerator`) and a deterministic
    `sample_from_noise`, so naive and cached samplers given the same noise produce identical samples.

    Data are the integer levels `0 .. num_levels - 1` held in a float or int tensor.
    """

    name = None
    num_levels = None
    # False: one set of parameters per sub-pixel, and the model masks R -> G -> B itself (channel groups).
    # True: one set of parameters per pixel that models the channels jointly (PixelCNN++'s mixture), so the network
    # must see only earlier pixels, never the current one's channels, and samplers draw a whole pixel at a time.
    joint_channels = False

    @property
    @abc.abstractmethod
    def params_per_dim(self):
        """Number of network outputs per data dimension."""

    def params_per_pixel(self, channels):
        """Number of network outputs per pixel of an image with `channels` channels (the output layer's width)."""
        return channels * self.params_per_dim

    @abc.abstractmethod
    def param_shape(self, data_shape):
        """Shape of the parameters for data of `data_shape` (without the batch axis)."""

    @abc.abstractmethod
    def log_prob_per_dim(self, x, params):
        """Log-probability in nats of every data dimension, shaped like `x`."""

    @abc.abstractmethod
    def noise_shape(self, data_shape):
        """Shape of the noise behind one sample of data shaped `data_shape` (batch axis included)."""

    @abc.abstractmethod
    def noise_from_uniform(self, u):
        """Turn uniform [0, 1) draws of shape `noise_shape` into the noise that `sample_from_noise` takes."""

    def sample_noise(self, data_shape, seed):
        """The random draw behind one sample of data shaped `data_shape` (batch axis included)."""
        return self.noise_from_uniform(keras.random.uniform(self.noise_shape(tuple(data_shape)), seed=seed))

    @abc.abstractmethod
    def sample_from_noise(self, params, noise):
        """The sample that `noise` selects under `params`: deterministic."""

    def log_prob(self, x, params):
        """Log-probability of each example in nats, summed over every data dimension: shape (batch,)."""
        lp = self.log_prob_per_dim(x, params)
        return ops.sum(ops.reshape(lp, (ops.shape(lp)[0], -1)), axis=-1)

    def nll(self, x, params):
        """Mean negative log-likelihood over the batch, in nats per example (the training loss)."""
        return -ops.mean(self.log_prob(x, params))

    def sample(self, params, seed):
        """Draw one sample per position from `params` (`sample_noise` followed by `sample_from_noise`)."""
        extra = len(self.param_shape(()))
        data_shape = tuple(params.shape)[: len(params.shape) - extra]
        return self.sample_from_noise(params, self.sample_noise(data_shape, seed))

    @staticmethod
    def bits_per_dim(nats_per_example, num_dims):
        """Convert nats per example to bits per dimension."""
        return nats_per_example / (num_dims * LN2)

    def validate(self, x, name="x"):
        """Raise a ValueError naming `name` unless `x` (numpy-convertible) holds integer levels in range."""
        arr = np.asarray(x)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
            raise ValueError(f"`{name}` must be a numeric array of pixel levels, got dtype {arr.dtype}.")
        if arr.size == 0:
            raise ValueError(f"`{name}` is empty.")
        if np.issubdtype(arr.dtype, np.floating):
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"`{name}` contains NaN or infinite values; expected integer levels 0..{self.num_levels - 1}.")
            if not np.all(arr == np.round(arr)):
                raise ValueError(
                    f"`{name}` must hold integer levels 0..{self.num_levels - 1} for a {self.name} likelihood; "
                    f"got non-integer values (e.g. {arr[arr != np.round(arr)].flat[0]!r}). "
                    "Pass the quantised pixel levels, not normalised intensities."
                )
        lo, hi = arr.min(), arr.max()
        if lo < 0 or hi > self.num_levels - 1:
            raise ValueError(
                f"`{name}` must hold levels in 0..{self.num_levels - 1} for a {self.name} likelihood with "
                f"{self.num_levels} levels; got values in [{lo}, {hi}]."
            )

    def get_config(self):
        return {"name": self.name, "num_levels": self.num_levels}


class Bernoulli(Distribution):
    """Independent Bernoulli per dimension (binary images); the parameter is the logit of P(x = 1)."""

    name = "bernoulli"
    num_levels = 2

    @property
    def params_per_dim(self):
        return 1

    def param_shape(self, data_shape):
        return tuple(data_shape)

    def log_prob_per_dim(self, x, params):
        x = ops.cast(x, params.dtype)
        # log p = x * logit - softplus(logit), the numerically stable form of the binary cross-entropy.
        return ops.subtract(ops.multiply(x, params), ops.softplus(params))

    def noise_shape(self, data_shape):
        return tuple(data_shape)

    def noise_from_uniform(self, u):
        return u

    def sample_from_noise(self, params, noise):
        return ops.cast(ops.less(noise, ops.sigmoid(params)), "float32")


class Categorical(Distribution):
    """A K-way categorical per dimension (256 for 8-bit pixels, fewer for quantised data); parameters are logits."""

    name = "categorical"

    def __init__(self, num_levels=256):
        self.num_levels = check_int(num_levels, "num_levels", minimum=2, owner="Categorical")

    @property
    def params_per_dim(self):
        return self.num_levels

    def param_shape(self, data_shape):
        return tuple(data_shape) + (self.num_levels,)

    def log_prob_per_dim(self, x, params):
        x = ops.cast(x, "int32")
        log_p = ops.log_softmax(params, axis=-1)
        onehot = ops.one_hot(x, self.num_levels, dtype=log_p.dtype)
        return ops.sum(log_p * onehot, axis=-1)

    def noise_shape(self, data_shape):
        return tuple(data_shape) + (self.num_levels,)

    def noise_from_uniform(self, u):
        # Gumbel noise: argmax(logits + g) is an exact categorical sample. u is kept inside (0, 1).
        u = ops.clip(u, 1e-7, 1.0 - 1e-7)
        return -ops.log(-ops.log(u))

    def sample_from_noise(self, params, noise):
        return ops.cast(ops.argmax(ops.add(params, noise), axis=-1), "float32")

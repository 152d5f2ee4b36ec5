"""The shared base of kgen's autoregressive image models: likelihood loss, log_prob, sample, input checks."""

import numpy as np
import keras
from keras import ops

from kgen.distributions import LN2
from kgen.validation import check_int


def check_image_shape(image_shape, owner):
    """Validate an `image_shape` argument: (height, width, channels) with channels 1 or 3."""
    try:
        shape = tuple(int(d) for d in image_shape)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: `image_shape` must be (height, width, channels), got {image_shape!r}.") from None
    if len(shape) != 3 or min(shape) < 1 or shape[2] not in (1, 3):
        raise ValueError(
            f"{owner}: `image_shape` must be (height, width, channels) with positive sizes and 1 or 3 channels, "
            f"got {image_shape!r}."
        )
    return shape


def channel_groups_for(distribution, channels):
    """Colour groups for the masked layers: one per channel (R -> G -> B masking), or 1 when the likelihood head
    models a pixel's channels jointly (then the whole current pixel is hidden from the network)."""
    return 1 if distribution.joint_channels else channels


def check_residual_widths(hidden_dim, output_dim, groups, owner):
    """The residual models' widths: `hidden_dim` even, and `hidden_dim // 2` and `output_dim` split evenly into the
    colour groups of the masked layers."""
    for value, name in ((hidden_dim // 2, "hidden_dim // 2"), (output_dim, "output_dim")):
        if hidden_dim % 2 or value % groups:
            raise ValueError(
                f"{owner}: `hidden_dim` must be even and `{name}` divisible by the {groups} colour groups, "
                f"got hidden_dim={hidden_dim}, output_dim={output_dim}."
            )


def rescale_input(images, distribution):
    """The network's view of integer pixel levels: [0, num_levels - 1] mapped to [-1, 1]."""
    levels = distribution.num_levels
    return keras.layers.Rescaling(2.0 / (levels - 1), offset=-1.0, name="rescale")(images)


def output_head(x, distribution, image_shape, output_dim, groups):
    """The shared head of the image models: ReLU -> 1x1 type-B (`output_dim`) -> ReLU -> 1x1 type-B to the
    likelihood's parameters (float32 under mixed precision), reshaped to `distribution.param_shape`. The layer
    names are part of the saved format and of the cached samplers."""
    from kgen.layers.masked_conv2d import MaskedConv2D

    x = keras.layers.ReLU(name="output_relu1")(x)
    x = MaskedConv2D(output_dim, 1, "B", channel_groups=groups, name="output_conv1")(x)
    x = keras.layers.ReLU(name="output_relu2")(x)
    params_per_pixel = distribution.params_per_pixel(image_shape[-1])
    x = MaskedConv2D(params_per_pixel, 1, "B", channel_groups=groups, name="output_conv2", dtype="float32")(x)
    return keras.layers.Reshape(distribution.param_shape(image_shape), name="params")(x)


def check_labels(labels, num, num_classes, owner, name="labels"):
    """Return `labels` as an int32 array of shape (num,), or raise a ValueError naming `name`.

    A conditional model (`num_classes` not None) needs one class label in 0..num_classes-1 per example (a single
    int is repeated); an unconditional model takes none.
    """
    if num_classes is None:
        if labels is not None:
            raise ValueError(f"`{name}` given, but this {owner} is unconditional (built without `num_classes`).")
        return None
    if labels is None:
        raise ValueError(f"`{name}` is required: this {owner} is conditioned on {num_classes} classes.")
    arr = np.asarray(labels)
    if arr.ndim == 0:
        arr = np.full((num,), arr)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number) or arr.ndim != 1 or len(arr) != num:
        raise ValueError(f"`{name}` must be {num} integer class labels (shape ({num},)), got {np.shape(labels)}.")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(arr == np.round(arr)):
        raise ValueError(f"`{name}` must hold integer class labels, got non-integer values.")
    if arr.min() < 0 or arr.max() >= num_classes:
        raise ValueError(
            f"`{name}` must hold class labels in 0..{num_classes - 1}; got values in [{arr.min()}, {arr.max()}]."
        )
    return arr.astype("int32")


def first_inputs(data, name):
    """The model inputs of `data` to check before training: numpy arrays as given, or the first batch of a
    tf.data.Dataset as numpy; the `x` of an (x, y[, sample_weight]) tuple."""
    first = data
    try:
        import tensorflow as tf

        if isinstance(data, tf.data.Dataset):
            first = next(iter(data.take(1)), None)
            if first is None:
                raise ValueError(f"`{name}` is an empty dataset.")
            first = tf.nest.map_structure(lambda t: t.numpy(), first)
    except ImportError:  # pragma: no cover - tensorflow is a dependency
        pass
    if isinstance(first, tuple) and len(first) >= 1:
        first = first[0]
    return first


def weighted_mean_loss(per_example, sample_weight, extra_losses=()):
    """The loss `fit` minimises: the mean of `per_example` (any shape) weighted by `sample_weight` (same number of
    values, or None for equal weights), plus the sum of `extra_losses` (the layers' `add_loss` terms)."""
    if sample_weight is not None:
        weights = ops.reshape(ops.cast(sample_weight, per_example.dtype), ops.shape(per_example))
        loss = ops.sum(per_example * weights) / ops.maximum(ops.sum(weights), 1e-12)
    else:
        loss = ops.mean(per_example)
    if extra_losses:
        loss = loss + ops.sum(ops.stack(extra_losses))
    return loss


def image_inputs(x):
    """The images of a model's inputs: `x["images"]` of a dict, the first of a tuple or list, else `x`."""
    if isinstance(x, dict):
        return x["images"]
    if isinstance(x, (list, tuple)):
        return x[0]
    return x


class ValidatedFitMixin:
    """`fit` and `evaluate` that check their data with the model's `_validate_data(data, name)` first (a clear
    error naming the argument instead of a failure deep inside a traced step)."""

    def fit(self, x=None, y=None, *args, **kwargs):
        self._validate_data(x, "x")
        if kwargs.get("validation_data") is not None:
            self._validate_data(kwargs["validation_data"], "validation_data")
        return super().fit(x, y, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        self._validate_data(x, "x")
        return super().evaluate(x, y, *args, **kwargs)


MODEL_KWARGS = ("name", "trainable", "dtype")


def check_model_kwargs(kwargs, owner):
    """Reject keyword arguments that neither the model nor `keras.Model` knows (a typo must not pass silently)."""
    unknown = sorted(set(kwargs) - set(MODEL_KWARGS))
    if unknown:
        raise ValueError(f"{owner}: unknown argument(s) {', '.join(map(repr, unknown))}.")


def _seed_generator(seed):
    if isinstance(seed, keras.random.SeedGenerator):
        return seed
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % (2**31 - 1))
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"`seed` must be an int, None or a keras.random.SeedGenerator, got {seed!r}.")
    return keras.random.SeedGenerator(int(seed))


class AutoregressiveImageModel(ValidatedFitMixin, keras.Model):
    """Base of the pixel-by-pixel image models (a functional subclass: the subclass builds the graph).

    The subclass's graph maps pixel levels (batch, height, width, channels) to the parameters of its likelihood head.
    This base adds what every such model shares:

    - the training loss: negative log-likelihood in nats per example, so `compile(optimizer=...)` needs no loss;
    - the metrics `nats` (per example) and `bits_per_dim` reported by `fit` and `evaluate`;
    - `log_prob(x)`: per-example log-probability in nats;
    - `sample(n, seed=...)`: pixel-by-pixel sampling in raster order (R -> G -> B within a pixel);
    - `receptive_field(height, width)`: which earlier pixels can reach each pixel, which the causality test checks;
    - input validation with errors that name the argument.
    """

    def _setup_generative(self, image_shape, distribution, num_classes=None):
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        self.distribution = distribution
        self.num_dims = int(np.prod(self.image_shape))
        self.nats_tracker = keras.metrics.Mean(name="nats")
        self.bits_per_dim_tracker = keras.metrics.Mean(name="bits_per_dim")
        self._sampler_cache = {}

    # ----------------------------------------------------------------------------------------------- training
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        nll = -self.distribution.log_prob(image_inputs(x), y_pred)
        self.nats_tracker.update_state(nll)
        self.bits_per_dim_tracker.update_state(nll / (self.num_dims * LN2))
        return weighted_mean_loss(nll, sample_weight, self.losses)

    @property
    def conditional(self):
        """True when the model takes class labels besides the images (`num_classes` was given)."""
        return self.num_classes is not None

    def model_inputs(self, images, labels=None):
        """What the underlying functional graph takes: the images, or {"images", "labels"} when conditional."""
        if not self.conditional:
            return images
        if labels is None:
            raise ValueError(f"This {type(self).__name__} is class-conditional: pass `labels`.")
        return {"images": images, "labels": labels}

    # ----------------------------------------------------------------------------------------------- checks
    def validate_images(self, images, name="x"):
        """Raise a ValueError naming `name` unless `images` is a batch of valid pixel levels for this model."""
        arr = np.asarray(images)
        expected = (None,) + self.image_shape
        if arr.ndim != 4 or tuple(arr.shape[1:]) != self.image_shape:
            raise ValueError(
                f"`{name}` must have shape {expected} (batch, height, width, channels) for this "
                f"{type(self).__name__}, got {arr.shape}."
            )
        self.distribution.validate(arr, name=name)
        return arr

    def validate_labels(self, labels, num, name="labels"):
        """Return `labels` as an int32 array of shape (num,), or raise a ValueError naming `name` (see
        `check_labels`)."""
        return check_labels(labels, num, self.num_classes, type(self).__name__, name)

    def _validate_data(self, data, name):
        """Check numpy arrays fully and the first batch of a tf.data.Dataset, before any training starts."""
        if data is None:
            raise ValueError(f"`{name}` is required: pass images of shape {(None,) + self.image_shape}.")
        first = first_inputs(data, name)
        if isinstance(first, dict):
            if "images" not in first:
                raise ValueError(f"`{name}` is a dict without the key 'images'; got keys {sorted(first)}.")
            if self.conditional:
                if "labels" not in first:
                    raise ValueError(
                        f"`{name}` must be a dict with 'images' and 'labels' for this class-conditional model; "
                        f"got keys {sorted(first)}."
                    )
                labels = np.asarray(ops.convert_to_numpy(first["labels"]) if hasattr(first["labels"], "numpy") else first["labels"])
                self.validate_labels(labels.reshape(-1), labels.size, f"{name}['labels']")
            first = first["images"]
        elif self.conditional:
            raise ValueError(
                f"`{name}` must be a dict {{'images': ..., 'labels': ...}} for this class-conditional model "
                "(kgen.data.load(..., with_labels=True) gives one)."
            )
        if hasattr(first, "numpy") or isinstance(first, (np.ndarray, list)):
            self.validate_images(ops.convert_to_numpy(first) if hasattr(first, "numpy") else first, name)

    # ----------------------------------------------------------------------------------------------- inference
    def log_prob(self, x, labels=None, batch_size=256):
        """Log-probability of each image in nats, as a numpy array of shape (batch,).

        Args:
            x: pixel levels, shape (batch, height, width, channels).
            labels: class labels, shape (batch,) (or one int for all), for a class-conditional model.
            batch_size: images per forward pass.
        """
        batch_size = check_int(batch_size, "batch_size")
        x = self.validate_images(x, "x").astype("float32")
        labels = self.validate_labels(labels, len(x))
        out = []
        for i in range(0, len(x), batch_size):
            xb = ops.convert_to_tensor(x[i : i + batch_size])
            lb = None if labels is None else ops.convert_to_tensor(labels[i : i + batch_size])
            params = self(self.model_inputs(xb, lb), training=False)
            out.append(ops.convert_to_numpy(self.distribution.log_prob(xb, params)))
        return np.concatenate(out).astype("float64")

    #: Sampling methods this model offers; the first is the default of `sample`.
    sampling_methods = ("naive",)

    def sample(self, num_samples, seed=None, batch_size=None, method=None, labels=None, prefix=None):
        """Generate images pixel by pixel in raster order (R -> G -> B within a pixel).

        Args:
            num_samples: positive int.
            seed: int, None (fresh randomness) or a `keras.random.SeedGenerator`. The same int seed gives the
                same images, whatever `batch_size` and `method`.
            batch_size: images generated at once (default: all).
            method: one of `sampling_methods`: "cached" computes each layer once per new pixel (the default where
                the model has it); "naive" re-runs the whole network for every pixel (the reference loop).
            labels: class labels (num_samples,) or one int, for a class-conditional model.
            prefix: pixel levels (num_samples, rows, width, channels): the top `rows` rows of every image are
                given, and only the rest is sampled (image completion).

        Returns:
            uint8 numpy array (num_samples, height, width, channels) of pixel levels.
        """
        num_samples = check_int(num_samples, "num_samples")
        batch_size = num_samples if batch_size is None else check_int(batch_size, "batch_size")
        method = self.sampling_methods[0] if method is None else method
        if method not in self.sampling_methods:
            raise ValueError(
                f"`method` must be one of {', '.join(map(repr, self.sampling_methods))} for {type(self).__name__}, "
                f"got {method!r}."
            )
        labels = self.validate_labels(labels, num_samples)
        canvas, start = self._canvas_from_prefix(prefix, num_samples)
        seed_generator = _seed_generator(seed)
        noise = self.distribution.sample_noise((num_samples,) + self.image_shape, seed=seed_generator)
        noise = ops.convert_to_numpy(noise)
        loop = self._sample_loop(method)
        images = []
        for i in range(0, num_samples, batch_size):
            lb = None if labels is None else labels[i : i + batch_size]
            images.append(loop(self, noise[i : i + batch_size], canvas[i : i + batch_size], start, lb))
        return np.concatenate(images).astype("uint8")

    def _sample_loop(self, method):
        from kgen.samplers import naive

        return naive.sample_loop

    @property
    def num_steps(self):
        """Sampling steps per image: one per sub-pixel, or one per pixel for a joint-channel head."""
        h, w, c = self.image_shape
        return h * w if self.distribution.joint_channels else h * w * c

    def _canvas_from_prefix(self, prefix, num_samples):
        """The starting canvas (known rows filled in, zeros elsewhere) and the first step to sample."""
        h, w, c = self.image_shape
        canvas = np.zeros((num_samples, h, w, c), dtype="float32")
        if prefix is None:
            return canvas, 0
        arr = np.asarray(prefix)
        if arr.ndim != 4 or arr.shape[0] != num_samples or arr.shape[2:] != (w, c) or not 0 <= arr.shape[1] <= h:
            raise ValueError(
                f"`prefix` must have shape ({num_samples}, rows, {w}, {c}) with 0 <= rows <= {h}: the top rows of "
                f"each of the {num_samples} images; got {arr.shape}."
            )
        if arr.shape[1]:
            self.distribution.validate(arr, name="prefix")
        rows = arr.shape[1]
        canvas[:, :rows] = arr
        return canvas, rows * w * (1 if self.distribution.joint_channels else c)

    def receptive_field(self, height, width):
        """Boolean (H*W, H*W) matrix: entry [t, s] says input pixel s can change the prediction of pixel t.

        The default is the ideal of an autoregressive model: every earlier pixel in raster order. Models with a
        known blind spot (PixelCNN) override it with their exact pattern.
        """
        n = height * width
        return np.tril(np.ones((n, n), dtype=bool), k=-1)

"""The base of kgen's autoregressive image models: likelihood loss, log_prob, sample, input checks, and their side
of the model contract (`kgen.models.kgen_model`); also the argument checks and the shared stem and output head of the
image families."""

from pathlib import Path

import numpy as np
import keras
from keras import ops

from kgen import distributions
from kgen.distributions import LN2
from kgen.models.kgen_model import (
    KgenModel,
    check_labels,
    check_model_kwargs,
    check_sampling_args,
    concrete_array,
    dict_entry,
    first_data_inputs,
    format_result_line,
    image_inputs,
    metric_summary,
    seed_generator,
    weighted_mean_loss,
)
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


def check_image_model_args(owner, kwargs, image_shape, likelihood, num_levels, num_mixtures):
    """The arguments every image family checks first: the Keras keyword arguments, `image_shape` and the
    likelihood head. Returns (image_shape, distribution, channel groups of the masked layers)."""
    check_model_kwargs(kwargs, owner)
    image_shape = check_image_shape(image_shape, owner)
    distribution = distributions.get(likelihood, num_levels, num_mixtures=num_mixtures)
    return image_shape, distribution, channel_groups_for(distribution, image_shape[-1])


def check_residual_args(owner, hidden_dim, output_dim, first_kernel_size, groups):
    """The residual stream of PixelCNN and PixelRNN: `hidden_dim`, `output_dim` (default `hidden_dim`) and the
    type-A `first_kernel_size`, checked with `check_residual_widths`. Returns the three as ints."""
    hidden_dim = check_int(hidden_dim, "hidden_dim", owner=owner)
    output_dim = hidden_dim if output_dim is None else check_int(output_dim, "output_dim", owner=owner)
    first_kernel_size = check_int(first_kernel_size, "first_kernel_size", odd=True, owner=owner)
    check_residual_widths(hidden_dim, output_dim, groups, owner)
    return hidden_dim, output_dim, first_kernel_size


def masked_input_stem(image_shape, distribution, hidden_dim, first_kernel_size, groups, step_layers=None):
    """(images, x): the "images" input, rescaled, through the type-A masked convolution "input_conv" to the
    `hidden_dim` residual stream (PixelCNN and PixelRNN; the layer names are part of the saved format). The layers
    go into `step_layers` ("rescale", "stem") when given, for the model's one-step computation."""
    from kgen.layers.masked_conv2d import MaskedConv2D

    images = keras.Input(shape=image_shape, name="images")
    x = rescale_input(images, distribution, step_layers)
    stem = MaskedConv2D(hidden_dim, first_kernel_size, "A", channel_groups=groups, name="input_conv")
    if step_layers is not None:
        step_layers["stem"] = stem
    return images, stem(x)


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


def likelihood_config(distribution):
    """The config entries that rebuild a likelihood head: its name, levels (None for Bernoulli) and mixtures."""
    return {
        "likelihood": distribution.name,
        "num_levels": None if distribution.name == "bernoulli" else distribution.num_levels,
        "num_mixtures": getattr(distribution, "num_mixtures", None),
    }


def rescale_input(images, distribution, step_layers=None):
    """The network's view of integer pixel levels: [0, num_levels - 1] mapped to [-1, 1] (the layer goes into
    `step_layers["rescale"]` when given)."""
    levels = distribution.num_levels
    layer = keras.layers.Rescaling(2.0 / (levels - 1), offset=-1.0, name="rescale")
    if step_layers is not None:
        step_layers["rescale"] = layer
    return layer(images)


def output_head(x, distribution, image_shape, output_dim, groups, step_layers=None):
    """The shared head of the image models: ReLU -> 1x1 type-B (`output_dim`) -> ReLU -> 1x1 type-B to the
    likelihood's parameters (float32 under mixed precision), reshaped to `distribution.param_shape`. The layer
    names are part of the saved format; the two layers go into `step_layers["head"]` when given."""
    from kgen.layers.masked_conv2d import MaskedConv2D

    head = [
        MaskedConv2D(output_dim, 1, "B", channel_groups=groups, name="output_conv1"),
        MaskedConv2D(distribution.params_per_pixel(image_shape[-1]), 1, "B", channel_groups=groups,
                     name="output_conv2", dtype="float32"),
    ]
    if step_layers is not None:
        step_layers["head"] = head
    x = head[0](keras.layers.ReLU(name="output_relu1")(x))
    x = head[1](keras.layers.ReLU(name="output_relu2")(x))
    return keras.layers.Reshape(distribution.param_shape(image_shape), name="params", dtype="float32")(x)


def head_with_cache(step_layers, x, head_cache, col):
    """The output head at one pixel: ReLU -> 1x1 -> ReLU -> 1x1 from the features `x` (batch, channels) there."""
    first, second = step_layers["head"]
    x, c_first = first.call_with_cache(ops.relu(x), head_cache[0], col)
    x, c_second = second.call_with_cache(ops.relu(x), head_cache[1], col)
    return x, [c_first, c_second]



def stem_begin_row(model, pixel, stem_cache, row):
    """The masked-input stem's cache when row `row` starts (PixelCNN, PixelRNN): the last pixel drawn (the end of the
    row above; zeros above row 0, the padding) goes into its current row, then its rows move up one."""
    from kgen.layers.steps import equals, select

    stem, rescale = model._steps["stem"], model._steps["rescale"]
    scaled = pixel * rescale.scale + rescale.offset
    scaled = select(equals(row, 0), ops.zeros_like(scaled), scaled)
    return stem.begin_row(stem.write_cache(scaled, stem_cache, model.image_shape[1] - 1))


def stem_with_cache(model, pixel, stem_cache, index):
    """(features (batch, hidden_dim), stem cache, col) of the masked-input stem at the pixel of step `index`: step
    index - 1's pixel, as drawn, goes into the current row (harmless at a row's first step: that column is written
    again before it is read, and until then the causal mask hides it), then the stem runs on this pixel's channels
    drawn so far."""
    from kgen.layers.steps import equals, previous_step, select

    stem, rescale = model._steps["stem"], model._steps["rescale"]
    _, col, channel = model.step_position(index)
    _, prev_col, _ = model.step_position(previous_step(index))
    scaled = pixel * rescale.scale + rescale.offset
    stem_cache = stem.write_cache(scaled, stem_cache, prev_col)
    current = select(equals(channel, 0), ops.zeros_like(scaled), scaled)
    x, stem_cache = stem.call_with_cache(current, stem_cache, col)
    return x, stem_cache, col

class AutoregressiveImageModel(KgenModel):
    """Base of the pixel-by-pixel image models (a functional subclass: the subclass builds the graph).

    The subclass's graph maps pixel levels (batch, height, width, channels) to the parameters of its likelihood head.
    This base adds what every such model shares:

    - the training loss: negative log-likelihood in nats per example, so `compile(optimizer=...)` needs no loss;
    - the metrics `nats` (per example) and `bits_per_dim` reported by `fit` and `evaluate`;
    - `log_prob(x)`: per-example log-probability in nats;
    - `sample(n, seed=...)`: pixel-by-pixel sampling in raster order (R -> G -> B within a pixel);
    - `dependencies(height, width)`: which earlier pixels can reach each pixel, which the causality test checks;
    - input validation with errors that name the argument.
    """

    def _setup_generative(self, image_shape, distribution, num_classes=None):
        self.image_shape = tuple(image_shape)
        self.num_classes = num_classes
        self.distribution = distribution
        self.num_dims = int(np.prod(self.image_shape))
        self.nats_tracker = keras.metrics.Mean(name="nats")
        self.bits_per_dim_tracker = keras.metrics.Mean(name="bits_per_dim")

    # ----------------------------------------------------------------------------------------------- training
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        nll = -self.distribution.log_prob(image_inputs(x), y_pred)
        self.nats_tracker.update_state(nll)
        self.bits_per_dim_tracker.update_state(nll / (self.num_dims * LN2))
        return weighted_mean_loss(nll, sample_weight, self.losses)

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
        first = first_data_inputs(data, name, f"images of shape {(None,) + self.image_shape}")
        if isinstance(first, dict):
            images = dict_entry(first, "images", name)
            if self.conditional:
                if "labels" not in first:
                    raise ValueError(
                        f"`{name}` must be a dict with 'images' and 'labels' for this class-conditional model; "
                        f"got keys {sorted(first)}."
                    )
                labels = np.asarray(ops.convert_to_numpy(first["labels"]) if hasattr(first["labels"], "numpy") else first["labels"])
                self.validate_labels(labels.reshape(-1), labels.size, f"{name}['labels']")
            first = images
        elif self.conditional:
            raise ValueError(
                f"`{name}` must be a dict {{'images': ..., 'labels': ...}} for this class-conditional model "
                "(kgen.data.load(..., with_labels=True) gives one)."
            )
        arr = concrete_array(first)
        if arr is not None:
            self.validate_images(arr, name)

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

    def sample(self, num_samples, seed=None, batch_size=None, method=None, labels=None, prompt=None):
        """Generate images pixel by pixel in raster order (R -> G -> B within a pixel).

        Args:
            num_samples: positive int.
            seed: int, None (fresh randomness) or a `keras.random.SeedGenerator`. The same int seed gives the
                same images, whatever `batch_size` and `method`.
            batch_size: images generated at once (default: all).
            method: one of `sampling_methods`: "cached" computes each layer once per new pixel (the default where
                the model has it); "naive" re-runs the whole network for every pixel (the reference loop).
            labels: class labels (num_samples,) or one int, for a class-conditional model.
            prompt: pixel levels (num_samples, rows, width, channels): the top `rows` rows of every image are
                given, and only the rest is sampled (image completion).

        Returns:
            uint8 numpy array (num_samples, height, width, channels) of pixel levels.
        """
        num_samples, batch_size, method = check_sampling_args(self, num_samples, batch_size, method)
        labels = self.validate_labels(labels, num_samples)
        canvas, start = self._canvas_from_prompt(prompt, num_samples)
        noise = self.distribution.sample_noise((num_samples,) + self.image_shape, seed=seed_generator(seed))
        noise = ops.convert_to_numpy(noise)
        from kgen.samplers.image import LOOPS

        images = []
        for i in range(0, num_samples, batch_size):
            lb = None if labels is None else labels[i : i + batch_size]
            images.append(LOOPS[method](self, noise[i : i + batch_size], canvas[i : i + batch_size], start, lb))
        return np.concatenate(images).astype("uint8")

    coding_kinds = ("image",)

    @property
    def coding_levels(self):
        return self.distribution.num_levels

    def coding_steps(self, batch_size, labels=None, features=None):
        """Probability tables of each step of a batch of images in raster order, for entropy coding (see
        `kgen.samplers.coding.ImageSteps`)."""
        from kgen.samplers.coding import ImageSteps

        if features is not None:
            raise ValueError(f"{type(self).__name__} takes no local `features`.")
        return ImageSteps(self, batch_size, labels=labels)

    @property
    def steps_per_pixel(self):
        """Sampling steps per pixel: one per channel (R -> G -> B), or 1 for a head that models a pixel's channels
        jointly."""
        return 1 if self.distribution.joint_channels else self.image_shape[-1]

    @property
    def num_steps(self):
        """Sampling steps per image: one per sub-pixel, or one per pixel for a joint-channel head."""
        h, w, _ = self.image_shape
        return h * w * self.steps_per_pixel

    def step_position(self, index):
        """(row, col, channel) of generation step `index` (channel 0 for a joint-channel head); Python ints for a
        Python-int step."""
        from kgen.layers.steps import raster_position

        return raster_position(index, self.image_shape[1], self.steps_per_pixel)

    def _canvas_from_prompt(self, prompt, num_samples):
        """The starting canvas (known rows filled in, zeros elsewhere) and the first step to sample."""
        h, w, c = self.image_shape
        canvas = np.zeros((num_samples, h, w, c), dtype="float32")
        if prompt is None:
            return canvas, 0
        arr = np.asarray(prompt)
        if arr.ndim != 4 or arr.shape[0] != num_samples or arr.shape[2:] != (w, c) or not 0 <= arr.shape[1] <= h:
            raise ValueError(
                f"`prompt` must have shape ({num_samples}, rows, {w}, {c}) with 0 <= rows <= {h}: the top rows of "
                f"each of the {num_samples} images; got {arr.shape}."
            )
        if arr.shape[1]:
            self.distribution.validate(arr, name="prompt")
        rows = arr.shape[1]
        canvas[:, :rows] = arr
        return canvas, rows * w * self.steps_per_pixel

    def dependencies(self, height, width):
        """Boolean (H*W, H*W) matrix: entry [t, s] says input pixel s can change the prediction of pixel t.

        The default is the ideal of an autoregressive model: every earlier pixel in raster order. Models with a
        known blind spot (PixelCNN) override it with their exact pattern.
        """
        n = height * width
        return np.tril(np.ones((n, n), dtype=bool), k=-1)

    # ----------------------------------------------------------------------------------------------- contract
    contract_checks = KgenModel.contract_checks + ("run_causality_test", "run_sampling_test",
                                                   "run_export_after_use_test")

    def example_inputs(self, batch_size=2, seed=0):
        rng = np.random.default_rng(seed)
        x = rng.integers(0, self.distribution.num_levels, (batch_size,) + self.image_shape).astype("float32")
        return {"x": x, **self.example_conditioning(x, seed)}

    def reference_outputs(self, x, labels=None):
        return self.log_prob(x, labels=labels)

    def evaluation_summary(self, result, data, dataset):
        return metric_summary(result, self.nats_tracker, "nats", "bits_per_dim")

    def result_line(self, model_name, summary):
        measures = f"{summary['nats']:.2f} nats/image, {summary['bits_per_dim']:.4f} bits/dim"
        return format_result_line(model_name, summary, "images", measures)

    def write_artifacts(self, run_dir, recipe, num_samples=16, seed=0):
        from pathlib import Path

        from kgen import artifacts

        if not num_samples:
            return []
        path = Path(run_dir) / artifacts.SAMPLES_FILE
        artifacts.write_samples(self, path, num_samples=num_samples, seed=seed)
        return [("samples", path)]

    def _check_png(self, path):
        if Path(path).suffix.lower() != ".png":
            raise ValueError(f"`--out` must be a .png file for {type(self).__name__} (an image model), got {str(path)!r}.")

    def write_sample_file(self, path, num=None, seed=0, label=None, progress=None, **unused):
        from kgen import artifacts

        self._check_png(path)
        images = artifacts.write_samples(self, path, num_samples=num or 16, seed=seed, labels=label,
                                         batch_size=artifacts.SAMPLE_BATCH_SIZE, progress=progress)
        return f"wrote {len(images)} samples to {path}"

    def write_completions_file(self, path, dataset, split="test", source=None, num=8, rows=None, completions=3,
                               seed=0, progress=None):
        from kgen import artifacts
        from kgen import data as kdata

        if num < 1:
            raise ValueError(f"`--num` must be a positive number of images, got {num}.")
        self._check_png(path)
        images, labels = kdata.load_arrays(dataset, split=split, source=source)
        images, labels = images[:num], labels[:num]
        rows = self.image_shape[0] // 2 if rows is None else rows
        artifacts.write_completions(
            self, images, path, rows=rows, num_completions=completions, seed=seed,
            labels=labels if self.conditional else None, batch_size=artifacts.SAMPLE_BATCH_SIZE, progress=progress,
        )
        return f"wrote completions of {len(images)} {dataset} {split} images (top {rows} rows given) to {path}"

    def export_signatures(self):
        """`serve`: `images` (batch, H, W, C) float32 pixel levels [+ `labels`] -> `log_prob` (batch,) in nats;
        `sample`: `num_samples` int32, `seed` int32 (2,) [+ `labels`] -> `images` drawn with the naive loop
        (`kgen.samplers.image.export_sample`)."""
        import tensorflow as tf

        from kgen.samplers.image import export_sample

        dist = self.distribution
        label_spec = [tf.TensorSpec(shape=(None,), dtype=tf.int32, name="labels")] if self.conditional else []

        def serve(images, labels=None):
            params = self(self.model_inputs(images, labels), training=False)
            return {"log_prob": dist.log_prob(images, params)}

        def sample(num_samples, seed, labels=None):
            return {"images": export_sample(self, num_samples, seed, labels)}

        images_spec = tf.TensorSpec(shape=(None,) + tuple(self.image_shape), dtype=tf.float32, name="images")
        sample_spec = [tf.TensorSpec(shape=(), dtype=tf.int32, name="num_samples"),
                       tf.TensorSpec(shape=(2,), dtype=tf.int32, name="seed")]
        return [("serve", serve, [images_spec] + label_spec), ("sample", sample, sample_spec + label_spec)]

    def serving_examples(self, x, labels=None):
        """`serve`: the images `x` [+ `labels`] give this model's `log_prob`; `sample`: 2 images with seed (3, 4)
        [+ labels 0, 1], seeded, valid pixel levels of shape (2, H, W, C) float32 with a finite `log_prob`."""
        from kgen.models.kgen_model import ServingExample

        serve_inputs = {"images": np.asarray(x, "float32")}
        if labels is not None:
            serve_inputs["labels"] = np.asarray(labels, "int32")
        expected = {"log_prob": self.log_prob(x, labels=labels)}
        sample_labels = self.example_conditioning(np.zeros((2,) + self.image_shape, "float32")).get("labels")
        sample_inputs = {"num_samples": np.int32(2), "seed": np.array([3, 4], "int32")}
        if sample_labels is not None:
            sample_inputs["labels"] = sample_labels

        def check(outputs):
            images = outputs["images"]
            if images.shape != (2,) + self.image_shape or images.dtype != np.float32:
                raise ValueError(f"`images` must be float32 {(2,) + self.image_shape}, got {images.dtype} "
                                 f"{images.shape}.")
            self.validate_images(images, "exported samples")
            if not np.all(np.isfinite(self.log_prob(images, labels=sample_labels))):
                raise ValueError("the exported samples have a non-finite log_prob.")

        return {"serve": ServingExample.outputs(serve_inputs, expected),
                "sample": ServingExample.seeded(sample_inputs, check, seed="seed", other_seed=(5, 6))}

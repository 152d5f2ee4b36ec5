"""PixelCNN (van den Oord et al., 2016, "Pixel Recurrent Neural Networks", section 3.5, figure 4)."""

import keras
from keras import layers, ops

from kgen.layers.masked_conv2d import MaskedConv2D, causal_offsets, stacked_receptive_field
from kgen.models import image_base
from kgen.validation import check_int


@keras.saving.register_keras_serializable(package="kgen")
class PixelCNN(image_base.AutoregressiveImageModel):
    """PixelCNN: a stack of masked convolutions that models p(x) pixel by pixel in raster order.

    Architecture (paper figure 4 and table 1): a 7x7 type-A masked convolution to `hidden_dim` (2h) channels;
    `num_residual_blocks` residual blocks of ReLU -> 1x1 (2h -> h) -> ReLU -> 3x3 type B (h -> h) -> ReLU ->
    1x1 (h -> 2h), added to the block input; then ReLU -> 1x1 type B (`output_dim`) -> ReLU -> 1x1 type B to the
    parameters of the likelihood head. For RGB images every masked layer uses R -> G -> B channel groups.

    Like every plain PixelCNN it has a blind spot: pixels above and to the right of the current one that the stacked
    3x3 masks never reach. `dependencies` gives the exact pattern, which the causality test checks.

    Args:
        image_shape: (height, width, channels), channels 1 or 3.
        hidden_dim: int, 2h, the residual stream width (for RGB divisible by 6).
        num_residual_blocks: int.
        output_dim: int, width of the 1x1 output layers (default `hidden_dim`).
        first_kernel_size: odd int, the type-A input layer (7 in the paper).
        kernel_size: odd int, the type-B layers inside the residual blocks (3 in the paper).
        likelihood: "bernoulli" (binary images), "categorical" (a softmax per sub-pixel, R -> G -> B masked) or
            "logistic_mixture" (PixelCNN++'s discretized logistic mixture over a whole pixel).
        num_levels: levels per sub-pixel for "categorical" and "logistic_mixture" (256 for 8-bit images).
        num_mixtures: mixture components for "logistic_mixture" (default 5).
        **kwargs: `name`, `trainable`, `dtype` for `keras.Model`.

    Example:
    >>> model = PixelCNN(image_shape=(28, 28, 1), hidden_dim=32, num_residual_blocks=2)
    >>> model.compile(optimizer="adam")
    >>> images = model.sample(4, seed=0)
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        hidden_dim=64,
        num_residual_blocks=7,
        output_dim=None,
        first_kernel_size=7,
        kernel_size=3,
        likelihood="bernoulli",
        num_levels=None,
        num_mixtures=None,
        **kwargs,
    ):
        image_shape, distribution, groups = image_base.check_image_model_args(
            "PixelCNN", kwargs, image_shape, likelihood, num_levels, num_mixtures
        )
        num_residual_blocks = check_int(num_residual_blocks, "num_residual_blocks", minimum=0, owner="PixelCNN")
        kernel_size = check_int(kernel_size, "kernel_size", odd=True, owner="PixelCNN")
        hidden_dim, output_dim, first_kernel_size = image_base.check_residual_args(
            "PixelCNN", hidden_dim, output_dim, first_kernel_size, groups
        )

        # === Functional model ===
        steps = {"blocks": []}  # the layers in order, for the one-pixel steps of `call_with_cache`
        images, x = image_base.masked_input_stem(image_shape, distribution, hidden_dim, first_kernel_size, groups, steps)
        for i in range(num_residual_blocks):
            block = (
                MaskedConv2D(hidden_dim // 2, 1, "B", channel_groups=groups, name=f"block{i}_reduce"),
                MaskedConv2D(hidden_dim // 2, kernel_size, "B", channel_groups=groups, name=f"block{i}_conv"),
                MaskedConv2D(hidden_dim, 1, "B", channel_groups=groups, name=f"block{i}_expand"),
            )
            y = block[0](layers.ReLU(name=f"block{i}_relu1")(x))
            y = block[1](layers.ReLU(name=f"block{i}_relu2")(y))
            y = block[2](layers.ReLU(name=f"block{i}_relu3")(y))
            x = layers.Add(name=f"block{i}_add")([x, y])
            steps["blocks"].append(block)
        params = image_base.output_head(x, distribution, image_shape, output_dim, groups, steps)
        super().__init__(inputs=images, outputs=params, **kwargs)
        object.__setattr__(self, "_steps", steps)  # plain references: the layers are tracked through the graph

        # === Config (returned by get_config) ===
        self._record_config(image_shape=image_shape, hidden_dim=hidden_dim,
            num_residual_blocks=num_residual_blocks, output_dim=output_dim, first_kernel_size=first_kernel_size,
            kernel_size=kernel_size, **image_base.likelihood_config(distribution))
        self._setup_generative(image_shape, distribution)

    sampling_methods = ("cached", "naive")

    # ------------------------------------------------------------------------------------------ incremental protocol
    def init_cache(self, batch_size, labels=None):
        """Per masked k x k convolution its last k//2 + 1 input rows, and every masked kernel once
        (`MaskedConv2D.init_cache`); the output head's two 1x1 layers."""
        width = self.image_shape[1]
        stem, blocks, head = self._steps["stem"], self._steps["blocks"], self._steps["head"]
        return {
            "stem": stem.init_cache(batch_size, width),
            "blocks": [tuple(layer.init_cache(batch_size, width) for layer in block) for block in blocks],
            "head": [layer.init_cache(batch_size, width) for layer in head],
        }

    def begin_row(self, pixel, cache, row):
        """Row `row` starts: the last pixel drawn (the end of the row above) goes into the input layer's current
        row, then every masked convolution moves its rows up one."""
        return {
            "stem": image_base.stem_begin_row(self, pixel, cache["stem"], row),
            "blocks": [tuple(layer.begin_row(c) for layer, c in zip(block, caches))
                       for block, caches in zip(self._steps["blocks"], cache["blocks"])],
            "head": cache["head"],
        }

    def call_with_cache(self, pixel, cache, index):
        """Every layer once at the pixel of step `index` (see `kgen.samplers.image`)."""
        x, stem_cache, col = image_base.stem_with_cache(self, pixel, cache["stem"], index)
        block_caches = []
        for (reduce, conv, expand), (c_reduce, c_conv, c_expand) in zip(self._steps["blocks"], cache["blocks"]):
            y, c_reduce = reduce.call_with_cache(ops.relu(x), c_reduce, col)
            y, c_conv = conv.call_with_cache(ops.relu(y), c_conv, col)
            y, c_expand = expand.call_with_cache(ops.relu(y), c_expand, col)
            x = x + y
            block_caches.append((c_reduce, c_conv, c_expand))
        x, head_cache = image_base.head_with_cache(self._steps, x, cache["head"], col)
        params = ops.reshape(x, (-1,) + tuple(self.distribution.param_shape((self.image_shape[-1],))))
        return params, {"stem": stem_cache, "blocks": block_caches, "head": head_cache}

    def dependencies(self, height, width):
        chain = [causal_offsets(self.first_kernel_size, "A")]
        chain += [causal_offsets(self.kernel_size, "B")] * self.num_residual_blocks
        return stacked_receptive_field(chain, height, width)

"""Gated PixelCNN (van den Oord et al., 2016, "Conditional Image Generation with PixelCNN Decoders")."""

import numpy as np
import keras
from keras import layers, ops

from kgen.layers.gated_pixel_block import GatedPixelBlock
from kgen.models.image_base import (
    likelihood_config,
    AutoregressiveImageModel,
    check_image_model_args,
    head_with_cache,
    output_head,
    rescale_input,
)
from kgen.validation import check_int


def _dilate(reach, offsets, height, width):
    """OR of `reach` (H, W, N) over in-image neighbours: out[r, c] = OR reach[r + dy, c + dx]."""
    out = np.zeros_like(reach)
    for dy, dx in offsets:
        ys = slice(max(0, -dy), min(height, height - dy))
        xs = slice(max(0, -dx), min(width, width - dx))
        yd = slice(max(0, dy), min(height, height + dy))
        xd = slice(max(0, dx), min(width, width + dx))
        out[ys, xs] |= reach[yd, xd]
    return out


def gated_receptive_field(kernel_sizes, height, width):
    """Exact pixel dependencies of a stack of gated blocks with the given kernel sizes (the first is type A).

    V[r, c] and H[r, c] hold the set of input pixels that the vertical and horizontal outputs at (r, c) depend on
    (as a boolean vector over the H * W pixels); they are propagated layer by layer through the convolution
    windows, zero padding adding nothing. Returns a boolean (H*W, H*W) matrix, [t, s]: pixel s reaches pixel t.
    """
    n = height * width
    image = np.zeros((height, width, n), dtype=bool)
    image.reshape(n, n)[np.arange(n), np.arange(n)] = True
    v_in, h_in, field = image, image, np.zeros((height, width, n), dtype=bool)
    for i, k in enumerate(kernel_sizes):
        p = k // 2
        v_pre = _dilate(v_in, [(dy, dx) for dy in range(-p, 1) for dx in range(-p, p + 1)], height, width)
        left = [(0, dx) for dx in range(-p, 0)] + ([] if i == 0 else [(0, 0)])  # type A hides the pixel itself
        h_pre = _dilate(h_in, left, height, width) | _dilate(v_pre, [(-1, 0)], height, width)
        h_out = h_pre | (h_in if i > 0 else False)  # the residual (not on the first layer)
        field |= h_pre  # the skip output of every layer reaches the head
        v_in, h_in = v_pre, h_out
    return field.reshape(n, n)


@keras.saving.register_keras_serializable(package="kgen")
class GatedPixelCNN(AutoregressiveImageModel):
    """Gated PixelCNN: gated vertical and horizontal stacks with no blind spot, optionally class-conditional.

    Architecture: the image (rescaled to [-1, 1]) feeds both stacks of a first `GatedPixelBlock` of kernel
    `first_kernel_size` and mask type A (no residual), then `num_layers - 1` blocks of kernel `kernel_size` and
    type B with residual horizontal stacks. The skip outputs of all layers are summed, then ReLU -> 1x1 masked
    convolution (`output_dim`) -> ReLU -> 1x1 masked convolution to the parameters of the likelihood head. With
    `num_classes`, a one-hot class label is added inside every gate (the paper's V^T h); the model then takes
    {"images", "labels"} and `sample(..., labels=...)` draws images of chosen classes.

    Args:
        image_shape: (height, width, channels), channels 1 or 3.
        filters: channels of every stack (p).
        num_layers: gated layers, the first included.
        first_kernel_size: odd int, the first layer's n x n window (7 in the paper).
        kernel_size: odd int, the other layers' window (3).
        output_dim: width of the 1x1 output layer (default `filters`).
        num_classes: int for a class-conditional model, None for an unconditional one.
        likelihood: "bernoulli", "categorical" or "logistic_mixture".
        num_levels: levels per sub-pixel for "categorical"/"logistic_mixture" (256 for 8-bit images).
        num_mixtures: mixture components for "logistic_mixture".
        **kwargs: `name`, `trainable`, `dtype` for `keras.Model`.

    Example:
    >>> model = GatedPixelCNN(image_shape=(28, 28, 1), filters=32, num_layers=5, num_classes=10)
    >>> model.compile(optimizer="adam")
    >>> threes = model.sample(8, labels=3, seed=0)
    """

    sampling_methods = ("cached", "naive")

    def __init__(
        self,
        image_shape=(28, 28, 1),
        filters=128,
        num_layers=10,
        first_kernel_size=7,
        kernel_size=3,
        output_dim=None,
        num_classes=None,
        likelihood="bernoulli",
        num_levels=None,
        num_mixtures=None,
        **kwargs,
    ):
        owner = "GatedPixelCNN"
        image_shape, distribution, groups = check_image_model_args(
            owner, kwargs, image_shape, likelihood, num_levels, num_mixtures
        )
        filters = check_int(filters, "filters", owner=owner)
        num_layers = check_int(num_layers, "num_layers", owner=owner)
        first_kernel_size = check_int(first_kernel_size, "first_kernel_size", odd=True, owner=owner)
        kernel_size = check_int(kernel_size, "kernel_size", odd=True, owner=owner)
        output_dim = filters if output_dim is None else check_int(output_dim, "output_dim", owner=owner)
        if num_classes is not None:
            num_classes = check_int(num_classes, "num_classes", minimum=2, owner=owner)
        for value, name in ((filters, "filters"), (output_dim, "output_dim")):
            if value % groups:
                raise ValueError(f"{owner}: `{name}` ({value}) must be divisible by the {groups} colour groups.")

        # === Functional model ===
        images = keras.Input(shape=image_shape, name="images")
        inputs, condition = images, None
        if num_classes is not None:
            labels = keras.Input(shape=(), dtype="int32", name="labels")
            inputs = {"images": images, "labels": labels}
            condition = layers.CategoryEncoding(num_tokens=num_classes, output_mode="one_hot", name="one_hot")(labels)
        steps = {"blocks": []}  # the layers in order, for the one-step computation of `call_with_cache`
        x = rescale_input(images, distribution, steps)
        v, h = x, x
        skips = []
        for i in range(num_layers):
            block = GatedPixelBlock(
                filters,
                first_kernel_size if i == 0 else kernel_size,
                mask_type="A" if i == 0 else "B",
                channel_groups=groups,
                residual=i > 0,
                return_stacks=i < num_layers - 1,  # the last layer feeds only its skip output
                name=f"gated{i}",
            )
            steps["blocks"].append(block)
            if i < num_layers - 1:
                v, h, skip = block(v, h, condition=condition)
            else:
                skip = block(v, h, condition=condition)
            skips.append(skip)
        x = layers.Add(name="skips")(skips) if len(skips) > 1 else skips[0]
        params = output_head(x, distribution, image_shape, output_dim, groups, steps)
        super().__init__(inputs=inputs, outputs=params, **kwargs)
        object.__setattr__(self, "_steps", steps)  # plain references: the layers are tracked through the graph

        # === Config (returned by get_config) ===
        self._record_config(image_shape=image_shape, filters=filters, num_layers=num_layers,
            first_kernel_size=first_kernel_size, kernel_size=kernel_size, output_dim=output_dim,
            num_classes=num_classes, **likelihood_config(distribution))
        self._setup_generative(image_shape, distribution, num_classes=num_classes)

    def dependencies(self, height, width):
        kernels = [self.first_kernel_size] + [self.kernel_size] * (self.num_layers - 1)
        return gated_receptive_field(kernels, height, width)

    # ------------------------------------------------------------------------------------------ incremental protocol
    # The vertical stack once per row (`GatedPixelBlock.row_with_cache`, in `begin_row`), the horizontal
    # stack once per pixel (`GatedPixelBlock.call_with_cache`); memory grows with the image width only.
    def init_cache(self, batch_size, labels=None):
        width, channels = self.image_shape[1], self.image_shape[2]
        blocks = self._steps["blocks"]
        cache = {
            "blocks": [b.init_cache(batch_size, width, channels if i == 0 else b.filters) for i, b in enumerate(blocks)],
            "head": [layer.init_cache(batch_size, width) for layer in self._steps["head"]],
        }
        if labels is not None:  # the class terms are the same at every step: once per generation
            onehot = ops.one_hot(ops.cast(labels, "int32"), self.num_classes, dtype="float32")
            # (vertical, horizontal) terms; a layer without one (the last has no vertical output) gets an empty one,
            # as loops carry tensors only.
            cache["condition"] = [
                tuple(ops.zeros((batch_size, 0)) if t is None else t for t in b.condition_terms(onehot)) for b in blocks
            ]
        return cache

    def begin_row(self, pixel, cache, row):
        """Row `row` starts: rows above it are final. The last pixel drawn (the end of the row above) goes into the
        first layer's row, which then goes through every layer's vertical stack once."""
        blocks, rescale = self._steps["blocks"], self._steps["rescale"]
        condition = cache.get("condition")
        first = cache["blocks"][0]
        scaled = pixel * rescale.scale + rescale.offset
        last = self.image_shape[1] - 1 + blocks[0].pad
        horizontal = ops.slice_update(first["horizontal"], (0, last, 0), scaled[:, None, :])
        above = ops.cast(ops.greater(row, 0), "float32")
        vertical = horizontal[:, blocks[0].pad:] * above  # the finished image row above, rescaled
        new_caches = []
        for i, (block, block_cache) in enumerate(zip(blocks, cache["blocks"])):
            condition_v = condition[i][0] if condition is not None else None
            vertical, block_cache = block.row_with_cache(vertical, block_cache, above, condition_v)
            new_caches.append(block_cache)
        return {**cache, "blocks": new_caches}

    def call_with_cache(self, pixel, cache, index):
        """The horizontal stack and the head once at the pixel of step `index` (see `kgen.samplers.image`)."""
        from kgen.layers.steps import equals, previous_step, select

        blocks, rescale = self._steps["blocks"], self._steps["rescale"]
        _, col, channel = self.step_position(index)
        _, prev_col, _ = self.step_position(previous_step(index))
        scaled = pixel * rescale.scale + rescale.offset
        condition = cache.get("condition")
        first = cache["blocks"][0]
        # Step index - 1's pixel, as drawn, into the current row (harmless at a row's first step: that column is
        # written again before it is read).
        first = {**first, "horizontal": ops.slice_update(
            first["horizontal"], (0, prev_col + blocks[0].pad, 0), scaled[:, None, :])}
        block_caches = [first] + list(cache["blocks"][1:])
        h = select(equals(channel, 0), ops.zeros_like(scaled), scaled)  # this pixel's channels so far
        skips, new_caches = 0.0, []
        for i, (block, block_cache) in enumerate(zip(blocks, block_caches)):
            condition_h = condition[i][1] if condition is not None else None
            h, skip, block_cache = block.call_with_cache(h, block_cache, col, condition_h)
            skips = skips + skip
            new_caches.append(block_cache)
        x, head_cache = head_with_cache(self._steps, skips, cache["head"], col)
        params = ops.reshape(x, (-1,) + tuple(self.distribution.param_shape((self.image_shape[-1],))))
        return params, {**cache, "blocks": new_caches, "head": head_cache}

"""The gated block of the Gated PixelCNN: a vertical and a horizontal stack without a blind spot."""

import keras
import numpy as np
from keras import ops

from kgen.layers.config import ArgumentConfig
from kgen.layers.constants import layer_constant, numpy_constant
from kgen.layers.masked_conv2d import channel_group_ids, group_visibility
from kgen.validation import check_int


def group_mask(in_groups, out_groups, mask_type):
    """(in, out) 0/1 matrix: input group may feed output group (earlier groups; the same one too for type B)."""
    if mask_type == "A":
        return (in_groups[:, None] < out_groups[None, :]).astype("float32")
    return (in_groups[:, None] <= out_groups[None, :]).astype("float32")


@keras.saving.register_keras_serializable(package="kgen")
class GatedPixelBlock(ArgumentConfig, keras.layers.Layer):
    """One layer of the Gated PixelCNN: a vertical stack, a horizontal stack and the link between them.

    The vertical stack convolves the rows above: a (k//2 + 1) x k convolution over rows r - k//2 .. r, whose
    output is used by the horizontal stack only after a shift down by one row, so it carries rows strictly above.
    The horizontal stack convolves the current row with a 1 x (k//2 + 1) kernel over columns c - k//2 .. c; at the
    current pixel the kernel is masked: type "A" (first layer) sees only earlier colour groups, type "B" the same
    group too. The shifted vertical pre-activation enters the horizontal one through a 1x1 convolution. Together the
    two stacks cover every earlier pixel in reach: there is no blind spot.

    Both stacks use the gated activation tanh(a) * sigmoid(b) on the two halves of 2 * filters pre-activations, to
    which a class condition (`condition`, a (batch, d) vector such as a one-hot label, through V^T h) and a spatial
    condition (`spatial_condition`, (batch, H, W, d), through a 1x1 convolution) are added. The horizontal output is
    a 1x1 convolution of the gated value plus the input (`residual`); `skip` is another 1x1 convolution of it, which
    the model sums over layers.

    Args:
        filters: int, channels of both stacks (p); the pre-activations have 2p.
        kernel_size: odd int: n of the n x n receptive window (7 for the first layer, 3 after it in the paper).
        mask_type: "A" hides the current pixel (the first layer, applied to the image), "B" does not.
        channel_groups: 1, or 3 for R -> G -> B masking of RGB images within a pixel.
        residual: add the horizontal input to its output (the input then needs `filters` channels).
        skip_filters: channels of the skip output (default `filters`).
        return_stacks: False for the last layer of a model, which needs only its skip output: it then returns only
            `skip` and has no weights for the unused vertical gate condition and horizontal output.
        kernel_initializer, bias_initializer: initializers for every kernel and bias.

    Call arguments:
        vertical: (batch, H, W, channels) input of the vertical stack.
        horizontal: (batch, H, W, channels) input of the horizontal stack (the same image for the first layer).
        condition: optional (batch, d) class condition.
        spatial_condition: optional (batch, H, W, d) condition map.

    Returns:
        (vertical_out, horizontal_out, skip), each (batch, H, W, filters or skip_filters); only `skip` when
        `return_stacks=False`.

    Example:
    >>> block = GatedPixelBlock(32, kernel_size=7, mask_type="A", residual=False)
    >>> v, h, skip = block(images, images, condition=one_hot_labels)

    Reference: van den Oord et al., 2016, "Conditional Image Generation with PixelCNN Decoders", section 2.
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        mask_type="B",
        channel_groups=1,
        residual=True,
        skip_filters=None,
        return_stacks=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = check_int(filters, "filters", owner="GatedPixelBlock")
        self.kernel_size = check_int(kernel_size, "kernel_size", odd=True, owner="GatedPixelBlock")
        if not isinstance(mask_type, str) or mask_type.upper() not in ("A", "B"):
            raise ValueError(f"GatedPixelBlock: `mask_type` must be 'A' or 'B', got {mask_type!r}.")
        self.mask_type = mask_type.upper()
        self.channel_groups = check_int(channel_groups, "channel_groups", owner="GatedPixelBlock")
        if self.filters % self.channel_groups:
            raise ValueError(
                f"GatedPixelBlock: `filters` ({filters}) must be divisible by `channel_groups` ({channel_groups})."
            )
        if not isinstance(residual, bool):
            raise ValueError(f"GatedPixelBlock: `residual` must be True or False, got {residual!r}.")
        self.residual = residual
        if not isinstance(return_stacks, bool):
            raise ValueError(f"GatedPixelBlock: `return_stacks` must be True or False, got {return_stacks!r}.")
        self.return_stacks = return_stacks
        self.skip_filters = self.filters if skip_filters is None else check_int(
            skip_filters, "skip_filters", owner="GatedPixelBlock"
        )
        if self.skip_filters % self.channel_groups:
            raise ValueError(
                f"GatedPixelBlock: `skip_filters` ({self.skip_filters}) must be divisible by `channel_groups` "
                f"({channel_groups})."
            )
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.pad = self.kernel_size // 2
        self._constants = {}

    # ------------------------------------------------------------------------------------------ weights
    def build(self, vertical_shape, horizontal_shape, condition_shape=None, spatial_condition_shape=None):
        cv, ch = vertical_shape[-1], horizontal_shape[-1]
        for name, value in (("vertical", cv), ("horizontal", ch)):
            if value is None or value % self.channel_groups:
                raise ValueError(
                    f"GatedPixelBlock: the {name} input's channel count ({value}) must be known and divisible by "
                    f"`channel_groups` ({self.channel_groups})."
                )
        if self.residual and ch != self.filters:
            raise ValueError(
                f"GatedPixelBlock: `residual=True` needs a horizontal input of `filters` ({self.filters}) channels, "
                f"got {ch}."
            )
        p, k, f2 = self.pad, self.kernel_size, 2 * self.filters
        add = lambda name, shape, init: self.add_weight(name=name, shape=shape, initializer=init)  # noqa: E731
        self.vertical_kernel = add("vertical_kernel", (p + 1, k, cv, f2), self.kernel_initializer)
        self.vertical_bias = add("vertical_bias", (f2,), self.bias_initializer)
        self.horizontal_kernel = add("horizontal_kernel", (1, p + 1, ch, f2), self.kernel_initializer)
        self.horizontal_bias = add("horizontal_bias", (f2,), self.bias_initializer)
        self.link_kernel = add("link_kernel", (f2, f2), self.kernel_initializer)
        self.link_bias = add("link_bias", (f2,), self.bias_initializer)
        if self.return_stacks:
            self.residual_kernel = add("residual_kernel", (self.filters, self.filters), self.kernel_initializer)
            self.residual_bias = add("residual_bias", (self.filters,), self.bias_initializer)
        self.skip_kernel = add("skip_kernel", (self.filters, self.skip_filters), self.kernel_initializer)
        self.skip_bias = add("skip_bias", (self.skip_filters,), self.bias_initializer)

        def conditioning_kernels(kind, shape):  # [vertical (None without a vertical output), horizontal] or None
            if shape is None:
                return None
            d = shape[-1]
            vertical = add(f"{kind}_vertical_kernel", (d, f2), self.kernel_initializer) if self.return_stacks else None
            return [vertical, add(f"{kind}_horizontal_kernel", (d, f2), self.kernel_initializer)]

        self.condition_kernels = conditioning_kernels("condition", condition_shape)
        self.spatial_kernels = conditioning_kernels("spatial", spatial_condition_shape)

    # Masks. Horizontal kernel: columns left of the pixel are free, the pixel's own tap is masked by colour group.
    # Residual and skip 1x1 kernels keep groups (type B). The 2 * filters pre-activations: the tanh half and the
    # sigmoid half line up, so the gate of channel j mixes values of one group only. Made with keras.ops while a
    # model is built symbolically, as numpy arrays (once) when the layer runs (`layer_constant`).
    def _ops_mask(self, which):
        g, f = self.channel_groups, self.filters
        hidden = channel_group_ids(f, g)
        if which == "horizontal":
            ch, p = self.horizontal_kernel.shape[2], self.pad
            visible = group_visibility(channel_group_ids(ch, g), channel_group_ids(f, g, repeats=2), self.mask_type)
            cols = ops.reshape(ops.arange(p + 1, dtype="int32"), (1, p + 1, 1, 1))
            return ops.logical_or(ops.less(cols, p), visible[None, None])
        if which == "residual":
            return group_visibility(hidden, hidden, "B")
        return group_visibility(hidden, channel_group_ids(self.skip_filters, g), "B")

    def _numpy_mask(self, which):
        g, f = self.channel_groups, self.filters
        ids = lambda n: np.arange(n) * g // n  # noqa: E731  (the colour group of each of n channels)
        if which == "horizontal":
            ch, p = self.horizontal_kernel.shape[2], self.pad
            mask = np.ones((1, p + 1, ch, 2 * f), dtype="float32")
            mask[0, p] = group_mask(ids(ch), np.tile(ids(f), 2), self.mask_type)
            return mask
        return group_mask(ids(f), ids(f if which == "residual" else self.skip_filters), "B")

    def _masked(self, kernel, which):
        mask = layer_constant(self._constants, which, lambda: self._numpy_mask(which), lambda: self._ops_mask(which),
                              kernel.dtype)
        return ops.multiply(kernel, mask)

    def _numpy(self, which):
        return numpy_constant(self._constants, which, lambda: self._numpy_mask(which))

    @property
    def horizontal_mask(self):
        """(1, k // 2 + 1, in, 2 * filters) 0/1 numpy mask of the horizontal kernel."""
        return self._numpy("horizontal")

    @property
    def residual_mask(self):
        """(filters, filters) 0/1 numpy mask of the residual 1x1 kernel."""
        return self._numpy("residual")

    @property
    def skip_mask(self):
        """(filters, skip_filters) 0/1 numpy mask of the skip 1x1 kernel."""
        return self._numpy("skip")

    # ------------------------------------------------------------------------------------------ pieces
    # The pieces below are shared by `call` (whole images) and the cached sampler (one row / one pixel at a time).
    def gate(self, pre):
        f = self.filters
        return ops.tanh(pre[..., :f]) * ops.sigmoid(pre[..., f:])

    def condition_terms(self, condition):
        """(vertical, horizontal) (batch, 2p) terms of a class condition (None where the layer has none)."""
        if condition is None or self.condition_kernels is None:
            return None, None
        condition = ops.cast(condition, self.compute_dtype)
        return tuple(None if k is None else ops.matmul(condition, k) for k in self.condition_kernels)

    def vertical_preactivation(self, padded):
        """Vertical convolution of input rows already padded by k//2 above and on both sides ('valid')."""
        return ops.conv(padded, self.vertical_kernel, padding="valid") + self.vertical_bias

    def link(self, vertical_pre):
        """The 1x1 vertical -> horizontal link, before the shift down by one row."""
        return ops.matmul(vertical_pre, self.link_kernel) + self.link_bias

    def masked_kernels(self):
        """The masked kernels of the per-pixel pieces, computed once: {"horizontal" (as a matrix), "skip", "residual"}."""
        kernels = {
            "horizontal": ops.reshape(
                self._masked(self.horizontal_kernel, "horizontal")[0], (-1, 2 * self.filters)
            ),
            "skip": self._masked(self.skip_kernel, "skip"),
        }
        if self.return_stacks:
            kernels["residual"] = self._masked(self.residual_kernel, "residual")
        return kernels

    def horizontal_patch_preactivation(self, patch, kernels=None):
        """Horizontal pre-activation of one pixel from its (batch, k//2 + 1, channels) row patch."""
        kernels = kernels or self.masked_kernels()
        flat = ops.reshape(patch, (ops.shape(patch)[0], -1))
        return ops.matmul(flat, kernels["horizontal"]) + self.horizontal_bias

    def outputs(self, gated, horizontal, kernels=None):
        """(horizontal_out, skip) from the gated horizontal value (horizontal_out None when not returned)."""
        if kernels is None:
            kernels = {"skip": self._masked(self.skip_kernel, "skip")}
            if self.return_stacks:
                kernels["residual"] = self._masked(self.residual_kernel, "residual")
        skip = ops.matmul(gated, kernels["skip"]) + self.skip_bias
        if not self.return_stacks:
            return None, skip
        out = ops.matmul(gated, kernels["residual"]) + self.residual_bias
        if self.residual:
            out = out + horizontal
        return out, skip

    # ------------------------------------------------------------------------------------------ one row / one pixel
    # Cached generation (kgen.samplers.image): the vertical stack once per row, the horizontal stack once per pixel.
    def init_cache(self, batch_size, width, in_channels, dtype="float32"):
        """State for rows of `width` pixels: the last k//2 + 1 vertical input rows (zero-padded by k//2 columns
        on both sides), the current horizontal input row (k//2 zero columns on the left), the vertical -> horizontal
        link of the row above, and the masked kernels, computed once."""
        p = self.pad
        return {
            "vertical": ops.zeros((batch_size, p + 1, width + 2 * p, in_channels), dtype=dtype),
            "horizontal": ops.zeros((batch_size, width + p, in_channels), dtype=dtype),
            "link": ops.zeros((batch_size, width, 2 * self.filters), dtype=dtype),
            "kernels": self.masked_kernels(),
        }

    def row_with_cache(self, vertical_row, cache, above, condition_v=None):
        """Start a row: push the finished row above, `vertical_row` (batch, width, channels) of vertical input,
        through the vertical convolution (`above` is 0.0 at the top row, where everything above is padding).
        Returns (the vertical output row for the next layer, None for the last layer; cache)."""
        p = self.pad
        padded = ops.pad(vertical_row, [[0, 0], [p, p], [0, 0]])
        rows = ops.concatenate([cache["vertical"][:, 1:], padded[:, None]], axis=1)
        pre = self.vertical_preactivation(rows)[:, 0]  # (batch, width, 2 * filters): the vertical row above
        cache = {
            "vertical": rows,
            "horizontal": ops.zeros_like(cache["horizontal"]),
            "link": self.link(pre) * above,
            "kernels": cache["kernels"],
        }
        if not self.return_stacks:
            return None, cache
        if condition_v is not None:
            pre = pre + condition_v[:, None, :]
        return self.gate(pre) * above, cache

    def call_with_cache(self, horizontal, cache, col, condition_h=None):
        """One pixel of the horizontal stack at column `col` from its input `horizontal` (batch, channels) there.
        Returns (horizontal output, None for the last layer; skip output; cache)."""
        p = self.pad
        row = ops.slice_update(cache["horizontal"], (0, col + p, 0), ops.cast(horizontal, "float32")[:, None, :])
        batch, channels = ops.shape(row)[0], row.shape[2]
        patch = ops.slice(row, (0, col, 0), (batch, p + 1, channels))
        pre = self.horizontal_patch_preactivation(patch, cache["kernels"]) + ops.take(cache["link"], col, axis=1)
        if condition_h is not None:
            pre = pre + condition_h
        out, skip = self.outputs(self.gate(pre), patch[:, -1], cache["kernels"])
        return out, skip, {**cache, "horizontal": row}

    # ------------------------------------------------------------------------------------------ call
    def call(self, vertical, horizontal, condition=None, spatial_condition=None):
        p = self.pad
        v_pre = self.vertical_preactivation(ops.pad(vertical, [[0, 0], [p, 0], [p, p], [0, 0]]))
        h_pre = ops.conv(
            ops.pad(horizontal, [[0, 0], [0, 0], [p, 0], [0, 0]]),
            self._masked(self.horizontal_kernel, "horizontal"),
            padding="valid",
        ) + self.horizontal_bias
        # The vertical stack reaches row r; shifted down one row it carries only rows above the current pixel.
        h_pre = h_pre + ops.pad(self.link(v_pre), [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]
        cond_v, cond_h = self.condition_terms(condition)
        if cond_h is not None:
            h_pre = h_pre + cond_h[:, None, None, :]
        if self.spatial_kernels is not None and spatial_condition is not None:
            s = ops.cast(spatial_condition, self.compute_dtype)
            h_pre = h_pre + ops.matmul(s, self.spatial_kernels[1])
        h_out, skip = self.outputs(self.gate(h_pre), horizontal)
        if not self.return_stacks:
            return skip
        if cond_v is not None:
            v_pre = v_pre + cond_v[:, None, None, :]
        if self.spatial_kernels is not None and spatial_condition is not None:
            v_pre = v_pre + ops.matmul(s, self.spatial_kernels[0])
        return self.gate(v_pre), h_out, skip

    def compute_output_shape(self, vertical_shape, horizontal_shape, condition_shape=None, spatial_condition_shape=None):
        base = tuple(vertical_shape[:-1])
        if not self.return_stacks:
            return base + (self.skip_filters,)
        return base + (self.filters,), base + (self.filters,), base + (self.skip_filters,)

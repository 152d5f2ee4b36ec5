"""Cached generation for PixelCNN: every masked convolution once per new pixel, from a few rows of its input.

Each k x k masked convolution keeps a buffer of its input's rows r - k//2 .. r (zero-padded by k//2 columns on both
sides). For a new pixel, the 7x7 type-A input layer, each residual block (1x1, k x k, 1x1) and the two output layers
are evaluated at that pixel only. Memory grows with the image width only.
"""

from keras import ops

from kgen.samplers.cached import (
    make_sample_loop,
    masked_conv_at,
    patch_kernel,
    pointwise,
    pointwise_kernel,
    shift_up,
    write_pixel,
)


class PixelCNNGenerator:
    def __init__(self, model):
        self.model = model
        self.rescale = model.get_layer("rescale")
        self.input_conv = model.get_layer("input_conv")
        self.blocks = [
            tuple(model.get_layer(f"block{i}_{part}") for part in ("reduce", "conv", "expand"))
            for i in range(model.num_residual_blocks)
        ]
        self.out1 = model.get_layer("output_conv1")
        self.out2 = model.get_layer("output_conv2")
        self.height, self.width, self.channels = model.image_shape
        self.param_shape = model.distribution.param_shape((self.channels,))
        for layer in [self.input_conv] + [b[1] for b in self.blocks]:
            if tuple(layer.dilation_rate) != (1, 1):
                raise ValueError(f"the cached PixelCNN sampler needs undilated convolutions; {layer.name} is dilated.")
        # Masked kernels once per generation, not once per pixel (what an eager backend would otherwise redo).
        self.k_input = patch_kernel(self.input_conv)
        self.k_blocks = [(pointwise_kernel(a), patch_kernel(b), pointwise_kernel(c)) for a, b, c in self.blocks]
        self.k_out = (pointwise_kernel(self.out1), pointwise_kernel(self.out2))

    def _buffer(self, batch, layer, channels):
        p = layer.kernel_size[0] // 2
        return ops.zeros((batch, p + 1, self.width + 2 * p, channels))

    def init(self, batch, labels):
        buffers = [self._buffer(batch, self.input_conv, self.channels)]
        buffers += [self._buffer(batch, conv, conv.filters) for _, conv, _ in self.blocks]
        return tuple(buffers)

    def begin_row(self, state, r):
        return tuple(shift_up(b) for b in state)

    def _write_image(self, buffer, c, pixel):
        p = self.input_conv.kernel_size[0] // 2
        return write_pixel(buffer, c, pixel * self.rescale.scale + self.rescale.offset, p)

    def pixel_params(self, state, c, pixel):
        buffers = list(state)
        buffers[0] = self._write_image(buffers[0], c, pixel)
        x = masked_conv_at(self.input_conv, buffers[0], c, self.k_input)
        for i, (reduce, conv, expand) in enumerate(self.blocks):
            k_reduce, k_conv, k_expand = self.k_blocks[i]
            y = ops.relu(pointwise(reduce, ops.relu(x), k_reduce))
            buffers[i + 1] = write_pixel(buffers[i + 1], c, y, conv.kernel_size[0] // 2)
            y = ops.relu(masked_conv_at(conv, buffers[i + 1], c, k_conv))
            x = x + pointwise(expand, y, k_expand)
        x = pointwise(self.out1, ops.relu(x), self.k_out[0])
        x = pointwise(self.out2, ops.relu(x), self.k_out[1])
        return ops.reshape(x, (-1,) + tuple(self.param_shape)), tuple(buffers)

    def end_pixel(self, state, c, pixel):
        buffers = list(state)
        buffers[0] = self._write_image(buffers[0], c, pixel)
        return tuple(buffers)


sample_loop = make_sample_loop(PixelCNNGenerator)

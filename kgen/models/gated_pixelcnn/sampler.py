"""Cached generation for the Gated PixelCNN: the vertical stack once per row, the horizontal stack once per pixel.

State per gated layer i with window k_i (p_i = k_i // 2):

- `vbuf[i]`: the last p_i + 1 rows of the layer's vertical input, zero-padded by p_i columns on both sides;
- `link[i]`: the vertical -> horizontal link of the row above, (batch, W, 2 * filters);
- `hbuf[i]`: the current row of the layer's horizontal input, zero-padded by p_i columns on the left.

At the start of row r the finished row r - 1 is pushed through the vertical stacks (each layer's vertical
convolution once for the whole row); then every pixel runs the horizontal stacks on its 1 x (p_i + 1) patches.
Memory grows with the image width only.
"""

from keras import ops

from kgen.samplers.cached import make_sample_loop, pointwise, pointwise_kernel, read_columns, shift_in_row, write_column


class GatedPixelCNNGenerator:
    def __init__(self, model):
        self.model = model
        self.blocks = [model.get_layer(f"gated{i}") for i in range(model.num_layers)]
        self.rescale = model.get_layer("rescale")
        self.out1 = model.get_layer("output_conv1")
        self.out2 = model.get_layer("output_conv2")
        self.height, self.width, self.channels = model.image_shape
        self.param_shape = model.distribution.param_shape((self.channels,))
        self.condition = None
        # Masked kernels once per generation, not once per pixel (what an eager backend would otherwise redo).
        self.kernels = [block.masked_kernels() for block in self.blocks]
        self.out_kernels = [pointwise_kernel(self.out1), pointwise_kernel(self.out2)]

    def _scaled(self, pixel):
        return pixel * self.rescale.scale + self.rescale.offset

    def init(self, batch, labels):
        if labels is not None:
            onehot = ops.one_hot(ops.cast(labels, "int32"), self.model.num_classes, dtype="float32")
            self.condition = [block.condition_terms(onehot) for block in self.blocks]
        else:
            self.condition = None
        w = self.width
        vbufs, hbufs, links = [], [], []
        for i, block in enumerate(self.blocks):
            cin = self.channels if i == 0 else block.filters
            vbufs.append(ops.zeros((batch, block.pad + 1, w + 2 * block.pad, cin)))
            hbufs.append(ops.zeros((batch, w + block.pad, cin)))
            links.append(ops.zeros((batch, w, 2 * block.filters)))
        return (tuple(vbufs), tuple(hbufs), tuple(links))

    def begin_row(self, state, r):
        vbufs, hbufs, links = state
        above = ops.cast(ops.greater(r, 0), "float32")  # row r - 1 exists (else everything above is padding)
        first = self.blocks[0]
        row = hbufs[0][:, first.pad :] * above  # the finished image row r - 1, rescaled
        new_vbufs, new_links = [], []
        for i, block in enumerate(self.blocks):
            vbuf = shift_in_row(vbufs[i], row, block.pad)
            new_vbufs.append(vbuf)
            pre = block.vertical_preactivation(vbuf)[:, 0]  # (batch, W, 2 * filters): vertical row r - 1
            new_links.append(block.link(pre) * above)
            if not block.return_stacks:
                break
            if self.condition is not None:
                pre = pre + self.condition[i][0][:, None, :]
            row = block.gate(pre) * above
        new_hbufs = tuple(ops.zeros_like(h) for h in hbufs)
        return (tuple(new_vbufs), new_hbufs, tuple(new_links))

    def pixel_params(self, state, c, pixel):
        vbufs, hbufs, links = state
        hbufs = list(hbufs)
        hbufs[0] = write_column(hbufs[0], c + self.blocks[0].pad, self._scaled(pixel))
        skips = 0.0
        for i, block in enumerate(self.blocks):
            patch = read_columns(hbufs[i], c, block.pad + 1)
            pre = block.horizontal_patch_preactivation(patch, self.kernels[i]) + ops.take(links[i], c, axis=1)
            if self.condition is not None:
                pre = pre + self.condition[i][1]
            out, skip = block.outputs(block.gate(pre), patch[:, -1], self.kernels[i])
            skips = skips + skip
            if i + 1 < len(self.blocks):
                hbufs[i + 1] = write_column(hbufs[i + 1], c + self.blocks[i + 1].pad, out)
        x = pointwise(self.out1, ops.relu(skips), self.out_kernels[0])
        x = pointwise(self.out2, ops.relu(x), self.out_kernels[1])
        params = ops.reshape(x, (-1,) + tuple(self.param_shape))
        return params, (vbufs, tuple(hbufs), links)

    def end_pixel(self, state, c, pixel):
        vbufs, hbufs, links = state
        hbufs = list(hbufs)
        hbufs[0] = write_column(hbufs[0], c + self.blocks[0].pad, self._scaled(pixel))
        return (vbufs, tuple(hbufs), links)


sample_loop = make_sample_loop(GatedPixelCNNGenerator)

"""Fast WaveNet generation (Paine et al. 2016): one step per layer per new sample, from per-layer queues.

The generator runs the trained layers' own weights (`WaveNetResidualBlock.step_preactivation`, `condition_terms`,
`gate`, `outputs`; the embedding, input convolution and output layers) on one time step, and keeps for every causal
convolution a ring buffer of its last (k - 1) d inputs (`kgen.samplers.queues`). The state is
sum over layers of (k - 1) d x channels per sequence: it grows with the receptive field, not with the length
generated.
"""

from keras import ops

from kgen.samplers.queues import init_queue, queue_taps


class WaveNetGenerator:
    """`init(batch, labels, features) -> cache` and `step(previous_token, index, cache) -> (logits, cache)`."""

    def __init__(self, model):
        self.model = model
        self.embedding = model.get_layer("embedding")
        self.input_conv = model.get_layer("input_conv")
        self.blocks = [model.get_layer(f"block{i}") for i in range(model.num_layers)]
        self.dense1 = model.get_layer("output_dense1")
        self.logits = model.get_layer("logits")

    def init(self, batch, labels=None, features=None):
        k, r = self.model.kernel_size, self.model.residual_channels
        queues = [init_queue(batch, k, 1, r)] + [init_queue(batch, k, b.dilation_rate, r) for b in self.blocks]
        condition = None
        if labels is not None:
            condition = ops.one_hot(ops.cast(labels, "int32"), self.model.num_classes)
        # Global condition terms are the same at every step: compute them once, (batch, 2G) per block.
        terms = tuple(b.condition_terms(condition)[:, 0] if condition is not None else ops.zeros((batch, 1)) for b in self.blocks)
        local = ops.zeros((batch, 1, 1))
        if features is not None:
            local = ops.repeat(ops.cast(features, "float32"), self.model.local_upsample, axis=1)
        return tuple(queues), terms, local

    def step(self, previous, index, cache):
        queues, terms, local = cache
        model, k = self.model, self.model.kernel_size
        # The type-A input layer reads the codes before `index`: its input at step `index` is code index - 1
        # (zeros at step 0, the causal padding).
        valid = ops.cast(index > 0, "float32")
        x = self.embedding(previous) * valid
        taps, q = queue_taps(queues[0], index, x, k, 1)
        new_queues = [q]
        h = ops.einsum("bkc,kcf->bf", taps, self.input_conv.kernel) + self.input_conv.bias
        local_step = None
        if model.locally_conditioned:
            batch, channels = ops.shape(local)[0], local.shape[2]
            local_step = ops.slice(local, (0, index, 0), (batch, 1, channels))
        skips = None
        for block, queue, term in zip(self.blocks, queues[1:], terms):
            taps, q = queue_taps(queue, index, h, k, block.dilation_rate)
            new_queues.append(q)
            z = block.step_preactivation(taps)
            if model.conditional:
                z = z + term
            if local_step is not None:
                z = z + block.condition_terms(local_condition=local_step)[:, 0]
            out = block.outputs(h, block.gate(z))
            if block.return_residual:
                h, skip = out
            else:
                skip = out
            skips = skip if skips is None else skips + skip
        y = self.dense1(ops.relu(skips))
        logits = self.logits(ops.relu(y))
        return logits, (tuple(new_queues), terms, local)

    def state_bytes(self, batch):
        """Bytes of the queues for `batch` sequences (float32)."""
        k, r = self.model.kernel_size, self.model.residual_channels
        slots = max(k - 1, 1) + sum(max((k - 1) * b.dilation_rate, 1) for b in self.blocks)
        return 4 * batch * slots * r

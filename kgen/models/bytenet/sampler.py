"""Fast ByteNet generation: one step per layer per new byte, from per-layer queues (as Fast WaveNet).

The generator runs the trained layers' own weights on one time step: the embedding, the type-A input
convolution (from a queue of its last k - 1 inputs), then per `ByteNetResidualBlock` its pointwise `pre` part, the
masked convolution from k taps (`step_conv`, a queue of the last (k - 1) d outputs of `pre`,
`kgen.samplers.queues`) and its pointwise `post` part; finally the output LayerNorm, ReLU and logits layers. The
state is (k - 1) (hidden_dim + sum of dilations x hidden_dim // 2) floats per sequence: it grows with the
receptive field, not with the length generated.
"""

from keras import ops

from kgen.samplers.queues import init_queue, queue_taps


class ByteNetGenerator:
    """`init(batch, labels, features) -> cache` and `step(previous_token, index, cache) -> (logits, cache)`."""

    def __init__(self, model):
        self.model = model
        self.embedding = model.get_layer("embedding")
        self.input_conv = model.get_layer("input_conv")
        self.blocks = [model.get_layer(f"block{i}") for i in range(model.num_layers)]
        self.output_norm = model.get_layer("output_norm")
        self.logits = model.get_layer("logits")

    def init(self, batch, labels=None, features=None):
        k, c = self.model.kernel_size, self.model.hidden_dim
        queues = [init_queue(batch, k, 1, c)]
        queues += [init_queue(batch, k, b.dilation_rate, b.bottleneck_channels) for b in self.blocks]
        return tuple(queues)

    def step(self, previous, index, cache):
        k = self.model.kernel_size
        # The type-A input layer reads the bytes before `index`: its input at step `index` is byte index - 1
        # (zeros at step 0, the causal padding).
        valid = ops.cast(index > 0, "float32")
        x = ops.cast(self.embedding(previous), "float32") * valid
        taps, q = queue_taps(cache[0], index, x, k, 1)
        new_queues = [q]
        h = ops.einsum("bkc,kcf->bf", taps, self.input_conv.kernel) + self.input_conv.bias
        for block, queue in zip(self.blocks, cache[1:]):
            taps, q = queue_taps(queue, index, block.pre(h), k, block.dilation_rate)
            new_queues.append(q)
            h = block.post(h, block.step_conv(taps))
        logits = self.logits(ops.relu(self.output_norm(h)))
        return logits, tuple(new_queues)

    def state_bytes(self, batch):
        """Bytes of the queues for `batch` sequences (float32)."""
        k = self.model.kernel_size
        slots = max(k - 1, 1) * self.model.hidden_dim
        slots += sum(max((k - 1) * b.dilation_rate, 1) * b.bottleneck_channels for b in self.blocks)
        return 4 * batch * slots

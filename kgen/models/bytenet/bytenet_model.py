"""The ByteNet decoder (Kalchbrenner et al., 2016, "Neural Machine Translation in Linear Time") as a byte-level
language model."""

import keras
from keras import layers, ops

from kgen.layers.bytenet_block import ByteNetResidualBlock
from kgen.layers.dilated_causal_conv1d import DilatedCausalConv1D
from kgen.models.kgen_model import check_model_kwargs
from kgen.models.sequence_base import AutoregressiveSequenceModel, check_sample_rate
from kgen.validation import check_fraction, check_int


def bytenet_dilations(num_layers, dilation_cycle):
    """Dilations 1, 2, 4, ..., 2 ** (dilation_cycle - 1), repeated to `num_layers` layers (1..16 for a cycle of 5)."""
    return [2 ** (i % dilation_cycle) for i in range(num_layers)]


@keras.saving.register_keras_serializable(package="kgen")
class ByteNet(AutoregressiveSequenceModel):
    """The ByteNet decoder: residual blocks of masked dilated 1-D convolutions over bytes, a byte-level language
    model that runs in time linear in the length.

    Architecture (paper section 3 and Figure 3, left): each byte (0..255, from keras-nlp's `ByteTokenizer`) is
    embedded in `hidden_dim` = 2d channels and goes through a type-A causal convolution (kernel `kernel_size`,
    dilation 1), so step t sees bytes before t only; then `num_layers` `ByteNetResidualBlock`s (LN -> ReLU -> 1x1
    to d -> LN -> ReLU -> masked 1 x k convolution -> LN -> ReLU -> 1x1 to 2d, plus the input) with dilations 1, 2,
    4, ..., 2 ** (dilation_cycle - 1) repeated (1, 2, 4, 8, 16 in the paper); then LN -> ReLU -> 1x1 to
    `num_levels` float32 logits (a categorical over the next byte).

    The kernel size defaults to 3, the paper's masked kernel for character-level language modelling (its Hutter
    Prize decoder: 30 blocks in six cycles of 1..16, d = 512: the defaults here). Generation is cached by default: the
    incremental protocol (`init_cache` / `call_with_cache`) keeps one queue of (k - 1) x dilation inputs per
    masked convolution and computes one step per layer per byte, with exactly the tokens of the naive loop.

    Args:
        num_levels: int, vocabulary (256 bytes).
        hidden_dim: int 2d, the width of the residual stream (the blocks' bottleneck is hidden_dim // 2).
        num_layers: int, residual blocks.
        dilation_cycle: int, dilations 1 .. 2 ** (dilation_cycle - 1) repeat every `dilation_cycle` blocks.
        kernel_size: int k, taps of the input convolution and of every masked convolution (>= 2).
        dropout: float in [0, 1), dropout of each block's residual branch in training (against overfitting).
        sample_rate: int or None, samples per second when the tokens are mu-law audio samples (recorded in the
            config: WAV samples at that rate), None for text and other tokens.
        **kwargs: `name`, `trainable`, `dtype` for `keras.Model`.

    Example:
    >>> model = ByteNet(hidden_dim=256, num_layers=15)
    >>> model.receptive_field
    189
    >>> model.compile(optimizer="adam")
    >>> model.fit(kgen.data.load("tinyshakespeare", "train", sequence_length=256), epochs=1)
    >>> model.generate_text("ROMEO:", 100, sampler="top_p", seed=0)
    """

    def __init__(self, num_levels=256, hidden_dim=1024, num_layers=30, dilation_cycle=5, kernel_size=3, dropout=0.0,
                 sample_rate=None, **kwargs):
        owner = "ByteNet"
        check_model_kwargs(kwargs, owner)
        sample_rate = check_sample_rate(sample_rate, owner)
        num_levels = check_int(num_levels, "num_levels", minimum=2, owner=owner)
        hidden_dim = check_int(hidden_dim, "hidden_dim", minimum=2, owner=owner)
        num_layers = check_int(num_layers, "num_layers", owner=owner)
        dilation_cycle = check_int(dilation_cycle, "dilation_cycle", owner=owner)
        kernel_size = check_int(kernel_size, "kernel_size", minimum=2, owner=owner)
        dropout = check_fraction(dropout, "dropout", owner)

        # === Functional model ===
        tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
        steps = {  # the layers in order, for the one-step computation of `call_with_cache`
            "embedding": layers.Embedding(num_levels, hidden_dim, name="embedding"),
            "input_conv": DilatedCausalConv1D(hidden_dim, kernel_size, 1, mask_type="A", name="input_conv"),
            "blocks": [
                ByteNetResidualBlock(hidden_dim, hidden_dim // 2, kernel_size=kernel_size, dilation_rate=d,
                                     dropout=dropout, name=f"block{i}")
                for i, d in enumerate(bytenet_dilations(num_layers, dilation_cycle))
            ],
            "norm": layers.LayerNormalization(name="output_norm"),
            "logits": layers.Dense(num_levels, name="logits", dtype="float32"),
        }
        x = steps["input_conv"](steps["embedding"](tokens))
        for block in steps["blocks"]:
            x = block(x)
        x = layers.ReLU(name="output_relu")(steps["norm"](x))
        logits = steps["logits"](x)
        super().__init__(inputs=tokens, outputs=logits, **kwargs)
        object.__setattr__(self, "_steps", steps)  # plain references: the layers are tracked through the graph

        # === Config (returned by get_config) ===
        self._record_config(num_levels=num_levels, hidden_dim=hidden_dim, num_layers=num_layers,
            dilation_cycle=dilation_cycle, kernel_size=kernel_size, dropout=dropout, sample_rate=sample_rate)
        self.dilations = bytenet_dilations(num_layers, dilation_cycle)
        self._setup_sequence(num_levels)

    @property
    def receptive_field(self):
        """Earlier bytes that reach a prediction: (k - 1) (1 + sum of dilations) + 1 (the type-A input layer
        reads steps t - k .. t - 1, each block adds (k - 1) d). 189 for k = 3 and 15 blocks (1..16 three times)."""
        return (self.kernel_size - 1) * (1 + sum(self.dilations)) + 1

    # ------------------------------------------------------------------------------------------ incremental protocol
    # One step per layer per new byte: every masked convolution keeps a queue of its last (k - 1) d inputs, so the
    # state grows with the receptive field, not with the length generated.
    def init_cache(self, batch_size, labels=None, features=None):
        steps = self._steps
        return tuple([steps["input_conv"].init_cache(batch_size)] + [b.init_cache(batch_size) for b in steps["blocks"]])

    def call_with_cache(self, previous, cache, index):
        """The logits of byte `index` from byte index - 1 (`previous`; ignored at step 0)."""
        steps = self._steps
        # The type-A input layer reads the bytes before `index`: its input at step `index` is byte index - 1
        # (zeros at step 0, the causal padding).
        x = ops.cast(steps["embedding"](previous), "float32") * ops.cast(index > 0, "float32")
        h, queue = steps["input_conv"].call_with_cache(x, cache[0], index)
        new_cache = [queue]
        for block, queue in zip(steps["blocks"], cache[1:]):
            h, queue = block.call_with_cache(h, queue, index)
            new_cache.append(queue)
        return steps["logits"](ops.relu(steps["norm"](h))), tuple(new_cache)

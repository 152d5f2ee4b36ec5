"""WaveNet (van den Oord et al., 2016, "WaveNet: A Generative Model for Raw Audio")."""

import keras
from keras import layers, ops

from kgen.layers.dilated_causal_conv1d import DilatedCausalConv1D
from kgen.layers.wavenet_block import WaveNetResidualBlock
from kgen.models.kgen_model import check_model_kwargs
from kgen.models.sequence_base import AutoregressiveSequenceModel, check_sample_rate
from kgen.validation import check_int


def wavenet_dilations(num_layers, dilation_cycle):
    """Dilations 1, 2, 4, ..., 2 ** (dilation_cycle - 1), repeated to `num_layers` layers."""
    return [2 ** (i % dilation_cycle) for i in range(num_layers)]


@keras.saving.register_keras_serializable(package="kgen")
class WaveNet(AutoregressiveSequenceModel):
    """WaveNet: a stack of gated residual blocks of dilated causal convolutions over mu-law audio codes.

    Architecture (paper sections 2.1-2.5): the codes (mu-law companded samples, `kgen.audio.mu_law_encode`) are
    embedded (a one-hot times a matrix) and go through a type-A causal convolution (kernel `kernel_size`, dilation
    1, so step t sees codes before t only); then `num_layers` `WaveNetResidualBlock`s with dilations 1, 2, ...,
    2 ** (dilation_cycle - 1) repeated; the skip outputs are summed, then ReLU -> 1x1 (`output_channels`) -> ReLU ->
    1x1 to `num_levels` logits (a categorical over the codes).

    Conditioning: `num_classes` adds a global condition (a one-hot label, e.g. the spoken digit or the speaker)
    inside every gate; `local_channels` adds a local condition, a feature sequence (batch, time / local_upsample,
    local_channels) repeated `local_upsample` times to the sample rate and added inside every gate by a 1x1
    convolution.

    Args:
        num_levels: int, quantization levels (256: 8-bit mu-law).
        residual_channels: int R, width of the residual stream.
        gate_channels: int, channels of each gate (default R).
        skip_channels: int, channels of the skip outputs (default 2R).
        output_channels: int, width of the first output 1x1 layer (default skip_channels).
        num_layers: int, residual blocks.
        dilation_cycle: int, dilations 1 .. 2 ** (dilation_cycle - 1) repeat every `dilation_cycle` layers.
        kernel_size: int, taps of every causal convolution (2 in the paper).
        num_classes: int or None, classes of the global condition. The label -1 (`null_label`) stands for no
            class: a one-hot of zeros.
        local_channels: int or None, channels of the local condition features.
        local_upsample: int, samples per local feature step (the repeat factor).
        sample_rate: int or None, samples per second of the audio the codes are (e.g. 8000 for FSDD; recorded in
            the config: the rate of the WAV files it writes and takes), None for codes that are not audio.
        **kwargs: `name`, `trainable`, `dtype` for `keras.Model`.

    Example:
    >>> model = WaveNet(residual_channels=32, num_layers=20, dilation_cycle=10, num_classes=10, sample_rate=8000)
    >>> model.receptive_field
    2047
    >>> model.compile(optimizer="adam")
    >>> codes = model.sample(1, model.sample_rate, labels=7, seed=0)  # one second
    """

    def __init__(
        self,
        num_levels=256,
        residual_channels=32,
        gate_channels=None,
        skip_channels=None,
        output_channels=None,
        num_layers=20,
        dilation_cycle=10,
        kernel_size=2,
        num_classes=None,
        local_channels=None,
        local_upsample=1,
        sample_rate=None,
        **kwargs,
    ):
        owner = "WaveNet"
        check_model_kwargs(kwargs, owner)
        sample_rate = check_sample_rate(sample_rate, owner)
        num_levels = check_int(num_levels, "num_levels", minimum=2, owner=owner)
        residual_channels = check_int(residual_channels, "residual_channels", owner=owner)
        gate_channels = residual_channels if gate_channels is None else check_int(gate_channels, "gate_channels", owner=owner)
        skip_channels = 2 * residual_channels if skip_channels is None else check_int(skip_channels, "skip_channels", owner=owner)
        output_channels = skip_channels if output_channels is None else check_int(output_channels, "output_channels", owner=owner)
        num_layers = check_int(num_layers, "num_layers", owner=owner)
        dilation_cycle = check_int(dilation_cycle, "dilation_cycle", owner=owner)
        kernel_size = check_int(kernel_size, "kernel_size", minimum=2, owner=owner)
        if num_classes is not None:
            num_classes = check_int(num_classes, "num_classes", minimum=2, owner=owner)
        if local_channels is not None:
            local_channels = check_int(local_channels, "local_channels", owner=owner)
        local_upsample = check_int(local_upsample, "local_upsample", owner=owner)
        if local_channels is None and local_upsample != 1:
            raise ValueError(f"{owner}: `local_upsample` applies only with `local_channels`, got {local_upsample}.")

        # === Functional model ===
        tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
        inputs, condition, local = tokens, None, None
        if num_classes is not None or local_channels is not None:
            inputs = {"tokens": tokens}
        if num_classes is not None:
            labels = keras.Input(shape=(), dtype="int32", name="labels")
            inputs["labels"] = labels
            condition = layers.CategoryEncoding(num_tokens=num_classes, output_mode="one_hot", name="one_hot")(labels)
        if local_channels is not None:
            features = keras.Input(shape=(None, local_channels), name="features")
            inputs["features"] = features
            local = layers.UpSampling1D(local_upsample, name="upsample_features")(features)
        steps = {"embedding": layers.Embedding(num_levels, residual_channels, name="embedding"), "blocks": []}
        steps["input_conv"] = DilatedCausalConv1D(residual_channels, kernel_size, 1, mask_type="A", name="input_conv")
        x = steps["input_conv"](steps["embedding"](tokens))
        skips = []
        for i, dilation in enumerate(wavenet_dilations(num_layers, dilation_cycle)):
            last = i == num_layers - 1
            block = WaveNetResidualBlock(
                residual_channels,
                gate_channels,
                skip_channels,
                kernel_size=kernel_size,
                dilation_rate=dilation,
                return_residual=not last,
                name=f"block{i}",
            )
            steps["blocks"].append(block)
            out = block(x, condition=condition, local_condition=local)
            if last:
                skips.append(out)
            else:
                x, skip = out
                skips.append(skip)
        x = layers.Add(name="skips")(skips) if len(skips) > 1 else skips[0]
        steps["dense"] = layers.Dense(output_channels, name="output_dense1")
        steps["logits"] = layers.Dense(num_levels, name="logits", dtype="float32")
        x = steps["dense"](layers.ReLU(name="output_relu1")(x))
        logits = steps["logits"](layers.ReLU(name="output_relu2")(x))
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        object.__setattr__(self, "_steps", steps)  # plain references: the layers are tracked through the graph

        # === Config (returned by get_config) ===
        self._record_config(num_levels=num_levels, residual_channels=residual_channels,
            gate_channels=gate_channels, skip_channels=skip_channels, output_channels=output_channels,
            num_layers=num_layers, dilation_cycle=dilation_cycle, kernel_size=kernel_size,
            num_classes=num_classes, local_channels=local_channels, local_upsample=local_upsample,
            sample_rate=sample_rate)
        self.dilations = wavenet_dilations(num_layers, dilation_cycle)
        self._setup_sequence(num_levels, num_classes, local_channels, local_upsample)

    @property
    def null_label(self):
        """-1 for a class-conditional WaveNet: its one-hot is all zeros, so no class term enters the gates (what a
        recipe's `label_dropout` trains, and the unconditional half of guided sampling); None without classes."""
        return -1 if self.conditional else None

    @property
    def receptive_field(self):
        """Earlier samples that reach a prediction: (k - 1) (1 + sum of dilations) + 1 (the type-A input layer
        reads steps t - 1 - (k - 1) .. t - 1, each block adds (k - 1) d)."""
        return (self.kernel_size - 1) * (1 + sum(self.dilations)) + 1

    # ------------------------------------------------------------------------------------------ incremental protocol
    # Fast WaveNet generation (Paine et al. 2016): one step per layer per new sample; every causal convolution keeps
    # a queue of its last (k - 1) d inputs, so the state grows with the receptive field, not the length generated.
    def init_cache(self, batch_size, labels=None, features=None):
        steps = self._steps
        queues = [steps["input_conv"].init_cache(batch_size)] + [b.init_cache(batch_size) for b in steps["blocks"]]
        if labels is not None:  # the global terms are the same at every step: once per sequence, (batch, 2G)
            onehot = ops.one_hot(ops.cast(labels, "int32"), self.num_classes)
            terms = tuple(b.condition_terms(onehot)[:, 0] for b in steps["blocks"])
        else:
            terms = tuple(ops.zeros((batch_size, 1)) for _ in steps["blocks"])
        local = ops.zeros((batch_size, 1, 1))
        if features is not None:
            local = ops.repeat(ops.cast(features, "float32"), self.local_upsample, axis=1)
        return tuple(queues), terms, local

    def call_with_cache(self, previous, cache, index):
        """The logits of step `index` from token index - 1 (`previous`; ignored at step 0)."""
        from kgen.layers.queues import step_slice

        steps = self._steps
        queues, terms, local = cache
        # The type-A input layer reads the codes before `index`: its input at step `index` is code index - 1
        # (zeros at step 0, the causal padding).
        x = steps["embedding"](previous)
        x = x * ops.cast(index > 0, x.dtype)
        h, queue = steps["input_conv"].call_with_cache(x, queues[0], index)
        new_queues = [queue]
        local_step = step_slice(local, index) if self.locally_conditioned else None
        skips = None
        for block, queue, term in zip(steps["blocks"], queues[1:], terms):
            out, queue = block.call_with_cache(h, queue, index, term if self.conditional else None, local_step)
            new_queues.append(queue)
            h, skip = out if block.return_residual else (h, out)
            skips = skip if skips is None else skips + skip
        logits = steps["logits"](ops.relu(steps["dense"](ops.relu(skips))))
        return logits, (tuple(new_queues), terms, local)

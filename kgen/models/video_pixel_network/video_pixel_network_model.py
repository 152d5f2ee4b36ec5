"""Video Pixel Network (Kalchbrenner et al., 2017, "Video Pixel Networks", sections 3-4)."""

import numpy as np
import keras
from keras import layers, ops

from kgen.layers.fold_time import FoldTime
from kgen.layers.frame_binarize import FrameBinarize
from kgen.layers.masked_conv2d import MaskedConv2D, bias_and_activation
from kgen.layers.residual_multiplicative_block import ResidualMultiplicativeBlock
from kgen.models import video_base
from kgen.models.kgen_model import check_model_kwargs
from kgen.validation import check_int

OWNER = "VideoPixelNetwork"
#: Options that depart from the paper's network, with the values that keep to it. The config records one only where
#: it departs, so the configs of the paper's network (the shipped presets' config.json among them) stay what they
#: were before the option.
PAPER_VALUES = {"last_frame_kernel": 0, "lstm_dilation": 1}


def _check_dilations(dilations):
    try:
        values = tuple(int(d) for d in dilations)
    except (TypeError, ValueError):
        values = ()
    if not values or any(d < 1 for d in values) or any(float(a) != b for a, b in zip(dilations, values)):
        raise ValueError(f"{OWNER}: `encoder_dilations` must be a non-empty list of positive ints, got {dilations!r}.")
    return values


@keras.saving.register_keras_serializable(package="kgen")
class VideoPixelNetwork(video_base.AutoregressiveVideoModel):
    """The VPN: p(video) factorised over frames, then rows and columns of a frame.

    - Encoder (every context frame in parallel, resolution preserved): a k x k convolution of the frame to 2c
      channels, then `num_encoder_blocks` residual multiplicative blocks (RMBs) with dilations cycling through
      `encoder_dilations`.
    - Recurrence over time: `keras.layers.ConvLSTM2D` (k x k, `lstm_dim` channels) over the encoded frames; its
      output after frame t is the context of frame t + 1.
    - Decoder (every predicted frame in parallel): a k_first x k_first type-A masked convolution of the frame itself
      plus a 1x1 convolution of its context, then `num_decoder_blocks` masked RMBs whose units all see the context
      through 1x1 convolutions, then ReLU -> 1x1 (`output_dim`) -> ReLU -> 1x1 to one logit per sub-pixel.
      So a pixel depends on every earlier frame and on the raster-earlier pixels of its own frame (within a frame
      the masked 3x3 stack has PixelCNN's blind spot above-right, measured exactly by the causality test).
    - `autoregressive=False` is the paper's baseline: the same network with the pixels of a frame independent given
      the past (the decoder sees only the context, through unmasked RMBs).

    The graph takes a video (batch, frames, H, W, C) of grey levels and gives the logits of the frames from
    `num_context_frames` on, each from the frames before it; the loss is the sigmoid cross-entropy against the grey
    levels read as probabilities (see `kgen.models.video_base`).

    Args:
        frame_shape: (height, width, 1).
        num_context_frames: int >= 1: the first predicted (and scored) frame.
        hidden_dim: int, 2c: the RMBs' outer width (even); their units have c channels.
        num_encoder_blocks: int >= 0.
        encoder_dilations: list of ints, the dilations the encoder's blocks cycle through.
        lstm_dim: int, the ConvLSTM's channels.
        num_decoder_blocks: int >= 0.
        output_dim: int, the output layer's width (default `hidden_dim`).
        kernel_size: odd int, the RMBs' and the ConvLSTM's window.
        first_kernel_size: odd int, the decoder's type-A input convolution.
        autoregressive: True (the VPN) or False (the baseline).
        binarize_inputs: bool: the network reads the video through `kgen.layers.FrameBinarize` (every grey level
            drawn to 0 or 255 with its level as probability: fresh noise in training, a fixed pattern at inference),
            so it conditions on binary frames like the ones it draws when it generates; the loss keeps the grey
            targets. False (the default, and every file saved before the option): it reads the grey levels.
        last_frame_kernel: int, 0 (the default: the paper's network, and every file saved before the option) or an
            odd window k: the decoder's condition also holds a k x k convolution (`hidden_dim` channels) of the frame
            just before the predicted one, beside the ConvLSTM's output, so the decoder reads that frame's pixels
            directly and not only through the recurrent state (a departure from the paper; see the card).
        lstm_dilation: int in 1..max(height, width), the ConvLSTM's dilation: 1 (the default: the paper's network,
            and every file saved before the option), or d so that its k x k windows (input and recurrent) reach d
            pixels a step, to relate a stroke to the same stroke moved several pixels in the frame before (a
            departure from the paper; see the card).
        **kwargs: `name`, `trainable`, `dtype` for `keras.Model`.

    Example:
    >>> model = VideoPixelNetwork(frame_shape=(16, 16, 1), num_context_frames=2, hidden_dim=16)
    >>> model.compile(optimizer="adam")
    >>> frames = model.sample(context, num_frames=2, seed=0)
    """

    def __init__(self, frame_shape=(64, 64, 1), num_context_frames=10, hidden_dim=64, num_encoder_blocks=8,
                 encoder_dilations=(1, 2, 4, 8), lstm_dim=64, num_decoder_blocks=12, output_dim=None, kernel_size=3,
                 first_kernel_size=7, autoregressive=True, binarize_inputs=False, last_frame_kernel=0,
                 lstm_dilation=1, **kwargs):
        check_model_kwargs(kwargs, OWNER)
        frame_shape = video_base.check_frame_shape(frame_shape, OWNER)
        num_context_frames = check_int(num_context_frames, "num_context_frames", owner=OWNER)
        hidden_dim = check_int(hidden_dim, "hidden_dim", minimum=2, owner=OWNER)
        if hidden_dim % 2:
            raise ValueError(f"{OWNER}: `hidden_dim` (2c) must be even, got {hidden_dim}.")
        num_encoder_blocks = check_int(num_encoder_blocks, "num_encoder_blocks", minimum=0, owner=OWNER)
        encoder_dilations = _check_dilations(encoder_dilations)
        lstm_dim = check_int(lstm_dim, "lstm_dim", owner=OWNER)
        num_decoder_blocks = check_int(num_decoder_blocks, "num_decoder_blocks", minimum=0, owner=OWNER)
        output_dim = hidden_dim if output_dim is None else check_int(output_dim, "output_dim", owner=OWNER)
        kernel_size = check_int(kernel_size, "kernel_size", odd=True, owner=OWNER)
        first_kernel_size = check_int(first_kernel_size, "first_kernel_size", odd=True, owner=OWNER)
        if not isinstance(autoregressive, bool):
            raise ValueError(f"{OWNER}: `autoregressive` must be True or False, got {autoregressive!r}.")
        if not isinstance(binarize_inputs, bool):
            raise ValueError(f"{OWNER}: `binarize_inputs` must be True or False, got {binarize_inputs!r}.")
        last_frame_kernel = check_int(last_frame_kernel, "last_frame_kernel", minimum=0, owner=OWNER)
        lstm_dilation = check_int(lstm_dilation, "lstm_dilation", maximum=max(frame_shape[:2]), owner=OWNER)
        if last_frame_kernel and not last_frame_kernel % 2:
            raise ValueError(f"{OWNER}: `last_frame_kernel` must be 0 or an odd window, got {last_frame_kernel}.")
        c = hidden_dim // 2
        mask = "B" if autoregressive else None

        # === Functional model ===
        steps = {}  # the layers the incremental protocol calls one frame or one pixel at a time
        video = keras.Input(shape=(None,) + frame_shape, name="video")
        x = layers.Rescaling(1.0 / video_base.MAX_LEVEL, name="rescale")(video)
        if binarize_inputs:  # the loss reads the grey levels from `video` itself (video_base)
            steps["binarize"] = FrameBinarize(name="binarize")
            x = steps["binarize"](x)
        past = x[:, :-1]  # frames 0 .. T-2: the context of frames 1 .. T-1
        steps["encoder"] = [layers.Conv2D(hidden_dim, kernel_size, padding="same", name="encoder_stem")] + [
            ResidualMultiplicativeBlock(c, kernel_size, encoder_dilations[i % len(encoder_dilations)],
                                        name=f"encoder_block{i}")
            for i in range(num_encoder_blocks)
        ]
        h = FoldTime(name="fold_past")(past)
        for layer in steps["encoder"]:
            h = layer(h)
        h = FoldTime(name="unfold_past")(h, past)
        lstm = layers.ConvLSTM2D(lstm_dim, kernel_size, padding="same", dilation_rate=lstm_dilation,
                                 return_sequences=True, name="convlstm")
        steps["lstm"] = lstm
        context = lstm(h)[:, num_context_frames - 1:]  # the context of each predicted frame
        targets = x[:, num_context_frames:]
        condition = FoldTime(name="fold_context")(context)
        if last_frame_kernel:  # the frame before each predicted one, read directly by the decoder
            last = x[:, num_context_frames - 1:-1]
            steps["last_frame"] = layers.Conv2D(hidden_dim, last_frame_kernel, padding="same", name="last_frame_conv")
            last = steps["last_frame"](FoldTime(name="fold_last")(last))
            condition = layers.Concatenate(name="decoder_condition_input")([condition, last])
        if autoregressive:
            stem = MaskedConv2D(hidden_dim, first_kernel_size, "A", name="decoder_stem")
            project = layers.Conv2D(hidden_dim, 1, name="decoder_condition")
            d = layers.Add(name="decoder_input")([stem(FoldTime(name="fold_targets")(targets)), project(condition)])
            steps["stem"], steps["project"] = stem, project
        else:
            steps["project"] = layers.Conv2D(hidden_dim, 1, name="decoder_condition")
            d = steps["project"](condition)
        steps["decoder"] = [ResidualMultiplicativeBlock(c, kernel_size, mask_type=mask, name=f"decoder_block{i}")
                            for i in range(num_decoder_blocks)]
        for block in steps["decoder"]:
            d = block(d, condition)
        steps["head"] = [layers.Conv2D(output_dim, 1, name="output_conv1"),
                         layers.Conv2D(frame_shape[-1], 1, name="output_conv2", dtype="float32")]
        d = steps["head"][0](layers.ReLU(name="output_relu1")(d))
        logits = steps["head"][1](layers.ReLU(name="output_relu2")(d))
        logits = FoldTime(name="unfold_targets", dtype="float32")(logits, targets)
        super().__init__(inputs=video, outputs=logits, **kwargs)
        object.__setattr__(self, "_steps", steps)  # plain references: the layers are tracked through the graph

        # === Config (returned by get_config) ===
        departures = {"last_frame_kernel": last_frame_kernel, "lstm_dilation": lstm_dilation}
        self._record_config(frame_shape=frame_shape, num_context_frames=num_context_frames, hidden_dim=hidden_dim,
                            num_encoder_blocks=num_encoder_blocks, encoder_dilations=encoder_dilations,
                            lstm_dim=lstm_dim, num_decoder_blocks=num_decoder_blocks, output_dim=output_dim,
                            kernel_size=kernel_size, first_kernel_size=first_kernel_size,
                            autoregressive=autoregressive, binarize_inputs=binarize_inputs,
                            **{name: value for name, value in departures.items() if value != PAPER_VALUES[name]})
        self.last_frame_kernel = last_frame_kernel
        self.lstm_dilation = lstm_dilation
        self._setup_video(frame_shape, num_context_frames)

    @property
    def binarizes_inputs(self):
        """Whether the network reads its video through `FrameBinarize` (`binarize_inputs`)."""
        return "binarize" in self._steps

    # ------------------------------------------------------------------------------------------ incremental protocol
    def _encode(self, frames):
        """The encoder on (batch, H, W, C) grey levels."""
        h = frames / video_base.MAX_LEVEL
        for layer in self._steps["encoder"]:
            h = layer(h)
        return h

    def _lstm_step(self, encoded, state):
        h, state = self._steps["lstm"].cell(encoded, state, training=False)
        return h, state

    def _condition(self, h, frame):
        """The decoder's condition of the next frame: the ConvLSTM's output `h`, and with `last_frame_kernel` the
        convolution of `frame` (the last frame, grey levels) beside it."""
        if "last_frame" not in self._steps:
            return h
        return ops.concatenate([h, self._steps["last_frame"](frame / video_base.MAX_LEVEL)], axis=-1)

    def init_video_state(self, context):
        """The encoder on every context frame at once (binarised first, as the graph does, where the model reads
        binary frames), then the ConvLSTM cell frame by frame."""
        batch, frames = context.shape[0], context.shape[1]
        if self.binarizes_inputs:  # the context is frames 0.. of the video: the graph's pattern from frame 0
            context = self._steps["binarize"](context / video_base.MAX_LEVEL) * video_base.MAX_LEVEL
        encoded = self._encode(ops.reshape(context, (-1,) + self.frame_shape))
        encoded = ops.reshape(encoded, (batch, frames) + tuple(encoded.shape[1:]))
        zeros = ops.zeros((batch,) + self.frame_shape[:2] + (self.lstm_dim,))
        h, state = None, [zeros, zeros]
        for t in range(frames):
            h, state = self._lstm_step(encoded[:, t], state)
        return self._condition(h, context[:, -1]), state

    def next_video_state(self, frame, state):
        """The ConvLSTM one frame on, from a frame the model drew (0/255 pixels, which binarisation keeps)."""
        h, state = self._lstm_step(self._encode(frame), state)
        return self._condition(h, frame), state

    def init_cache(self, batch_size, condition):
        """Per frame, from the past's `condition` (`init_video_state` / `next_video_state`): the context's share of
        the decoder (its input projection and every unit's gates, for the whole frame at once) and the masked
        layers' row buffers. The baseline computes its whole frame here."""
        batch, width = batch_size, self.frame_shape[1]
        if not self.autoregressive:
            return {"logits": self._baseline_logits(condition)}
        return {
            "stem": self._steps["stem"].init_cache(batch, width),
            "input": self._steps["project"](condition),
            "blocks": [block.init_cache(batch, width) for block in self._steps["decoder"]],
            "gates": [block.condition_preactivation(condition) for block in self._steps["decoder"]],
        }

    def _baseline_logits(self, condition):
        d = self._steps["project"](condition)
        for block in self._steps["decoder"]:
            d = block(d, condition)
        head = self._steps["head"]
        return head[1](ops.relu(head[0](ops.relu(d))))

    def begin_row(self, pixel, cache, row):
        """Row `row` starts: the last pixel drawn (the end of the row above; nothing above row 0) goes into the
        input layer's current row, then every masked convolution moves its rows up one."""
        if not self.autoregressive:
            return cache
        from kgen.layers.steps import equals, select

        stem = self._steps["stem"]
        scaled = select(equals(row, 0), ops.zeros_like(pixel), pixel / video_base.MAX_LEVEL)
        stem_cache = stem.begin_row(stem.write_cache(scaled, cache["stem"], self.frame_shape[1] - 1))
        blocks = [block.begin_row(c) for block, c in zip(self._steps["decoder"], cache["blocks"])]
        return {**cache, "stem": stem_cache, "blocks": blocks}

    def call_with_cache(self, pixel, cache, index):
        """The decoder at pixel `index` (raster order) of the frame being drawn; `pixel` is the one drawn at step
        index - 1 (at a row's first column, the row's start already took it in)."""
        from kgen.layers.steps import dim, raster_position

        batch = dim(pixel, 0)
        row, col, _ = raster_position(index, self.frame_shape[1])

        def at(frame_map):  # (batch, H, W, k) -> (batch, k) at (row, col), as float32: the one-pixel step runs on
            # the float32 weights (the per-frame maps are in the compute dtype, bfloat16 under mixed precision)
            k = frame_map.shape[-1]
            return ops.cast(ops.reshape(ops.slice(frame_map, (0, row, col, 0), (batch, 1, 1, k)), (batch, k)),
                            "float32")

        if not self.autoregressive:
            return at(cache["logits"]), cache
        stem = self._steps["stem"]
        # The previous pixel into the current row at column col - 1. At a row's first column that is column W - 1:
        # harmless, as that column is written again before the step that reads it, and the causal mask hides it
        # until then (begin_row already put the same pixel into the row above).
        width = self.frame_shape[1]
        stem_cache = stem.write_cache(pixel / video_base.MAX_LEVEL, cache["stem"], (col + width - 1) % width)
        zero = ops.zeros_like(pixel)
        x, stem_cache = stem.call_with_cache(zero, stem_cache, col)  # type A: the current pixel is hidden
        x = x + at(cache["input"])
        blocks = []
        for block, c, gates in zip(self._steps["decoder"], cache["blocks"], cache["gates"]):
            x, c = block.call_with_cache(x, c, col, [at(g) for g in gates])
            blocks.append(c)
        first, second = self._steps["head"]
        x = bias_and_activation(first, ops.matmul(ops.relu(x), first.kernel[0, 0]))
        logits = bias_and_activation(second, ops.matmul(ops.relu(x), second.kernel[0, 0]))
        return logits, {**cache, "stem": stem_cache, "blocks": blocks}

    def frame_dependencies(self):
        h, w, _ = self.frame_shape
        if not self.autoregressive:
            return np.zeros((h * w, h * w), dtype=bool)
        from kgen.layers.masked_conv2d import causal_offsets, stacked_receptive_field

        units = self._steps["decoder"][0].num_units if self._steps["decoder"] else 0
        chain = [causal_offsets(self.first_kernel_size, "A")]
        chain += [causal_offsets(self.kernel_size, "B")] * (units * self.num_decoder_blocks)
        return stacked_receptive_field(chain, h, w)

"""The log-magnitude spectrogram of mu-law coded audio, normalised per example: the front end of the spoken-digit
classifier that scores WaveNet's samples (`kgen.quality`)."""

import keras
from keras import ops

from kgen.layers.config import ArgumentConfig
from kgen.validation import check_float, check_int


@keras.saving.register_keras_serializable(package="kgen")
class LogSpectrogram(ArgumentConfig, keras.layers.Layer):
    """Mu-law codes (batch, time) -> a log-magnitude spectrogram (batch, frames, frame_length // 2 + 1, 1) in [0, 1].

    The codes are decoded to samples in [-1, 1] (`kgen.audio.mu_law_decode`'s formula, in `keras.ops`), cut into
    Hann-windowed frames (`keras.ops.stft`), and each example's log power is taken relative to its own loudest
    value and floored `dynamic_range` nats below it, then mapped to [0, 1]: a recording and the same recording
    louder or quieter give the same picture, and silence (padding, which holds the code of 0.0) is 0.

    Args:
        frame_length: samples per frame (the FFT length), >= 2.
        frame_step: samples between frames, >= 1.
        quantization_channels: the number of mu-law codes of the inputs.
        dynamic_range: how far below each example's maximum the log power is floored, in nats (12: about 52 dB).
        **kwargs: `name`, `dtype`, `trainable` for `keras.layers.Layer`.
    """

    def __init__(self, frame_length=256, frame_step=80, quantization_channels=256, dynamic_range=12.0, **kwargs):
        super().__init__(**kwargs)
        owner = "LogSpectrogram"
        self.frame_length = check_int(frame_length, "frame_length", minimum=2, owner=owner)
        self.frame_step = check_int(frame_step, "frame_step", owner=owner)
        self.quantization_channels = check_int(quantization_channels, "quantization_channels", minimum=2,
                                               owner=owner)
        self.dynamic_range = check_float(dynamic_range, "dynamic_range", owner)

    def compute_output_shape(self, input_shape):
        batch, time = input_shape
        frames = None if time is None else max(0, 1 + (time - self.frame_length) // self.frame_step)
        return (batch, frames, self.frame_length // 2 + 1, 1)

    def call(self, codes):
        mu = float(self.quantization_channels - 1)
        y = 2.0 * ops.cast(codes, "float32") / mu - 1.0
        wave = ops.sign(y) * (ops.power(1.0 + mu, ops.abs(y)) - 1.0) / mu
        real, imag = ops.stft(wave, self.frame_length, self.frame_step, self.frame_length, window="hann",
                              center=False)
        log_power = ops.log(ops.square(real) + ops.square(imag) + 1e-12)
        peak = ops.max(log_power, axis=(1, 2), keepdims=True)
        scaled = (ops.maximum(log_power - peak, -self.dynamic_range) + self.dynamic_range) / self.dynamic_range
        return ops.expand_dims(ops.cast(scaled, self.compute_dtype), -1)

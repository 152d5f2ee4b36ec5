import numpy as np
import pytest
from keras import ops

from kgen import audio
from kgen.layers import LogSpectrogram
from kgen.testing import TestCase


def tone(freq, seconds=0.25, rate=8000, amplitude=0.5):
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype("float32")


class TestLogSpectrogram(TestCase):
    def test_layer(self):
        codes = np.random.default_rng(0).integers(0, 256, (2, 400)).astype("int32")
        self.run_layer_test(LogSpectrogram, dict(frame_length=64, frame_step=32), codes, (2, 11, 33, 1),
                            run_training_check=False)

    def test_a_tone_peaks_at_its_frequency_bin_whatever_its_loudness(self):
        layer = LogSpectrogram(frame_length=256, frame_step=80)
        loud = ops.convert_to_numpy(layer(audio.mu_law_encode(tone(1000.0))[None]))
        quiet = ops.convert_to_numpy(layer(audio.mu_law_encode(tone(1000.0, amplitude=0.05))[None]))
        assert loud.shape == (1, 1 + (2000 - 256) // 80, 129, 1)
        assert 0.0 <= loud.min() and loud.max() == pytest.approx(1.0)
        assert int(loud[0, :, :, 0].mean(axis=0).argmax()) == 32  # 1000 Hz / (8000 Hz / 256)
        np.testing.assert_allclose(loud[0, :, 28:37], quiet[0, :, 28:37], atol=0.08)  # normalised per example

    def test_silence_is_zero(self):
        codes = np.full((1, 600), 128, "int32")  # the code of 0.0
        assert float(ops.convert_to_numpy(LogSpectrogram(64, 32)(codes)).max()) <= 1.0

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="`frame_length`"):
            LogSpectrogram(frame_length=1)
        with pytest.raises(ValueError, match="`dynamic_range`"):
            LogSpectrogram(dynamic_range=0)

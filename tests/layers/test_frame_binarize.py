import numpy as np
import pytest
from keras import ops

from kgen.layers import FrameBinarize
from kgen.layers.frame_binarize import MAX_PATTERN_FRAMES
from kgen.testing import TestCase


def grey(shape, seed=0):
    return np.random.default_rng(seed).uniform(size=shape).astype("float32")


class TestFrameBinarize(TestCase):
    def test_layer(self):
        self.run_layer_test(FrameBinarize, dict(pattern_frames=3, pattern_seed=2, seed=1),
                            grey((2, 5, 4, 4, 1)), (2, 5, 4, 4, 1), run_training_check=False)

    def test_each_value_is_one_with_its_own_probability_in_both_modes(self):
        x = np.empty((400, 4, 8, 8, 1), "float32")
        x[:, :, :4], x[:, :, 4:] = 0.2, 0.7
        for training in (True, False):
            y = ops.convert_to_numpy(FrameBinarize(pattern_frames=4, seed=0)(x, training=training))
            assert set(np.unique(y)) == {0.0, 1.0}
            # 400 x 4 x 32 values of each level (bound > 8 standard deviations); at inference the pattern is the
            # same for every example, so its 4 x 32 draws decide: a looser bound
            bound = 0.01 if training else 0.1
            assert abs(y[:, :, :4].mean() - 0.2) < bound and abs(y[:, :, 4:].mean() - 0.7) < bound

    def test_fresh_noise_in_training_a_fixed_pattern_at_inference(self):
        x = grey((3, 7, 6, 6, 1))
        layer = FrameBinarize(pattern_frames=4, pattern_seed=5, seed=1)
        a, b = (ops.convert_to_numpy(layer(x, training=True)) for _ in range(2))
        assert not np.array_equal(a, b)
        c, d = (ops.convert_to_numpy(layer(x)) for _ in range(2))
        np.testing.assert_array_equal(c, d)
        # the pattern is numpy's (the same on every backend), frame t reads pattern[t % pattern_frames]
        pattern = np.random.default_rng(5).random((4, 6, 6, 1), dtype=np.float32)
        np.testing.assert_array_equal(layer.inference_pattern(), pattern)
        expected = (pattern[np.arange(7) % 4][None] < x).astype("float32")
        np.testing.assert_array_equal(c, expected)
        # another pattern seed, another binarisation; a longer video starts with the same frames
        other = ops.convert_to_numpy(FrameBinarize(pattern_frames=4, pattern_seed=6)(x))
        assert not np.array_equal(other, c)
        longer = ops.convert_to_numpy(layer(np.concatenate([x, x], axis=1)))
        np.testing.assert_array_equal(longer[:, :7], c)

    def test_binary_frames_pass_unchanged(self):
        x = (grey((2, 5, 6, 6, 1), seed=3) < 0.4).astype("float32")
        layer = FrameBinarize(seed=0)
        for training in (True, False):
            np.testing.assert_array_equal(ops.convert_to_numpy(layer(x, training=training)), x)

    @pytest.mark.parametrize("kwargs, match", [
        (dict(pattern_frames=0), "`pattern_frames`"),
        (dict(pattern_frames=MAX_PATTERN_FRAMES + 1), "`pattern_frames`"),
        (dict(pattern_frames=2.5), "`pattern_frames`"),
        (dict(pattern_seed=-1), "`pattern_seed`"),
        (dict(seed=1.5), "`seed` must be an int or None"),
    ])
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            FrameBinarize(**kwargs)

    def test_bounds_the_pattern_and_needs_known_frame_sizes(self):
        with pytest.raises(ValueError, match="more than"):
            FrameBinarize(pattern_frames=1000).build((None, None, 512, 512, 1))
        with pytest.raises(ValueError, match="known sizes"):
            FrameBinarize().build((None, None, None, 8, 1))

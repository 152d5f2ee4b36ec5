import numpy as np
import pytest
import keras
from keras import ops

from kgen.layers import MaskedConv2D, causal_conv_mask
from kgen.layers.masked_conv2d import causal_mask
from kgen.testing import TestCase


def _reference_conv(x, kernel, bias):
    """Plain numpy 'same' convolution (cross-correlation), dilation 1."""
    kh, kw, cin, cout = kernel.shape
    n, h, w, _ = x.shape
    pad = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = np.zeros((n, h, w, cout))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nhwc,cd->nhwd", pad[:, i : i + h, j : j + w, :], kernel[i, j])
    return out + bias


class TestMaskedConv2D(TestCase):
    @pytest.mark.parametrize(
        "kwargs",
        [
            dict(filters=4, kernel_size=3, mask_type="A"),
            dict(filters=4, kernel_size=5, mask_type="B"),
            dict(filters=4, kernel_size=7, mask_type="B", dilation_rate=2),
            dict(filters=6, kernel_size=(3, 5), mask_type="A", channel_groups=3),
        ],
    )
    def test_layer_basics(self, kwargs):
        channels = 3 if kwargs.get("channel_groups") == 3 else 2
        x = np.random.default_rng(0).normal(size=(2, 9, 9, channels)).astype("float32")
        self.run_layer_test(MaskedConv2D, kwargs, ops.convert_to_tensor(x), (2, 9, 9, kwargs["filters"]))

    def test_mask_pattern(self):
        m = causal_conv_mask((3, 3), 1, 1, "A")[..., 0, 0]
        np.testing.assert_array_equal(m, [[1, 1, 1], [1, 0, 0], [0, 0, 0]])
        m = causal_conv_mask((3, 3), 1, 1, "B")[..., 0, 0]
        np.testing.assert_array_equal(m, [[1, 1, 1], [1, 1, 0], [0, 0, 0]])

    def test_rgb_channel_groups(self):
        # Centre tap: output group g sees input groups < g (A) or <= g (B), R -> G -> B.
        a = causal_conv_mask((3, 3), 3, 6, "A", channel_groups=3)[1, 1]
        np.testing.assert_array_equal(a, [[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0]])
        b = causal_conv_mask((1, 1), 6, 3, "B", channel_groups=3)[0, 0]
        np.testing.assert_array_equal(b, [[1, 1, 1], [1, 1, 1], [0, 1, 1], [0, 1, 1], [0, 0, 1], [0, 0, 1]])
        # Off-centre taps are all visible whatever the group.
        assert causal_conv_mask((3, 3), 3, 6, "A", channel_groups=3)[0].all()

    def test_the_masks_built_with_keras_ops_are_the_numpy_masks(self):
        """While a model is built symbolically the layers make their masks with keras.ops from index comparisons (no
        kernel-sized constant exists before a call, which bounds what a preset's config can allocate before its
        weights are counted): the same 0/1 arrays as `causal_conv_mask`, also tiled for the four gates of an LSTM;
        a built layer's `kernel_mask` is that array."""
        for kernel_size, cin, cout, groups, mask_type in [((3, 3), 1, 1, 1, "A"), ((5, 5), 2, 3, 1, "B"),
                                                          ((7, 3), 3, 6, 3, "A"), ((1, 3), 12, 9, 3, "B")]:
            expected = causal_conv_mask(kernel_size, cin, cout, mask_type, groups)
            got = ops.convert_to_numpy(causal_mask(kernel_size, cin, cout, mask_type, groups, repeats=4))
            np.testing.assert_array_equal(got, np.concatenate([expected] * 4, axis=-1))
        layer = MaskedConv2D(6, (7, 3), mask_type="A", channel_groups=3)
        layer.build((None, 8, 8, 3))
        np.testing.assert_array_equal(layer.kernel_mask, causal_conv_mask((7, 3), 3, 6, "A", 3))

    @pytest.mark.parametrize("mask_type", ["A", "B"])
    def test_matches_reference_with_masked_kernel(self, mask_type):
        layer = MaskedConv2D(3, 5, mask_type=mask_type)
        x = np.random.default_rng(1).normal(size=(2, 7, 6, 2)).astype("float32")
        y = ops.convert_to_numpy(layer(x))
        kernel = ops.convert_to_numpy(layer.kernel)
        expected = _reference_conv(x, kernel * causal_conv_mask((5, 5), 2, 3, mask_type), ops.convert_to_numpy(layer.bias))
        np.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
        # The kernel variable itself is never modified by masking.
        np.testing.assert_array_equal(ops.convert_to_numpy(layer.kernel), kernel)
        assert np.any(kernel * (1 - causal_conv_mask((5, 5), 2, 3, mask_type)) != 0)

    @pytest.mark.parametrize("mask_type,dilation", [("A", 1), ("B", 1), ("B", 2)])
    def test_no_future_pixel_reaches_output(self, mask_type, dilation):
        layer = MaskedConv2D(2, 3, mask_type=mask_type, dilation_rate=dilation)
        rng = np.random.default_rng(2)
        x = rng.normal(size=(1, 6, 6, 1)).astype("float32")
        base = ops.convert_to_numpy(layer(x))[0, ..., 0]
        for t in range(36):
            x2 = x.copy()
            x2[0, t // 6, t % 6, 0] += 1.0
            changed = np.abs(ops.convert_to_numpy(layer(x2))[0, ..., 0] - base).reshape(-1) > 1e-6
            # Outputs strictly before t never change; output t changes only for type B.
            assert not changed[:t].any()
            assert changed[t] == (mask_type == "B")

    def test_trained_kernel_stays_masked_in_effect(self):
        inputs = keras.Input((6, 6, 1))
        model = keras.Model(inputs, MaskedConv2D(1, 3, mask_type="A")(inputs))
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss="mse")
        x = np.random.default_rng(3).normal(size=(8, 6, 6, 1)).astype("float32")
        model.fit(x, x, epochs=3, verbose=0)  # the target is the input itself: only a leak could fit it
        # The centre is masked: the model cannot copy its input, so the error stays near the input variance.
        assert model.evaluate(x, x, verbose=0) > 0.5

    @pytest.mark.parametrize(
        "kwargs,match",
        [
            (dict(filters=4, kernel_size=4), "kernel_size"),
            (dict(filters=4, kernel_size=3, mask_type="C"), "mask_type"),
            (dict(filters=4, kernel_size=3, padding="valid"), "padding"),
            (dict(filters=4, kernel_size=3, strides=2), "strides"),
            (dict(filters=4, kernel_size=3, channel_groups=3), "filters"),
            (dict(filters=4, kernel_size=3, channel_groups=0), "channel_groups"),
        ],
    )
    def test_bad_arguments(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            MaskedConv2D(**kwargs)

    def test_input_channels_must_divide_into_groups(self):
        with pytest.raises(ValueError, match="channel_groups"):
            MaskedConv2D(3, 3, channel_groups=3)(np.zeros((1, 4, 4, 2), "float32"))

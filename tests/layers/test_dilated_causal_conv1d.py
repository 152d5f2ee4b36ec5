import numpy as np
import pytest
from keras import ops

from kgen.layers import DilatedCausalConv1D
from kgen.testing import TestCase
from kgen.testing.fixtures import reached_steps


def reference(x, kernel, bias, dilation, mask_type):
    """Direct numpy loop: y[t] = sum_i x[t - shift - (k - 1 - i) d] W[i] + b, zeros before the start."""
    batch, steps, _ = x.shape
    k = kernel.shape[0]
    shift = 1 if mask_type == "A" else 0
    y = np.zeros((batch, steps, kernel.shape[-1]))
    for t in range(steps):
        y[:, t] = bias
        for i in range(k):
            s = t - shift - (k - 1 - i) * dilation
            if s >= 0:
                y[:, t] += x[:, s] @ kernel[i]
    return y


class TestDilatedCausalConv1D(TestCase):
    def test_layer(self):
        self.run_layer_test(
            DilatedCausalConv1D, dict(filters=4, kernel_size=2, dilation_rate=4), np.ones((2, 16, 3), "float32"), (2, 16, 4)
        )

    @pytest.mark.parametrize("kernel_size,dilation,mask_type", [(2, 1, "B"), (2, 8, "B"), (3, 2, "A"), (2, 1, "A")])
    def test_matches_numpy_reference(self, kernel_size, dilation, mask_type):
        layer = DilatedCausalConv1D(5, kernel_size, dilation, mask_type=mask_type, bias_initializer="random_normal")
        x = np.random.default_rng(0).normal(size=(2, 21, 3)).astype("float32")
        y = ops.convert_to_numpy(layer(x))
        kernel, bias = layer.get_weights()
        np.testing.assert_allclose(y, reference(x, kernel, bias, dilation, mask_type), rtol=1e-4, atol=1e-5)

    @pytest.mark.parametrize("mask_type", ["A", "B"])
    def test_receptive_field_is_exact(self, mask_type):
        layer = DilatedCausalConv1D(3, kernel_size=3, dilation_rate=2, mask_type=mask_type)
        assert layer.receptive_field == 5
        x = np.random.default_rng(1).normal(size=(1, 20, 2)).astype("float32")
        for s in range(20):
            changed = reached_steps(layer, x, s)
            shift = 1 if mask_type == "A" else 0
            expected = [t for t in (s + shift, s + shift + 2, s + shift + 4) if t < 20]
            assert changed == expected, (s, changed, expected)

    def test_unknown_length_and_errors(self):
        import keras

        out = DilatedCausalConv1D(4, 2, 16)(keras.Input((None, 3)))
        assert tuple(out.shape) == (None, None, 4)
        with pytest.raises(ValueError, match="mask_type"):
            DilatedCausalConv1D(4, mask_type="C")
        with pytest.raises(ValueError, match="padding"):
            DilatedCausalConv1D(4, padding="same")
        with pytest.raises(ValueError, match="dilation_rate"):
            DilatedCausalConv1D(4, dilation_rate=0)
        with pytest.raises(ValueError, match="batch, time, channels"):
            DilatedCausalConv1D(4)(np.ones((2, 3, 4, 5), "float32"))

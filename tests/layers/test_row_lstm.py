import numpy as np
import pytest
from keras import ops

from kgen.layers import RowLSTM, causal_conv_mask
from kgen.layers.row_lstm import gate_mask
from kgen.testing import TestCase
from kgen.testing.fixtures import assert_same_layer_outputs, random_weights


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def reference_row_lstm(x, input_kernel, recurrent_kernel, bias, mask_type, channel_groups):
    """Plain numpy Row LSTM, written pixel by pixel from the paper's equations (section 3.1).

    x: (batch, H, W, C); input_kernel: (1, k, C, 4u); recurrent_kernel: (k, u, 4u); gates (i, f, o, g).
    """
    n, height, width, cin = x.shape
    k = input_kernel.shape[1]
    u = recurrent_kernel.shape[1]
    r = k // 2
    # The input-to-state mask, built here independently: taps left of the centre see everything, the centre tap
    # sees the earlier colour groups (A) or the earlier and same (B); gate channel j of every gate is group j*G//u.
    mask = np.zeros((k, cin, 4 * u))
    mask[:r] = 1.0
    g_in = np.arange(cin) * channel_groups // cin
    g_out = np.tile(np.arange(u) * channel_groups // u, 4)
    mask[r] = (g_in[:, None] < g_out[None, :]) if mask_type == "A" else (g_in[:, None] <= g_out[None, :])
    w_in = input_kernel[0] * mask
    h = np.zeros((n, width, u))
    c = np.zeros((n, width, u))
    out = np.zeros((n, height, width, u))
    for y in range(height):
        h_new = np.zeros_like(h)
        c_new = np.zeros_like(c)
        for col in range(width):
            z = bias.astype("float64").copy() + np.zeros((n, 4 * u))
            for d in range(k):
                xx = col + d - r
                if 0 <= xx < width:
                    z += x[:, y, xx] @ w_in[d]
                    z += h[:, xx] @ recurrent_kernel[d]
            i, f, o, g = np.split(z, 4, axis=-1)
            c_new[:, col] = _sigmoid(f) * c[:, col] + _sigmoid(i) * np.tanh(g)
            h_new[:, col] = _sigmoid(o) * np.tanh(c_new[:, col])
        h, c = h_new, c_new
        out[:, y] = h
    return out


class TestRowLSTM(TestCase):
    @pytest.mark.parametrize(
        "kwargs,channels",
        [
            (dict(units=4), 2),
            (dict(units=4, kernel_size=5, mask_type="A", unroll=True), 2),
            (dict(units=6, mask_type="B", channel_groups=3, unroll=False), 3),
        ],
    )
    def test_layer_basics(self, kwargs, channels):
        x = np.random.default_rng(0).normal(size=(2, 5, 6, channels)).astype("float32")
        self.run_layer_test(RowLSTM, kwargs, ops.convert_to_tensor(x), (2, 5, 6, kwargs["units"]))

    @pytest.mark.parametrize("unroll", [True, False])
    @pytest.mark.parametrize("mask_type,groups,kernel_size", [("A", 1, 3), ("B", 1, 5), ("A", 3, 3), ("B", 3, 3)])
    def test_matches_numpy_reference(self, unroll, mask_type, groups, kernel_size):
        cin = 3 if groups == 3 else 2
        layer = RowLSTM(6, kernel_size=kernel_size, mask_type=mask_type, channel_groups=groups, unroll=unroll)
        x = np.random.default_rng(1).normal(size=(2, 4, 5, cin)).astype("float32")
        layer(x)
        random_weights(layer)
        expected = reference_row_lstm(x, *layer.get_weights(), mask_type, groups)
        np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), expected, rtol=1e-4, atol=1e-5)

    def test_gate_mask_aligns_groups_across_gates(self):
        m = gate_mask((1, 3), 3, 6, "A", 3)
        assert m.shape == (1, 3, 3, 24)
        # Each of the 4 gate blocks is the plain causal mask for 6 outputs: channels (0,1) R, (2,3) G, (4,5) B.
        for q in range(4):
            np.testing.assert_array_equal(m[..., 6 * q : 6 * (q + 1)], causal_conv_mask((1, 3), 3, 6, "A", 3))
        np.testing.assert_array_equal(m[0, 1, :, :6], [[0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1], [0, 0, 0, 0, 0, 0]])
        assert m[0, 0].all() and not m[0, 2].any()  # left tap all visible, right tap never

    @pytest.mark.parametrize("mask_type", ["A", "B"])
    def test_dependencies_are_the_triangle_above(self, mask_type):
        # Perturb each input pixel: output (y, x) changes exactly for inputs in rows y - d, d >= 0, at columns
        # x - d*r - r .. x + d*r (minus the last for type A): the states spread r columns per row up (never
        # outside the image), the 1 x k input-to-state adds r to the left.
        height, width, r = 5, 7, 1
        layer = RowLSTM(3, kernel_size=3, mask_type=mask_type)
        rng = np.random.default_rng(2)
        x = rng.normal(size=(1, height, width, 1)).astype("float32")
        layer(x)
        random_weights(layer, seed=3)
        batch = np.repeat(x, height * width + 1, axis=0)
        for s in range(height * width):
            batch[s + 1, s // width, s % width, 0] += 1.0
        out = ops.convert_to_numpy(layer(batch)).astype("float64")
        changed = (np.abs(out[1:] - out[:1]).max(axis=-1) > 1e-6).reshape(height * width, height * width)  # [s, t]
        for t in range(height * width):
            ty, tx = divmod(t, width)
            for s in range(height * width):
                sy, sx = divmod(s, width)
                d = ty - sy
                lo = max(tx - d * r, 0) - r  # the states reached in row y - d, clipped to the image ...
                hi = min(tx + d * r, width - 1) - (mask_type == "A")  # ... then the inputs they read
                expected = d >= 0 and lo <= sx <= hi
                assert changed[s, t] == expected, (mask_type, (ty, tx), (sy, sx))

    def test_forget_bias_starts_at_one(self):
        layer = RowLSTM(4)
        layer.build((None, 3, 3, 2))
        b = ops.convert_to_numpy(layer.bias)
        np.testing.assert_array_equal(b[4:8], 1.0)
        np.testing.assert_array_equal(np.delete(b, range(4, 8)), 0.0)
        layer = RowLSTM(4, unit_forget_bias=False)
        layer.build((None, 3, 3, 2))
        np.testing.assert_array_equal(ops.convert_to_numpy(layer.bias), 0.0)

    def test_scan_and_unrolled_agree(self):
        x = np.random.default_rng(6).normal(size=(2, 6, 4, 2)).astype("float32")
        assert_same_layer_outputs(RowLSTM(4, unroll=True), RowLSTM(4, unroll=False), x)

    def test_kernel_size_must_be_odd(self):
        with pytest.raises(ValueError, match="kernel_size"):
            RowLSTM(4, kernel_size=2)

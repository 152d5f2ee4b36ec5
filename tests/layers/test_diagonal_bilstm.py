import numpy as np
import pytest
from keras import ops

from kgen.layers import DiagonalBiLSTM
from kgen.layers.diagonal_bilstm import skew, unskew
from kgen.testing import TestCase
from kgen.testing.fixtures import assert_same_layer_outputs, random_weights


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def reference_diagonal_lstm(x, w_in, w_above, w_left, bias):
    """One direction of the Diagonal LSTM in image coordinates, pixel by pixel in raster order (no skewing):
    gates from the pixel's input, the hidden state above and the hidden state to the left; the cell from the left."""
    n, height, width, _ = x.shape
    u = w_above.shape[0]
    h = np.zeros((n, height + 1, width + 1, u))  # one row and column of zero states before the image
    c = np.zeros_like(h)
    for i in range(height):
        for j in range(width):
            z = x[:, i, j] @ w_in + h[:, i, j + 1] @ w_above + h[:, i + 1, j] @ w_left + bias
            gi, gf, go, gg = np.split(z, 4, axis=-1)
            c[:, i + 1, j + 1] = _sigmoid(gf) * c[:, i + 1, j] + _sigmoid(gi) * np.tanh(gg)
            h[:, i + 1, j + 1] = _sigmoid(go) * np.tanh(c[:, i + 1, j + 1])
    return h[:, 1:, 1:]


def reference_diagonal_bilstm(x, input_kernel, recurrent_kernel, bias, mask_type, channel_groups):
    """Numpy Diagonal BiLSTM (paper section 3.2): left-to-right, plus right-to-left on the mirrored image, mirrored
    back and shifted down one row."""
    cin = x.shape[-1]
    u = recurrent_kernel.shape[1] // 2
    g_in = np.arange(cin) * channel_groups // cin
    g_out = np.tile(np.arange(u) * channel_groups // u, 4)
    mask = (g_in[:, None] < g_out[None, :]) if mask_type == "A" else (g_in[:, None] <= g_out[None, :])
    outs = []
    for d, image in ((0, x), (1, x[:, :, ::-1])):
        w = recurrent_kernel[d]
        outs.append(reference_diagonal_lstm(image, input_kernel[d] * mask, w[:u], w[u:], bias[d]))
    right = outs[1][:, :, ::-1]
    shifted = np.zeros_like(right)
    shifted[:, 1:] = right[:, :-1]
    return outs[0] + shifted


class TestSkew(TestCase):
    @pytest.mark.parametrize("height,width", [(1, 1), (3, 5), (5, 3), (4, 4)])
    def test_round_trip_and_layout(self, height, width):
        x = np.random.default_rng(0).normal(size=(2, height, width, 3)).astype("float32")
        s = ops.convert_to_numpy(skew(x))
        assert s.shape == (2, height, width + height - 1, 3)
        for i in range(height):
            np.testing.assert_array_equal(s[:, i, i : i + width], x[:, i])  # row i shifted right by i
            assert not s[:, i, :i].any() and not s[:, i, i + width :].any()  # zeros around it
        np.testing.assert_array_equal(ops.convert_to_numpy(unskew(s)), x)

    def test_diagonals_become_columns(self):
        x = np.arange(1, 13, dtype="float32").reshape(1, 3, 4, 1)
        s = ops.convert_to_numpy(skew(x))[0, ..., 0]
        for col in range(6):
            expected = [x[0, i, col - i, 0] if 0 <= col - i < 4 else 0.0 for i in range(3)]
            np.testing.assert_array_equal(s[:, col], expected)  # column col holds the diagonal i + j = col

    def test_other_axes(self):
        # rows on axis 1 with two trailing axes (the layer's (direction, H, W, batch, C) layout)
        x = np.random.default_rng(1).normal(size=(2, 3, 4, 5, 2)).astype("float32")
        s = ops.convert_to_numpy(skew(x, axis=1))
        assert s.shape == (2, 3, 6, 5, 2)
        np.testing.assert_array_equal(s[:, 2, 2:6], x[:, 2])
        np.testing.assert_array_equal(ops.convert_to_numpy(unskew(s, axis=1)), x)
        # rows on axis 0: an (H, W, C) map
        y = x[0, :, :, :, 0]
        np.testing.assert_array_equal(ops.convert_to_numpy(unskew(skew(y, axis=0), axis=0)), y)


class TestDiagonalBiLSTM(TestCase):
    @pytest.mark.parametrize(
        "kwargs,channels",
        [
            (dict(units=4), 2),
            (dict(units=6, mask_type="A", channel_groups=3, unroll=True), 3),
            (dict(units=6, channel_groups=3, unroll=False), 3),
        ],
    )
    def test_layer_basics(self, kwargs, channels):
        x = np.random.default_rng(0).normal(size=(2, 5, 4, channels)).astype("float32")
        self.run_layer_test(DiagonalBiLSTM, kwargs, ops.convert_to_tensor(x), (2, 5, 4, kwargs["units"]))

    @pytest.mark.parametrize("unroll", [True, False])
    @pytest.mark.parametrize("mask_type,groups,shape", [("B", 1, (4, 5)), ("A", 3, (5, 3)), ("B", 3, (3, 3))])
    def test_matches_numpy_reference(self, unroll, mask_type, groups, shape):
        cin = 3 if groups == 3 else 2
        layer = DiagonalBiLSTM(6, mask_type=mask_type, channel_groups=groups, unroll=unroll)
        x = np.random.default_rng(1).normal(size=(2,) + shape + (cin,)).astype("float32")
        layer(x)
        random_weights(layer)
        expected = reference_diagonal_bilstm(x, *layer.get_weights(), mask_type, groups)
        np.testing.assert_allclose(ops.convert_to_numpy(layer(x)), expected, rtol=1e-4, atol=1e-5)

    def test_reaches_every_earlier_pixel_and_no_later_one(self):
        # Type B on one channel: output (i, j) depends exactly on the pixels above (all columns), to the left, and
        # itself; never on the pixels to its right in its row or below.
        height, width = 5, 6
        layer = DiagonalBiLSTM(3)
        rng = np.random.default_rng(2)
        x = rng.normal(size=(1, height, width, 1)).astype("float32")
        layer(x)
        random_weights(layer, seed=3)
        n = height * width
        batch = np.repeat(x, n + 1, axis=0)
        for s in range(n):
            batch[s + 1, s // width, s % width, 0] += 1.0
        out = ops.convert_to_numpy(layer(batch)).astype("float64")
        changed = (np.abs(out[1:] - out[:1]).max(axis=-1) > 1e-7).reshape(n, n)  # [input s, output t]
        np.testing.assert_array_equal(changed.T, np.tril(np.ones((n, n), dtype=bool)))

    def test_directions_alone(self):
        # Zeroing one direction's weights shows each one's reach: left-to-right sees the up-left quadrant (i' <= i,
        # j' <= j); right-to-left, shifted down, sees (i' <= i - 1, j' >= j).
        height, width = 4, 5
        n = height * width
        rng = np.random.default_rng(4)
        x = rng.normal(size=(1, height, width, 1)).astype("float32")
        batch = np.repeat(x, n + 1, axis=0)
        for s in range(n):
            batch[s + 1, s // width, s % width, 0] += 1.0
        ii, jj = np.divmod(np.arange(n), width)
        quadrants = {
            0: (ii[:, None] <= ii[None, :]) & (jj[:, None] <= jj[None, :]),  # [s, t]
            1: (ii[:, None] <= ii[None, :] - 1) & (jj[:, None] >= jj[None, :]),
        }
        for keep in (0, 1):
            layer = DiagonalBiLSTM(3)
            layer(x)
            random_weights(layer, seed=5)
            weights = layer.get_weights()
            for w in weights:
                w[1 - keep] = 0.0  # the other direction: zero input, zero state, bias 0 -> h = 0.5 * tanh(0) = 0
            layer.set_weights(weights)
            out = ops.convert_to_numpy(layer(batch)).astype("float64")
            changed = (np.abs(out[1:] - out[:1]).max(axis=-1) > 1e-7).reshape(n, n)
            np.testing.assert_array_equal(changed, quadrants[keep], err_msg=f"direction {keep}")

    @pytest.mark.parametrize("mask_type,groups,shape", [("B", 1, (4, 5)), ("A", 3, (3, 4))])
    def test_one_pixel_steps_equal_the_layer(self, mask_type, groups, shape):
        # init_cache / begin_row / call_with_cache in raster order (random weights and biases, so a non-zero state
        # where zeros belong would show) give the whole layer's output at every pixel; colour groups compute each
        # pixel once per channel as generation does, with the pixel's later channels zero until drawn.
        cin = 3 if groups == 3 else 2
        height, width = shape
        layer = DiagonalBiLSTM(6, mask_type=mask_type, channel_groups=groups)
        x = np.random.default_rng(9).normal(size=(2, height, width, cin)).astype("float32")
        layer(x)
        random_weights(layer, seed=10)
        full = ops.convert_to_numpy(layer(x))
        cache = layer.init_cache(2, width, cin)
        for i in range(height):
            cache = layer.begin_row(cache, i)
            for j in range(width):
                for drawn in range(1, groups + 1):
                    partial = np.where(np.arange(cin) * groups // cin < drawn, x[:, i, j], 0.0).astype("float32")
                    out, cache = layer.call_with_cache(partial, cache, j)
                np.testing.assert_allclose(ops.convert_to_numpy(out), full[:, i, j], rtol=1e-4, atol=1e-5,
                                           err_msg=f"pixel ({i}, {j})")

    def test_scan_and_unrolled_agree(self):
        x = np.random.default_rng(8).normal(size=(2, 3, 6, 2)).astype("float32")
        assert_same_layer_outputs(DiagonalBiLSTM(4, unroll=True), DiagonalBiLSTM(4, unroll=False), x)

    def test_type_a_needs_colour_groups(self):
        with pytest.raises(ValueError, match="mask_type"):
            DiagonalBiLSTM(4, mask_type="A")

import numpy as np
import pytest
import keras
from keras import ops

from kgen.layers import GatedPixelBlock
from kgen.testing import TestCase


def reference_block(block, v, h, cond=None):
    """Independent numpy forward of a GatedPixelBlock with explicit loops over pixels (float64)."""
    w = {x.path.split("/")[-1]: np.asarray(ops.convert_to_numpy(x), "float64") for x in block.weights}
    b, H, W, _ = v.shape
    p, f = block.pad, block.filters
    v = v.astype("float64")
    h = h.astype("float64")
    v_pre = np.zeros((b, H, W, 2 * f))
    h_pre = np.zeros((b, H, W, 2 * f))
    hk = w["horizontal_kernel"] * block.horizontal_mask
    for r in range(H):
        for c in range(W):
            acc = w["vertical_bias"].copy()
            for dy in range(p + 1):  # kernel row dy reads image row r - p + dy
                for dx in range(2 * p + 1):
                    rr, cc = r - p + dy, c - p + dx
                    if 0 <= rr < H and 0 <= cc < W:
                        acc = acc + v[:, rr, cc] @ w["vertical_kernel"][dy, dx]
            v_pre[:, r, c] = acc
            acc = w["horizontal_bias"].copy()
            for dx in range(p + 1):
                cc = c - p + dx
                if cc >= 0:
                    acc = acc + h[:, r, cc] @ hk[0, dx]
            h_pre[:, r, c] = acc
    link = v_pre @ w["link_kernel"] + w["link_bias"]
    h_pre[:, 1:] += link[:, :-1]
    if cond is not None:
        v_pre += (cond @ w["condition_vertical_kernel"])[:, None, None]
        h_pre += (cond @ w["condition_horizontal_kernel"])[:, None, None]
    gate = lambda x: np.tanh(x[..., :f]) / (1 + np.exp(-x[..., f:]))  # noqa: E731
    g = gate(h_pre)
    skip = g @ (w["skip_kernel"] * block.skip_mask) + w["skip_bias"]
    out = g @ (w["residual_kernel"] * block.residual_mask) + w["residual_bias"]
    if block.residual:
        out = out + h
    return gate(v_pre), out, skip


def randomize(layer, seed=0):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0, 0.3, size=x.shape).astype("float32") for x in layer.get_weights()])


class TestGatedPixelBlock(TestCase):
    @pytest.mark.parametrize("kernel_size,mask_type,groups,residual,channels", [
        (5, "A", 1, False, 1), (3, "B", 1, True, 4), (3, "A", 3, False, 3), (3, "B", 3, True, 6)])
    def test_matches_numpy_reference(self, kernel_size, mask_type, groups, residual, channels):
        rng = np.random.default_rng(1)
        v = rng.normal(size=(2, 5, 6, channels)).astype("float32")
        h = rng.normal(size=(2, 5, 6, channels)).astype("float32")
        cond = np.eye(3, dtype="float32")[[0, 2]]
        block = GatedPixelBlock(channels if residual else 6, kernel_size, mask_type, groups, residual=residual)
        block(v, h, condition=cond)
        randomize(block)
        got = [ops.convert_to_numpy(t) for t in block(v, h, condition=cond)]
        for g, e in zip(got, reference_block(block, v, h, cond)):
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)
        # The masks keras.ops makes while a model is built symbolically are the numpy masks the calls use.
        for which in ("horizontal", "residual", "skip"):
            np.testing.assert_array_equal(ops.convert_to_numpy(block._ops_mask(which)).astype("float32"),
                                          getattr(block, f"{which}_mask"), err_msg=which)

    def test_shapes_config_and_training(self):
        x = np.random.default_rng(0).normal(size=(2, 6, 6, 2)).astype("float32")
        block = GatedPixelBlock(4, 3, "A", residual=False, skip_filters=6)
        v, h, s = block(x, x)
        assert v.shape == (2, 6, 6, 4) and h.shape == (2, 6, 6, 4) and s.shape == (2, 6, 6, 6)
        assert block.compute_output_shape((2, 6, 6, 2), (2, 6, 6, 2)) == ((2, 6, 6, 4), (2, 6, 6, 4), (2, 6, 6, 6))
        self.run_serialization_test(block)
        revived = GatedPixelBlock.from_config(block.get_config())
        revived(x, x)
        revived.set_weights(block.get_weights())
        np.testing.assert_allclose(ops.convert_to_numpy(revived(x, x)[1]), ops.convert_to_numpy(h), rtol=1e-6)
        inp = keras.Input((6, 6, 2))
        outs = GatedPixelBlock(4, 3, "A", residual=False)(inp, inp)
        model = keras.Model(inp, keras.layers.Add()([outs[0], outs[1], outs[2]]))
        model.compile(optimizer="sgd", loss="mse")
        before = [w.copy() for w in model.get_weights()]
        model.fit(x, np.ones((2, 6, 6, 4), "float32"), epochs=1, verbose=0)
        assert all(not np.array_equal(a, b) for a, b in zip(before, model.get_weights())
                   if a.shape != (8, 8)), "a weight did not train"

    def test_condition_and_spatial_condition_change_the_output(self):
        x = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32")
        block = GatedPixelBlock(3, 3, "B")
        spatial = np.random.default_rng(1).normal(size=(2, 4, 4, 2)).astype("float32")
        a = block(x, x, condition=np.eye(2, dtype="float32"), spatial_condition=spatial)[1]
        randomize(block)
        a = ops.convert_to_numpy(block(x, x, condition=np.eye(2, dtype="float32"), spatial_condition=spatial)[1])
        b = ops.convert_to_numpy(block(x, x, condition=np.eye(2, dtype="float32")[::-1], spatial_condition=spatial)[1])
        c = ops.convert_to_numpy(block(x, x, condition=np.eye(2, dtype="float32"), spatial_condition=spatial * 0)[1])
        assert not np.allclose(a, b) and not np.allclose(a, c)
        names = {w.path.split("/")[-1] for w in block.weights}
        assert {"condition_vertical_kernel", "spatial_horizontal_kernel"} <= names

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match="kernel_size"):
            GatedPixelBlock(4, 4)
        with pytest.raises(ValueError, match="mask_type"):
            GatedPixelBlock(4, 3, "C")
        with pytest.raises(ValueError, match="filters"):
            GatedPixelBlock(4, 3, channel_groups=3)
        with pytest.raises(ValueError, match="residual"):
            GatedPixelBlock(4, residual="yes")
        x = np.zeros((1, 4, 4, 2), "float32")
        with pytest.raises(ValueError, match="residual"):
            GatedPixelBlock(4, 3)(x, x)

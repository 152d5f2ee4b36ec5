import numpy as np
import pytest
from keras import ops

from kgen.layers import WaveNetResidualBlock
from kgen.testing import TestCase


def reference(block, x, condition=None, local=None):
    """numpy: z = causal dilated conv + bias (+ V h); gated = tanh * sigmoid; residual and skip 1x1."""
    w = {v.path.split("/")[-1]: ops.convert_to_numpy(v) for v in block.weights}
    k, d = block.kernel_size, block.dilation_rate
    batch, steps, _ = x.shape
    z = np.zeros((batch, steps, w["kernel"].shape[-1])) + w["bias"]
    for t in range(steps):
        for i in range(k):
            s = t - (k - 1 - i) * d
            if s >= 0:
                z[:, t] += x[:, s] @ w["kernel"][i]
    if condition is not None:
        z += (condition @ w["condition_kernel"])[:, None]
    if local is not None:
        z += local @ w["local_kernel"]
    g = z.shape[-1] // 2
    gated = np.tanh(z[..., :g]) / (1 + np.exp(-z[..., g:]))
    skip = gated @ w["skip_kernel"] + w["skip_bias"]
    if not block.return_residual:
        return skip
    return x + gated @ w["residual_kernel"] + w["residual_bias"], skip


class TestWaveNetResidualBlock(TestCase):
    def test_shapes_serialization_training(self):
        x = np.random.default_rng(0).normal(size=(2, 12, 4)).astype("float32")
        block = WaveNetResidualBlock(4, gate_channels=6, skip_channels=5, dilation_rate=2)
        res, skip = block(x)
        assert tuple(res.shape) == (2, 12, 4) and tuple(skip.shape) == (2, 12, 5)
        assert block.compute_output_shape((2, 12, 4)) == ((2, 12, 4), (2, 12, 5))
        self.run_serialization_test(block)

    @pytest.mark.parametrize("conditions", ["none", "global", "local", "both"])
    @pytest.mark.parametrize("return_residual", [True, False])
    def test_matches_numpy_reference(self, conditions, return_residual):
        rng = np.random.default_rng(1)
        x = rng.normal(size=(2, 15, 4)).astype("float32")
        cond = rng.normal(size=(2, 3)).astype("float32") if conditions in ("global", "both") else None
        local = rng.normal(size=(2, 15, 2)).astype("float32") if conditions in ("local", "both") else None
        block = WaveNetResidualBlock(
            4, 5, 6, kernel_size=3, dilation_rate=2, return_residual=return_residual, bias_initializer="random_normal"
        )
        out = block(x, condition=cond, local_condition=local)
        ref = reference(block, x.astype("float64"), cond, local)
        outs, refs = (out, ref) if return_residual else ((out,), (ref,))
        for o, r in zip(outs, refs):
            np.testing.assert_allclose(ops.convert_to_numpy(o), r, rtol=1e-4, atol=1e-5)

    def test_errors(self):
        with pytest.raises(ValueError, match="residual_channels"):
            WaveNetResidualBlock(0)
        with pytest.raises(ValueError, match="inputs"):
            WaveNetResidualBlock(4)(np.ones((2, 5, 3), "float32"))
        with pytest.raises(ValueError, match="return_residual"):
            WaveNetResidualBlock(4, return_residual="yes")

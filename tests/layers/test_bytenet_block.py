import numpy as np
import pytest
from keras import ops

from kgen.layers import ByteNetResidualBlock
from kgen.layers.queues import init_queue, queue_taps
from kgen.testing import TestCase
from kgen.testing.fixtures import reached_steps


def reference(block, x):
    """numpy: x + 1x1(ReLU(LN(causal dilated conv(ReLU(LN(1x1(ReLU(LN(x))))))))), in float64."""
    w = {v.path.split("/")[-1]: ops.convert_to_numpy(v).astype("float64") for v in block.weights}
    eps = block.epsilon

    def norm_relu(h, name):
        mean = h.mean(-1, keepdims=True)
        var = ((h - mean) ** 2).mean(-1, keepdims=True)
        return np.maximum((h - mean) / np.sqrt(var + eps) * w[f"{name}_gamma"] + w[f"{name}_beta"], 0.0)

    h = norm_relu(norm_relu(x, "norm1") @ w["reduce_kernel"] + w["reduce_bias"], "norm2")
    k, d = block.kernel_size, block.dilation_rate
    batch, steps, _ = x.shape
    y = np.zeros((batch, steps, w["conv_kernel"].shape[-1])) + w["conv_bias"]
    for t in range(steps):
        for i in range(k):  # tap i reads step t - (k - 1 - i) d; earlier than 0 is the zero padding
            s = t - (k - 1 - i) * d
            if s >= 0:
                y[:, t] += h[:, s] @ w["conv_kernel"][i]
    return x + norm_relu(y, "norm3") @ w["expand_kernel"] + w["expand_bias"]


def randomize(block, seed=0):
    """Random values for every weight (scales, offsets and biases too), so the reference checks each of them."""
    rng = np.random.default_rng(seed)
    block.set_weights([rng.normal(1.0 if "gamma" in v.path else 0.0, 0.5, v.shape).astype("float32")
                       for v in block.weights])


class TestByteNetResidualBlock(TestCase):
    def test_layer(self):
        x = np.random.default_rng(0).normal(size=(2, 10, 6)).astype("float32")
        self.run_layer_test(
            ByteNetResidualBlock, dict(channels=6, kernel_size=3, dilation_rate=2), ops.convert_to_tensor(x),
            (2, 10, 6),
        )

    @pytest.mark.parametrize("kernel_size,dilation_rate,bottleneck", [(3, 1, None), (3, 4, 3), (2, 2, 5), (1, 1, None)])
    def test_matches_numpy_reference(self, kernel_size, dilation_rate, bottleneck):
        x = np.random.default_rng(1).normal(size=(2, 13, 6)).astype("float32")
        block = ByteNetResidualBlock(6, bottleneck, kernel_size=kernel_size, dilation_rate=dilation_rate)
        block.build((None, None, 6))
        randomize(block)
        assert block.bottleneck_channels == (bottleneck or 3)
        np.testing.assert_allclose(ops.convert_to_numpy(block(x)), reference(block, x.astype("float64")),
                                   rtol=1e-4, atol=1e-4)

    def test_step_by_step_equals_call(self):
        # The generator's route: pre -> queue of the last (k - 1) d inputs -> step_conv -> post, one step at a time.
        k, d = 3, 2
        x = np.random.default_rng(2).normal(size=(2, 11, 6)).astype("float32")
        block = ByteNetResidualBlock(6, kernel_size=k, dilation_rate=d)
        block.build((None, None, 6))
        randomize(block, seed=3)
        queue = init_queue(2, k, d, block.bottleneck_channels)
        steps = []
        for t in range(x.shape[1]):
            xt = ops.convert_to_tensor(x[:, t])
            taps, queue = queue_taps(queue, t, block.pre(xt), k, d)
            steps.append(ops.convert_to_numpy(block.post(xt, block.step_conv(taps))))
        np.testing.assert_allclose(np.stack(steps, axis=1), ops.convert_to_numpy(block(x)), rtol=1e-5, atol=1e-5)

    def test_causal_and_receptive_field(self):
        block = ByteNetResidualBlock(4, kernel_size=3, dilation_rate=3)
        assert block.receptive_field == 7
        x = np.random.default_rng(4).normal(size=(1, 16, 4)).astype("float32")
        for s in range(16):
            reached = reached_steps(block, x, s)
            # output t reads inputs t - 6, t - 3, t (each through the pointwise parts): t = s, s + 3, s + 6
            assert set(reached) <= {s, s + 3, s + 6} and s in reached, (s, reached)

    def test_dropout_in_training_only(self):
        x = np.random.default_rng(5).normal(size=(2, 9, 4)).astype("float32")
        block = ByteNetResidualBlock(4, dropout=0.5, seed=1)
        inference = ops.convert_to_numpy(block(x))
        np.testing.assert_array_equal(ops.convert_to_numpy(block(x, training=False)), inference)
        assert not np.allclose(ops.convert_to_numpy(block(x, training=True)), inference)
        plain = ByteNetResidualBlock(4)
        plain.build((None, None, 4))
        assert len(plain.weights) == 12  # no dropout, no seed state: the variables of files saved before dropout
        self.run_serialization_test(block)
        with pytest.raises(ValueError, match="dropout"):
            ByteNetResidualBlock(4, dropout=1.0)

    def test_errors(self):
        with pytest.raises(ValueError, match="channels"):
            ByteNetResidualBlock(1)
        with pytest.raises(ValueError, match="bottleneck_channels"):
            ByteNetResidualBlock(4, 0)
        with pytest.raises(ValueError, match="dilation_rate"):
            ByteNetResidualBlock(4, dilation_rate=0)
        with pytest.raises(ValueError, match="epsilon"):
            ByteNetResidualBlock(4, epsilon=0)
        with pytest.raises(ValueError, match="inputs"):
            ByteNetResidualBlock(4)(np.ones((2, 5, 3), "float32"))

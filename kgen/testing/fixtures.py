"""Small inputs, tiny-model builders and argument tables that the model-family tests share."""

import numpy as np


def binary_images(n, shape=(8, 8, 1), seed=0):
    """`n` random binary images (n, *shape) as float32 pixel levels 0 / 1."""
    return (np.random.default_rng(seed).random((n,) + tuple(shape)) > 0.5).astype("float32")


def striped_images(n=64, size=8):
    """`n` binary (size, size, 1) images with every other row on: learnable from the row above."""
    x = np.zeros((n, size, size, 1), "float32")
    x[:, ::2] = 1.0
    return x


def random_tokens(n=2, t=12, levels=16, seed=0):
    """`n` random token sequences of length `t` in 0..levels - 1, int32 (n, t)."""
    return np.random.default_rng(seed).integers(0, levels, (n, t)).astype("int32")


def ramp_tokens(num_sequences, length=24, levels=16):
    """Sequences of a ramp mod `levels`, each shifted by one: every token follows from the previous one."""
    return (np.arange(length)[None] + np.arange(num_sequences)[:, None]) % levels


def tiny_builder(build, **config):
    """A `tiny(**overrides)` for tests: `build(**{**config, **overrides})`, `build` a model class or builder."""

    def tiny(**kwargs):
        return build(**{**config, **kwargs})

    return tiny


def reached_steps(fn, x, step, threshold=1e-6):
    """The time steps of `fn(x)` (batch entry 0, any channel) that change by more than `threshold` when input step
    `step` of batch entry 0 is raised by 1: the measured reach of one input through a sequence layer."""
    from keras import ops

    base = ops.convert_to_numpy(fn(x))
    changed = np.array(x, copy=True)
    changed[0, step] += 1.0
    diff = np.abs(ops.convert_to_numpy(fn(changed)) - base).reshape(base.shape[0], base.shape[1], -1).max(-1)[0]
    return [int(t) for t in np.flatnonzero(diff > threshold)]


def random_weights(layer, seed=0, stddev=0.5):
    """Give every weight of a built layer seeded N(0, stddev^2) values, so a reference check tests each of them."""
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0.0, stddev, w.shape).astype("float32") for w in layer.get_weights()])


def channel_group_reach(layer, x, source, target, groups):
    """A (channels, groups) bool array: [c, g] is True when raising input channel c of pixel `source` (row, col) of
    batch entry 0 by 1 changes some output channel of colour group g at pixel `target`."""
    from keras import ops

    base = ops.convert_to_numpy(layer(x))[(0, *target)]
    reach = []
    for c in range(x.shape[-1]):
        changed = np.array(x, copy=True)
        changed[(0, *source, c)] += 1.0
        diff = np.abs(ops.convert_to_numpy(layer(changed))[(0, *target)] - base) > 1e-6
        reach.append(diff.reshape(groups, -1).any(axis=1))
    return np.array(reach)


def assert_same_layer_outputs(first, second, x, rtol=1e-5, atol=1e-6):
    """Build two layers on `x`, give the second the first's weights, and check they compute the same outputs (two
    implementations of one layer: scan against unrolled, say)."""
    from keras import ops

    first(x)
    second(x)
    second.set_weights(first.get_weights())
    np.testing.assert_allclose(ops.convert_to_numpy(first(x)), ops.convert_to_numpy(second(x)), rtol=rtol, atol=atol)


def bad_arguments(*cases):
    """Parametrize a test over (kwargs, match) pairs: arguments that must raise a ValueError matching `match`
    (use with `TestCase.run_bad_argument_test`)."""
    import pytest

    return pytest.mark.parametrize("kwargs,match", list(cases))


class SequenceModelChecks:
    """Tests every autoregressive sequence family shares, mixed into its `TestCase` subclass: set `tiny` (a
    `tiny_builder`), `model_class`, `fit_kwargs` (for `run_weighted_fit_test`) and `bad_argument_cases`, (kwargs,
    match) pairs that `model_class` must refuse. Saving, loading under the other backends and export (after
    sampling, fitting and evaluating) are the test walker's, on every family's tiny preset (tests/test_zoo.py)."""

    bad_argument_cases = ()
    fit_kwargs = dict(learning_rate=1e-2, num_sequences=256, epochs=10)  # 8 batches of 32 per epoch

    def test_fit_with_weights_learns(self):
        # A deterministic pattern (a ramp mod 16) is learnable from the previous token; padding has weight 0.
        self.run_weighted_fit_test(type(self).tiny(), **self.fit_kwargs)

    def test_bad_arguments(self):
        for kwargs, match in self.bad_argument_cases:
            self.run_bad_argument_test(self.model_class, kwargs, match)

    def test_tokens_out_of_range(self):
        import pytest

        levels = type(self).tiny().num_levels
        with pytest.raises(ValueError, match="tokens"):
            type(self).tiny().log_prob(np.full((2, 5), levels))

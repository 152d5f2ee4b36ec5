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


def bad_arguments(*cases):
    """Parametrize a test over (kwargs, match) pairs: arguments that must raise a ValueError matching `match`
    (use with `TestCase.run_bad_argument_test`)."""
    import pytest

    return pytest.mark.parametrize("kwargs,match", list(cases))


class SequenceModelChecks:
    """Tests every autoregressive sequence family shares, mixed into its `TestCase` subclass: set `tiny` (a
    `tiny_builder`), `model_class`, `round_trip_kwargs` (the tiny model's overrides for the saving/export test),
    `fit_kwargs` (for `run_weighted_fit_test`) and `bad_argument_cases`, (kwargs, match) pairs that `model_class`
    must refuse."""

    round_trip_kwargs = {}
    bad_argument_cases = ()
    fit_kwargs = dict(learning_rate=1e-2, num_sequences=256, epochs=10)  # 8 batches of 32 per epoch

    def test_saving_cross_backend_and_export(self, tmp_path):
        self.run_round_trip_test(type(self).tiny(**self.round_trip_kwargs), random_tokens(2, 12), tmp_path)

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

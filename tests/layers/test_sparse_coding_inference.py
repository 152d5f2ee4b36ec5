"""Tests for SparseCodingInference: FISTA/ISTA codes equal scikit-learn's Lasso, unit-norm atoms, the PSD energy."""

import numpy as np
import keras
import pytest
from keras import ops

from kgen.layers.sparse_coding_inference import SparseCodingInference, lasso_objective
from kgen.testing import TestCase

sklearn_linear = pytest.importorskip("sklearn.linear_model")

DIM, ATOMS, PENALTY = 10, 15, 0.4
TOL = 2e-3  # codes agree with the Lasso within this (max abs); a wrong convention misses by > 50x more


def _signals(n=6, seed=0):
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype("float32")


def _layer(**kwargs):
    args = dict(num_atoms=ATOMS, penalty=PENALTY, num_iterations=1000)
    args.update(kwargs)
    layer = SparseCodingInference(**args)
    layer.build((None, DIM))
    return layer


def _atoms(layer):
    return ops.convert_to_numpy(layer.atoms()).astype("float64")


def _lasso(dictionary, x, alpha, design=None, target=None):
    """scikit-learn's Lasso codes of each row of x for the dictionary (rows are atoms), in float64."""
    out = []
    for i, xi in enumerate(x.astype("float64")):
        X = dictionary.T if design is None else design
        y = xi if target is None else target[i]
        model = sklearn_linear.Lasso(alpha=alpha, fit_intercept=False, tol=1e-12, max_iter=200_000)
        out.append(model.fit(X, y).coef_)
    return np.stack(out)


def _objective(x, z, dictionary, penalty=PENALTY):
    return np.sum((x - z @ dictionary) ** 2, axis=1) + penalty * np.abs(z).sum(axis=1)


class TestSparseCodingInference(TestCase):
    def test_layer_contract(self):
        x = ops.convert_to_tensor(_signals(4))
        # The codes leave through stop_gradient, so the layer alone has no trainable path (no training check here;
        # `test_fit_updates_unit_norm_dictionary` trains it through the reconstruction).
        self.run_layer_test(
            SparseCodingInference, dict(num_atoms=ATOMS, penalty=PENALTY, num_iterations=20), x, (4, ATOMS),
            run_training_check=False,
        )
        layer = SparseCodingInference(ATOMS, PENALTY, 20, return_reconstruction=True)
        codes, recon = layer(x)
        assert tuple(codes.shape) == (4, ATOMS) and tuple(recon.shape) == (4, DIM)
        assert layer.compute_output_shape((4, DIM)) == ((4, ATOMS), (4, DIM))
        np.testing.assert_allclose(
            ops.convert_to_numpy(recon), ops.convert_to_numpy(codes) @ _atoms(layer), rtol=1e-4, atol=1e-5
        )

    def test_atoms_start_unit_norm(self):
        layer = _layer()
        np.testing.assert_allclose(np.linalg.norm(ops.convert_to_numpy(layer.dictionary), axis=1), 1.0, atol=1e-5)

    def test_fista_matches_sklearn_lasso(self):
        layer = _layer()
        x = _signals()
        codes = ops.convert_to_numpy(layer(x)).astype("float64")
        d = _atoms(layer)
        # Objective ||x - zD||^2 + penalty |z|_1 == 2 * DIM * sklearn's (1 / (2 n)) ||y - Xw||^2 + alpha |w|_1.
        reference = _lasso(d, x, alpha=PENALTY / (2 * DIM))
        np.testing.assert_allclose(codes, reference, atol=TOL)
        assert 0.1 < np.mean(reference == 0) < 0.95, "the test penalty should give sparse but not empty codes"
        # The tolerance is tight enough to catch a wrong penalty convention or too few iterations.
        wrong = _lasso(d, x, alpha=PENALTY / DIM)
        assert np.abs(wrong - reference).max() > 50 * TOL
        few = ops.convert_to_numpy(_layer(num_iterations=3)(x))
        assert np.abs(few - reference).max() > 5 * TOL

    def test_ista_matches_sklearn_lasso(self):
        layer = _layer(method="ista", num_iterations=3000)
        x = _signals(3)
        codes = ops.convert_to_numpy(layer(x))
        np.testing.assert_allclose(codes, _lasso(_atoms(layer), x, alpha=PENALTY / (2 * DIM)), atol=TOL)

    def test_objective_decreases_with_iterations(self):
        x = _signals(8, seed=1)
        layer = _layer(method="ista")
        d = _atoms(layer)
        weights = layer.get_weights()
        for method, steps in (("ista", (1, 2, 5, 10, 50, 200)), ("fista", (1, 5, 20, 100, 1000))):
            values = []
            for n in steps:
                other = _layer(method=method, num_iterations=n)
                other.set_weights(weights)
                values.append(_objective(x, ops.convert_to_numpy(other(x)).astype("float64"), d).mean())
            assert np.all(np.diff(values) <= 1e-6 * values[0]), f"{method} objective rose: {values}"
            assert values[-1] < 0.9 * values[0], f"{method} objective barely fell: {values}"
        zero = np.sum(x.astype("float64") ** 2, axis=1).mean()
        assert values[-1] < zero

    def test_lasso_objective_helper(self):
        x, layer = _signals(3), _layer(num_iterations=10)
        z = ops.convert_to_numpy(layer(x))
        got = ops.convert_to_numpy(lasso_objective(x, z, layer.atoms(), PENALTY))
        np.testing.assert_allclose(got, _objective(x, z, _atoms(layer)), rtol=1e-5)

    def test_penalty_loss(self):
        layer = _layer(num_iterations=50)
        x = _signals(5)
        z = ops.convert_to_numpy(layer(x))
        assert len(layer.losses) == 1
        np.testing.assert_allclose(float(layer.losses[0]), PENALTY * np.abs(z).sum(axis=1).mean(), rtol=1e-5)
        silent = _layer(num_iterations=5, add_penalty_loss=False)
        silent(x)
        assert not silent.losses

    def test_psd_energy_with_predicted_codes(self):
        # With predicted codes p, the layer minimises ||x - zD||^2 + penalty |z|_1 + a ||z - p||^2: a Lasso on the
        # stacked system [D^T; sqrt(a) I] z ~ [x; sqrt(a) p] with n = DIM + ATOMS rows.
        weight = 0.5
        layer = _layer(prediction_weight=weight, num_iterations=1500)
        x = _signals(4)
        p = np.random.default_rng(3).normal(size=(4, ATOMS)).astype("float32")
        z = ops.convert_to_numpy(layer([x, p])).astype("float64")
        d = _atoms(layer)
        design = np.concatenate([d.T, np.sqrt(weight) * np.eye(ATOMS)])
        target = np.concatenate([x, np.sqrt(weight) * p], axis=1).astype("float64")
        reference = _lasso(d, x, PENALTY / (2 * (DIM + ATOMS)), design=design, target=target)
        np.testing.assert_allclose(z, reference, atol=TOL)
        expected_loss = PENALTY * np.abs(z).sum(axis=1).mean() + weight * ((z - p) ** 2).sum(axis=1).mean()
        np.testing.assert_allclose(float(layer.losses[0]), expected_loss, rtol=1e-4)
        assert layer.compute_output_shape([(4, DIM), (4, ATOMS)]) == (4, ATOMS)

    def test_fit_updates_unit_norm_dictionary(self):
        # The alternating scheme: the loss of the reconstruction trains the dictionary; the UnitNorm constraint
        # (applied by the optimizer after each step, on every backend) keeps the stored atoms on the unit sphere.
        inputs = keras.Input(shape=(DIM,))
        layer = SparseCodingInference(ATOMS, PENALTY, 30, return_reconstruction=True, name="sc")
        _, recon = layer(inputs)
        model = keras.Model(inputs, recon)
        model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
        x = _signals(16)
        before = ops.convert_to_numpy(layer.dictionary).copy()
        model.fit(x, x, epochs=3, batch_size=8, verbose=0)
        after = ops.convert_to_numpy(layer.dictionary)
        assert np.abs(after - before).max() > 1e-3, "fit did not change the dictionary"
        np.testing.assert_allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-5)

    @pytest.mark.parametrize(
        "kwargs, name",
        [
            (dict(num_atoms=0), "num_atoms"),
            (dict(num_atoms=2.5), "num_atoms"),
            (dict(penalty=0.0), "penalty"),
            (dict(penalty=-1.0), "penalty"),
            (dict(penalty="big"), "penalty"),
            (dict(num_iterations=0), "num_iterations"),
            (dict(method="adam"), "method"),
            (dict(prediction_weight=-0.1), "prediction_weight"),
            (dict(return_reconstruction="yes"), "return_reconstruction"),
            (dict(add_penalty_loss=1), "add_penalty_loss"),
            (dict(dictionary_initializer="no_such_initializer"), "dictionary_initializer"),
        ],
    )
    def test_bad_arguments(self, kwargs, name):
        args = dict(num_atoms=4, penalty=0.1)
        args.update(kwargs)
        with pytest.raises(ValueError, match=name):
            SparseCodingInference(**args)

    def test_bad_input_shapes(self):
        with pytest.raises(ValueError, match="batch, input_dim"):
            SparseCodingInference(4)(np.zeros((2, 3, 5), "float32"))
        with pytest.raises(ValueError, match="predicted codes"):
            SparseCodingInference(4)([np.zeros((2, 5), "float32"), np.zeros((2, 3), "float32")])

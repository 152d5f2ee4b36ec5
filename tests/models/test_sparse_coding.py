"""Tests for SparseCoding: codes equal scikit-learn's Lasso, the loss is the objective, fit learns a dictionary."""

import numpy as np
import keras
import pytest

import kgen
from kgen.models import SparseCoding
from kgen.testing import TestCase, bad_arguments, sparse_signals as sparse_data, tiny_builder

sklearn_linear = pytest.importorskip("sklearn.linear_model")

tiny = tiny_builder(SparseCoding, input_shape=(16,), num_atoms=12, penalty=0.5, num_iterations=30)


class TestSparseCoding(TestCase):
    def test_presets(self):
        model = kgen.zoo.get("sparse_coding.patches")
        assert model.input_shape_ == (64,) and model.num_atoms == 256
        assert model.filters().shape == (256, 8, 8)
        assert kgen.zoo.get("sparse_coding.tiny").count_params() == 8 * 16

    def test_contract(self, tmp_path):
        self.run_representation_contract_test(tiny, sparse_data(8), tmp_path)

    def test_encode_is_sklearn_lasso(self):
        model = tiny(num_iterations=1000)
        x = sparse_data(6, seed=1)
        codes = model.encode(x).astype("float64")
        d = model.atoms().astype("float64")
        dim = x.shape[1]
        reference = np.stack([
            sklearn_linear.Lasso(alpha=0.5 / (2 * dim), fit_intercept=False, tol=1e-12, max_iter=200_000)
            .fit(d.T, xi).coef_ for xi in x.astype("float64")
        ])
        np.testing.assert_allclose(codes, reference, atol=2e-3)
        np.testing.assert_array_equal(model.infer_codes(x), model.encode(x))
        ista_model = tiny(num_iterations=1000, method="ista")
        ista_model.set_weights(model.get_weights())
        np.testing.assert_allclose(model.infer_codes(x, method="ista"), ista_model.encode(x), rtol=1e-5, atol=1e-6)

    def test_loss_is_the_objective(self):
        model = tiny()
        model.compile(optimizer="adam")
        x = sparse_data(10)
        result = model.evaluate(x, batch_size=10, verbose=0, return_dict=True)
        objective = model.objective(x, model.encode(x))
        np.testing.assert_allclose(result["loss"], objective.mean(), rtol=1e-4)
        rec = model.reconstruct(x)
        np.testing.assert_allclose(rec, model.encode(x) @ model.atoms(), rtol=1e-4, atol=1e-5)

    def test_fit_lowers_objective_and_keeps_unit_atoms(self):
        x = sparse_data(256, seed=2)
        model = tiny(num_iterations=50)
        before = model.objective(x, model.encode(x)).mean()
        model.compile(optimizer=keras.optimizers.Adam(0.02))
        model.fit(x, epochs=25, batch_size=64, verbose=0)
        after = model.objective(x, model.encode(x)).mean()
        assert after < 0.6 * before, (before, after)
        stored = keras.ops.convert_to_numpy(model.get_layer("codes").dictionary)
        np.testing.assert_allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-5)

    def test_image_inputs_and_scale(self):
        model = SparseCoding(input_shape=(4, 4, 1), num_atoms=6, penalty=0.1, num_iterations=20, input_scale=0.5)
        x = np.random.default_rng(0).uniform(0, 2, (3, 4, 4, 1)).astype("float32")
        assert model.filters().shape == (6, 4, 4, 1)
        codes = model.encode(x)
        flat = SparseCoding(input_shape=(16,), num_atoms=6, penalty=0.1, num_iterations=20)
        flat.set_weights(model.get_weights())
        np.testing.assert_allclose(codes, flat.encode(x.reshape(3, 16) * 0.5), rtol=1e-5, atol=1e-6)
        assert model.reconstruct(x).shape == x.shape

    @bad_arguments(
        (dict(input_shape=(0,)), "input_shape"),
        (dict(num_atoms=0), "num_atoms"),
        (dict(penalty=0), "penalty"),
        (dict(num_iterations=-1), "num_iterations"),
        (dict(method="lars"), "method"),
        (dict(input_scale=0), "input_scale"),
        (dict(units=3), "units"),
    )
    def test_bad_arguments(self, kwargs, match):
        self.run_bad_argument_test(tiny, kwargs, match)

    def test_bad_batch_size(self):
        with pytest.raises(ValueError, match="batch_size"):
            tiny().encode(sparse_data(2), batch_size=0)

"""Tests for predictive sparse decomposition: the encoder alone encodes, it learns to predict the FISTA codes."""

import numpy as np
import keras
import pytest
from keras import ops

import kgen
from kgen.layers import SparseCodingInference
from kgen.models import PredictiveSparseDecomposition
from kgen.testing import TestCase, bad_arguments, sparse_signals as sparse_data, tiny_builder

tiny = tiny_builder(PredictiveSparseDecomposition, input_shape=(16,), num_atoms=12, penalty=0.5, num_iterations=30)


def _encoder_numpy(model, x):
    layer = model.get_layer("codes")
    w, b, g = (ops.convert_to_numpy(v) for v in (layer.kernel, layer.bias, layer.gain))
    return g * np.tanh(x @ w + b)


class TestPSD(TestCase):
    def test_presets(self):
        model = kgen.zoo.get("psd.patches")
        assert model.input_shape_ == (64,) and model.num_atoms == 256 and model.prediction_weight == 1.0
        assert model.filters().shape == (256, 8, 8)
        # dictionary 8 x 16, encoder kernel 16 x 8, bias 8, gain 8
        assert kgen.zoo.get("psd.tiny").count_params() == 8 * 16 + 16 * 8 + 8 + 8

    def test_contract(self, tmp_path):
        self.run_representation_contract_test(tiny, sparse_data(8), tmp_path)

    def test_encode_uses_the_encoder_only(self):
        model = tiny()
        x = sparse_data(5)
        np.testing.assert_allclose(model.encode(x), _encoder_numpy(model, x), rtol=1e-5, atol=1e-6)
        encoder = model._submodel("codes")
        assert not any(isinstance(layer, SparseCodingInference) for layer in encoder.layers)
        assert not np.allclose(model.encode(x), model.infer_codes(x), atol=1e-3)

    def test_infer_codes_are_the_lasso_codes(self):
        model = tiny()
        x = sparse_data(6)
        layer = SparseCodingInference(12, 0.5, 30)
        layer.build((None, 16))
        layer.set_weights([model.atoms()])
        np.testing.assert_allclose(model.infer_codes(x), ops.convert_to_numpy(layer(x)), rtol=1e-4, atol=1e-5)
        ista = SparseCodingInference(12, 0.5, 30, method="ista")
        ista.build((None, 16))
        ista.set_weights([model.atoms()])
        expected = ops.convert_to_numpy(ista(x))
        np.testing.assert_allclose(model.infer_codes(x, method="ista"), expected, rtol=1e-4, atol=1e-5)
        assert not np.allclose(model.infer_codes(x), expected, atol=1e-4)  # 30 ISTA steps are not FISTA's
        with pytest.raises(ValueError, match="`method`"):
            model.infer_codes(x, method="lars")

    def test_loss_is_the_psd_energy(self):
        model = tiny(prediction_weight=0.7)
        model.compile(optimizer="adam")
        x = sparse_data(10)
        loss = model.evaluate(x, batch_size=10, verbose=0, return_dict=True)["loss"]
        # z* minimises the energy from F(x): recompute it with the inference layer on [x, F(x)].
        f = _encoder_numpy(model, x).astype("float32")
        inference = model.get_layer("inference")
        z, rec = (ops.convert_to_numpy(t) for t in inference([x, f]))
        energy = ((x - rec) ** 2).sum(1) + 0.5 * np.abs(z).sum(1) + 0.7 * ((z - f) ** 2).sum(1)
        np.testing.assert_allclose(loss, energy.mean(), rtol=1e-4)

    def test_encoder_learns_to_predict_codes(self):
        x = sparse_data(256, seed=4)
        model = tiny(num_iterations=50)
        gap_before = np.mean((model.encode(x) - model.infer_codes(x)) ** 2)
        model.compile(optimizer=keras.optimizers.Adam(0.02))
        model.fit(x, epochs=30, batch_size=64, verbose=0)
        gap_after = np.mean((model.encode(x) - model.infer_codes(x)) ** 2)
        assert gap_after < 0.5 * gap_before, (gap_before, gap_after)
        zero = model.objective(x, np.zeros((len(x), 12))).mean()
        assert model.objective(x, model.encode(x)).mean() < zero  # the predicted codes explain the signals
        stored = ops.convert_to_numpy(model.get_layer("inference").dictionary)
        np.testing.assert_allclose(np.linalg.norm(stored, axis=1), 1.0, atol=1e-5)

    @bad_arguments(
        (dict(input_shape="64"), "input_shape"),
        (dict(num_atoms=-2), "num_atoms"),
        (dict(penalty=-1), "penalty"),
        (dict(prediction_weight=-1), "prediction_weight"),
        (dict(num_iterations=0), "num_iterations"),
        (dict(method="omp"), "method"),
        (dict(encoder="mlp"), "encoder"),
    )
    def test_bad_arguments(self, kwargs, match):
        self.run_bad_argument_test(tiny, kwargs, match)

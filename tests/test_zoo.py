"""Walks every registered model (timm tests/test_models.py style): a new model is tested once it is registered."""

import numpy as np
import pytest

import kgen
from kgen.testing import TestCase

SMALL_IMAGE = (6, 6, 1)
# Tiny overrides for the sequence-model architectures (any preset keeps its other settings, e.g. num_classes).
SMALL_SEQUENCE = {
    "wavenet": dict(num_levels=16, residual_channels=8, gate_channels=8, skip_channels=8, output_channels=8,
                    num_layers=3, dilation_cycle=2),
    "bytenet": dict(num_levels=16, hidden_dim=8, num_layers=3, dilation_cycle=2),
    "lstm_lm": dict(num_levels=16, units=8, num_layers=1),
}

# Tiny overrides and inputs for the representation-learning architectures: (overrides, input shape).
SMALL_REPRESENTATION = {
    "autoencoder": (dict(input_shape=(6, 6, 1), hidden_units=(8,), code_dim=4), (6, 6, 1)),
    "denoising_autoencoder": (dict(input_shape=(6, 6, 1), code_dim=8), (6, 6, 1)),
    "ksparse_autoencoder": (dict(input_shape=(6, 6, 1), code_dim=12, k=3), (6, 6, 1)),
    "deep_autoencoder": (dict(input_shape=(6, 6, 1), hidden_units=(16, 8, 6), code_dim=3), (6, 6, 1)),
    "semantic_hashing": (dict(input_shape=(6, 6, 1), hidden_dims=(8,), num_bits=6), (6, 6, 1)),
    "sparse_coding": (dict(input_shape=(16,), num_atoms=8, num_iterations=10), (16,)),
    "psd": (dict(input_shape=(16,), num_atoms=8, num_iterations=10), (16,)),
}


def is_sequence(name):
    return name.split(".")[0] in SMALL_SEQUENCE


def is_representation(name):
    return name.split(".")[0] in SMALL_REPRESENTATION


GENERATIVE = [n for n in kgen.zoo.list_models() if not is_representation(n)]
REPRESENTATION = [n for n in kgen.zoo.list_models() if is_representation(n)]


@pytest.mark.parametrize("name", REPRESENTATION)
class TestEveryRepresentationModel(TestCase):
    def _model_and_inputs(self, name):
        overrides, shape = SMALL_REPRESENTATION[name.split(".")[0]]
        model = kgen.zoo.get(name, **overrides)
        x = np.random.default_rng(0).uniform(0.0, 1.0, (4,) + shape).astype("float32") / model.input_scale
        return model, x

    def test_builds_serializes_saves_and_encodes(self, name, tmp_path):
        model, x = self._model_and_inputs(name)
        self.run_serialization_test(model)
        self.run_representation_test(model, x, tmp_path)

    def test_trains(self, name):
        model, x = self._model_and_inputs(name)
        self.run_representation_training_test(model, x)


class TestRepresentationModelsAcrossBackends(TestCase):
    @pytest.mark.slow
    def test_every_family_loads_on_every_backend(self):
        """One tiny model per representation family, saved here and loaded under the other two backends: the same
        codes (FISTA codes within 1e-3, as the iterations amplify float differences)."""
        cases = []
        for i, name in enumerate(sorted(SMALL_REPRESENTATION)):
            overrides, shape = SMALL_REPRESENTATION[name]
            model = kgen.zoo.get(name, **overrides)
            x = np.random.default_rng(i).uniform(0.0, 1.0, (4,) + shape).astype("float32") / model.input_scale
            cases.append((model, x))
        self.run_cross_backend_suite(cases, rtol=1e-3)


@pytest.mark.parametrize("name", GENERATIVE)
class TestEveryModel(TestCase):
    def _model(self, name):
        if is_sequence(name):
            return kgen.zoo.get(name, **SMALL_SEQUENCE[name.split(".")[0]])
        return kgen.zoo.get(name, image_shape=SMALL_IMAGE)

    def test_builds_serializes_and_saves(self, name, tmp_path):
        model = self._model(name)
        self.run_serialization_test(model)
        rng = np.random.default_rng(0)
        if is_sequence(name):
            x = rng.integers(0, model.num_levels, (2, 10)).astype("int32")
        else:
            x = rng.integers(0, model.distribution.num_levels, (2,) + SMALL_IMAGE).astype("float32")
        self.run_model_saving_test(model, x, tmp_path)

    def test_causality(self, name):
        if is_sequence(name):
            self.run_sequence_causality_test(self._model(name))
        else:
            self.run_causality_test(self._model(name))

    def test_sampling(self, name):
        if is_sequence(name):
            self.run_sequence_sampling_test(self._model(name), num_samples=2, length=10)
        else:
            self.run_sampling_test(self._model(name), num_samples=2)


def test_list_models():
    names = kgen.zoo.list_models()
    assert {"pixelcnn", "pixelcnn.mnist", "pixelcnn.tiny"} <= set(names)
    assert kgen.zoo.list_models("pixelcnn.*") == ["pixelcnn.mnist", "pixelcnn.tiny"]
    assert kgen.zoo.list_models("nothing*") == []


def test_get_overrides_and_none_dropped():
    model = kgen.zoo.get("pixelcnn.tiny", hidden_dim=16, output_dim=None)
    assert model.hidden_dim == 16 and model.output_dim == 8


def test_unknown_name_lists_close_matches():
    with pytest.raises(ValueError) as e:
        kgen.zoo.get("pixelcn.mnist")
    message = str(e.value)
    assert "pixelcn.mnist" in message and "'pixelcnn.mnist'" in message and "Registered models" in message
    with pytest.raises(ValueError, match="Unknown model name"):
        kgen.zoo.get("pixelcnn.huge")
    with pytest.raises(ValueError, match="name"):
        kgen.zoo.get(3)


def test_unknown_keyword_is_an_error():
    with pytest.raises(ValueError, match="hiden_dim"):
        kgen.zoo.get("pixelcnn.tiny", hiden_dim=3)


def test_register_rejects_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        kgen.zoo.register_model("pixelcnn")(lambda **kw: None)
    with pytest.raises(ValueError, match="already registered"):
        kgen.zoo.register_preset("pixelcnn.mnist", "pixelcnn")

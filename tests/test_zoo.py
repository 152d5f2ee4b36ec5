"""Walks every registered model (timm tests/test_models.py style): a new model is tested once it is registered.

Everything here comes from the registry: the architectures, their presets, and each architecture's `.tiny` preset,
whose model names the checks that apply to it (`contract_checks`)."""

import keras
import pytest

import kgen
from kgen.testing import TestCase

ARCHITECTURES = kgen.zoo.architectures()
PRESETS = [n for n in kgen.zoo.list_models() if n not in ARCHITECTURES]


def tiny(arch):
    return kgen.zoo.get(f"{arch}.{kgen.zoo.TINY}")


def test_every_architecture_has_a_tiny_preset():
    assert ARCHITECTURES, "no architecture is registered"
    missing = [a for a in ARCHITECTURES if f"{a}.{kgen.zoo.TINY}" not in PRESETS]
    assert not missing, f"architectures without a '.tiny' preset: {missing}"


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_builds(name):
    """Every registered preset builds (paper-sized ones too) and round-trips its config. The weights are created
    but not initialised (`keras.StatelessScope(initialize_variables=False)`, as `kgen.pretrained` builds a preset
    before counting its weights): JAX's initializers compile once per weight shape, which cost this test 49 s there;
    the deferred variables are dropped afterwards."""
    from keras.src.backend.common import global_state

    pending = "uninitialized_variables"
    before = list(global_state.get_global_attribute(pending) or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            model = kgen.zoo.get(name)
            TestCase().run_serialization_test(model)
    finally:
        global_state.set_global_attribute(pending, before)


@pytest.mark.parametrize("arch", ARCHITECTURES)
class TestEveryArchitecture(TestCase):
    """The checks each model names in its contract (serialization, saving, causality, sampling, encoding,
    training ...), on its `.tiny` preset."""

    def test_contract(self, arch):
        self.run_contract_checks(tiny(arch))


#: Variants whose inputs or layers differ from their family's tiny preset (conditioning, another class), also
#: checked across backends: (preset, overrides).
CROSS_BACKEND_VARIANTS = [
    ("gated_pixelcnn.tiny", dict(num_classes=3)),
    ("wavenet.tiny", dict(num_classes=3, local_channels=2, local_upsample=2)),
    ("sparse_transformer.tiny_images", {}),
    ("video_pixel_network.tiny", dict(binarize_inputs=True)),
]


#: Where each backend's saved files are loaded (a cycle through the three backends).
NEXT_BACKEND = {"tensorflow": "jax", "jax": "torch", "torch": "tensorflow"}


class TestEveryArchitectureAcrossBackends(TestCase):
    @pytest.mark.slow
    def test_every_architecture_loads_on_every_backend(self):
        """Every architecture's tiny preset, and the variants above, saved here and loaded under the next backend of
        the cycle TensorFlow -> JAX -> torch -> TensorFlow give the same reference outputs (log-probabilities or
        codes; FISTA codes within 1e-3, as the iterations amplify float differences). The suite runs once per
        backend, so every backend's files are loaded by another and every backend loads another's; one child
        process checks them all."""
        models = [tiny(arch) for arch in ARCHITECTURES]
        models += [kgen.zoo.get(name, **overrides) for name, overrides in CROSS_BACKEND_VARIANTS]
        cases = [(model, model.example_inputs(seed=i)["x"]) for i, model in enumerate(models)]
        self.run_cross_backend_suite(cases, backends=[NEXT_BACKEND[keras.backend.backend()]], rtol=1e-3)


def test_list_models():
    names = kgen.zoo.list_models()
    assert {"pixelcnn", "pixelcnn.mnist", "pixelcnn.tiny"} <= set(names)
    assert kgen.zoo.list_models("pixelcnn.*") == ["pixelcnn.mnist", "pixelcnn.mnist_8bit", "pixelcnn.tiny"]
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

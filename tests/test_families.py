"""Adding a family touches only its folder: a throwaway family written into a temporary folder on `kgen.models`'
path is imported by `kgen.models.import_families`, registers itself and its presets with the zoo, becomes
`kgen.models.<Class>`, and builds, trains, samples and saves like the shipped families; no other file changes."""

import sys
import textwrap

import keras
import numpy as np

import kgen
import kgen.models
from kgen import zoo

FAMILY = "throwaway_family"

MODEL = '''
"""A throwaway image family: one type-A masked convolution and the shared output head."""

import keras

from kgen.models.image_base import (AutoregressiveImageModel, check_image_model_args, likelihood_config,
                                    masked_input_stem, output_head)


@keras.saving.register_keras_serializable(package="kgen_throwaway")
class ThrowawayModel(AutoregressiveImageModel):
    def __init__(self, image_shape=(4, 4, 1), likelihood="bernoulli", num_levels=None, num_mixtures=None,
                 hidden_dim=4, **kwargs):
        owner = "ThrowawayModel"
        image_shape, distribution, groups = check_image_model_args(owner, kwargs, image_shape, likelihood,
                                                                   num_levels, num_mixtures)
        images, x = masked_input_stem(image_shape, distribution, hidden_dim, 3, groups)
        params = output_head(x, distribution, image_shape, hidden_dim, groups)
        super().__init__(inputs=images, outputs=params, **kwargs)
        self._record_config(image_shape=image_shape, hidden_dim=hidden_dim, **likelihood_config(distribution))
        self._setup_generative(image_shape, distribution)
'''

INIT = '''
from kgen import zoo
from kgen.models.throwaway_family.throwaway_model import ThrowawayModel

zoo.register_family(__name__, {"throwaway": (ThrowawayModel, "a family written by a test")})

__all__ = ["ThrowawayModel"]
'''

PRESETS = '''
[throwaway.tiny]
description = "test size"
hidden_dim = 4

[throwaway.wide]
description = "wider"
hidden_dim = 8
'''


def test_a_new_family_is_its_folder(tmp_path, monkeypatch):
    folder = tmp_path / FAMILY
    folder.mkdir()
    (folder / "__init__.py").write_text(textwrap.dedent(INIT))
    (folder / "throwaway_model.py").write_text(textwrap.dedent(MODEL))
    (folder / "presets.toml").write_text(textwrap.dedent(PRESETS))
    # The registry, the package's path and attributes come back as they were after the test.
    for table in ("_BUILDERS", "_PRESETS", "_DESCRIPTIONS", "_PRETRAINED"):
        monkeypatch.setattr(zoo, table, dict(getattr(zoo, table)))
    monkeypatch.setattr(kgen.models, "__path__", list(kgen.models.__path__) + [str(tmp_path)])
    monkeypatch.setattr(kgen.models, "__all__", list(kgen.models.__all__))
    monkeypatch.setattr(kgen.models, "FAMILIES", dict(kgen.models.FAMILIES))
    before = set(zoo.list_models())
    try:
        assert kgen.models.import_families() == [f"kgen.models.{FAMILY}"]
        assert kgen.models.import_families() == []  # once
        assert set(zoo.list_models()) - before == {"throwaway", "throwaway.tiny", "throwaway.wide"}
        cls = kgen.models.ThrowawayModel
        assert "ThrowawayModel" in kgen.models.__all__
        model = zoo.get("throwaway.wide")
        assert isinstance(model, cls) and model.hidden_dim == 8

        # It trains, evaluates, samples and round-trips through a .keras file like any shipped family.
        x = np.random.default_rng(0).integers(0, 2, (8, 4, 4, 1)).astype("float32")
        model.compile(optimizer="adam")
        model.fit(x, epochs=1, batch_size=4, verbose=0)
        assert np.isfinite(model.evaluate(x, verbose=0, return_dict=True)["nats"])
        samples = model.sample(2, seed=0)
        np.testing.assert_array_equal(samples, model.sample(2, seed=0))
        path = tmp_path / "throwaway.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        assert isinstance(loaded, cls)
        np.testing.assert_allclose(loaded.log_prob(x), model.log_prob(x), rtol=1e-5)
    finally:
        kgen.models.__dict__.pop("ThrowawayModel", None)
        for name in [m for m in sys.modules if m.startswith(f"kgen.models.{FAMILY}")]:
            del sys.modules[name]

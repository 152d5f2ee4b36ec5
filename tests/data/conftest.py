"""Fixtures shared by the data tests: an offline environment, a stand-in tensorflow_datasets, a Keras fit check."""

import sys
import types

import numpy as np
import pytest

from kgen import data


class _FakeBuilder:
    """The part of a tensorflow_datasets builder that kgen.data uses; every call is recorded in ``tfds.calls``."""

    def __init__(self, tfds, name, data_dir):
        self._tfds, self.name, self.data_dir, self.info = tfds, name, data_dir, tfds.info

    def is_prepared(self):
        self._tfds.calls.append(("is_prepared", self.name, self.data_dir))
        return self._tfds.prepared

    def download_and_prepare(self):
        self._tfds.calls.append(("download_and_prepare", self.name, self.data_dir))
        if self._tfds.download_error is not None:
            raise self._tfds.download_error
        self._tfds.prepared = True

    def as_dataset(self, **kwargs):
        self._tfds.calls.append(("as_dataset", self.name, kwargs))
        return self._tfds.splits[kwargs["split"]]


@pytest.fixture
def fake_tfds(monkeypatch):
    """``fake_tfds(splits, prepared=False, download_error=None, sample_rate=8000)`` installs a stand-in
    ``tensorflow_datasets`` module whose builders serve ``splits`` (split name -> what ``as_dataset`` returns)
    and returns it; its attributes can be changed afterwards."""

    def install(splits=None, prepared=False, download_error=None, sample_rate=8000):
        module = types.ModuleType("tensorflow_datasets")
        module.splits = dict(splits or {})
        module.prepared = prepared
        module.download_error = download_error
        module.info = types.SimpleNamespace(features={"audio": types.SimpleNamespace(sample_rate=sample_rate)})
        module.calls = []
        module.builder = lambda name, data_dir: _FakeBuilder(module, name, data_dir)
        module.as_numpy = lambda tree: tree
        monkeypatch.setitem(sys.modules, "tensorflow_datasets", module)
        return module

    return install


@pytest.fixture
def no_env(monkeypatch, tmp_path, fake_tfds):
    """No KGEN_DATA_DIR, an empty TFDS data folder, and an offline tensorflow_datasets (the returned stand-in):
    nothing is prepared and a download fails at once."""
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    return fake_tfds(download_error=ConnectionError("offline: the download host cannot be resolved"))


@pytest.fixture
def load_rejects(tmp_path):
    """``load_rejects(name, kwargs, message)``: ``kgen.data.load`` with ``kwargs`` (the name given there first) and
    a missing data folder raises a ValueError matching ``message``, so it checks before any work (reading the
    folder would raise DataNotFoundError)."""

    def check(name, kwargs, message):
        kwargs = {"name": name, "data_dir": tmp_path / "missing", **kwargs}
        with pytest.raises(ValueError, match=message):
            data.load(kwargs.pop("name"), **kwargs)

    return check


@pytest.fixture
def fits_sequence_model():
    """``fits_sequence_model(train, test)``: a tiny token model fits ``train`` and evaluates ``test`` (datasets of
    ``(tokens, tokens, weights)`` over 256 codes) with finite losses."""
    import keras

    def check(train, test):
        model = keras.Sequential(
            [keras.Input((None,), dtype="int32"), keras.layers.Embedding(256, 8), keras.layers.Dense(256)]
        )
        model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        history = model.fit(train, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        assert np.isfinite(model.evaluate(test, verbose=0))

    return check

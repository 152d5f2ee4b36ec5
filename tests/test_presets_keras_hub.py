"""kgen's preset folders are keras-hub's: keras-hub's own saver writes the same config.json and kgen loads what it
writes; keras-hub's loader builds a kgen model from kgen's folder; `keras_hub.upload_preset` accepts a kgen folder
(the hub clients are replaced by recorders: no network); and every shipped folder carries its model card, README.md,
as tools/preset_cards.py generates it from metadata.json."""

import shutil
from pathlib import Path

import numpy as np
import pytest

import kgen
from kgen import pretrained, zoo

import preset_cards  # tools/ (on the tests' path: pyproject.toml's pytest `pythonpath`)

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = zoo.list_models(pretrained=True)


def _same_function(a, b):
    x = a.example_inputs(2, seed=1)
    np.testing.assert_array_equal(np.asarray(a.reference_outputs(**x)), np.asarray(b.reference_outputs(**x)))


def _keras_hub_saver(folder):
    from keras_hub.src.utils.preset_utils import KerasPresetSaver

    return KerasPresetSaver(str(folder))


@pytest.fixture(scope="module")
def model():
    return zoo.get("bytenet.tiny")


def test_kgen_writes_the_config_json_keras_hubs_saver_writes(model, tmp_path):
    model.save_to_preset(tmp_path / "kgen")
    _keras_hub_saver(tmp_path / "hub").save_backbone(model)
    assert (tmp_path / "kgen" / "config.json").read_bytes() == (tmp_path / "hub" / "config.json").read_bytes()
    ours = pretrained.read_metadata(tmp_path / "kgen")
    theirs = pretrained.read_metadata(tmp_path / "hub")
    assert set(theirs) <= set(ours)  # keras-hub's fields, and kgen's besides
    for key in ("keras_version", "keras_hub_version", "parameter_count", "tasks"):
        assert ours[key] == theirs[key], key


def test_kgen_loads_a_folder_keras_hubs_saver_wrote(model, tmp_path):
    folder = tmp_path / "hub"
    _keras_hub_saver(folder).save_backbone(model)
    meta = pretrained.read_metadata(folder)
    assert "sha256" not in meta and "name" not in meta  # keras-hub records neither
    _same_function(model, zoo.get("bytenet.tiny", weights=folder))
    _same_function(model, zoo.get("bytenet", weights=str(folder)))
    _same_function(model, pretrained.load_preset(folder))
    _same_function(model, kgen.models.ByteNet.from_preset(str(folder)))
    _same_function(model, kgen.models.KgenModel.from_preset(str(folder)))
    # The architecture is still checked (by building it) and every array matched.
    with pytest.raises(ValueError, match=r"config.json: the weights are for a kgen>ByteNet model, which 'lstm_lm"):
        zoo.get("lstm_lm.tiny", weights=folder)
    with pytest.raises(ValueError, match="config.json holds a ByteNet, not a LSTMLanguageModel"):
        kgen.models.LSTMLanguageModel.from_preset(str(folder))
    import h5py

    with h5py.File(folder / "model.weights.h5", "r+") as f:
        f.create_dataset("stray/vars/0", data=np.ones((3, 3), "float32"))
    with pytest.raises(ValueError, match=r"model.weights.h5: does not match .* 1 of its \d+ distinct arrays"):
        zoo.get("bytenet.tiny", weights=folder)


def test_keras_hubs_loader_builds_a_kgen_model_from_a_kgen_folder(model, tmp_path):
    from keras_hub.src.utils.preset_utils import KerasPresetLoader, get_preset_loader

    for dtype in ("float32", "float16"):  # float16 storage is cast back by Keras' load_weights
        folder = tmp_path / dtype
        model.save_to_preset(folder, name="bytenet.tiny", weights_dtype=dtype)
        loader = get_preset_loader(str(folder))
        assert type(loader) is KerasPresetLoader
        assert loader.check_backbone_class() is kgen.models.ByteNet
        loaded = loader.load_backbone(kgen.models.ByteNet, load_weights=True)
        ours = kgen.models.ByteNet.from_preset(str(folder))
        _same_function(ours, loaded)
        assert all(str(w.dtype) == "float32" for w in loaded.weights)


def test_a_shipped_folder_loads_with_keras_hubs_loader():
    from keras_hub.src.utils.preset_utils import get_preset_loader

    name = SHIPPED[0]
    folder = zoo.pretrained_folder(name)
    loader = get_preset_loader(folder)
    loaded = loader.load_backbone(loader.check_backbone_class(), load_weights=True)
    _same_function(zoo.get(name, pretrained=True), loaded)


class _Recorder:
    """Stands in for the hub clients: records every call, and what the folder held when it was uploaded."""

    def __init__(self, remote_has_readme):
        self.calls = []
        self.remote_has_readme = remote_has_readme

    def create_repo(self, repo_id, exist_ok=False, **kwargs):
        self.calls.append(("create_repo", repo_id))

        class Url:
            pass

        url = Url()
        url.repo_id = repo_id
        return url

    def file_exists(self, repo_id, filename, **kwargs):
        self.calls.append(("file_exists", repo_id, filename))
        return self.remote_has_readme

    def upload_folder(self, repo_id, folder_path, **kwargs):
        folder = Path(folder_path)
        self.calls.append(("upload_folder", repo_id, str(folder),
                           {p.name: p.read_bytes() for p in sorted(folder.iterdir())}))

    def model_upload(self, handle, local_model_dir, *args, **kwargs):
        folder = Path(local_model_dir)
        self.calls.append(("model_upload", handle, str(folder),
                           {p.name: p.read_bytes() for p in sorted(folder.iterdir())}))


def _record_uploads(monkeypatch, remote_has_readme):
    import huggingface_hub
    import kagglehub

    recorder = _Recorder(remote_has_readme)
    for name in ("create_repo", "file_exists", "upload_folder"):
        monkeypatch.setattr(huggingface_hub, name, getattr(recorder, name))
    monkeypatch.setattr(kagglehub, "model_upload", recorder.model_upload)
    return recorder


def test_keras_hub_upload_preset_accepts_a_kgen_folder(model, tmp_path, monkeypatch):
    import keras_hub

    folder = tmp_path / "bytenet_tiny"
    model.save_to_preset(folder, name="bytenet.tiny")
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}

    # Kaggle: keras-hub validates the folder (config.json, model.weights.h5) and hands it to kagglehub as it is.
    recorder = _record_uploads(monkeypatch, remote_has_readme=False)
    keras_hub.upload_preset("kaggle://me/bytenet/keras/tiny", str(folder))
    assert recorder.calls == [("model_upload", "me/bytenet/keras/tiny", str(folder), files)]

    # Hugging Face, a new repository: keras-hub writes its own card from config.json's class_name and config
    # (kgen's earlier config.json failed here with KeyError 'class_name'), uploads, and removes the card again.
    recorder = _record_uploads(monkeypatch, remote_has_readme=False)
    keras_hub.upload_preset("hf://me/bytenet_tiny", str(folder))
    (_, _), (_, _, readme), (call, repo, path, uploaded) = recorder.calls
    assert (call, repo, path, readme) == ("upload_folder", "me/bytenet_tiny", str(folder), "README.md")
    card = uploaded.pop("README.md").decode()
    assert card.startswith("---\nlibrary_name: keras-hub\n") and "`ByteNet` model" in card
    assert uploaded == files
    assert {p.name: p.read_bytes() for p in sorted(folder.iterdir())} == files  # the folder is as it was


def test_keras_hub_upload_preset_takes_a_shipped_folder_with_its_card(tmp_path, monkeypatch):
    import keras_hub

    # keras-hub replaces and then deletes a folder's README.md when the repository has none yet, so a shipped folder
    # is uploaded from a copy (kgen's package is never written to).
    name = SHIPPED[0]
    folder = tmp_path / name
    shutil.copytree(zoo.pretrained_folder(name), folder)
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir())}
    assert sorted(files) == sorted(pretrained.PRESET_FILES)
    recorder = _record_uploads(monkeypatch, remote_has_readme=True)
    keras_hub.upload_preset(f"hf://me/{name}", str(folder))
    assert recorder.calls[-1] == ("upload_folder", f"me/{name}", str(folder), files)




@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_folder_has_its_model_card(name):
    from huggingface_hub import ModelCard
    from huggingface_hub.repocard import metadata_load
    from huggingface_hub.repocard_data import model_index_to_eval_results

    folder = Path(zoo.pretrained_folder(name))
    meta = pretrained.read_metadata(folder)
    readme = folder / pretrained.README_FILE
    assert readme.read_text(encoding="utf-8") == preset_cards.render_card(folder), (
        f"{readme} is stale: run python tools/preset_cards.py")
    header = metadata_load(readme)
    assert header["library_name"] == "keras-hub" and header["license"] == "apache-2.0"
    assert "kgen" in header["tags"]
    ModelCard.load(readme)  # huggingface_hub's own parse of the whole header
    model_name, results = model_index_to_eval_results(header["model-index"])
    assert model_name == name
    assert [(r.metric_type, r.metric_value, r.dataset_split) for r in results] == [
        (meta["metric"]["name"], meta["metric"]["value"], meta["metric"]["split"])]
    body = readme.read_text(encoding="utf-8")
    assert meta["command"] in body and meta["sha256"] in body
    family_card = (folder / body.split(f"[{meta['metric']['card']}](")[1].split(")")[0]).resolve()
    assert family_card == (ROOT / meta["metric"]["card"]).resolve() and family_card.is_file()

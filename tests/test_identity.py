"""Identity checks that cannot be fooled (issue 27, class 6): a preset folder holds the model its zoo name says, or
it does not load; a hub that cannot be reached says so.

The zoo name a preset folder records (metadata.json's `name`, or `name` in the config.json of kgen's older folders)
is the model's identity: `zoo_name`, what `kgen compress` records, what `save_to_preset` writes again. Editing it to
another architecture used to load the folder's class under the new name; now the model is built by the recorded
name's architecture, which refuses a config of another class. Each case: the error, its one line naming the file,
and nothing written.
"""

import json
import shutil

import pytest

import kgen
from kgen import cli, zoo

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)


@pytest.fixture(scope="module")
def bytenet_preset(tmp_path_factory):
    root = tmp_path_factory.mktemp("identity")
    zoo.get("bytenet.tiny").save_to_preset(root / "bytenet", name="bytenet.tiny")
    return root / "bytenet"


def _variant(base, tmp_path, edit):
    folder = tmp_path / "preset"
    shutil.copytree(base, folder)
    edit(folder)
    return folder


def _rename_in_metadata(folder, name="pixelcnn.tiny"):
    meta = json.loads((folder / "metadata.json").read_text())
    meta["name"] = name
    (folder / "metadata.json").write_text(json.dumps(meta))


def _legacy_config(folder, name="pixelcnn.tiny"):
    """kgen's older config.json, {"name": ZOO_NAME, "model": SERIALIZED_MODEL}, with the name edited."""
    spec = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({"name": name, "model": spec}))
    meta = json.loads((folder / "metadata.json").read_text())
    meta.pop("name")
    (folder / "metadata.json").write_text(json.dumps(meta))


WRONG_CLASS = "the weights are for a kgen>ByteNet model, which 'pixelcnn.tiny' (architecture 'pixelcnn') cannot build"

# (how the folder is edited, how it is loaded, what the error says).
CASES = [
    (_rename_in_metadata, lambda f: kgen.models.KgenModel.from_preset(str(f)), WRONG_CLASS),
    (_rename_in_metadata, lambda f: zoo.get("pixelcnn.tiny", weights=str(f)), WRONG_CLASS),
    (_legacy_config, lambda f: kgen.models.KgenModel.from_preset(str(f)), WRONG_CLASS),
    (lambda f: None, lambda f: zoo.get("pixelcnn.tiny", weights=str(f)),
     "the weights are for 'bytenet.tiny' (architecture 'bytenet'), not for 'pixelcnn.tiny'"),
    (lambda f: None, lambda f: kgen.models.PixelCNN.from_preset(str(f)), "config.json holds a ByteNet, not a PixelCNN"),
]


@pytest.mark.parametrize("edit,load,expected", CASES, ids=[f"{i:02d}" for i in range(len(CASES))])
def test_a_preset_loads_only_as_what_it_is(bytenet_preset, tmp_path, edit, load, expected):
    folder = _variant(bytenet_preset, tmp_path, edit)
    with pytest.raises(ValueError) as error:
        load(folder)
    assert expected in str(error.value) and str(folder) in str(error.value), str(error.value)


def test_the_command_line_says_it_in_one_line(bytenet_preset, tmp_path, capsys):
    folder = _variant(bytenet_preset, tmp_path, _rename_in_metadata)
    assert cli.main(["sample", str(folder), "--out", str(tmp_path / "g.png")]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("kgen sample: error: ") and WRONG_CLASS in lines[0], lines
    assert not (tmp_path / "g.png").exists()


def test_an_untouched_preset_keeps_its_identity(bytenet_preset):
    model = kgen.models.KgenModel.from_preset(str(bytenet_preset))
    assert type(model).__name__ == "ByteNet" and model.zoo_name == "bytenet.tiny"


def test_an_offline_hub_says_it_is_offline(monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ConnectionError, match=r"hf://nobody/nothing: the Hugging Face Hub cannot be reached "
                                              r"\(HF_HUB_OFFLINE is set\) and `config.json` is not in the local"):
        zoo.get("bytenet.tiny", weights="hf://nobody/nothing")


def test_an_unreachable_kaggle_says_so(monkeypatch):
    import kagglehub
    import requests

    def unreachable(handle, path=None, **kwargs):
        raise requests.exceptions.ConnectionError("Failed to resolve 'api.kaggle.com'")

    monkeypatch.setattr(kagglehub, "model_download", unreachable)
    with pytest.raises(ConnectionError, match=r"kaggle://org/model/keras/v1: Kaggle cannot be reached \(no network\)"):
        zoo.get("bytenet.tiny", weights="kaggle://org/model/keras/v1")

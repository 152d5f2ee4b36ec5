"""Trained weights in the zoo: every shipped preset folder loads on this backend, its weights file matches the sha256
in its metadata and it reproduces the metric recorded there on a small real slice of its test split; preset folders
round-trip through `kgen.pretrained`, and wrong, corrupt or truncated ones are refused with an error naming the
file."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import kgen
from kgen import pretrained, training, zoo

SHIPPED = zoo.list_models(pretrained=True)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_reproduces_its_recorded_metric(name, shared_data_dir, monkeypatch):
    monkeypatch.setenv("KGEN_DATA_DIR", str(shared_data_dir))
    folder = zoo.pretrained_folder(name)
    meta = pretrained.read_metadata(folder)
    assert pretrained.sha256(f"{folder}/{pretrained.WEIGHTS_FILE}") == meta["sha256"]
    for key in ("recipe_name", "commit", "command", "parameters", "metric", "check", "license"):
        assert key in meta, key
    model = zoo.get(name, pretrained=True)  # verifies the sha256 again
    assert model.count_params() == meta["parameters"]
    check = meta["check"]
    summary = training.evaluate(model, meta["recipe"], split=check["split"], verbose=0)
    # The recorded value came from TensorFlow; the other backends differ by float32 round-off only (rtol 1e-3).
    assert summary[check["metric"]] == pytest.approx(check["value"], rel=check["rtol"])


def test_list_models_pretrained_names_only_shipped_presets():
    assert set(SHIPPED) <= set(zoo.list_models())
    assert all("." in n for n in SHIPPED)
    assert zoo.list_models("no_such*", pretrained=True) == []
    with pytest.raises(ValueError, match="`pretrained` must be True or False"):
        zoo.list_models(pretrained="yes")


def test_pretrained_for_a_name_without_weights_lists_those_with():
    with pytest.raises(ValueError, match="'pixelcnn.tiny' has no shipped trained weights"):
        zoo.get("pixelcnn.tiny", pretrained=True)
    with pytest.raises(ValueError, match="either `pretrained=True`"):
        zoo.get("pixelcnn.tiny", pretrained=True, weights="somewhere")


@pytest.fixture
def saved(tmp_path):
    model = zoo.get("bytenet.tiny")
    meta = pretrained.save_preset(model, tmp_path / "preset", "bytenet.tiny", metadata={"note": "test"})
    return model, tmp_path / "preset", meta


def _same_function(a, b, atol=0.0):
    x = a.example_inputs(2, seed=1)
    np.testing.assert_allclose(np.asarray(a.reference_outputs(**x)), np.asarray(b.reference_outputs(**x)),
                               atol=atol, rtol=0)


def test_save_and_load_a_preset_folder(saved):
    model, folder, meta = saved
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "metadata.json", "model.weights.h5"]
    assert meta["note"] == "test" and meta["parameters"] == model.count_params()
    assert meta["sha256"] == pretrained.sha256(folder / "model.weights.h5")
    assert json.loads((folder / "config.json").read_text())["name"] == "bytenet.tiny"
    again = zoo.get("bytenet.tiny", weights=str(folder))
    _same_function(model, again)
    _same_function(model, pretrained.load_preset(folder))
    _same_function(model, zoo.get("bytenet", weights=folder))  # the architecture's name takes it too
    assert not list(folder.parent.glob(".preset.tmp-*"))


def test_a_trained_models_optimizer_state_stays_out_of_the_preset(tmp_path):
    import h5py

    model = zoo.get("bytenet.tiny")
    model.compile(optimizer="adam")
    x = model.example_inputs(2, seed=0)["x"]
    model.fit(x, epochs=1, verbose=0)
    pretrained.save_preset(model, tmp_path / "p", "bytenet.tiny")
    with h5py.File(tmp_path / "p" / "model.weights.h5") as f:
        assert "optimizer" not in f
    _same_function(model, zoo.get("bytenet.tiny", weights=tmp_path / "p"))


def test_float16_storage_rounds_the_weights_and_loads_as_float32(tmp_path):
    model = zoo.get("bytenet.tiny")
    pretrained.save_preset(model, tmp_path / "half", "bytenet.tiny", weights_dtype="float16")
    again = zoo.get("bytenet.tiny", weights=tmp_path / "half")
    for w, v in zip(model.weights, again.weights):
        assert str(v.dtype) == "float32"
        np.testing.assert_array_equal(np.asarray(w).astype("float16").astype("float32"), np.asarray(v))
    with pytest.raises(ValueError, match="`weights_dtype` must be one of"):
        pretrained.save_preset(model, tmp_path / "x", "bytenet.tiny", weights_dtype="int8")
    assert not (tmp_path / "x").exists()


def test_overrides_replace_the_saved_configuration(saved):
    model, folder, _ = saved
    with_dropout = zoo.get("bytenet.tiny", weights=folder, dropout=0.5)  # adds layers without weights
    assert with_dropout.get_config()["dropout"] == 0.5
    for w, v in zip(model.weights, with_dropout.weights):
        np.testing.assert_array_equal(np.asarray(w), np.asarray(v))
    with pytest.raises(ValueError, match=r"model.weights.h5: the overrides \['hidden_dim'\] change the weights"):
        zoo.get("bytenet.tiny", weights=folder, hidden_dim=model.get_config()["hidden_dim"] * 2)


def test_a_preset_of_another_architecture_is_refused(saved):
    _, folder, _ = saved
    with pytest.raises(ValueError, match=r"config.json: the weights are for 'bytenet.tiny' .* not for 'pixelcnn"):
        zoo.get("pixelcnn.tiny", weights=folder)


def test_weights_of_another_layer_structure_are_refused_not_half_loaded(saved):
    # The file lacks two of the layers: an error, never a model half of whose layers keep their initial values.
    _, folder, _ = saved
    config = json.loads((folder / "config.json").read_text())
    config["model"]["config"]["num_layers"] += 2  # two more blocks than the file holds
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="model.weights.h5: cannot load these weights into .bytenet.tiny"):
        zoo.get("bytenet.tiny", weights=folder)


def test_arrays_of_the_file_that_the_model_does_not_take_are_refused(saved):
    import h5py

    _, folder, _ = saved
    with h5py.File(folder / "model.weights.h5", "r+") as f:
        f.create_dataset("stray/vars/0", data=np.ones((3, 3), "float32"))
    with pytest.raises(ValueError, match=r"does not match .* 1 of its \d+ distinct arrays were not used"):
        pretrained.load_preset(folder, verify=False)


def test_a_corrupt_weights_file_is_refused_by_its_sha256(saved):
    _, folder, _ = saved
    data = bytearray((folder / "model.weights.h5").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "model.weights.h5").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model.weights.h5: sha256 .* does not match"):
        zoo.get("bytenet.tiny", weights=folder)


def test_a_truncated_weights_file_is_an_error_naming_it(saved):
    _, folder, _ = saved
    data = (folder / "model.weights.h5").read_bytes()
    (folder / "model.weights.h5").write_bytes(data[: len(data) // 3])
    with pytest.raises(ValueError, match="model.weights.h5: cannot load these weights"):
        pretrained.load_preset(folder, verify=False)


def test_missing_or_broken_files_name_the_file(saved, tmp_path):
    _, folder, _ = saved
    with pytest.raises(FileNotFoundError, match="does not exist"):
        zoo.get("bytenet.tiny", weights=tmp_path / "nowhere")
    broken = tmp_path / "broken"
    shutil.copytree(folder, broken)
    (broken / "metadata.json").unlink()
    with pytest.raises(FileNotFoundError, match="metadata.json: missing"):
        zoo.get("bytenet.tiny", weights=broken)
    shutil.copy(folder / "metadata.json", broken / "metadata.json")
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json: not a valid JSON file"):
        zoo.get("bytenet.tiny", weights=broken)
    (broken / "config.json").write_text(json.dumps({"name": "bytenet.tiny", "model": {"class_name": "NoSuch"}}))
    with pytest.raises(ValueError, match="config.json: cannot build the model"):
        zoo.get("bytenet.tiny", weights=broken)


def test_uris_take_the_hub_libraries_and_other_schemes_are_refused():
    with pytest.raises(ValueError, match="unknown scheme"):
        zoo.get("bytenet.tiny", weights="s4://bucket/preset")
    with pytest.raises(ValueError, match="kaggle://org/model/keras/variant"):
        zoo.get("bytenet.tiny", weights="kaggle://just/two")
    with pytest.raises(ValueError, match="`weights` must be a preset folder path"):
        zoo.get("bytenet.tiny", weights=3)


def test_kgen_exposes_the_preset_module():
    assert kgen.pretrained.WEIGHTS_FILE == "model.weights.h5"


def test_make_pretrained_turns_a_run_into_a_preset_folder(tmp_path):
    import os
    import subprocess
    import sys

    import keras

    from kgen import cli

    recipe = tmp_path / "tiny.toml"
    recipe.write_text('model = "pixelcnn.mnist"\n[model_args]\nhidden_dim = 8\noutput_dim = 8\n'
                      'num_residual_blocks = 1\n[data]\nname = "binarized_mnist"\nsource = "embedded"\n')
    run = tmp_path / "run"
    assert cli.main(["train", str(recipe), "--out", str(run), "--epochs", "1", "--steps-per-epoch", "2",
                     "--batch-size", "16", "--eval-split", "test[:64]", "--monitor-split", "test[:32]",
                     "--samples", "0", "--verbose", "0"]) == 0
    tool = [sys.executable, str(Path(__file__).resolve().parents[1] / "tools" / "make_pretrained.py"), str(run),
            "--recipe", "tiny", "--commit", "0000000", "--metric", "nats", "--card", "zoo/pixelcnn.md",
            "--check-split", "test[:32]", "--out", str(tmp_path / "preset")]
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), TF_CPP_MIN_LOG_LEVEL="3")
    wrong = subprocess.run(tool + ["--name", "bytenet.shakespeare"], env=env, capture_output=True, text=True)
    assert wrong.returncode != 0 and "--name: the run trained 'pixelcnn.mnist'" in wrong.stderr
    assert not (tmp_path / "preset").exists()
    done = subprocess.run(tool + ["--name", "pixelcnn.mnist"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    meta = pretrained.read_metadata(tmp_path / "preset")
    evaluated = json.loads((run / "eval.json").read_text())
    assert meta["metric"] == {"name": "nats", "value": evaluated["nats"], "split": "test[:64]",
                              "card": "zoo/pixelcnn.md", "stored_weights_value": pytest.approx(evaluated["nats"])}
    assert meta["check"]["split"] == "test[:32]" and meta["recipe"]["model"] == "pixelcnn.mnist"
    model = zoo.get("pixelcnn.mnist", weights=tmp_path / "preset")
    assert model.count_params() == meta["parameters"]
    summary = training.evaluate(model, meta["recipe"], split="test[:32]", verbose=0)
    assert summary["nats"] == pytest.approx(meta["check"]["value"], rel=1e-5)

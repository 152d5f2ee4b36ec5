"""Trained weights in the zoo: every shipped preset folder is in keras-hub's format, loads on this backend, its weights
file matches the sha256 in its metadata and it reproduces the metric recorded there on a small real slice of its test
split; preset folders round-trip through `kgen.pretrained` and `save_to_preset` / `from_preset`, the folders of
earlier kgen versions still load, and wrong, corrupt or truncated ones are refused with an error naming the file.
(keras-hub's own saver, loader and uploader: tests/test_presets_keras_hub.py.)"""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import kgen
from kgen import pretrained, training, zoo

import preset_cards  # tools/ (on the tests' path: pyproject.toml's pytest `pythonpath`)

SHIPPED = zoo.list_models(pretrained=True)




@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_reproduces_its_recorded_metric(name, shared_data_dir, monkeypatch):
    monkeypatch.setenv("KGEN_DATA_DIR", str(shared_data_dir))
    folder = zoo.pretrained_folder(name)
    meta = pretrained.read_metadata(folder)
    assert pretrained.sha256(f"{folder}/{pretrained.WEIGHTS_FILE}") == meta["sha256"]
    for key in ("recipe_name", "commit", "command", "parameters", "metric", "check", "license",  # kgen's
                "keras_version", "keras_hub_version", "parameter_count", "date_saved", "tasks"):  # keras-hub's
        assert key in meta, key
    assert meta["name"] == name and meta["library"] == "kgen"
    model = zoo.get(name, pretrained=True)  # verifies the sha256 again
    assert model.count_params() == meta["parameters"] == meta["parameter_count"]
    assert model.zoo_name == name
    # config.json is what keras-hub's saver writes for this model, byte for byte.
    config_text = Path(folder, pretrained.CONFIG_FILE).read_text(encoding="utf-8")
    assert config_text == pretrained.config_text(pretrained.serialize_model(model))
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
    assert meta["note"] == "test" and meta["parameters"] == meta["parameter_count"] == model.count_params()
    assert meta["sha256"] == pretrained.sha256(folder / "model.weights.h5")
    assert meta["name"] == "bytenet.tiny" and json.loads((folder / "metadata.json").read_text()) == meta
    config = json.loads((folder / "config.json").read_text())
    assert sorted(config) == ["class_name", "config", "module", "registered_name"]
    assert config["registered_name"] == "kgen>ByteNet" and config["config"] == model.get_config()
    again = zoo.get("bytenet.tiny", weights=str(folder))
    _same_function(model, again)
    _same_function(model, pretrained.load_preset(folder))
    _same_function(model, zoo.get("bytenet", weights=folder))  # the architecture's name takes it too
    assert not list(folder.parent.glob(".preset.tmp-*"))


def test_from_preset_and_save_to_preset_on_every_model_class(saved, tmp_path):
    model, folder, _ = saved
    for cls in (kgen.models.ByteNet, kgen.models.AutoregressiveSequenceModel, kgen.models.KgenModel):
        loaded = cls.from_preset(str(folder))
        assert type(loaded) is kgen.models.ByteNet and loaded.zoo_name == "bytenet.tiny"
        _same_function(model, loaded)
    # The zoo name travels: a model loaded from a preset saves it again.
    meta = loaded.save_to_preset(tmp_path / "again")
    assert meta["name"] == "bytenet.tiny" and pretrained.read_metadata(tmp_path / "again")["name"] == "bytenet.tiny"
    _same_function(model, zoo.get("bytenet.tiny", weights=tmp_path / "again"))
    # A model built otherwise has no zoo name unless given one; the folder still loads by architecture.
    meta = zoo.get("bytenet.tiny").save_to_preset(tmp_path / "nameless")
    assert "name" not in meta and zoo.get("bytenet.tiny", weights=tmp_path / "nameless").zoo_name == "bytenet.tiny"
    assert model.save_to_preset(tmp_path / "named", name="bytenet.tiny")["name"] == "bytenet.tiny"
    # Overrides and load_weights=False, as keras-hub's from_preset takes them.
    assert kgen.models.ByteNet.from_preset(str(folder), dropout=0.25).get_config()["dropout"] == 0.25
    fresh = kgen.models.ByteNet.from_preset(str(folder), load_weights=False)
    assert fresh.get_config() == model.get_config()


def test_from_preset_takes_a_shipped_name_and_refuses_another_class(saved):
    _, folder, _ = saved
    name = SHIPPED[0]
    cls = type(zoo.get(name, pretrained=True))
    assert cls.from_preset(name, load_weights=False).zoo_name == name
    with pytest.raises(ValueError, match=r"config.json holds a ByteNet, not a PixelCNN; load it with ByteNet"):
        kgen.models.PixelCNN.from_preset(str(folder))
    with pytest.raises(ValueError, match="'pixelcnn.tiny' has no shipped trained weights"):
        kgen.models.PixelCNN.from_preset("pixelcnn.tiny")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        kgen.models.KgenModel.from_preset(str(folder.parent / "nowhere"))


def test_save_to_preset_never_replaces_a_folder_kgen_did_not_write(saved, tmp_path):
    model, folder, _ = saved
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match=r"'.*mine' exists and is not a preset folder kgen wrote \(it holds notes.txt"):
        model.save_to_preset(mine)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    (mine / "notes.txt").unlink()
    (mine / "metadata.json").write_text(json.dumps({"keras_version": "3.9"}))  # another library's folder
    with pytest.raises(ValueError, match="its metadata.json is not kgen's"):
        model.save_to_preset(mine)
    with pytest.raises(ValueError, match="exists and is not a folder"):
        model.save_to_preset(tmp_path / "mine" / "metadata.json")
    (mine / "metadata.json").unlink()
    model.save_to_preset(mine)  # an empty folder is fine, and so is replacing kgen's own
    model.save_to_preset(mine, metadata={"note": "again"})
    assert pretrained.read_metadata(mine)["note"] == "again"


def _write_legacy_folder(model, folder, name):
    """A preset folder as kgen wrote it before following keras-hub's format (config.json {"name", "model"})."""
    import keras

    folder.mkdir()
    spec = keras.saving.serialize_keras_object(model)
    spec.pop("compile_config", None)
    (folder / "config.json").write_text(json.dumps({"name": name, "model": spec}, indent=2) + "\n")
    model.save_weights(str(folder / "model.weights.h5"))
    meta = {"name": name, "library": "kgen", "kgen_version": "0.1.0", "keras_version": keras.__version__,
            "parameters": model.count_params(), "weights_dtype": "float32", "weights_file": "model.weights.h5",
            "sha256": pretrained.sha256(folder / "model.weights.h5")}
    (folder / "metadata.json").write_text(json.dumps(meta, indent=2) + "\n")


def test_folders_of_earlier_kgen_versions_still_load(tmp_path):
    model = zoo.get("bytenet.tiny")
    old = tmp_path / "old"
    _write_legacy_folder(model, old, "bytenet.tiny")
    assert "build_config" in json.loads((old / "config.json").read_text())["model"]
    _same_function(model, zoo.get("bytenet.tiny", weights=old))
    _same_function(model, pretrained.load_preset(old))
    _same_function(model, kgen.models.ByteNet.from_preset(str(old)))
    assert pretrained.load_preset(old).zoo_name == "bytenet.tiny"
    with pytest.raises(ValueError, match=r"config.json: the weights are for 'bytenet.tiny' .* not for 'lstm_lm"):
        zoo.get("lstm_lm.tiny", weights=old)  # the zoo name of an old folder is in its config.json
    data = bytearray((old / "model.weights.h5").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (old / "model.weights.h5").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model.weights.h5: sha256 .* does not match"):
        zoo.get("bytenet.tiny", weights=old)


def test_the_tool_converts_an_old_folder_in_place_keeping_its_weights(tmp_path):
    tool = preset_cards
    model = zoo.get("bytenet.tiny")
    old = tmp_path / "bytenet.tiny"
    _write_legacy_folder(model, old, "bytenet.tiny")
    weights = (old / "model.weights.h5").read_bytes()
    config_text, meta = tool.converted_files(old)
    assert config_text == pretrained.config_text(pretrained.serialize_model(model))
    assert list(meta)[:5] == ["keras_version", "keras_hub_version", "parameter_count", "date_saved", "tasks"]
    assert meta["name"] == "bytenet.tiny" and meta["parameter_count"] == model.count_params()
    assert meta["sha256"] == pretrained.sha256(old / "model.weights.h5")
    (old / "config.json").write_text(config_text)
    (old / "metadata.json").write_text(json.dumps(meta, indent=4) + "\n")
    assert (old / "model.weights.h5").read_bytes() == weights
    _same_function(model, zoo.get("bytenet.tiny", weights=old))
    assert tool.converted_files(old) == (config_text, meta)  # converting again changes nothing


def test_a_cards_minutes_say_cpu_minutes_once_any_run_behind_the_weights_held_several_cores():
    tool = preset_cards
    metric = {"name": "bits_per_token", "value": 2.0, "split": "test"}

    def run(name, minutes, total, cores=1, start=None):
        return {"preset": "p", "sha256": "ab" * 32, "metric": metric, "recipe_name": name, "commit": "0" * 7,
                "run_minutes": minutes, "training_minutes": total, **({"run_cores": cores} if cores != 1 else {}),
                **({"started_from": start} if start else {})}

    first = run("first", 300, 300)
    second = run("second", 100, 500, cores=2, start=first)
    third = run("third", 50, 550, start=second)  # one core itself, but the run before it held two
    assert "with 300 minutes of training behind them" in tool._started_from_line(second)
    assert "with this run's 100 on 2 cores (200 CPU minutes), 500 CPU minutes in all." in tool._started_from_line(second)
    line = tool._started_from_line(third)
    assert "with 500 CPU minutes of training behind them" in line and "with this run's 50, 550 CPU minutes in all." in line
    assert "CPU" not in tool._started_from_line(run("again", 60, 360, start=first))


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


def test_a_preset_of_another_architecture_is_refused(saved, tmp_path):
    _, folder, _ = saved
    with pytest.raises(ValueError, match=r"metadata.json: the weights are for 'bytenet.tiny' .* not for 'pixelcnn"):
        zoo.get("pixelcnn.tiny", weights=folder)
    # Without a zoo name in metadata.json, the class in config.json must be the one the architecture builds.
    meta = json.loads((folder / "metadata.json").read_text())
    del meta["name"]
    (folder / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"config.json: the weights are for a kgen>ByteNet model, which 'pixelcnn.tiny'"
                                         r" \(architecture 'pixelcnn'\) cannot build"):
        zoo.get("pixelcnn.tiny", weights=folder)
    # Same constructor arguments, another class: a PixelRNN of Row LSTMs asked for as the Diagonal BiLSTM one.
    rows = zoo.get("pixelrnn_row.tiny")
    rows.save_to_preset(tmp_path / "rows")
    assert "name" not in pretrained.read_metadata(tmp_path / "rows")
    with pytest.raises(ValueError, match=r"config.json: the weights are for a kgen>PixelRNN model, which "
                                         r"'pixelrnn_diagonal.tiny' .* cannot build .*layer_type"):
        zoo.get("pixelrnn_diagonal.tiny", weights=tmp_path / "rows")


def test_weights_of_another_layer_structure_are_refused_not_half_loaded(saved):
    # The file lacks two of the layers: an error, never a model half of whose layers keep their initial values.
    _, folder, _ = saved
    config = json.loads((folder / "config.json").read_text())
    config["config"]["num_layers"] += 2  # two more blocks than the file holds
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
    with pytest.raises(ValueError, match="model.weights.h5: not a readable weights file .OSError"):
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
    (broken / "config.json").write_text(json.dumps({"class_name": "NoSuch", "config": {}}))
    with pytest.raises(ValueError, match="config.json: cannot build the model it describes .*'NoSuch'"):
        zoo.get("bytenet.tiny", weights=broken)
    with pytest.raises(ValueError, match="config.json: cannot build the model"):
        pretrained.load_preset(broken)
    (broken / "config.json").write_text(json.dumps({"name": "bytenet.tiny", "model": {"class_name": "NoSuch"}}))
    with pytest.raises(ValueError, match="config.json: no 'config' entry; config.json of a preset folder is a"):
        zoo.get("bytenet.tiny", weights=broken)
    (broken / "config.json").write_text(json.dumps({"registered_name": "kgen>ByteNet"}))
    with pytest.raises(ValueError, match="config.json: no 'class_name' entry"):
        pretrained.load_preset(broken)
    shutil.copy(folder / "config.json", broken / "config.json")
    meta = json.loads((folder / "metadata.json").read_text())
    del meta["sha256"]  # a folder kgen wrote must have one
    (broken / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="metadata.json: no 'sha256' of model.weights.h5"):
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


# A run folder to a preset folder is file work, run once; presets load under every backend in the tests above.
@pytest.mark.one_backend("jax")
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
    assert sorted(p.name for p in (tmp_path / "preset").iterdir()) == sorted(pretrained.PRESET_FILES)
    assert "class_name" in json.loads((tmp_path / "preset" / "config.json").read_text())
    assert meta["name"] == "pixelcnn.mnist" and meta["parameter_count"] == meta["parameters"]
    # The recipe changed the registered configuration: the description says how, as config.json does.
    assert meta["description"].endswith("; trained with hidden_dim = 8, output_dim = 8, num_residual_blocks = 1 "
                                        "(the recipe's model_args, kept in config.json)")
    card = (tmp_path / "preset" / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: keras-hub\n") and "## Reproduce" in card
    evaluated = json.loads((run / "eval.json").read_text())
    assert meta["metric"] == {"name": "nats", "value": evaluated["nats"], "split": "test[:64]",
                              "card": "zoo/pixelcnn.md", "stored_weights_value": pytest.approx(evaluated["nats"])}
    assert meta["check"]["split"] == "test[:32]" and meta["recipe"]["model"] == "pixelcnn.mnist"
    elapsed = float(list(csv.DictReader((run / "metrics.csv").open()))[-1]["elapsed_min"])
    assert meta["training_minutes"] == round(elapsed, 1)  # the run's own clock, for the CPU hours of the tables
    model = zoo.get("pixelcnn.mnist", weights=tmp_path / "preset")
    assert model.count_params() == meta["parameters"]
    summary = training.evaluate(model, meta["recipe"], split="test[:32]", verbose=0)
    assert summary["nats"] == pytest.approx(meta["check"]["value"], rel=1e-5)

    def run_from(preset, name, commit):
        """Train the tiny recipe from `preset`'s weights into tmp_path/name; returns the run folder and the
        make_pretrained command for it (without --out)."""
        run_recipe = tmp_path / f"{name}.toml"
        run_recipe.write_text(recipe.read_text() + f'[train]\ninit_weights = "{preset.as_posix()}"\n')
        assert cli.main(["train", str(run_recipe), "--out", str(tmp_path / name), "--epochs", "1",
                         "--steps-per-epoch", "2", "--batch-size", "16", "--eval-split", "test[:64]",
                         "--monitor-split", "", "--samples", "0", "--verbose", "0"]) == 0
        return tmp_path / name, [sys.executable, tool[1], str(tmp_path / name), "--name", "pixelcnn.mnist",
                                 "--recipe", name, "--commit", commit, "--metric", "nats", "--card",
                                 "zoo/pixelcnn.md", "--check-split", "test[:32]"]

    # A second run that starts from the preset (`[train] init_weights`) records where it started and the minutes
    # behind its weights: the preset's and its own.
    second, tool2 = run_from(tmp_path / "preset", "second", "1111111")
    done = subprocess.run(tool2 + ["--out", str(tmp_path / "preset2")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    meta2 = pretrained.read_metadata(tmp_path / "preset2")
    first = meta2["started_from"]
    assert first["sha256"] == meta["sha256"] and first["recipe_name"] == "tiny" and first["commit"] == "0000000"
    assert first["metric"] == meta["metric"] and first["training_minutes"] == meta["training_minutes"]
    own = float(list(csv.DictReader((second / "metrics.csv").open()))[-1]["elapsed_min"])
    assert meta2["run_minutes"] == round(own, 1)
    assert meta2["training_minutes"] == round(own + meta["training_minutes"], 1)
    card2 = (tmp_path / "preset2" / "README.md").read_text()
    assert "started from the weights of" in card2 and meta["command"] in card2
    # A third run, from the second's preset, on two cores: the chain is kept (each start names its own start), the
    # CPU minutes of all three are summed (this run's wall clock counted twice) and the card lists the three commands
    # in the order they ran.
    third, tool3 = run_from(tmp_path / "preset2", "third", "2222222")
    bad = subprocess.run(tool3 + ["--out", str(tmp_path / "preset4"), "--cores", "0"], env=env, capture_output=True,
                         text=True)
    assert bad.returncode != 0 and "--cores: expected the number of CPU cores the run held" in bad.stderr
    assert not (tmp_path / "preset4").exists()
    done = subprocess.run(tool3 + ["--out", str(tmp_path / "preset4"), "--cores", "2"], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    meta3 = pretrained.read_metadata(tmp_path / "preset4")
    assert meta3["started_from"]["recipe_name"] == "second" and meta3["started_from"]["started_from"] == first
    own3 = float(list(csv.DictReader((third / "metrics.csv").open()))[-1]["elapsed_min"])
    assert meta3["run_minutes"] == round(own3, 1) and meta3["run_cores"] == 2 and "run_cores" not in meta2
    assert meta3["training_minutes"] == round(2 * own3 + meta2["training_minutes"], 1)
    card3 = (tmp_path / "preset4" / "README.md").read_text()
    assert f"{meta3['run_minutes']:g} on 2 cores" in card3 and f"{meta3['training_minutes']:g} CPU minutes in all" in card3
    positions = [card3.index(m["command"]) for m in (meta, meta2, meta3)]
    assert positions == sorted(positions), "the card's commands are not in the order the runs ran"
    # Once the folder it started from holds other weights, its metadata no longer describes the start: refused.
    (tmp_path / "preset" / "metadata.json").write_text(json.dumps({**meta, "sha256": "0" * 64}))
    refused = subprocess.run(tool2 + ["--out", str(tmp_path / "preset3")], env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "the run started from weights of sha256" in refused.stderr
    assert not (tmp_path / "preset3").exists()


@pytest.mark.one_backend("jax")
def test_make_pretrained_records_the_shipped_presets_a_mixture_was_built_from(tmp_path):
    # A token mixture built with two shipped presets' weights: the run's parts.json names them, and the preset made
    # from the run records each (built_from: its sha256, recipe, commit, metric, training minutes), sums their
    # minutes into its own and lists their commands before its own on its card.
    import os
    import subprocess
    import sys

    import keras

    from kgen import cli

    recipe = tmp_path / "mix.toml"
    recipe.write_text('model = "token_mixture.tiny"\n[model_args]\n'
                      'members = ["bytenet.shakespeare", "sparse_transformer.shakespeare"]\npretrained_members = true\n'
                      'train_members = false\n[data]\nname = "tinyshakespeare"\nsource = "embedded"\n'
                      'options = { sequence_length = 32 }\neval_options = { sequence_length = 32 }\n')
    run = tmp_path / "run"
    assert cli.main(["train", str(recipe), "--out", str(run), "--epochs", "1", "--steps-per-epoch", "2",
                     "--batch-size", "4", "--eval-split", "test[:256]", "--monitor-split", "", "--samples", "0",
                     "--verbose", "0"]) == 0
    shipped = {name: pretrained.read_metadata(zoo.pretrained_folder(name))
               for name in ("bytenet.shakespeare", "sparse_transformer.shakespeare")}
    parts = json.loads((run / training.PARTS_FILE).read_text())["parts"]
    assert [(p["preset"], p["sha256"]) for p in parts] == [(n, m["sha256"]) for n, m in shipped.items()]
    tool = [sys.executable, str(Path(__file__).resolve().parents[1] / "tools" / "make_pretrained.py"), str(run),
            "--name", "token_mixture.tiny", "--recipe", "mix", "--commit", "3333333", "--metric", "bits_per_token",
            "--card", "zoo/token_mixture.md", "--check-split", "test[:128]", "--out", str(tmp_path / "preset")]
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(tool, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    meta = pretrained.read_metadata(tmp_path / "preset")
    built = meta["built_from"]
    assert [b["preset"] for b in built] == list(shipped)
    for b, (name, source) in zip(built, shipped.items()):
        assert b["sha256"] == source["sha256"] and b["recipe_name"] == source["recipe_name"]
        assert b["commit"] == source["commit"] and b["metric"] == source["metric"]
        minutes = source.get("training_minutes", source["recipe"]["train"]["time_budget_minutes"])
        assert b["training_minutes"] == minutes
        assert ("training_minutes_from" in b) == ("training_minutes" not in source)
    own = float(list(csv.DictReader((run / "metrics.csv").open()))[-1]["elapsed_min"])
    assert meta["run_minutes"] == round(own, 1)
    assert meta["training_minutes"] == round(own + sum(b["training_minutes"] for b in built), 1)
    card = (tmp_path / "preset" / "README.md").read_text()
    assert "The model was built with the shipped weights of `bytenet.shakespeare`" in card
    positions = [card.index(m["command"]) for m in (*shipped.values(), meta)]
    assert positions == sorted(positions), "the card's commands are not in the order the runs ran"
    # the preset holds the mixture weights alone; loaded, its members come from their shipped folders
    model = zoo.get("token_mixture.tiny", weights=tmp_path / "preset")
    assert meta["parts"] == [{"preset": b["preset"], "sha256": b["sha256"]} for b in built]
    assert [p["preset"] for p in model.shipped_parts()] == list(shipped)
    assert model.count_params() == meta["parameters"]
    assert (tmp_path / "preset" / "model.weights.h5").stat().st_size < 100_000
    # once a member's folder holds other weights, the run's record no longer matches: refused
    moved = tmp_path / "moved"
    import shutil

    shutil.copytree(zoo.pretrained_folder("bytenet.shakespeare"), moved)
    (moved / "metadata.json").write_text(json.dumps({**shipped["bytenet.shakespeare"], "sha256": "0" * 64}))
    parts[0]["folder"] = str(moved)
    (run / training.PARTS_FILE).write_text(json.dumps({"parts": parts}))
    refused = subprocess.run(tool[:-1] + [str(tmp_path / "preset2")], env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "the run was built from weights of sha256" in refused.stderr
    assert not (tmp_path / "preset2").exists()

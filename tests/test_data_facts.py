"""Facts about data live in config, not in code: a sequence model's sample rate is its config's `sample_rate`
(presets.toml, config.json), the data set a preset is made for is its `data` in presets.toml (the default recipe of
`kgen train NAME`, a model's `default_data()`), and `kgen compress` meets files through one codec per data kind."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

import kgen
from kgen import audio, compression, pretrained, recipes, zoo

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

PRESETS = [n for n in zoo.list_models() if n not in zoo.architectures()]


# ================================================================================================ default data
@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_names_its_data_but_the_test_sizes(name):
    """Every preset but the test sizes names the data set it is made for, and that table makes a valid default
    recipe; the test sizes name none, so their default recipe is the schema's."""
    data = zoo.default_data(name)
    recipe = recipes.from_model(name)
    if name.split(".")[1].startswith(zoo.TINY):
        assert data is None
        assert recipe == recipes.validate({"model": name})
    else:
        assert data is not None and recipe["data"]["name"] == data["name"]
        assert all(recipe["data"][key] == value for key, value in data.items())


def test_the_shipped_recipes_train_their_preset_on_its_data():
    """A shipped recipe that trains a preset as it is (no model_args) reads the data set the preset names."""
    checked = 0
    for name in recipes.available():
        recipe = recipes.load(recipes.find(name))
        if recipe["model_args"] or recipe["model"] not in PRESETS:
            continue
        assert recipe["data"]["name"] == zoo.default_data(recipe["model"])["name"], name
        checked += 1
    assert checked >= 10


def test_an_architecture_takes_the_data_its_presets_share():
    assert zoo.default_data("wavenet") == {"name": "fsdd"}
    assert zoo.default_data("video_pixel_network")["name"] == "moving_mnist"
    assert zoo.default_data("pixelcnn") is None  # binarized and 8-bit MNIST
    assert zoo.default_data("no_such_model") is None and zoo.default_data(None) is None
    assert recipes.from_model("pixelcnn")["data"]["name"] == recipes.DEFAULTS["data"]["name"]
    assert zoo.get("video_pixel_network.tiny").default_data()["name"] == "moving_mnist"  # its architecture's
    with pytest.raises(ValueError, match="`data` of 'pixelcnn.other' must be a data set name"):
        zoo.register_preset("pixelcnn.other", "pixelcnn", data={"options": {}})
    assert "pixelcnn.other" not in zoo.list_models()


# ================================================================================================ sample rate
def test_the_sample_rate_is_a_fact_of_the_config():
    wavenet = zoo.get("wavenet.tiny")
    assert wavenet.sample_rate == 8000 and wavenet.get_config()["sample_rate"] == 8000
    assert wavenet.token_unit == "sample"
    text = zoo.get("bytenet.tiny")
    assert text.sample_rate is None and text.get_config()["sample_rate"] is None and text.token_unit == "byte"
    assert zoo.get("sparse_transformer.tiny").token_unit == "token"  # 16 levels, not audio
    assert zoo.get("lstm_lm.tiny", sample_rate=16000).sample_rate == 16000
    assert zoo.get("pixelcnn.tiny").sample_rate is None
    for bad in (0, 8000.5, True, "8000", 10**6):
        with pytest.raises(ValueError, match="WaveNet: `sample_rate` must be an integer in 1..384000"):
            zoo.get("wavenet.tiny", sample_rate=bad)
    with pytest.raises(ValueError, match="unknown argument.*sample_rate"):
        zoo.get("sparse_transformer.tiny_images", sample_rate=8000)


def test_a_config_without_the_rate_loads_as_not_audio(tmp_path):
    """.keras files and preset folders saved before kgen recorded the rate load; their model has none."""
    model = zoo.get("wavenet.tiny")
    path = tmp_path / "w.keras"
    model.save(path)
    assert keras.saving.load_model(path).sample_rate == 8000
    config = model.get_config()
    del config["sample_rate"]
    old = kgen.models.WaveNet.from_config(config)
    assert old.sample_rate is None and old.token_unit == "token"
    with pytest.raises(ValueError, match="`--rate` is needed for a .wav file"):
        old.write_sample_file(tmp_path / "x.wav", seconds=0.01)
    assert not (tmp_path / "x.wav").exists()
    line = old.write_sample_file(tmp_path / "x.wav", seconds=0.01, rate=4000)
    assert "of 4000 Hz audio" in line and audio.read_wav(tmp_path / "x.wav")[1] == 4000


def test_the_shipped_audio_preset_records_its_rate():
    folder = zoo.pretrained_folder("wavenet.fsdd")
    config = json.loads(Path(pretrained.preset_file(folder, pretrained.CONFIG_FILE)).read_text())["config"]
    assert config["sample_rate"] == 8000 == kgen.data.fsdd.SAMPLE_RATE
    assert zoo.get("wavenet.fsdd", pretrained=True).sample_rate == 8000


def test_a_wav_takes_the_models_rate(tmp_path):
    model = zoo.get("wavenet.tiny")
    line = model.write_sample_file(tmp_path / "a.wav", seconds=0.01)
    assert "of 8000 Hz audio" in line and audio.read_wav(tmp_path / "a.wav")[1] == 8000


# ================================================================================================ codecs
def test_one_codec_per_kind():
    assert compression.KINDS == tuple(compression.CODECS) == ("image", "bytes", "audio")
    codes = [codec.code for codec in compression.CODECS.values()]
    assert codes == [0, 1, 2]  # the container's bytes: a shipped code never changes meaning
    assert [compression.kind_of(p) for p in ("a.PNG", "b.wav", "c.txt", "d")] == ["image", "audio", "bytes", "bytes"]
    with pytest.raises(ValueError, match="`kind` must be one of 'image', 'bytes', 'audio', got 'video'"):
        compression.codec_of("video")


def test_a_model_without_a_rate_codes_a_wav_of_any_rate(tmp_path):
    """The audio codec checks the file's rate against the model's where the model records one; a model without
    one codes the file at its own rate, which the item records and the restored file keeps."""
    wave = np.sin(np.arange(120) / 3.0).astype("float32") * 0.5
    fast = audio.write_wav(tmp_path / "fast.wav", wave, 16000)
    with pytest.raises(ValueError, match="16000"):
        compression.compress(zoo.get("wavenet.tiny"), [fast], tmp_path / "w.kgz", model_name="m")
    keras.utils.set_random_seed(0)
    model = zoo.get("lstm_lm.tiny")
    compression.compress(model, [fast], tmp_path / "l.kgz", model_name="m", fallback=False)
    assert compression.read_header(tmp_path / "l.kgz")["items"][0]["rate"] == 16000
    restored = compression.decompress(tmp_path / "l.kgz", model, tmp_path / "out")[0]
    back, rate = audio.read_wav(restored)
    assert rate == 16000
    np.testing.assert_array_equal(audio.mu_law_encode(back), audio.mu_law_encode(audio.read_wav(fast)[0]))

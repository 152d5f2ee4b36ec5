"""The CLI and recipe runner with sequence models: a tiny WaveNet on FSDD (bits per sample, WAV samples per digit,
a continuation of a real recording) and a tiny ByteNet on Tiny Shakespeare (bits per byte, text from a prompt)."""

import json

import numpy as np
import pytest
from PIL import Image

from kgen import audio, cli

# The CLI's sequence paths run once (they do backend-independent work); WaveNet's and ByteNet's training and
# sampling run under every backend in tests/models.
pytestmark = pytest.mark.one_backend("jax")

RECIPE = """
model = "wavenet.tiny"
[model_args]
num_levels = 16
num_classes = 10
[data]
name = "fsdd"
train_split = "train[:16]"
eval_split = "test[:3]"
monitor_split = "test[:2]"
options = { segment_length = 300, quantization_channels = 16 }
eval_options = { quantization_channels = 16 }
eval_batch_size = 2
[train]
batch_size = 4
epochs = 2
steps_per_epoch = 2
num_samples = 2
sample_seconds = 0.1
"""


@pytest.fixture
def fsdd_recipe(tmp_path, shared_data_dir, monkeypatch):
    monkeypatch.setenv("KGEN_DATA_DIR", str(shared_data_dir))
    if not (shared_data_dir / "fsdd").is_dir():
        pytest.skip("FSDD not found")
    path = tmp_path / "wavenet_tiny.toml"
    path.write_text(RECIPE)
    return str(path)


def test_train_evaluate_and_write_wavs(tmp_path, capsys, fsdd_recipe):
    run = tmp_path / "run"
    assert cli.main(["train", fsdd_recipe, "--out", str(run), "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "bits/sample" in out
    result = json.loads((run / "eval.json").read_text())
    assert result["dataset"] == "fsdd" and result["num_examples"] == 3
    waves, _, _ = audio_test_split()
    assert result["num_tokens"] == sum(len(w) for w in waves)  # every sample of the 3 recordings, no padding
    assert 0 < result["bits_per_token"] < 8
    for digit in range(10):
        wave, rate = audio.read_wav(run / "samples" / f"label{digit}.wav")
        assert rate == 8000 and len(wave) == 800  # sample_seconds = 0.1
        assert f"spectrogram: {run / 'samples' / f'label{digit}.png'}" in out
    wave, _ = audio.read_wav(run / "samples" / "continuation.wav")
    assert len(wave) == 2000 + 600  # 0.25 s of a test recording + 0.75 * 0.1 s generated
    assert sorted(p.name for p in (run / "samples").iterdir()) == sorted(
        [f"label{d}.{ext}" for d in range(10) for ext in ("wav", "png")] + ["continuation.wav", "continuation.png"])
    with Image.open(run / "samples" / "continuation.png") as picture:  # a spectrogram beside every WAV
        assert picture.format == "PNG" and picture.size == (480, 240)
        assert np.asarray(picture.convert("L")).std() > 10

    # kgen sample RUN --label 7 --seconds 0.05 --out seven.wav; and continuing a real recording
    seven = tmp_path / "seven.wav"
    assert cli.main(["sample", str(run), "--label", "7", "--seconds", "0.05", "--out", str(seven), "--verbose", "1"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1
    assert captured.out.strip().endswith(f"to {seven} and its spectrogram to {tmp_path / 'seven.png'}")
    # one compiled loop: its progress is the stages, one line each on stderr
    assert "kgen sample: generating 400 samples" in captured.err and "kgen sample: writing the WAV" in captured.err
    wave, rate = audio.read_wav(seven, expected_rate=8000)
    assert len(wave) == 400
    assert Image.open(tmp_path / "seven.png").size == (480, 240)
    prompt_path = tmp_path / "prompt.wav"
    prompt = waves[0][:200]
    audio.write_wav(prompt_path, prompt, 8000)
    cont = tmp_path / "cont.wav"
    assert cli.main(["sample", str(run), "--label", "0", "--prompt", str(prompt_path), "--seconds", "0.01",
                     "--out", str(cont)]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 and captured.err == ""  # no --verbose, stderr not a terminal
    wave, _ = audio.read_wav(cont)
    assert len(wave) == 280
    # the prompt is kept up to mu-law quantization (16 levels here)
    given = audio.mu_law_decode(audio.mu_law_encode(audio.read_wav(prompt_path)[0], 16), 16)
    np.testing.assert_allclose(wave[:200], given, atol=1e-4)

    # errors name the argument and write nothing
    bad = tmp_path / "bad.wav"
    capsys.readouterr()
    for argv, match in (
        (["--label", "12", "--out", str(bad)], "labels"),
        (["--label", "1", "--seconds", "0", "--out", str(bad)], "seconds"),
        (["--label", "1", "--out", str(tmp_path / "x.png")], "--out"),
        (["--label", "1", "--prompt", str(tmp_path / "missing.wav"), "--out", str(bad)], "missing.wav"),
    ):
        assert cli.main(["sample", str(run)] + argv) != 0
        assert match in capsys.readouterr().err
    assert not bad.exists() and not (tmp_path / "x.png").exists() and not (tmp_path / "bad.png").exists()


def audio_test_split():
    from kgen import data

    return data.load_arrays("fsdd", split="test[:3]")


TEXT_RECIPE = """
model = "bytenet.tiny"
[data]
name = "tinyshakespeare"
train_split = "train[:4000]"
eval_split = "test[:1000]"
monitor_split = "test[:500]"
options = { sequence_length = 32 }
eval_options = { sequence_length = 32 }
eval_batch_size = 16
[train]
batch_size = 8
epochs = 1
steps_per_epoch = 2
num_samples = 1
"""


def test_text_recipe_bits_per_byte_and_generation(tmp_path, capsys, shared_data_dir, monkeypatch):
    if not (shared_data_dir / "tinyshakespeare").is_dir():
        pytest.skip("Tiny Shakespeare not found")
    monkeypatch.setenv("KGEN_DATA_DIR", str(shared_data_dir))
    recipe = tmp_path / "bytenet_tiny.toml"
    recipe.write_text(TEXT_RECIPE)
    run = tmp_path / "run"
    assert cli.main(["train", str(recipe), "--out", str(run), "--verbose", "0"]) == 0
    assert "bits/byte" in capsys.readouterr().out
    result = json.loads((run / "eval.json").read_text())
    assert result["num_tokens"] == 1000  # every held-out byte scored exactly once
    assert (run / "samples.txt").read_text(encoding="utf-8").startswith("ROMEO:\n")
    out = tmp_path / "more.txt"
    assert cli.main(["sample", str(run), "--text-prompt", "KING:", "--length", "40", "--sampler", "top_p",
                     "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text.startswith("KING:") and len(text.encode("utf-8", errors="replace")) >= 40 - 3

"""tools/describe_audio.py: its figures on signals whose answers are known, and the table it prints."""

import numpy as np
import pytest

import describe_audio  # tools/ (on the tests' path: pyproject.toml's pytest `pythonpath`)

RATE = 8000


def test_voiced_tone_is_in_the_speech_band():
    t = np.arange(RATE) / RATE
    d = describe_audio.describe(0.5 * np.sin(2 * np.pi * 200 * t), RATE)
    assert d["seconds"] == pytest.approx(1.0)
    assert d["rms"] == pytest.approx(0.5 / np.sqrt(2), rel=1e-3)
    assert d["peak"] == pytest.approx(0.5, rel=1e-3)
    assert d["active"] == 1.0
    assert d["speech_band"] > 0.99 and d["above_2k"] < 1e-3
    assert d["centroid_hz"] == pytest.approx(200, rel=0.02)
    assert d["zcr"] == pytest.approx(2 * 200 / RATE, rel=0.05)  # two sign changes per period


def test_white_noise_spreads_over_the_band():
    wave = np.random.default_rng(0).uniform(-0.5, 0.5, RATE)
    d = describe_audio.describe(wave, RATE)
    assert d["above_2k"] == pytest.approx(0.5, abs=0.05)  # 2-4 kHz is half of the 0-4 kHz band
    assert d["speech_band"] == pytest.approx(920 / 4000, abs=0.05)
    assert d["centroid_hz"] == pytest.approx(2000, rel=0.05)
    assert d["zcr"] == pytest.approx(0.5, abs=0.03)


def test_silence_has_no_active_frames():
    d = describe_audio.describe(np.zeros(RATE), RATE)
    assert d["active"] == 0.0 and d["rms"] == 0.0


def test_prints_one_row_per_file(tmp_path, capsys):
    from kgen import audio

    t = np.arange(RATE // 2) / RATE
    paths = []
    for i, hz in enumerate((150, 300)):
        path = tmp_path / f"sample_{i}_label{i}.wav"
        audio.write_wav(path, 0.3 * np.sin(2 * np.pi * hz * t), RATE)
        paths.append(str(path))
    assert describe_audio.main(paths + ["--no-reference"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == describe_audio.HEADER and len(lines) == 4
    assert lines[2].startswith("| sample_0_label0.wav | 0.50 |") and lines[3].startswith("| sample_1_label1.wav |")

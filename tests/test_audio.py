"""Tests for kgen.audio: mu-law companding and WAV reading/writing."""

import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from kgen import audio

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _fsdd_file():
    root = Path(os.environ.get("KGEN_DATA_DIR", SHARED_DATA))
    path = root / "fsdd" / "recordings" / "0_george_0.wav"
    if not path.is_file():
        pytest.skip(f"FSDD not found at {root} (set KGEN_DATA_DIR)")
    return path


def _sine_int16(n=1000):
    return (np.sin(np.arange(n) / 5.0) * 10000).astype(np.int16)


# ----------------------------------------------------------------------------
# Mu-law
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("q", [2, 3, 16, 255, 256, 65536])
def test_mu_law_fixed_points(q):
    codes = audio.mu_law_encode(np.array([-1.0, 0.0, 1.0]), q)
    assert codes.dtype == np.int32
    assert codes.tolist() == [0, q // 2, q - 1]
    assert audio.mu_law_encode(np.float32(0.0), q) == q // 2  # 0-d works


def test_mu_law_encode_is_monotone_and_uses_every_code():
    x = np.linspace(-1, 1, 200500, dtype=np.float32).reshape(401, -1)
    codes = audio.mu_law_encode(x)
    assert codes.shape == x.shape and codes.dtype == np.int32
    assert np.all(np.diff(codes.reshape(-1)) >= 0)
    assert np.unique(codes).tolist() == list(range(256))


@pytest.mark.parametrize("q", [16, 256, 1024])
def test_mu_law_round_trip_error_bound(q):
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [
            np.linspace(-1, 1, 100001),
            rng.uniform(-1, 1, 10000),
            rng.normal(0, 0.01, 10000).clip(-1, 1),
            [0.0, -0.0, 1e-9, -1e-9],
        ]
    ).astype(np.float32)
    decoded = audio.mu_law_decode(audio.mu_law_encode(x, q), q)
    assert decoded.dtype == np.float32 and decoded.shape == x.shape
    mu = q - 1
    bound = (np.exp(np.log1p(mu) / mu) - 1) * (np.abs(x.astype(np.float64)) + 1 / mu)
    error = np.abs(decoded.astype(np.float64) - x)
    assert np.all(error <= bound + 1e-6), float((error - bound).max())
    assert np.all(np.sign(decoded[x > 0]) == 1) and np.all(np.sign(decoded[x < 0]) == -1)


def test_mu_law_decode_range_and_reencode():
    codes = np.arange(256)
    decoded = audio.mu_law_decode(codes)
    assert decoded.dtype == np.float32
    assert decoded[0] == -1.0 and decoded[-1] == 1.0
    assert np.all(np.diff(decoded) > 0)
    np.testing.assert_array_equal(audio.mu_law_encode(decoded), codes)
    np.testing.assert_array_equal(
        audio.mu_law_decode(codes.astype(np.uint8)), decoded
    )  # any integer dtype


@pytest.mark.parametrize(
    "x, message",
    [
        (np.array([0, 1], np.int16), "x must be a float array"),
        (np.array([0.5, 1.5]), r"x must lie in \[-1, 1\], got values in \[0.5, 1.5\]"),
        (np.array([-1.01]), r"x must lie in \[-1, 1\]"),
        (np.array([0.0, np.nan]), "x holds NaN"),
        (np.array([np.inf]), "x holds NaN or infinite"),
        (["a"], "x must be a float array"),
    ],
)
def test_mu_law_encode_bad_x(x, message):
    with pytest.raises(ValueError, match=message):
        audio.mu_law_encode(x)


@pytest.mark.parametrize("q", [1, 0, -5, 1.5, True, "256", None, 2**16 + 1])
def test_mu_law_bad_quantization_channels(q):
    with pytest.raises(ValueError, match="quantization_channels must be an integer in 2..65536"):
        audio.mu_law_encode(np.zeros(3), q)
    with pytest.raises(ValueError, match="quantization_channels must be"):
        audio.mu_law_decode(np.zeros(3, np.int32), q)


@pytest.mark.parametrize(
    "codes, message",
    [
        (np.array([0.0, 1.0]), "codes must be an integer array of mu-law codes 0..255"),
        (np.array([True]), "codes must be an integer array"),
        (np.array([0, 256]), r"codes must lie in 0..255 \(quantization_channels=256\), got values in 0..256"),
        (np.array([-1, 3]), "codes must lie in 0..255"),
    ],
)
def test_mu_law_decode_bad_codes(codes, message):
    with pytest.raises(ValueError, match=message):
        audio.mu_law_decode(codes)


# ----------------------------------------------------------------------------
# WAV files
# ----------------------------------------------------------------------------


def test_write_read_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    wave = rng.uniform(-1, 1, 5000).astype(np.float32)
    written = audio.write_wav(tmp_path / "a.wav", wave, 8000)
    assert written == tmp_path / "a.wav"
    rate, raw = wavfile.read(written)
    assert rate == 8000 and raw.dtype == np.int16 and raw.shape == (5000,)
    loaded, loaded_rate = audio.read_wav(written, expected_rate=8000)
    assert loaded_rate == 8000 and loaded.dtype == np.float32 and loaded.shape == (5000,)
    assert np.abs(loaded - wave).max() <= 2.0**-16 + 1e-9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]  # no temp file left


def test_int16_levels_survive_exactly(tmp_path):
    levels = np.array([-32768, -1, 0, 1, 12345, 32767], np.int16)
    audio.write_wav(tmp_path / "a.wav", levels / 32768.0, 16000)
    loaded, rate = audio.read_wav(tmp_path / "a.wav")
    assert rate == 16000
    np.testing.assert_array_equal(loaded, levels / np.float32(32768))
    np.testing.assert_array_equal(wavfile.read(tmp_path / "a.wav")[1], levels)


def test_write_clips_to_unit_range(tmp_path):
    audio.write_wav(str(tmp_path / "c.wav"), np.array([2.0, 1.0, -1.0, -3.0]), 8000)
    _, raw = wavfile.read(tmp_path / "c.wav")
    assert raw.tolist() == [32767, 32767, -32768, -32768]


def test_read_real_fsdd_file():
    path = _fsdd_file()
    wave, rate = audio.read_wav(path, expected_rate=8000)
    _, raw = wavfile.read(path)
    assert rate == 8000 and raw.dtype == np.int16
    np.testing.assert_array_equal(wave, raw.astype(np.float32) / 32768)


def test_read_other_sample_formats(tmp_path):
    wavfile.write(tmp_path / "u8.wav", 8000, np.array([0, 128, 255], np.uint8))
    wavfile.write(tmp_path / "i32.wav", 8000, np.array([0, 2**30, -(2**31)], np.int32))
    wavfile.write(tmp_path / "f32.wav", 8000, np.array([0, 0.5, -1, 2.0], np.float32))
    wavfile.write(tmp_path / "f64.wav", 8000, np.array([-0.25, -7.0]))
    wavfile.write(tmp_path / "mono2d.wav", 8000, np.array([[1], [2]], np.int16))
    expected = {
        "u8.wav": [-1.0, 0.0, 127 / 128],
        "i32.wav": [0.0, 0.5, -1.0],
        "f32.wav": [0.0, 0.5, -1.0, 1.0],
        "f64.wav": [-0.25, -1.0],
        "mono2d.wav": [1 / 32768, 2 / 32768],
    }
    for name, values in expected.items():
        wave, _ = audio.read_wav(tmp_path / name)
        assert wave.dtype == np.float32 and wave.ndim == 1
        np.testing.assert_allclose(wave, values, rtol=0, atol=1e-7)


def test_read_wrong_rate_names_file_and_rates(tmp_path):
    path = tmp_path / "fast.wav"
    wavfile.write(path, 16000, _sine_int16())
    assert audio.read_wav(path)[1] == 16000
    with pytest.raises(ValueError, match=re.escape(f"{path} has sample rate 16000 Hz; expected 8000 Hz")):
        audio.read_wav(path, expected_rate=8000)


def test_read_stereo_names_file(tmp_path):
    path = tmp_path / "stereo.wav"
    wavfile.write(path, 8000, np.zeros((100, 2), np.int16))
    with pytest.raises(ValueError, match=re.escape(f"{path} has 2 channels; expected mono")):
        audio.read_wav(path)


def _good_bytes(tmp_path):
    wavfile.write(tmp_path / "good.wav", 8000, _sine_int16())
    return (tmp_path / "good.wav").read_bytes()


def _riff_size(raw, size):
    raw = bytearray(raw)
    raw[4:8] = struct.pack("<I", size)
    return bytes(raw)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda raw: b"this is not a wav file at all", "not understood"),
        (lambda raw: b"", "the file is empty"),
        (lambda raw: raw[:30], "Truncated WAV file.*chunk b.fmt "),
        (lambda raw: raw[:12], "no complete 'data' chunk"),
        (lambda raw: raw[:8] + b"AVI " + raw[12:], "without the WAVE form type"),
        (lambda raw: raw[:1000], r"Truncated WAV file .*chunk b'data'.*declares 2000 bytes"),
        (lambda raw: _riff_size(raw[:1000], 992), "Truncated WAV file"),  # consistent RIFF size
        (lambda raw: _riff_size(raw, len(raw) + 92), "Truncated WAV file.*prematurely"),
        (lambda raw: _riff_size(raw[:1001], 993), "Truncated WAV file"),
    ],
)
def test_read_corrupt_files_name_the_file(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    path.write_bytes(make(_good_bytes(tmp_path)))
    with pytest.raises(ValueError, match=message) as info:
        audio.read_wav(path)
    assert str(path) in str(info.value)


def test_read_missing_or_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nope.wav"))):
        audio.read_wav(tmp_path / "nope.wav")
    with pytest.raises(ValueError, match="is a folder"):
        audio.read_wav(tmp_path)


@pytest.mark.parametrize("rate", [0, -8000, 8000.0, True, "8000", 2**32])
def test_bad_rates(tmp_path, rate):
    with pytest.raises(ValueError, match="expected_rate must be a positive integer"):
        audio.read_wav(tmp_path / "x.wav", expected_rate=rate)
    with pytest.raises(ValueError, match="rate must be a positive integer"):
        audio.write_wav(tmp_path / "x.wav", np.zeros(10), rate)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "waveform, message",
    [
        (np.zeros(10, np.int16), "waveform must be a float array"),
        (np.zeros((10, 2)), r"waveform must be 1-D \(mono\).*\(10, 2\)"),
        (np.zeros(0), "at least one sample"),
        (np.float32(0.5), "waveform must be 1-D"),
        (np.array([0.0, np.nan]), "waveform holds NaN"),
        (np.array([np.inf]), "waveform holds NaN or infinite"),
    ],
)
def test_write_bad_waveform_writes_nothing(tmp_path, waveform, message):
    with pytest.raises(ValueError, match=message):
        audio.write_wav(tmp_path / "x.wav", waveform, 8000)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["", None, 3])
def test_bad_paths(path):
    with pytest.raises(ValueError, match="path must be a non-empty path"):
        audio.write_wav(path, np.zeros(3), 8000)
    with pytest.raises(ValueError, match="path must be a non-empty path"):
        audio.read_wav(path)


def test_failed_write_leaves_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "keep.wav"
    audio.write_wav(path, np.full(100, 0.25), 8000)
    before = path.read_bytes()

    def broken_write(f, rate, data):
        f.write(b"RIFF half a header")
        raise OSError("disk full")

    monkeypatch.setattr(wavfile, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        audio.write_wav(path, np.zeros(50), 8000)
    with pytest.raises(OSError, match="disk full"):
        audio.write_wav(tmp_path / "new.wav", np.zeros(50), 8000)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.wav"]

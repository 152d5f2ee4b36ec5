"""Tests for kgen.data's FSDD loader (kgen.data.fsdd)."""

import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from scipy.io import wavfile

from kgen import audio, data
from kgen.data import core, fsdd

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)


@pytest.fixture
def fsdd_dir(shared_data_dir):
    if not (shared_data_dir / "fsdd" / "recordings").is_dir():
        pytest.skip(f"real FSDD not found at {shared_data_dir}/fsdd (set KGEN_DATA_DIR)")
    return shared_data_dir


@pytest.fixture(autouse=True)
def _no_cached_tfds_records():
    fsdd._tfds_records.cache_clear()
    yield
    fsdd._tfds_records.cache_clear()


def _write(folder, name, samples=None, rate=8000):
    folder.mkdir(parents=True, exist_ok=True)
    if samples is None:
        samples = (np.sin(np.arange(300) / 3.0) * 8000).astype(np.int16)
    wavfile.write(folder / name, rate, samples)
    return folder / name


def _small_fsdd(root, names=("0_george_0.wav", "3_jackson_7.wav", "1_george_5.wav")):
    """A small valid FSDD folder in root/fsdd/recordings; returns its folder."""
    folder = root / "fsdd" / "recordings"
    rng = np.random.default_rng(0)
    for name in names:
        n = int(rng.integers(100, 400))
        _write(folder, name, rng.integers(-20000, 20000, n).astype(np.int16))
    return folder


def _batches(dataset):
    out = []
    for x, tokens, weights in dataset:
        if isinstance(x, dict):
            x = {k: np.asarray(v) for k, v in x.items()}
        else:
            x = np.asarray(x)
        out.append((x, np.asarray(tokens), np.asarray(weights)))
    return out


# ----------------------------------------------------------------------------
# Arrays from the real data set
# ----------------------------------------------------------------------------


def test_split_sizes_labels_and_order(fsdd_dir):
    waves, digits, speakers = data.load_arrays("fsdd", "train", data_dir=fsdd_dir)
    assert len(waves) == 2700 and digits.shape == (2700,) and speakers.shape == (2700,)
    assert digits.dtype == np.int64 and speakers.dtype == np.int64
    assert np.bincount(digits).tolist() == [270] * 10
    assert np.bincount(speakers).tolist() == [450] * 6
    test_waves, test_digits, test_speakers = data.load_arrays("fsdd", "test", data_dir=fsdd_dir)
    assert len(test_waves) == 300
    assert np.bincount(test_digits).tolist() == [30] * 10
    assert np.bincount(test_speakers).tolist() == [50] * 6
    assert data.FSDD_SPEAKERS == tuple(sorted(data.FSDD_SPEAKERS)) and len(data.FSDD_SPEAKERS) == 6
    for w, d, s in ((waves, digits, speakers), (test_waves, test_digits, test_speakers)):
        order = list(zip(s.tolist(), d.tolist()))
        assert order == sorted(order)  # speaker, then digit (then index)
        lengths = [x.shape[0] for x in w]
        assert all(x.dtype == np.float32 and x.ndim == 1 for x in w)
        assert 1148 <= min(lengths) and max(lengths) <= 18262
        assert all(-1.0 <= x.min() and x.max() <= 1.0 for x in w)
    # The first test recording is 0_george_0.wav, the first train one 0_george_5.wav.
    folder = fsdd_dir / "fsdd" / "recordings"
    np.testing.assert_array_equal(test_waves[0], audio.read_wav(folder / "0_george_0.wav")[0])
    np.testing.assert_array_equal(test_waves[4], audio.read_wav(folder / "0_george_4.wav")[0])
    np.testing.assert_array_equal(waves[0], audio.read_wav(folder / "0_george_5.wav")[0])
    np.testing.assert_array_equal(waves[45], audio.read_wav(folder / "1_george_5.wav")[0])


def test_slices_env_var_cache_and_copies(fsdd_dir, monkeypatch):
    full = data.load_arrays("fsdd", "test", data_dir=fsdd_dir)
    monkeypatch.setenv(data.DATA_DIR_ENV, str(fsdd_dir))
    hits = fsdd._read_recording.cache_info().hits
    for split, index in (("test[:20]", slice(None, 20)), ("test[-7:]", slice(-7, None)), ("test[10:15]", slice(10, 15))):
        waves, digits, speakers = data.load_arrays("fsdd", split)
        assert len(waves) == len(full[0][index])
        for a, b in zip(waves, full[0][index]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(digits, full[1][index])
        np.testing.assert_array_equal(speakers, full[2][index])
    assert fsdd._read_recording.cache_info().hits >= hits + 300 * 3  # decoded once
    waves[0][:] = 0  # fresh copies, not the cache
    assert np.any(data.load_arrays("fsdd", "test[10:11]")[0][0] != 0)
    with pytest.raises(ValueError, match=r"split='test\[5:5\]' selects no recordings"):
        data.load_arrays("fsdd", "test[5:5]")


# ----------------------------------------------------------------------------
# Local folders made in tmp_path
# ----------------------------------------------------------------------------


def test_small_folder_layouts_and_other_files(tmp_path):
    folder = _small_fsdd(tmp_path)
    (folder / "README.txt").write_text("not a recording")
    (folder / ".hidden.wav").write_bytes(b"junk")
    waves, digits, speakers = data.load_arrays("fsdd", "test", data_dir=tmp_path)
    assert digits.tolist() == [0] and speakers.tolist() == [0]
    waves, digits, speakers = data.load_arrays("fsdd", "train", data_dir=tmp_path)
    assert digits.tolist() == [1, 3] and speakers.tolist() == [0, 1]  # george 1_5, jackson 3_7
    expected = audio.read_wav(folder / "3_jackson_7.wav")[0]
    np.testing.assert_array_equal(waves[1], expected)
    # data_dir may also be the fsdd folder or the recordings folder itself.
    for other in (tmp_path / "fsdd", folder):
        again = data.load_arrays("fsdd", "train", data_dir=other)
        np.testing.assert_array_equal(again[0][1], expected)


def test_never_writes_and_sees_changes(tmp_path):
    folder = _small_fsdd(tmp_path)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    data.load_arrays("fsdd", "train", data_dir=tmp_path)
    list(data.load("fsdd", "train", data_dir=tmp_path, segment_length=50))
    after = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    assert before == after
    new = np.full(77, 1000, np.int16)
    _write(folder, "3_jackson_7.wav", new)
    os.utime(folder / "3_jackson_7.wav", ns=(1, 1))
    waves, _, _ = data.load_arrays("fsdd", "train", data_dir=tmp_path)
    np.testing.assert_array_equal(waves[1], new / np.float32(32768))


@pytest.mark.parametrize(
    "name, message",
    [
        ("seven_george_0.wav", "Bad FSDD file name"),
        ("0_george.wav", "Bad FSDD file name"),
        ("0_george_07.wav", "Bad FSDD file name"),
        ("10_george_1.wav", "Bad FSDD file name"),
        ("0_George_1.wav", "Bad FSDD file name"),
        ("0_george_1.WAV", "Bad FSDD file name"),
        ("0_bob_1.wav", "unknown speaker 'bob'"),
    ],
)
def test_bad_file_name(tmp_path, name, message):
    folder = _small_fsdd(tmp_path)
    _write(folder, name)
    with pytest.raises(ValueError, match=message) as info:
        data.load_arrays("fsdd", "train", data_dir=tmp_path)
    assert str(folder / name) in str(info.value)
    assert "{digit}_{speaker}_{index}.wav" in str(info.value) or "george" in str(info.value)


def test_bad_recordings_name_the_file(tmp_path):
    folder = _small_fsdd(tmp_path)
    cases = [
        ("2_theo_9.wav", lambda p: _write(folder, p, rate=16000), "has sample rate 16000 Hz; expected 8000 Hz"),
        ("2_theo_9.wav", lambda p: _write(folder, p, np.zeros((50, 2), np.int16)), "has 2 channels; expected mono"),
        ("2_theo_9.wav", lambda p: (folder / p).write_bytes(b"RIFF\x00\x01garbage" * 5), "WAV file"),
        ("2_theo_9.wav", lambda p: _write(folder, p, np.zeros(0, np.int16)), "holds no samples"),
    ]
    for name, make, message in cases:
        make(name)
        for load in (
            lambda: data.load_arrays("fsdd", "train", data_dir=tmp_path),
            lambda: data.load("fsdd", "train", data_dir=tmp_path),
        ):
            with pytest.raises(ValueError, match=message) as info:
                load()
            assert str(folder / name) in str(info.value)
        (folder / name).unlink()
    data.load_arrays("fsdd", "train", data_dir=tmp_path)  # fine again


def test_truncated_recording(tmp_path):
    folder = _small_fsdd(tmp_path)
    raw = (folder / "1_george_5.wav").read_bytes()
    (folder / "1_george_5.wav").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="Truncated WAV file") as info:
        data.load_arrays("fsdd", "train", data_dir=tmp_path)
    assert "1_george_5.wav" in str(info.value)


def test_missing_folder(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    with pytest.raises(data.DataNotFoundError, match=re.escape(str(missing))) as info:
        data.load_arrays("fsdd", data_dir=missing)
    assert isinstance(info.value, FileNotFoundError)
    assert data.DATA_DIR_ENV in str(info.value) and "fsdd/recordings" in str(info.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(data.DATA_DIR_ENV, str(empty))
    with pytest.raises(data.DataNotFoundError, match=f"(?s){re.escape(str(empty / 'fsdd' / 'recordings'))}.*{data.DATA_DIR_ENV}"):
        data.load("fsdd", "test")


def test_split_without_recordings(tmp_path):
    _small_fsdd(tmp_path, names=("0_george_0.wav",))
    with pytest.raises(data.DataNotFoundError, match="holds no recordings of the train split"):
        data.load_arrays("fsdd", "train", data_dir=tmp_path)


def test_local_source_without_dir(no_env):
    with pytest.raises(data.DataNotFoundError, match="needs a data folder"):
        data.load_arrays("fsdd", source="local")


# ----------------------------------------------------------------------------
# tensorflow_datasets
# ----------------------------------------------------------------------------


def test_offline_tfds_raises_quickly(no_env):
    start = time.monotonic()
    for kwargs in ({}, {"source": "tfds"}):
        with pytest.raises(data.DataNotFoundError) as info:
            data.load_arrays("fsdd", "train", **kwargs)
        message = str(info.value)
        assert "spoken_digit" in message and data.DATA_DIR_ENV in message
    with pytest.raises(data.DataNotFoundError):
        data.load("fsdd", "test", source="tfds")
    assert time.monotonic() - start < 5


def _example(name, label=None, n=10):
    digit = int(name[0])
    return {
        "audio": np.arange(n, dtype=np.int64) * 100 - 500,
        "label": np.int64(digit if label is None else label),
        "audio/filename": name.encode(),
    }


def test_tfds_source_splits_by_file_name(no_env, tmp_path):
    examples = [_example(n) for n in ("3_theo_2.wav", "1_george_17.wav", "0_theo_40.wav", "9_george_4.wav")]
    no_env.prepared = True
    no_env.splits = {"train": examples}
    waves, digits, speakers = data.load_arrays("fsdd", "test")  # auto -> the prepared tfds copy
    assert digits.tolist() == [9, 3] and [data.FSDD_SPEAKERS[s] for s in speakers] == ["george", "theo"]
    np.testing.assert_allclose(waves[0], (np.arange(10) * 100 - 500) / 32768)
    assert waves[0].dtype == np.float32
    waves, digits, speakers = data.load_arrays("fsdd", "train[1:]", source="tfds")
    assert digits.tolist() == [0]
    reads = [call for call in no_env.calls if call[0] != "is_prepared"]
    assert reads == [("as_dataset", "spoken_digit", {"split": "train"})]  # read once, never downloaded
    with pytest.raises(ValueError, match="data_dir=.*only used with"):
        data.load_arrays("fsdd", data_dir=tmp_path, source="tfds")


@pytest.mark.parametrize(
    "examples, rate, message",
    [
        ([_example("3_theo_2.wav", label=4)], 8000, "label 4 but the file name says digit 3"),
        ([_example("3_bob_2.wav")], 8000, "unknown speaker 'bob'"),
        ([_example("3_theo_2.wav")], 16000, "sample rate 16000 Hz; expected 8000"),
    ],
)
def test_tfds_bad_examples(no_env, fake_tfds, examples, rate, message):
    fake_tfds({"train": examples}, prepared=True, sample_rate=rate)
    with pytest.raises(ValueError, match=message):
        data.load_arrays("fsdd", "test", source="tfds")


def test_tfds_failure_becomes_data_not_found(no_env):
    no_env.download_error = RuntimeError("download failed")
    with pytest.raises(data.DataNotFoundError, match="(?s)download failed.*KGEN_DATA_DIR") as info:
        data.load_arrays("fsdd", "train", source="tfds")
    assert "Could not download FSDD with tensorflow_datasets 'spoken_digit'" in str(info.value)
    assert [call[0] for call in no_env.calls] == ["is_prepared", "download_and_prepare"]


def test_tfds_source_downloads_then_reads(no_env, tmp_path):
    no_env.download_error = None
    no_env.splits = {"train": [_example("4_lucas_1.wav"), _example("5_lucas_9.wav")]}
    _, digits, _ = data.load_arrays("fsdd", "train", source="tfds")
    assert digits.tolist() == [5]
    tfds_dir = str(tmp_path / "tfds")
    assert no_env.calls[:2] == [
        ("is_prepared", "spoken_digit", tfds_dir),
        ("download_and_prepare", "spoken_digit", tfds_dir),
    ]
    assert data.load_arrays("fsdd", "test")[1].tolist() == [4]  # auto reads the copy the download prepared
    assert [call[0] for call in no_env.calls].count("download_and_prepare") == 1


# ----------------------------------------------------------------------------
# tf.data pipelines
# ----------------------------------------------------------------------------


def test_whole_recordings(fsdd_dir):
    waves, _, _ = data.load_arrays("fsdd", "test[:20]", data_dir=fsdd_dir)
    batches = _batches(data.load("fsdd", "test[:20]", batch_size=8, data_dir=fsdd_dir))
    assert [b[1].shape[0] for b in batches] == [8, 8, 4]
    i = 0
    for x, tokens, weights in batches:
        assert tokens.dtype == np.int32 and weights.dtype == np.float32
        np.testing.assert_array_equal(x, tokens)
        lengths = [w.shape[0] for w in waves[i : i + tokens.shape[0]]]
        assert tokens.shape[1] == max(lengths)  # padded to the longest in the batch
        for row, n in enumerate(lengths):
            np.testing.assert_array_equal(tokens[row, :n], audio.mu_law_encode(waves[i + row]))
            assert np.all(tokens[row, n:] == 128)
            assert weights[row, :n].min() == 1 and weights[row, n:].max(initial=0) == 0
        i += tokens.shape[0]
    assert sum(b[2].sum() for b in batches) == sum(w.shape[0] for w in waves)


def test_consecutive_chunks_cover_every_sample_once(fsdd_dir):
    waves, _, speakers = data.load_arrays("fsdd", "test[:10]", data_dir=fsdd_dir)
    dataset = data.load(
        "fsdd", "test[:10]", batch_size=5, segment_length=1000, data_dir=fsdd_dir,
        with_labels=True, label="speaker",
    )
    batches = _batches(dataset)
    tokens = np.concatenate([b[1] for b in batches])
    weights = np.concatenate([b[2] for b in batches])
    labels = np.concatenate([b[0]["labels"] for b in batches])
    assert tokens.shape[1] == 1000 and labels.dtype == np.int32
    expected_chunks = [-(-w.shape[0] // 1000) for w in waves]
    assert tokens.shape[0] == sum(expected_chunks)
    np.testing.assert_array_equal(labels, np.repeat(speakers, expected_chunks))
    np.testing.assert_array_equal(np.concatenate([b[0]["tokens"] for b in batches]), tokens)
    row = 0
    for wave, k in zip(waves, expected_chunks):
        got = tokens[row : row + k].reshape(-1)[weights[row : row + k].reshape(-1) == 1]
        np.testing.assert_array_equal(got, audio.mu_law_encode(wave))
        assert np.all(weights[row : row + k - 1] == 1)  # only the last chunk is padded
        assert np.all(tokens[row : row + k].reshape(-1)[wave.shape[0]:] == 128)
        row += k
    assert weights.sum() == sum(w.shape[0] for w in waves)


def test_random_crops_seeded_and_new_each_epoch(fsdd_dir):
    split = "train[60:80]"
    waves, digits, _ = data.load_arrays("fsdd", split, data_dir=fsdd_dir)
    codes = [audio.mu_law_encode(w) for w in waves]
    length = 2500

    def epochs(seed, shuffle=False):
        dataset = data.load(
            "fsdd", split, batch_size=20, segment_length=length, shuffle=shuffle,
            seed=seed, data_dir=fsdd_dir, with_labels=True,
        )
        return [_batches(dataset)[0] for _ in range(2)]

    (a1, a2), (b1, b2), (c1, _) = epochs(0), epochs(0), epochs(1)
    for (x, tokens, weights) in (a1, a2, c1):
        np.testing.assert_array_equal(x["labels"], digits)
        assert tokens.shape == (20, length)
        for row, c in enumerate(codes):
            if c.shape[0] >= length:
                assert weights[row].min() == 1
                window = np.lib.stride_tricks.sliding_window_view(c, length)
                assert np.any(np.all(window == tokens[row], axis=1))  # a real crop
            else:
                n = c.shape[0]
                np.testing.assert_array_equal(tokens[row, :n], c)  # short: whole
                assert np.all(tokens[row, n:] == 128) and weights[row, n:].max() == 0
                assert weights[row, :n].min() == 1
    assert any(c.shape[0] < length for c in codes) and any(c.shape[0] > length + 100 for c in codes)
    assert not np.array_equal(a1[1], a2[1])  # new crops every epoch
    np.testing.assert_array_equal(a1[1], b1[1])  # reproducible
    np.testing.assert_array_equal(a2[1], b2[1])
    assert not np.array_equal(a1[1], c1[1])  # depends on the seed


def test_train_defaults_shuffle_and_crop(fsdd_dir):
    dataset = data.load(
        "fsdd", "train[:64]", batch_size=64, segment_length=400, with_labels=True,
        data_dir=fsdd_dir,
    )
    first, second = _batches(dataset)[0], _batches(dataset)[0]
    _, digits, _ = data.load_arrays("fsdd", "train[:64]", data_dir=fsdd_dir)
    assert not np.array_equal(first[0]["labels"], digits)  # shuffled
    assert sorted(first[0]["labels"].tolist()) == sorted(digits.tolist())
    assert not np.array_equal(first[0]["labels"], second[0]["labels"])  # reshuffled
    assert first[1].shape == (64, 400) and first[2].min() == 1  # one crop per recording


def test_drop_remainder_and_quantization(fsdd_dir):
    batches = _batches(
        data.load("fsdd", "test[:10]", batch_size=4, drop_remainder=True,
                  quantization_channels=16, data_dir=fsdd_dir)
    )
    assert len(batches) == 2
    for _, tokens, weights in batches:
        assert tokens.min() >= 0 and tokens.max() <= 15
        assert np.all(tokens[weights == 0] == 8)
    full = _batches(data.load("fsdd", "test[:10]", batch_size=4, data_dir=fsdd_dir))
    assert all(b[1].min() >= 0 and b[1].max() <= 255 for b in full)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "fsd"}, "name='fsd'.*mnist, binarized_mnist, fsdd, tinyshakespeare"),
        ({"split": "validation"}, "split='validation'"),
        ({"batch_size": 0}, "`batch_size` must be an integer >= 1"),
        ({"batch_size": 2.0}, "`batch_size` must be"),
        ({"segment_length": 0}, "`segment_length` must be an integer >= 1"),
        ({"segment_length": 1.5}, "`segment_length` must be"),
        ({"random_crop": "yes", "segment_length": 10}, "`random_crop` must be True, False or None"),
        ({"random_crop": True}, "random_crop=True needs a segment_length"),
        ({"with_labels": None}, "`with_labels` must be True or False"),
        ({"label": "gender"}, "label='gender'.*'digit', 'speaker'"),
        ({"shuffle": 1}, "`shuffle` must be True, False or None"),
        ({"seed": -1}, "`seed` must be an integer >= 0"),
        ({"seed": 0.5}, "`seed` must be"),
        ({"drop_remainder": "no"}, "`drop_remainder` must be True or False"),
        ({"source": "web"}, "source='web'.*'local', 'tfds', 'embedded'"),
        ({"source": "embedded"}, "data_dir=.*only used with"),
        ({"quantization_channels": 1}, "`quantization_channels` must be an integer in 2..65536"),
        ({"quantization_channels": 70000}, "`quantization_channels` must be"),
    ],
)
def test_bad_arguments_raise_before_any_work(load_rejects, kwargs, message):
    load_rejects("fsdd", kwargs, message)


def test_load_arrays_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="split="):
        data.load_arrays("fsdd", "train[1:2:3]", data_dir=tmp_path)
    with pytest.raises(ValueError, match="source='web'"):
        data.load_arrays("fsdd", source="web")
    with pytest.raises(ValueError, match="data_dir must be a non-empty path"):
        data.load_arrays("fsdd", data_dir="")


def test_dataset_feeds_keras_fit(fsdd_dir, fits_sequence_model):
    fits_sequence_model(
        data.load("fsdd", "train[:8]", batch_size=4, segment_length=256, data_dir=fsdd_dir),
        data.load("fsdd", "test[:4]", batch_size=4, segment_length=512, data_dir=fsdd_dir),
    )


# ----------------------------------------------------------------------------
# The embedded subset (source="embedded")
# ----------------------------------------------------------------------------

EMBEDDED_PATH = Path(fsdd.__file__).parent / "embedded" / fsdd.EMBEDDED_FILE


def _shipped_arrays():
    with np.load(EMBEDDED_PATH) as npz:
        return {key: npz[key] for key in npz.files}


@pytest.fixture
def embedded_copy(monkeypatch, tmp_path):
    """``embedded_copy(arrays=None, raw=None)``: kgen reads its embedded files from a folder in tmp_path, holding
    ``fsdd_subset.npz`` written from ``arrays`` (or ``raw`` bytes; by default a copy of the shipped file); returns
    the file's path."""
    folder = tmp_path / "embedded"
    folder.mkdir()
    monkeypatch.setattr(core, "EMBEDDED_DIR", folder)
    core._read_embedded_cached.cache_clear()

    def make(arrays=None, raw=None):
        path = folder / fsdd.EMBEDDED_FILE
        if raw is not None:
            path.write_bytes(raw)
        elif arrays is not None:
            import make_embedded_mnist  # tools/ (on the tests' path: pyproject.toml's pytest `pythonpath`)

            make_embedded_mnist.write_npz(path, arrays)
        else:
            shutil.copyfile(EMBEDDED_PATH, path)
        return path

    yield make
    core._read_embedded_cached.cache_clear()


def test_embedded_counts_rates_licence_and_size():
    size = EMBEDDED_PATH.stat().st_size
    assert 800_000 < size <= 1_000_000  # 0.92 MB: 180 recordings of int16 PCM, deflated
    train = data.load_arrays("fsdd", "train", source="embedded")
    test = data.load_arrays("fsdd", "test", source="embedded")
    for (waves, digits, speakers), per_pair in ((train, 2), (test, 1)):
        assert len(waves) == 60 * per_pair and digits.dtype == np.int64 and speakers.dtype == np.int64
        assert np.bincount(digits, minlength=10).tolist() == [6 * per_pair] * 10
        assert np.bincount(speakers, minlength=6).tolist() == [10 * per_pair] * 6
        order = list(zip(speakers.tolist(), digits.tolist()))
        assert order == sorted(order)  # the loader's order: speaker, digit (then index)
        for wave in waves:
            assert wave.dtype == np.float32 and wave.ndim == 1 and 1148 <= wave.shape[0] <= 18262
            pcm = wave.astype(np.float64) * 32768
            np.testing.assert_array_equal(pcm, np.round(pcm))  # 16-bit PCM, unchanged
            assert -1 <= wave.min() and wave.max() < 1 and wave.std() > 1e-3  # real speech, not silence
    arrays = _shipped_arrays()
    assert set(arrays) == {"samples", "lengths", "file_names", "digits", "speakers", "indices", "metadata"}
    assert arrays["samples"].dtype == np.int16 and int(arrays["lengths"].sum()) == arrays["samples"].shape[0]
    pairs = {}
    for name, digit, speaker, index in zip(
        arrays["file_names"].tolist(), arrays["digits"], arrays["speakers"], arrays["indices"]
    ):
        assert name == f"{digit}_{data.FSDD_SPEAKERS[speaker]}_{index}.wav"
        pairs.setdefault((int(speaker), int(digit)), []).append(int(index))
    assert pairs == {(s, d): [0, 5, 6] for s in range(6) for d in range(10)}  # test index 0; train 5 and 6
    metadata = json.loads(arrays["metadata"][0])
    assert metadata["sample_rate"] == 8000 and metadata["license"].startswith("CC BY-SA 4.0")
    assert metadata["source"] == "https://github.com/Jakobovski/free-spoken-digit-dataset"
    assert metadata["speakers"] == list(data.FSDD_SPEAKERS) and "index 0-4 test" in metadata["subset"]
    assert "CC BY-SA 4.0" in fsdd.__doc__ and "Jakobovski" in fsdd.__doc__


def test_embedded_recordings_are_the_local_files(fsdd_dir):
    """Embedded train and test are subsets of the local splits, sample for sample, in the same places."""
    folder = fsdd_dir / "fsdd" / "recordings"
    names = _shipped_arrays()["file_names"].tolist()
    test_waves, _, _ = data.load_arrays("fsdd", "test", source="embedded")
    train_waves, _, _ = data.load_arrays("fsdd", "train", source="embedded")
    for wave, name in zip(test_waves + train_waves, [n for n in names if n.endswith("_0.wav")]
                          + [n for n in names if not n.endswith("_0.wav")]):
        np.testing.assert_array_equal(wave, audio.read_wav(folder / name)[0])
    # Local test holds indices 0-4 per speaker and digit, train 5-49: the embedded ones sit at fixed offsets.
    local_test = data.load_arrays("fsdd", "test", data_dir=fsdd_dir, source="local")
    local_train = data.load_arrays("fsdd", "train", data_dir=fsdd_dir, source="local")
    embedded_test = data.load_arrays("fsdd", "test", source="embedded")
    embedded_train = data.load_arrays("fsdd", "train", source="embedded")
    for local, embedded, rows in (
        (local_test, embedded_test, np.arange(60) * 5),
        (local_train, embedded_train, (np.arange(60)[:, None] * 45 + np.array([0, 1])).reshape(-1)),
    ):
        for a, b in zip([local[0][i] for i in rows], embedded[0]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(local[1][rows], embedded[1])
        np.testing.assert_array_equal(local[2][rows], embedded[2])


def test_embedded_needs_no_files_nor_network(no_env, monkeypatch, tmp_path):
    waves, digits, speakers = data.load_arrays("fsdd", "test[:3]", source="embedded")
    assert len(waves) == 3 and digits.tolist() == [0, 1, 2] and speakers.tolist() == [0, 0, 0]
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "missing"))  # ignored by source="embedded"
    assert len(data.load_arrays("fsdd", "train", source="embedded")[0]) == 120
    assert no_env.calls == []  # tensorflow_datasets never asked
    with core.recording_files() as files:
        data.load_arrays("fsdd", "test", source="embedded")
    assert files == [str(EMBEDDED_PATH.resolve())]
    with pytest.raises(ValueError, match="data_dir=.*only used with"):
        data.load_arrays("fsdd", data_dir=tmp_path, source="embedded")


def test_auto_source_does_not_fall_back_to_embedded(no_env):
    """Automatic never swaps in the 180-recording subset: it says how to get the data, embedded among the ways."""
    for load in (data.load_arrays, data.load):
        with pytest.raises(data.DataNotFoundError) as info:
            load("fsdd", "train")
        message = str(info.value)
        assert data.DATA_DIR_ENV in message and 'source="embedded"' in message and "180 recordings" in message
    with pytest.raises(data.DataNotFoundError, match='(?s)needs a data folder.*source="embedded"'):
        data.load_arrays("fsdd", source="local")


def test_embedded_pipelines():
    waves, digits, speakers = data.load_arrays("fsdd", "test", source="embedded")
    total = sum(w.shape[0] for w in waves)
    # Whole recordings, padded within the batch.
    batches = _batches(data.load("fsdd", "test", batch_size=8, source="embedded"))
    assert len(batches) == 8 and sum(b[2].sum() for b in batches) == total
    first = batches[0]
    assert first[1].shape == (8, max(w.shape[0] for w in waves[:8]))
    np.testing.assert_array_equal(first[1][0, : waves[0].shape[0]], audio.mu_law_encode(waves[0]))
    # Consecutive chunks cover every sample once; labels by speaker.
    batches = _batches(data.load("fsdd", "test", batch_size=16, segment_length=1000, random_crop=False,
                                 with_labels=True, label="speaker", source="embedded"))
    assert all(b[1].shape[1] == 1000 for b in batches) and sum(b[2].sum() for b in batches) == total
    counts = [-(-w.shape[0] // 1000) for w in waves]
    np.testing.assert_array_equal(np.concatenate([b[0]["labels"] for b in batches]), np.repeat(speakers, counts))
    # Random crops of train, digits as labels, 16 mu-law levels.
    dataset = data.load("fsdd", "train", batch_size=32, segment_length=2000, with_labels=True,
                        quantization_channels=16, source="embedded", drop_remainder=True)
    batches = _batches(dataset)
    assert len(batches) == 120 // 32
    x, tokens, weights = batches[0]
    assert tokens.shape == (32, 2000) and tokens.max() <= 15 and x["labels"].dtype == np.int32
    assert set(x["labels"].tolist()) <= set(range(10)) and weights[:, :1148].min() == 1  # FSDD's shortest: 1148
    assert np.all(np.diff(weights, axis=1) <= 0)  # real samples, then (for a short recording) padding


def test_wavenet_tiny_fits_one_step_on_embedded():
    import kgen

    model = kgen.zoo.get("wavenet.tiny", num_classes=10)
    model.compile(optimizer="adam")
    train = data.load("fsdd", "train", batch_size=2, segment_length=256, with_labels=True,
                      quantization_channels=16, source="embedded")
    history = model.fit(train, epochs=1, steps_per_epoch=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def _corrupt_cases():
    arrays = _shipped_arrays()

    def changed(**updates):
        return {**arrays, **updates}

    wrong_speaker = arrays["speakers"].copy()
    wrong_speaker[3] = (wrong_speaker[3] + 1) % 6
    metadata = json.loads(arrays["metadata"][0])
    return [
        ({"raw": b"PK\x03\x04 not really a zip"}, "not a valid .npz"),
        ({"raw": EMBEDDED_PATH.read_bytes()[:-100]}, "not a valid .npz"),
        ({"arrays": {k: v for k, v in arrays.items() if k != "lengths"}}, r"expected exactly \["),
        ({"arrays": changed(extra=np.zeros(3))}, r"expected exactly \["),
        ({"arrays": changed(samples=arrays["samples"].astype(np.float32))}, "array 'samples' is float32"),
        ({"arrays": changed(samples=arrays["samples"].astype(np.int32))}, "samples are int32; expected int16"),
        ({"arrays": changed(lengths=arrays["lengths"][:-1])}, "differ in length"),
        ({"arrays": changed(lengths=arrays["lengths"] + 1)}, "do not split the"),
        ({"arrays": changed(speakers=wrong_speaker)}, r"is stored as digit, speaker, index"),
        ({"arrays": changed(file_names=np.array(["x.wav"] + arrays["file_names"].tolist()[1:]))},
         "Bad FSDD file name x.wav in embedded"),
        ({"arrays": changed(metadata=np.array(["{not json"]))}, "metadata is not JSON"),
        ({"arrays": changed(metadata=np.array([json.dumps({**metadata, "sample_rate": 16000})]))},
         "sample rate 16000; expected 8000"),
        ({"arrays": changed(metadata=np.array([json.dumps({**metadata, "license": "unknown"})]))},
         "CC BY-SA 4.0 licence"),
    ]


def test_corrupt_embedded_file_is_one_clear_error(embedded_copy):
    for kwargs, message in _corrupt_cases():
        path = embedded_copy(**kwargs)
        for load in (lambda: data.load_arrays("fsdd", "test", source="embedded"),
                     lambda: data.load("fsdd", "train", source="embedded")):
            with pytest.raises(ValueError, match=message) as info:
                load()
            assert str(path) in str(info.value), (message, str(info.value))
    embedded_copy()  # the real file again: fine
    assert len(data.load_arrays("fsdd", "test", source="embedded")[0]) == 60


def test_embedded_file_missing_or_too_large(embedded_copy, monkeypatch):
    with pytest.raises(data.DataNotFoundError, match="(?s)embedded FSDD subset .*fsdd_subset.npz is missing.*"
                       "make_embedded_fsdd.py") as info:
        data.load_arrays("fsdd", source="embedded")
    assert isinstance(info.value, FileNotFoundError)
    path = embedded_copy()
    monkeypatch.setattr(fsdd, "EMBEDDED_MAX_BYTES", 1000)
    with pytest.raises(ValueError, match=f"Corrupt embedded FSDD subset {re.escape(str(path))}: larger than 1000"):
        data.load_arrays("fsdd", source="embedded")
    monkeypatch.setattr(fsdd, "EMBEDDED_MAX_BYTES", 2 * 1024 * 1024)
    monkeypatch.setattr(fsdd, "_EMBEDDED_MAX_ARRAY_BYTES", 100_000)
    with pytest.raises(ValueError, match="its arrays hold more than 100000 bytes"):
        data.load_arrays("fsdd", source="embedded")


def test_embedded_tool_rebuilds_the_shipped_subset(fsdd_dir, tmp_path):
    import make_embedded_fsdd as tool  # tools/ (on the tests' path: pyproject.toml's pytest `pythonpath`)

    out = tmp_path / "again.npz"
    tool.main(["--data-dir", str(fsdd_dir), "--out", str(out)])
    with np.load(out) as npz:
        rebuilt = {key: npz[key] for key in npz.files}
    shipped = _shipped_arrays()
    assert sorted(rebuilt) == sorted(shipped)
    for key in shipped:
        np.testing.assert_array_equal(rebuilt[key], shipped[key])
    first = out.read_bytes()
    tool.main(["--data-dir", str(fsdd_dir), "--out", str(out)])
    assert out.read_bytes() == first  # byte-for-byte deterministic
    with pytest.raises(SystemExit, match="not in the test split"):
        tool.main(["--data-dir", str(fsdd_dir), "--out", str(out), "--test-indices", "7"])

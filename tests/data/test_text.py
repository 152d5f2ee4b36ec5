"""Tests for kgen.data's text loader (Tiny Shakespeare, kgen.data.text)."""

import gzip
import hashlib
import itertools
import os
import re
from pathlib import Path

import numpy as np
import pytest

from kgen import data
from kgen.data import core, text

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

NUM_CHARS = 1115394
NUM_TRAIN = NUM_CHARS * 9 // 10  # 1,003,854
NUM_TEST = NUM_CHARS - NUM_TRAIN  # 111,540


@pytest.fixture
def text_dir(shared_data_dir):
    if not (shared_data_dir / "tinyshakespeare" / "input.txt").is_file():
        pytest.skip(f"Tiny Shakespeare not found at {shared_data_dir} (set KGEN_DATA_DIR)")
    return shared_data_dir


def _write_corpus(root, content):
    folder = root / "tinyshakespeare"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "input.txt"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def _batches(dataset):
    out = []
    for x, y, w in dataset:
        x, y, w = np.asarray(x), np.asarray(y), np.asarray(w)
        np.testing.assert_array_equal(x, y)
        out.append((x, w))
    return out


def _scored(batches):
    """The tokens with weight 1, window by window, and the positions they sit at."""
    tokens = np.concatenate([b[0] for b in batches])
    weights = np.concatenate([b[1] for b in batches])
    return tokens, weights


# ----------------------------------------------------------------------------
# Strings and arrays
# ----------------------------------------------------------------------------


def test_splits_are_90_10_of_the_characters(text_dir):
    full = (text_dir / "tinyshakespeare" / "input.txt").read_text()
    train = data.load_text("tinyshakespeare", "train", data_dir=text_dir)
    test = data.load_text("tinyshakespeare", split="test", data_dir=text_dir)
    assert isinstance(train, str) and len(full) == NUM_CHARS
    assert len(train) == NUM_TRAIN and len(test) == NUM_TEST
    assert train + test == full
    assert data.load_text("tinyshakespeare", "test[:100]", data_dir=text_dir) == test[:100]
    assert data.load_text("tinyshakespeare", "train[-50:]", data_dir=text_dir) == train[-50:]
    tokens = data.load_arrays("tinyshakespeare", "test", data_dir=text_dir)
    assert tokens.dtype == np.int32 and tokens.shape == (NUM_TEST,)
    np.testing.assert_array_equal(tokens, np.frombuffer(test.encode(), np.uint8))
    with pytest.raises(ValueError, match=r"split='test\[5:5\]' selects no characters"):
        data.load_text("tinyshakespeare", "test[5:5]", data_dir=text_dir)


def test_env_var_and_file_layouts(text_dir, monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(text_dir))
    assert len(data.load_text("tinyshakespeare", "test")) == NUM_TEST
    (tmp_path / "input.txt").symlink_to(text_dir / "tinyshakespeare" / "input.txt")
    assert len(data.load_text("tinyshakespeare", "test", data_dir=tmp_path)) == NUM_TEST


def test_utf8_uses_bytes_and_cache_sees_changes(tmp_path):
    path = _write_corpus(tmp_path, "abcdefghij" * 9 + "éèàùç" + "klmno")
    test = data.load_text("tinyshakespeare", "test", data_dir=tmp_path)
    assert test == "éèàùçklmno"  # 10% of the 100 characters
    tokens = data.load_arrays("tinyshakespeare", "test", data_dir=tmp_path)
    np.testing.assert_array_equal(tokens, np.frombuffer(test.encode("utf-8"), np.uint8))
    batches = _batches(data.load("tinyshakespeare", "test", sequence_length=4, data_dir=tmp_path))
    assert _scored(batches)[1].sum() == len(test.encode("utf-8")) == 15
    path.write_text("ABCDEFGHIJ" * 10)
    os.utime(path, ns=(1, 1))
    assert data.load_text("tinyshakespeare", "test", data_dir=tmp_path) == "ABCDEFGHIJ"


def test_never_writes_into_data_dir(tmp_path):
    _write_corpus(tmp_path, "To be, or not to be: that is the question.\n" * 20)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    data.load_text("tinyshakespeare", "train", data_dir=tmp_path)
    list(data.load("tinyshakespeare", "train", sequence_length=16, data_dir=tmp_path))
    list(data.load("tinyshakespeare", "test", sequence_length=16, data_dir=tmp_path))
    assert before == sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))


# ----------------------------------------------------------------------------
# Evaluation windows
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("length", [256, 255, 7, 2])
def test_test_windows_score_every_byte_once(text_dir, length):
    split = "test" if length >= 255 else "test[:3001]"
    expected = data.load_arrays("tinyshakespeare", split, data_dir=text_dir)
    batches = _batches(
        data.load("tinyshakespeare", split, batch_size=32, sequence_length=length, data_dir=text_dir)
    )
    tokens, weights = _scored(batches)
    assert tokens.dtype == np.int32 and weights.dtype == np.float32
    assert tokens.shape[1] == length and set(np.unique(weights).tolist()) <= {0.0, 1.0}
    assert weights.sum() == expected.shape[0]  # every byte of the split, exactly once
    stride = length // 2
    # Window i starts at i * stride; its scored positions, in order, rebuild the split.
    positions = np.arange(tokens.shape[0])[:, None] * stride + np.arange(length)[None, :]
    scored = weights == 1
    np.testing.assert_array_equal(positions[scored], np.arange(expected.shape[0]))
    np.testing.assert_array_equal(tokens[scored], expected)
    assert weights[0].sum() == min(length, expected.shape[0])  # the first window: all scored
    assert not weights[1:, : length - stride].any()  # later: at least half a window of context
    assert np.all(tokens[positions >= expected.shape[0]] == text.PAD_ID)


def test_test_windows_shuffle_and_drop_remainder(text_dir):
    ordered = _batches(
        data.load("tinyshakespeare", "test[:5000]", batch_size=1000, sequence_length=64, data_dir=text_dir)
    )[0]
    dataset = data.load(
        "tinyshakespeare", "test[:5000]", batch_size=1000, sequence_length=64, shuffle=True,
        data_dir=text_dir,
    )
    first, second = _batches(dataset)[0], _batches(dataset)[0]
    assert not np.array_equal(first[0], ordered[0]) and not np.array_equal(first[0], second[0])
    assert first[1].sum() == 5000
    batches = _batches(
        data.load("tinyshakespeare", "test[:5000]", batch_size=50, sequence_length=64,
                  drop_remainder=True, data_dir=text_dir)
    )
    assert len(batches) == ordered[0].shape[0] // 50 and all(b[0].shape == (50, 64) for b in batches)


def test_evaluation_windows_helper():
    windows, weights = text.evaluation_windows(np.arange(1, 11), 4)
    assert windows.tolist() == [[1, 2, 3, 4], [3, 4, 5, 6], [5, 6, 7, 8], [7, 8, 9, 10]]
    assert weights.tolist() == [[1, 1, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]
    windows, weights = text.evaluation_windows(np.arange(1, 6), 4)
    assert windows.tolist() == [[1, 2, 3, 4], [3, 4, 5, 0]]
    assert weights.tolist() == [[1, 1, 1, 1], [0, 0, 1, 0]]
    windows, weights = text.evaluation_windows(np.array([9]), 3)
    assert windows.tolist() == [[9, 0, 0]] and weights.tolist() == [[1, 0, 0]]
    with pytest.raises(ValueError, match="tokens must be a non-empty 1-D integer array"):
        text.evaluation_windows(np.zeros(0, np.int32), 4)
    with pytest.raises(ValueError, match="`sequence_length` must be an integer >= 2"):
        text.evaluation_windows(np.arange(5), 1)


# ----------------------------------------------------------------------------
# Training windows
# ----------------------------------------------------------------------------


def test_train_windows_random_seeded_new_each_epoch(text_dir):
    split, length = "train[:20000]", 64
    corpus = data.load_text("tinyshakespeare", split, data_dir=text_dir).encode()

    def epochs(seed, shuffle=None):
        dataset = data.load(
            "tinyshakespeare", split, batch_size=100, sequence_length=length, seed=seed,
            shuffle=shuffle, data_dir=text_dir,
        )
        return [np.concatenate([b[0] for b in _batches(dataset)]) for _ in range(2)]

    (a1, a2), (b1, b2), (c1, _) = epochs(0), epochs(0), epochs(1)
    for tokens in (a1, a2, c1):
        assert tokens.shape == (20000 // length, length) and tokens.dtype == np.int32
        for row in tokens[::10]:
            assert bytes(row.astype(np.uint8)) in corpus  # a real window of the split
    weights = np.concatenate(
        [b[1] for b in _batches(data.load("tinyshakespeare", split, sequence_length=length, data_dir=text_dir))]
    )
    assert weights.shape == (20000 // length, length) and weights.min() == 1
    assert not np.array_equal(a1, a2)  # new windows every epoch
    np.testing.assert_array_equal(a1, b1)  # reproducible from the seed
    np.testing.assert_array_equal(a2, b2)
    assert not np.array_equal(a1, c1)
    # Random offsets, not a fixed grid: many starts are not multiples of the length.
    starts = [corpus.find(bytes(row.astype(np.uint8))) for row in a1]
    assert sum(s % length != 0 for s in starts) > len(starts) // 2
    # shuffle=False: the same kind of random windows, in order of their start.
    ordered = epochs(0, shuffle=False)[0]
    starts = [corpus.find(bytes(row.astype(np.uint8))) for row in ordered]
    assert sum(b < a for a, b in itertools.pairwise(starts)) <= 2  # (a repeated line may match earlier)


def test_full_train_epoch_size(text_dir):
    dataset = data.load("tinyshakespeare", "train", batch_size=512, data_dir=text_dir)
    assert int(dataset.cardinality()) == -(-(NUM_TRAIN // 256) // 512)
    first = next(iter(dataset))
    assert tuple(first[0].shape) == (512, 256)


# ----------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------


def test_missing_folder_and_file(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    with pytest.raises(data.DataNotFoundError, match=re.escape(str(missing))) as info:
        data.load_text("tinyshakespeare", data_dir=missing)
    assert isinstance(info.value, FileNotFoundError) and data.DATA_DIR_ENV in str(info.value)
    with pytest.raises(data.DataNotFoundError, match=re.escape(str(tmp_path / "tinyshakespeare" / "input.txt"))):
        data.load("tinyshakespeare", data_dir=tmp_path)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    with pytest.raises(data.DataNotFoundError, match="needs a data folder"):
        data.load_arrays("tinyshakespeare", "test")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\xff\xfe not utf-8 at all \x80\x81" * 3, "not valid UTF-8"),
        (b"", "0 characters"),
        (b"short", "5 characters"),
        (b"binary\x00data" * 5, "NUL characters"),
    ],
)
def test_bad_text_file_names_it(tmp_path, content, message):
    path = _write_corpus(tmp_path, content)
    for load in (data.load_text, data.load):
        with pytest.raises(ValueError, match=message) as info:
            load("tinyshakespeare", "train", data_dir=tmp_path)
        assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "shakespeare"}, "name='shakespeare'.*mnist, binarized_mnist, fsdd, tinyshakespeare"),
        ({"split": "valid"}, "split='valid'"),
        ({"split": None}, "split=None"),
        ({"batch_size": 0}, "`batch_size` must be an integer >= 1"),
        ({"batch_size": True}, "`batch_size` must be"),
        ({"sequence_length": 1}, "`sequence_length` must be an integer >= 2"),
        ({"sequence_length": "256"}, "`sequence_length` must be"),
        ({"shuffle": "yes"}, "`shuffle` must be True, False or None"),
        ({"seed": -3}, "`seed` must be an integer >= 0"),
        ({"drop_remainder": 1}, "`drop_remainder` must be True or False"),
        ({"data_dir": ""}, "data_dir must be a non-empty path"),
        ({"source": "web"}, "source='web' for text.*'local', 'embedded'"),
        ({"source": "embedded"}, "data_dir=.*only used with"),
    ],
)
def test_bad_arguments_raise_before_any_work(load_rejects, kwargs, message):
    load_rejects("tinyshakespeare", kwargs, message)


def test_sequence_longer_than_train_split(text_dir):
    with pytest.raises(ValueError, match=r"sequence_length=256 is longer than split='train\[:100\]'"):
        data.load("tinyshakespeare", "train[:100]", data_dir=text_dir)
    batches = _batches(data.load("tinyshakespeare", "test[:100]", data_dir=text_dir))
    assert _scored(batches)[1].sum() == 100  # evaluation pads instead


def test_load_text_bad_name_and_exports():
    with pytest.raises(ValueError, match="name='fsdd'.*tinyshakespeare"):
        data.load_text("fsdd")
    assert {"fsdd", "tinyshakespeare", "mnist", "binarized_mnist"} <= set(data.NAMES)
    assert data.NAMES[:2] == ("mnist", "binarized_mnist")


def test_dataset_feeds_keras_fit(text_dir, fits_sequence_model):
    fits_sequence_model(
        data.load("tinyshakespeare", "train[:2000]", batch_size=8, sequence_length=64, data_dir=text_dir),
        data.load("tinyshakespeare", "test[:1000]", batch_size=8, sequence_length=64, data_dir=text_dir),
    )


# ----------------------------------------------------------------------------
# The embedded copy (source="embedded")
# ----------------------------------------------------------------------------

MD5 = "6fb458f1232090904fb40fe944165e91"
EMBEDDED_PATH = Path(text.__file__).parent / "embedded" / text.EMBEDDED["tinyshakespeare"][0]


@pytest.fixture
def embedded_copy(monkeypatch, tmp_path):
    """``embedded_copy(raw=None)``: kgen reads its embedded files from a folder in tmp_path holding the text file
    with ``raw`` bytes (by default a copy of the shipped one); returns its path."""
    folder = tmp_path / "embedded"
    folder.mkdir()
    monkeypatch.setattr(core, "EMBEDDED_DIR", folder)
    core._read_embedded_cached.cache_clear()

    def make(raw=None):
        path = folder / EMBEDDED_PATH.name
        path.write_bytes(EMBEDDED_PATH.read_bytes() if raw is None else raw)
        return path

    yield make
    core._read_embedded_cached.cache_clear()


def test_embedded_is_the_whole_corpus_md5_checked():
    assert 400_000 < EMBEDDED_PATH.stat().st_size <= 450_000  # 0.43 MB of gzip
    assert text.EMBEDDED["tinyshakespeare"][1] == MD5
    raw = gzip.decompress(EMBEDDED_PATH.read_bytes())
    assert hashlib.md5(raw).hexdigest() == MD5 and len(raw) == NUM_CHARS
    train = data.load_text("tinyshakespeare", "train", source="embedded")
    test = data.load_text("tinyshakespeare", "test", source="embedded")
    assert len(train) == NUM_TRAIN and len(test) == NUM_TEST and (train + test).encode() == raw
    assert train.startswith("First Citizen:\n")
    tokens = data.load_arrays("tinyshakespeare", "test[:1000]", source="embedded")
    assert tokens.dtype == np.int32 and tokens.shape == (1000,)
    np.testing.assert_array_equal(tokens, np.frombuffer(test[:1000].encode(), np.uint8))


def test_embedded_splits_are_the_local_ones(text_dir):
    local_bytes = (text_dir / "tinyshakespeare" / "input.txt").read_bytes()
    for split in ("train", "test", "test[:777]", "train[-50:]"):
        embedded = data.load_text("tinyshakespeare", split, source="embedded")
        assert embedded == data.load_text("tinyshakespeare", split, data_dir=text_dir, source="local")
    both = data.load_text("tinyshakespeare", "train", source="embedded") + data.load_text(
        "tinyshakespeare", "test", source="embedded")
    assert both.encode() == local_bytes
    for split, length in (("train[:5000]", 64), ("test[:3000]", 128)):
        kwargs = dict(batch_size=16, sequence_length=length, seed=3)
        for a, b in zip(_batches(data.load("tinyshakespeare", split, source="embedded", **kwargs)),
                        _batches(data.load("tinyshakespeare", split, data_dir=text_dir, **kwargs))):
            np.testing.assert_array_equal(a[0], b[0])
            np.testing.assert_array_equal(a[1], b[1])


def test_embedded_needs_no_files_nor_network(no_env, monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "missing"))  # ignored by source="embedded"
    assert len(data.load_text("tinyshakespeare", "test", source="embedded")) == NUM_TEST
    with core.recording_files() as files:
        data.load_arrays("tinyshakespeare", "test[:10]", source="embedded")
    assert files == [str(EMBEDDED_PATH.resolve())] and no_env.calls == []
    with pytest.raises(ValueError, match="data_dir=.*only used with"):
        data.load_text("tinyshakespeare", data_dir=tmp_path, source="embedded")
    with pytest.raises(ValueError, match="source='tfds' for text.*'local', 'embedded'"):
        data.load_text("tinyshakespeare", source="tfds")


def test_auto_source_does_not_fall_back_to_embedded(monkeypatch):
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    for load in (data.load_text, data.load_arrays, data.load):
        with pytest.raises(data.DataNotFoundError, match='(?s)needs a data folder.*KGEN_DATA_DIR.*source="embedded"'):
            load("tinyshakespeare", "test")


def test_embedded_pipelines():
    test = data.load_arrays("tinyshakespeare", "test[:5000]", source="embedded")
    batches = _batches(data.load("tinyshakespeare", "test[:5000]", batch_size=64, sequence_length=100,
                                 source="embedded"))
    tokens, weights = _scored(batches)
    assert tokens.shape[1] == 100 and weights.sum() == 5000
    np.testing.assert_array_equal(tokens[weights == 1], test)  # every byte scored once, in order
    dataset = data.load("tinyshakespeare", "train", batch_size=128, sequence_length=256, source="embedded")
    assert int(dataset.cardinality()) == -(-(NUM_TRAIN // 256) // 128)
    corpus = data.load_text("tinyshakespeare", "train", source="embedded").encode()
    x, w = _batches(dataset.take(1))[0]
    assert x.shape == (128, 256) and w.min() == 1
    assert all(bytes(row.astype(np.uint8)) in corpus for row in x[:8])


def test_bytenet_tiny_fits_one_step_on_embedded():
    import kgen

    model = kgen.zoo.get("bytenet.tiny")
    model.compile(optimizer="adam")
    train = data.load("tinyshakespeare", "train[:20000]", batch_size=4, sequence_length=64, source="embedded")
    history = model.fit(train, epochs=1, steps_per_epoch=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def _gzip(content):
    return gzip.compress(content, mtime=0)


@pytest.mark.parametrize(
    "make_raw, message",
    [
        (lambda raw: b"First Citizen:\n" * 100, "not a gzip file"),
        (lambda raw: raw[: len(raw) // 2], "truncated"),
        (lambda raw: raw[:-8] + b"\x00" * 8, "not a valid gzip stream"),  # CRC and size
        (lambda raw: raw[:5000] + bytes(b ^ 0xFF for b in raw[5000:5100]) + raw[5100:], "not a valid gzip stream"),
        (lambda raw: raw + b"extra", "5 bytes after the gzip stream"),
        (lambda raw: _gzip(gzip.decompress(raw).replace(b"Citizen", b"Citoyen", 1)),
         f"wrong md5 [0-9a-f]{{32}} of its contents; expected {MD5}"),
        (lambda raw: _gzip(b"a" * (5 * 1024 * 1024)), "decompresses to more than 4194304 bytes"),
    ],
)
def test_corrupt_embedded_text_is_one_clear_error(embedded_copy, make_raw, message):
    path = embedded_copy(make_raw(EMBEDDED_PATH.read_bytes()))
    for load in (data.load_text, data.load_arrays, data.load):
        with pytest.raises(ValueError, match=message) as info:
            load("tinyshakespeare", "test", source="embedded")
        assert f"embedded tinyshakespeare text {path}" in str(info.value)


def test_embedded_text_missing_or_too_large(embedded_copy, monkeypatch):
    with pytest.raises(data.DataNotFoundError, match="(?s)tinyshakespeare.txt.gz is missing.*"
                       "make_embedded_shakespeare.py") as info:
        data.load_text("tinyshakespeare", source="embedded")
    assert isinstance(info.value, FileNotFoundError)
    path = embedded_copy()
    monkeypatch.setitem(text.EMBEDDED, "tinyshakespeare", (path.name, MD5, 1000))
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}: larger than 1000 bytes"):
        data.load_text("tinyshakespeare", source="embedded")


def test_embedded_tool_rebuilds_the_shipped_file(text_dir, tmp_path):
    import make_embedded_shakespeare as tool

    out = tmp_path / "again.txt.gz"
    tool.main(["--data-dir", str(text_dir), "--out", str(out)])
    first = out.read_bytes()
    assert gzip.decompress(first) == gzip.decompress(EMBEDDED_PATH.read_bytes())
    assert first == tool.build(text_dir)  # deterministic: no name, no timestamp in the gzip header
    _write_corpus(tmp_path / "other", "Not Shakespeare at all.\n" * 10)
    with pytest.raises(SystemExit, match=f"expected {MD5}"):
        tool.main(["--data-dir", str(tmp_path / "other"), "--out", str(tmp_path / "never.gz")])
    assert not (tmp_path / "never.gz").exists()

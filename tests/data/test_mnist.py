"""Tests for kgen.data (MNIST and binarized MNIST)."""

import gzip
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

from kgen import data
from kgen.data import mnist

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

CANONICAL_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _shared_data_dir():
    env = os.environ.get(data.DATA_DIR_ENV)
    candidate = Path(env) if env else SHARED_DATA
    if not (candidate / "mnist" / "train-images-idx3-ubyte.gz").is_file():
        return None
    return candidate


@pytest.fixture
def data_dir():
    path = _shared_data_dir()
    if path is None:
        pytest.skip(
            f"real MNIST IDX files not found (set {data.DATA_DIR_ENV} or provide "
            f"{SHARED_DATA}/mnist)"
        )
    return path


# ----------------------------------------------------------------------------
# Helpers building (corrupt) IDX files
# ----------------------------------------------------------------------------


def _idx_bytes(array, magic=None, dims=None):
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = 0x0800 | array.ndim
    if dims is None:
        dims = array.shape
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + array.tobytes()


def _write_mnist(folder, n=20, split="test", seed=0, **overrides):
    """Writes a small valid (or, with overrides, corrupt) IDX pair in folder/mnist."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=(n,), dtype=np.uint8)
    images_name, labels_name = mnist.IDX_FILES[split]
    contents = {
        images_name: overrides.get("images_bytes", _idx_bytes(images)),
        labels_name: overrides.get("labels_bytes", _idx_bytes(labels)),
    }
    (folder / "mnist").mkdir(parents=True, exist_ok=True)
    for name, raw in contents.items():
        (folder / "mnist" / name).write_bytes(
            raw if overrides.get("raw", {}).get(name) else gzip.compress(raw)
        )
    return images, labels


# ----------------------------------------------------------------------------
# Local files (the real data set)
# ----------------------------------------------------------------------------


def test_local_train_shapes_dtypes_and_canonical_counts(data_dir):
    images, labels = data.load_arrays("mnist", "train", data_dir=data_dir)
    assert images.shape == (60000, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (60000,) and labels.dtype == np.int64
    assert np.bincount(labels).tolist() == CANONICAL_TRAIN_COUNTS
    assert images.max() == 255 and images.min() == 0


def test_local_test_split_and_env_var(data_dir, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(data_dir))
    images, labels = data.load_arrays("mnist", "test")
    assert images.shape == (10000, 28, 28, 1) and labels.shape == (10000,)
    assert images.flags.writeable  # fresh copies, not the cache


def test_local_files_directly_in_data_dir(data_dir, tmp_path):
    for name in mnist.IDX_FILES["test"]:
        (tmp_path / name).symlink_to(data_dir / "mnist" / name)
    images, labels = data.load_arrays("mnist", "test[:10]", data_dir=tmp_path)
    expected, expected_labels = data.load_arrays(
        "mnist", "test[:10]", data_dir=data_dir
    )
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(labels, expected_labels)


def test_slices(data_dir):
    full, full_labels = data.load_arrays("mnist", "test", data_dir=data_dir)
    for split, index in [
        ("test[:1000]", slice(None, 1000)),
        ("test[500:2000]", slice(500, 2000)),
        ("test[-100:]", slice(-100, None)),
        ("test[:]", slice(None)),
    ]:
        images, labels = data.load_arrays("mnist", split, data_dir=data_dir)
        np.testing.assert_array_equal(images, full[index])
        np.testing.assert_array_equal(labels, full_labels[index])
    with pytest.raises(ValueError, match="split='test\\[5:5\\]' selects no examples"):
        data.load_arrays("mnist", "test[5:5]", data_dir=data_dir)


def test_fixed_binarization_is_reproducible(data_dir):
    images, _ = data.load_arrays("mnist", "test", data_dir=data_dir)
    first, labels = data.load_arrays("binarized_mnist", "test", data_dir=data_dir)
    second, _ = data.load_arrays("binarized_mnist", "test", data_dir=data_dir)
    assert first.dtype == np.uint8 and first.shape == (10000, 28, 28, 1)
    assert set(np.unique(first).tolist()) == {0, 1}
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(
        first, data.binarize(images, data.BINARIZATION_SEEDS["test"])
    )
    assert abs(first.mean() - images.mean() / 255.0) < 2e-3
    assert first[images == 0].max() == 0 and first[images == 255].min() == 1
    # Slices are taken after binarising the whole split.
    sliced, _ = data.load_arrays("binarized_mnist", "test[500:600]", data_dir=data_dir)
    np.testing.assert_array_equal(sliced, first[500:600])


def test_embedded_matches_first_local_digits(data_dir):
    for name in mnist.NAMES:
        for split, count in (("train", 8000), ("test", 2000)):
            local = data.load_arrays(name, f"{split}[:{count}]", data_dir=data_dir)
            embedded = data.load_arrays(name, split, source="embedded")
            np.testing.assert_array_equal(embedded[0], local[0])
            np.testing.assert_array_equal(embedded[1], local[1])


def test_never_writes_into_data_dir(tmp_path):
    _write_mnist(tmp_path)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    data.load_arrays("binarized_mnist", "test", data_dir=tmp_path)
    data.load("mnist", "test", data_dir=tmp_path)
    after = sorted((p.name, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    assert before == after


def test_cache_is_per_file_and_sees_changes(tmp_path):
    images, _ = _write_mnist(tmp_path, seed=1)
    np.testing.assert_array_equal(
        data.load_arrays("mnist", "test", data_dir=tmp_path)[0][..., 0], images
    )
    hits = mnist._base_arrays.cache_info().hits
    data.load_arrays("mnist", "test", data_dir=tmp_path)
    assert mnist._base_arrays.cache_info().hits == hits + 1
    new_images, _ = _write_mnist(tmp_path, n=21, seed=2)
    for name in mnist.IDX_FILES["test"]:
        os.utime(tmp_path / "mnist" / name, ns=(1, 1))
    loaded, _ = data.load_arrays("mnist", "test", data_dir=tmp_path)
    np.testing.assert_array_equal(loaded[..., 0], new_images)


def test_uncompressed_idx_files_are_accepted(tmp_path):
    images, labels = _write_mnist(tmp_path / "gz")
    folder = tmp_path / "raw"
    folder.mkdir()
    for name, array in zip(mnist.IDX_FILES["test"], (images, labels)):
        (folder / name[: -len(".gz")]).write_bytes(_idx_bytes(array))
    loaded, loaded_labels = data.load_arrays("mnist", "test", data_dir=folder)
    np.testing.assert_array_equal(loaded[..., 0], images)
    np.testing.assert_array_equal(loaded_labels, labels)


# ----------------------------------------------------------------------------
# The embedded subset
# ----------------------------------------------------------------------------


def test_embedded_subset_shapes_and_size():
    path = Path(mnist.__file__).parent / "embedded" / mnist.EMBEDDED_FILE
    assert path.stat().st_size <= 2 * 1024 * 1024
    train, train_labels = data.load_arrays("mnist", "train", source="embedded")
    test, test_labels = data.load_arrays("mnist", "test", source="embedded")
    assert train.shape == (8000, 28, 28, 1) and train.dtype == np.uint8
    assert test.shape == (2000, 28, 28, 1) and test_labels.dtype == np.int64
    assert train_labels.shape == (8000,)
    assert set(np.unique(train_labels).tolist()) == set(range(10))
    assert 0.10 < train.mean() / 255 < 0.16  # real digits, not noise
    binary, _ = data.load_arrays("binarized_mnist", "train[:100]", source="embedded")
    assert set(np.unique(binary).tolist()) == {0, 1}


def test_embedded_ignores_env_var(monkeypatch, tmp_path):
    monkeypatch.setenv(data.DATA_DIR_ENV, str(tmp_path / "missing"))
    images, _ = data.load_arrays("mnist", "test[:3]", source="embedded")
    assert images.shape == (3, 28, 28, 1)


# ----------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["cifar10", "MNIST", None, ""])
def test_unknown_name(name):
    with pytest.raises(ValueError, match="name=.*mnist, binarized_mnist"):
        data.load_arrays(name, source="embedded")
    with pytest.raises(ValueError, match="name="):
        data.load(name, source="embedded")


@pytest.mark.parametrize(
    "split",
    ["validation", "train[:10%]", "train[1:2:3]", "train[10]", "Train", "", None, 1],
)
def test_bad_split(split):
    with pytest.raises(ValueError, match="split=.*'train', 'test'"):
        data.load_arrays("mnist", split, source="embedded")
    with pytest.raises(ValueError, match="split="):
        data.load("mnist", split, source="embedded")


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, True, "64", None])
def test_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        data.load("mnist", source="embedded", batch_size=batch_size)


def test_bad_binarization():
    with pytest.raises(ValueError, match="binarization='sometimes'.*'dynamic'"):
        data.load("binarized_mnist", source="embedded", binarization="sometimes")
    with pytest.raises(ValueError, match="binarization='fixed' only applies"):
        data.load("mnist", source="embedded", binarization="fixed")


def test_bad_source_and_other_arguments(tmp_path):
    with pytest.raises(ValueError, match="source='web'"):
        data.load_arrays("mnist", source="web")
    with pytest.raises(ValueError, match="data_dir=.*only used with"):
        data.load_arrays("mnist", data_dir=tmp_path, source="embedded")
    with pytest.raises(ValueError, match="seed must be"):
        data.load("mnist", source="embedded", seed=-1)
    with pytest.raises(ValueError, match="shuffle must be"):
        data.load("mnist", source="embedded", shuffle="yes")
    with pytest.raises(ValueError, match="images must be a uint8"):
        data.binarize(np.zeros((2, 2), np.float32), 0)
    with pytest.raises(ValueError, match="seed must be"):
        data.binarize(np.zeros((2, 2), np.uint8), 1.5)


def test_missing_dir(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(data.DataNotFoundError, match=re.escape(str(missing))) as info:
        data.load_arrays("mnist", data_dir=missing)
    assert isinstance(info.value, FileNotFoundError)
    assert data.DATA_DIR_ENV in str(info.value)


def test_missing_file_names_the_path(tmp_path):
    _write_mnist(tmp_path, split="test")
    expected = tmp_path / "mnist" / "train-images-idx3-ubyte.gz"
    with pytest.raises(data.DataNotFoundError, match=re.escape(str(expected))):
        data.load_arrays("mnist", "train", data_dir=tmp_path)
    (tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.DataNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        data.load_arrays("mnist", "test", data_dir=tmp_path)


def test_local_source_without_dir(no_env):
    with pytest.raises(data.DataNotFoundError, match="needs a data folder"):
        data.load_arrays("mnist", source="local")


_GOOD = np.zeros((5, 28, 28), np.uint8)
_LABELS = np.zeros((5,), np.uint8)


@pytest.mark.parametrize(
    "overrides, file, message",
    [
        (
            {"images_bytes": b"not gzip", "raw": {"t10k-images-idx3-ubyte.gz": True}},
            "t10k-images",
            "expected a gzip file",
        ),
        (
            {
                "images_bytes": gzip.compress(_idx_bytes(_GOOD))[:-20],
                "raw": {"t10k-images-idx3-ubyte.gz": True},
            },
            "t10k-images",
            "not a valid gzip stream",
        ),
        ({"images_bytes": _idx_bytes(_GOOD, magic=2049)}, "t10k-images", "magic"),
        ({"labels_bytes": _idx_bytes(_LABELS, magic=2051)}, "t10k-labels", "magic"),
        ({"images_bytes": _idx_bytes(_GOOD)[:-1]}, "t10k-images", "truncated"),
        ({"images_bytes": _idx_bytes(_GOOD)[:10]}, "t10k-images", "truncated IDX"),
        ({"images_bytes": _idx_bytes(_GOOD) + b"x"}, "t10k-images", "trailing bytes"),
        (
            {"images_bytes": _idx_bytes(np.zeros((5, 32, 32), np.uint8))},
            "t10k-images",
            r"wrong dimensions \(5, 32, 32\); expected \('N', 28, 28\)",
        ),
        ({"labels_bytes": _idx_bytes(_LABELS[:4])}, "t10k-images", "5 images.*4 lab"),
        ({"labels_bytes": _idx_bytes(_LABELS + 10)}, "t10k-labels", "label 10"),
    ],
)
def test_corrupt_files(tmp_path, overrides, file, message):
    _write_mnist(tmp_path, n=5, **overrides)
    with pytest.raises(ValueError, match=f"(?s){file}.*{message}"):
        data.load_arrays("mnist", "test", data_dir=tmp_path)
    with pytest.raises(ValueError, match=file):
        data.load("binarized_mnist", "test", data_dir=tmp_path)


# ----------------------------------------------------------------------------
# Auto source, tfds
# ----------------------------------------------------------------------------


def test_auto_source_offline_raises_helpful_error_quickly(no_env):
    start = time.monotonic()
    with pytest.raises(data.DataNotFoundError) as info:
        data.load_arrays("mnist", "train")
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert data.DATA_DIR_ENV in message and "mnist/" in message
    assert "data_dir=" in message and 'source="embedded"' in message
    assert "train-images-idx3-ubyte.gz" in message
    with pytest.raises(data.DataNotFoundError):
        data.load("binarized_mnist", "test", source="tfds")


_TFDS_IMAGES = np.arange(3 * 784, dtype=np.uint8).reshape(3, 28, 28, 1)
_TFDS_READ = ("as_dataset", "mnist", {"split": "test", "batch_size": -1, "as_supervised": True})


def test_auto_source_reads_a_prepared_tfds_copy(no_env, tmp_path):
    no_env.prepared = True
    no_env.splits = {"test": (_TFDS_IMAGES, np.array([1, 2, 3]))}
    loaded, labels = data.load_arrays("mnist", "test[1:]")  # auto -> the prepared tfds copy
    np.testing.assert_array_equal(loaded, _TFDS_IMAGES[1:])
    assert labels.tolist() == [2, 3] and labels.dtype == np.int64
    tfds_dir = str(tmp_path / "tfds")
    assert no_env.calls == [("is_prepared", "mnist", tfds_dir)] * 2 + [_TFDS_READ]  # asked tfds, never downloaded


def test_auto_source_never_downloads(no_env):
    with pytest.raises(data.DataNotFoundError, match="no prepared tensorflow_datasets 'mnist'") as info:
        data.load_arrays("mnist", "test")
    assert 'pass source="tfds" to download' in str(info.value)
    assert [call[0] for call in no_env.calls] == ["is_prepared"]


def test_tfds_source_downloads_when_not_prepared(no_env, tmp_path):
    no_env.download_error = None
    no_env.splits = {"test": (_TFDS_IMAGES, np.array([4, 5, 6]))}
    images, labels = data.load_arrays("binarized_mnist", "test", source="tfds")
    np.testing.assert_array_equal(images, data.binarize(_TFDS_IMAGES, data.BINARIZATION_SEEDS["test"]))
    assert labels.tolist() == [4, 5, 6]
    tfds_dir = str(tmp_path / "tfds")
    assert no_env.calls[:2] == [("is_prepared", "mnist", tfds_dir), ("download_and_prepare", "mnist", tfds_dir)]
    assert no_env.calls[-1] == _TFDS_READ


def test_tfds_failure_becomes_data_not_found(no_env):
    no_env.download_error = RuntimeError("download failed")
    with pytest.raises(data.DataNotFoundError, match="(?s)Could not download MNIST.*download failed.*embedded"):
        data.load_arrays("mnist", "train", source="tfds")


def test_offline_download_error_says_how_to_provide(no_env):
    with pytest.raises(data.DataNotFoundError) as info:
        data.load("mnist", "test", source="tfds")
    message = str(info.value)
    assert "MNIST" in message and "ConnectionError" in message and "offline" in message
    for way in (data.DATA_DIR_ENV, "data_dir=", 'source="embedded"', "t10k-images-idx3-ubyte.gz"):
        assert way in message


def test_real_tfds_auto_source_asks_is_prepared_and_never_downloads(monkeypatch, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")

    def no_download(*args, **kwargs):
        raise AssertionError("source=None must not start a tensorflow_datasets download")

    monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", no_download)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    with pytest.raises(data.DataNotFoundError, match=f"(?s)no prepared tensorflow_datasets 'mnist' in .*{tmp_path}"):
        data.load_arrays("mnist", "test")


# ----------------------------------------------------------------------------
# tf.data pipelines and Keras
# ----------------------------------------------------------------------------


def _batches(dataset):
    return [{k: np.asarray(v) for k, v in b.items()} for b in dataset]


def test_load_elements():
    dataset = data.load("mnist", "test[:100]", batch_size=32, source="embedded")
    batches = [np.asarray(b) for b in dataset]
    assert [b.shape[0] for b in batches] == [32, 32, 32, 4]
    assert batches[0].dtype == np.float32 and batches[0].shape[1:] == (28, 28, 1)
    expected, _ = data.load_arrays("mnist", "test[:100]", source="embedded")
    np.testing.assert_array_equal(np.concatenate(batches), expected)  # not shuffled

    dataset = data.load(
        "mnist",
        "test[:100]",
        32,
        with_labels=True,
        source="embedded",
        drop_remainder=True,
    )
    batches = _batches(dataset)
    assert len(batches) == 3 and batches[0]["labels"].dtype == np.int32


def test_train_is_shuffled_and_reshuffled():
    dataset = data.load(
        "mnist", "train[:200]", 200, with_labels=True, source="embedded"
    )
    first, second = _batches(dataset), _batches(dataset)
    _, labels = data.load_arrays("mnist", "train[:200]", source="embedded")
    assert not np.array_equal(first[0]["labels"], labels)
    assert sorted(first[0]["labels"].tolist()) == sorted(labels.tolist())
    assert not np.array_equal(first[0]["labels"], second[0]["labels"])
    again = _batches(
        data.load("mnist", "train[:200]", 200, with_labels=True, source="embedded")
    )
    np.testing.assert_array_equal(again[0]["labels"], first[0]["labels"])


def test_dynamic_binarization_fresh_each_epoch_and_seeded():
    def epochs(seed):
        dataset = data.load(
            "binarized_mnist",
            "train[:100]",
            100,
            shuffle=False,
            source="embedded",
            seed=seed,
        )
        return [np.asarray(next(iter(dataset))) for _ in range(2)]

    (a1, a2), (b1, _), (c1, _) = epochs(0), epochs(0), epochs(1)
    images, _ = data.load_arrays("mnist", "train[:100]", source="embedded")
    assert set(np.unique(a1).tolist()) == {0.0, 1.0}
    assert not np.array_equal(a1, a2)  # a new binarisation every epoch
    np.testing.assert_array_equal(a1, b1)  # reproducible from the seed
    assert not np.array_equal(a1, c1)
    assert abs(a1.mean() - images.mean() / 255) < 0.01
    assert a1[images == 0].max() == 0 and a1[images == 255].min() == 1


def test_fixed_binarization_for_test_split():
    dataset = data.load("binarized_mnist", "test[:50]", 50, source="embedded")
    expected, _ = data.load_arrays("binarized_mnist", "test[:50]", source="embedded")
    for _ in range(2):
        np.testing.assert_array_equal(np.asarray(next(iter(dataset))), expected)


def test_dataset_feeds_keras_fit():
    import keras

    class Tiny(keras.Model):
        def __init__(self):
            super().__init__()
            self.flatten = keras.layers.Flatten()
            self.dense = keras.layers.Dense(10)

        def call(self, inputs):
            images = inputs["images"] if isinstance(inputs, dict) else inputs
            return self.dense(self.flatten(images))

        def compute_loss(
            self, x=None, y=None, y_pred=None, sample_weight=None, training=True
        ):
            if isinstance(x, dict):
                loss = keras.losses.sparse_categorical_crossentropy(
                    x["labels"], y_pred, from_logits=True
                )
            else:
                loss = keras.ops.square(y_pred)
            return keras.ops.mean(loss)

    assert keras.backend.backend() == os.environ.get(
        "KERAS_BACKEND", keras.backend.backend()
    )
    for name, with_labels in (("binarized_mnist", False), ("mnist", True)):
        model = Tiny()
        model.compile(optimizer="adam")
        dataset = data.load(
            name, "train[:64]", 32, with_labels=with_labels, source="embedded"
        )
        history = model.fit(dataset, epochs=1, verbose=0, shuffle=False)
        assert np.isfinite(history.history["loss"][0])
        test = data.load(
            name, "test[:64]", 32, with_labels=with_labels, source="embedded"
        )
        assert np.isfinite(model.evaluate(test, verbose=0))


def test_embedded_file_is_rebuilt_byte_for_byte(data_dir, tmp_path):
    import make_embedded_mnist as module

    out = tmp_path / "subset.npz"
    module.main(["--data-dir", str(data_dir), "--out", str(out)])
    shipped = Path(mnist.__file__).parent / "embedded" / mnist.EMBEDDED_FILE
    assert out.read_bytes() == shipped.read_bytes()

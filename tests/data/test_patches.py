"""Tests for the photograph patches loader (kgen.data.patches, data set name "photo_patches")."""

import sys

import numpy as np
import pytest

from kgen import data
from kgen.data import patches

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

pytest.importorskip("sklearn.datasets")

SMALL = dict(num_patches=2000)


def test_shapes_and_dtype():
    x = data.load_arrays("photo_patches", split="train", **SMALL)
    assert x.shape == (2000, 64) and x.dtype == np.float32
    y = data.load_arrays("photo_patches", split="test", patch_size=6, num_patches=300)
    assert y.shape == (300, 36)
    batches = list(data.load("photo_patches", split="test", batch_size=128, num_patches=300))
    assert [tuple(b.shape) for b in batches] == [(128, 64), (128, 64), (44, 64)]
    assert batches[0].dtype.name == "float32"
    np.testing.assert_array_equal(np.concatenate([b.numpy() for b in batches]),
                                  data.load_arrays("photo_patches", split="test", num_patches=300))


def test_patches_come_from_their_positions():
    photos = patches.photographs()
    assert [p.shape for p in photos] == [(427, 640), (427, 640)]
    for split in ("train", "test"):
        raw = patches.load_arrays(split=split, num_patches=200, seed=3, whitening="none")
        images, rows, cols = patches.patch_positions(split, 8, 200, 3)
        for k in range(0, 200, 37):
            expected = photos[images[k]][rows[k] : rows[k] + 8, cols[k] : cols[k] + 8].reshape(-1)
            np.testing.assert_allclose(raw[k], expected, rtol=1e-6)
        assert raw.min() >= 0.0 and raw.max() <= 1.0


def test_splits_are_disjoint_regions():
    cut = 640 * 4 // 5
    images, rows, cols = patches.patch_positions("train", 8, 50_000, 0)
    assert cols.min() >= 0 and (cols + 8).max() <= cut and (rows + 8).max() <= 427
    assert set(np.unique(images)) == {0, 1}  # both photographs
    images, rows, cols = patches.patch_positions("test", 8, 20_000, 0)
    assert cols.min() >= cut and (cols + 8).max() <= 640
    assert set(np.unique(images)) == {0, 1}
    # every train position and every test position are distinct patches
    train = set(zip(*patches.patch_positions("train", 8, 5000, 1)))
    assert len(train) == 5000


def test_whitening_gives_identity_covariance_on_train():
    # Without the regulariser the transform maps the train covariance (all train positions) to the identity; a
    # random sample of 200,000 of those patches has nearly the identity covariance.
    x = data.load_arrays("photo_patches", "train", num_patches=200_000, whitening_epsilon=0.0).astype("float64")
    assert np.abs(x.mean(axis=0)).max() < 0.02
    assert np.abs(np.cov(x.T) - np.eye(64)).max() < 0.05
    # With the default regulariser eps the covariance eigenvalues are lam / (lam + eps) for the train covariance's
    # eigenvalues lam: from the transform's eigenvalues mu = (lam + eps) ** -0.5, that is 1 - eps * mu ** 2.
    rel = patches.DEFAULT_WHITENING_EPSILON
    mu = np.linalg.eigvalsh(patches.whitening_transform(8, rel)[1])
    eps = rel * np.mean(mu**-2.0) / (1.0 + rel)
    expected = np.sort(1.0 - eps * mu**2)
    x = data.load_arrays("photo_patches", "train", num_patches=200_000).astype("float64")
    measured = np.linalg.eigvalsh(np.cov(x.T))
    np.testing.assert_allclose(measured, expected, atol=0.03)
    assert expected.max() > 0.99 and expected.min() > 0.3
    # Not whitened, the covariance is far from the identity.
    raw = data.load_arrays("photo_patches", "train", num_patches=5000, whitening="none")
    assert np.abs(np.cov(raw.T.astype("float64")) - np.eye(64)).max() > 0.5


def test_test_split_uses_the_train_whitening():
    raw = patches.load_arrays(split="test", num_patches=500, whitening="none").astype("float64")
    mean, matrix = patches.whitening_transform(8, patches.DEFAULT_WHITENING_EPSILON)
    np.testing.assert_allclose(patches.load_arrays(split="test", num_patches=500), (raw - mean) @ matrix,
                               rtol=1e-4, atol=1e-4)


def test_seeds_and_slices():
    a = patches.load_arrays(split="train", seed=0, **SMALL)
    np.testing.assert_array_equal(a, patches.load_arrays(split="train", seed=0, **SMALL))
    assert not np.array_equal(a, patches.load_arrays(split="train", seed=1, **SMALL))
    t = patches.load_arrays(split="test", seed=0, num_patches=100)
    np.testing.assert_array_equal(t, patches.load_arrays(split="test", seed=7, num_patches=100))  # fixed held-out
    np.testing.assert_array_equal(patches.load_arrays(split="train[:100]", **SMALL), a[:100])
    np.testing.assert_array_equal(patches.load_arrays(split="train[-5:]", **SMALL), a[-5:])


def test_train_dataset_shuffles_every_epoch():
    ds = data.load("photo_patches", split="train", batch_size=1000, num_patches=1000, seed=0)
    first, second = (next(iter(ds)).numpy() for _ in range(2))
    assert not np.array_equal(first, second)
    np.testing.assert_allclose(np.sort(first, axis=0), np.sort(second, axis=0))
    again = next(iter(data.load("photo_patches", split="train", batch_size=1000, num_patches=1000, seed=0)))
    np.testing.assert_array_equal(again.numpy(), first)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(name="photos"), "photos"),
        (dict(split="validation"), "split"),
        (dict(split="train[5:5]"), "selects no patches"),
        (dict(patch_size=1), "patch_size"),
        (dict(patch_size=33), "patch_size"),
        (dict(patch_size=8.0), "patch_size"),
        (dict(num_patches=0), "num_patches"),
        (dict(num_patches=10**7), "num_patches"),
        (dict(seed=-1), "seed"),
        (dict(whitening="pca"), "whitening"),
        (dict(whitening_epsilon=-0.1), "whitening_epsilon"),
        (dict(whitening_epsilon="small"), "whitening_epsilon"),
    ],
)
def test_bad_arguments(kwargs, name):
    args = dict(name="photo_patches", split="train", num_patches=100)
    args.update(kwargs)
    with pytest.raises(ValueError, match=name):
        data.load_arrays(**args)


@pytest.mark.parametrize(
    "kwargs, name",
    [(dict(batch_size=0), "batch_size"), (dict(shuffle="yes"), "shuffle"), (dict(drop_remainder=None), "drop")],
)
def test_bad_dataset_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        data.load("photo_patches", split="train", num_patches=100, **kwargs)


def test_missing_sklearn_is_a_clear_error(monkeypatch):
    patches.photographs.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # `import sklearn.datasets` now fails
    try:
        with pytest.raises(data.DataNotFoundError, match="scikit-learn"):
            data.load_arrays("photo_patches", split="test", num_patches=10)
    finally:
        monkeypatch.undo()
        patches.photographs.cache_clear()

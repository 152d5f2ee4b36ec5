"""Whitened grey patches of natural photographs, for sparse coding and predictive sparse decomposition.

``"photo_patches"`` cuts square grey patches out of the two photographs that
scikit-learn ships inside its package (``sklearn.datasets.load_sample_images``:
``china.jpg`` and ``flower.jpg``, 427 x 640 RGB each); nothing is downloaded,
but scikit-learn must be installed.

- Grey levels: ITU-R 601 luma ``0.299 R + 0.587 G + 0.114 B``, divided by 255.
- Split: the ``"train"`` patches lie entirely in the left 80% of the columns of
  each photograph (columns ``0 .. 4 * width // 5 - 1``), the ``"test"`` patches
  entirely in the right 20%; no pixel is in both splits. Patches are drawn
  without replacement at random positions of both photographs (uniformly over
  the positions of the split): the train positions with ``seed``, the test
  positions always with the fixed seed ``TEST_SEED``, so every evaluation sees
  the same held-out patches. A slice such as ``"train[:5000]"`` takes the first
  patches of the drawn set.
- Whitening (``whitening="zca"``, the default): the mean patch ``m`` and the
  covariance ``C = E diag(lam) E^T`` are computed from *every* train position
  (stride 1, both photographs), never from test patches; every patch ``x``
  becomes ``(x - m) E diag(1 / sqrt(lam + eps)) E^T`` with
  ``eps = whitening_epsilon * mean(lam)``. The same transform is applied to the
  test patches. With ``whitening_epsilon=0`` the train covariance is the
  identity; the small default damps the directions of least variance (mostly
  JPEG noise) instead of amplifying them. ``whitening="none"`` keeps the grey
  levels in [0, 1].

Elements are ``float32 (B, patch_size ** 2)`` patch vectors (rows of the patch
concatenated).
"""

import functools

import numpy as np

from kgen.data import core
from kgen.data.core import DataNotFoundError, parse_split
from kgen.validation import check_int

NAMES = ("photo_patches",)
PHOTOS = ("china.jpg", "flower.jpg")
TRAIN_FRACTION_FIFTHS = 4  # train columns: the left 4/5 of each photograph
TEST_SEED = 12345  # the held-out positions never depend on `seed`
DEFAULT_NUM_PATCHES = {"train": 100_000, "test": 10_000}
WHITENINGS = ("zca", "none")
DEFAULT_WHITENING_EPSILON = 0.01
MAX_PATCH_SIZE = 32
LUMA = np.array([0.299, 0.587, 0.114])


def _check_whitening(whitening, whitening_epsilon):
    if whitening not in WHITENINGS:
        raise ValueError(
            f"whitening must be one of {', '.join(map(repr, WHITENINGS))}, got {whitening!r}."
        )
    ok = isinstance(whitening_epsilon, (int, float, np.integer, np.floating)) and not isinstance(
        whitening_epsilon, bool
    )
    if not ok or not np.isfinite(whitening_epsilon) or whitening_epsilon < 0:
        raise ValueError(
            f"whitening_epsilon must be a finite number >= 0 (a fraction of the mean "
            f"eigenvalue of the patch covariance), got {whitening_epsilon!r}."
        )
    return float(whitening_epsilon)


@functools.lru_cache(maxsize=1)
def photographs():
    """The two photographs as grey ``float64`` arrays in [0, 1], shape ``(427, 640)`` each, china then flower.

    Raises:
        DataNotFoundError: when scikit-learn (which ships the photographs) is not installed.
    """
    try:
        from sklearn.datasets import load_sample_images
    except ImportError as e:
        raise DataNotFoundError(
            "photo_patches cuts patches from the two photographs shipped with scikit-learn "
            "(sklearn.datasets.load_sample_images), but scikit-learn is not installed: "
            f"`pip install scikit-learn` ({e})."
        ) from None
    images = load_sample_images()
    by_name = {}
    for path, image in zip(images.filenames, images.images):
        by_name[str(path).replace("\\", "/").rsplit("/", 1)[-1]] = image
    missing = [p for p in PHOTOS if p not in by_name]
    if missing:
        raise DataNotFoundError(
            f"scikit-learn's sample images lack {missing}; found {sorted(by_name)}."
        )
    return tuple(np.asarray(by_name[p], dtype=np.float64) @ LUMA / 255.0 for p in PHOTOS)


def _region(image, base):
    """The columns of `image` that belong to split `base`."""
    cut = image.shape[1] * TRAIN_FRACTION_FIFTHS // 5
    return image[:, :cut] if base == "train" else image[:, cut:]


def _position_counts(base, patch_size):
    counts = []
    for image in photographs():
        region = _region(image, base)
        counts.append(max(region.shape[0] - patch_size + 1, 0) * max(region.shape[1] - patch_size + 1, 0))
    return counts


def _extract(region, flat_positions, patch_size):
    """Patches (n, patch_size ** 2) of `region` at row-major flat positions of its valid top-left corners."""
    cols = region.shape[1] - patch_size + 1
    rows, cols = np.divmod(flat_positions, cols)
    offsets = np.arange(patch_size)
    r = rows[:, None, None] + offsets[None, :, None]
    c = cols[:, None, None] + offsets[None, None, :]
    return region[r, c].reshape(len(flat_positions), patch_size * patch_size)


@functools.lru_cache(maxsize=8)
def whitening_transform(patch_size=8, whitening_epsilon=DEFAULT_WHITENING_EPSILON):
    """The ZCA whitening fitted on every train position: ``(mean (D,), matrix (D, D))``, ``D = patch_size ** 2``.

    A patch ``x`` is whitened as ``(x - mean) @ matrix`` (the matrix is symmetric); see the module docstring.
    """
    patch_size = check_int(patch_size, "patch_size", minimum=2, maximum=MAX_PATCH_SIZE)
    epsilon = _check_whitening("zca", whitening_epsilon)
    dim = patch_size * patch_size
    total = np.zeros(dim)
    outer = np.zeros((dim, dim))
    count = 0
    for image in photographs():
        region = _region(image, "train")
        height = region.shape[0] - patch_size + 1
        chunk = max(1, (2_000_000 // dim) // region.shape[1])  # rows of corners per block, to bound memory
        for top in range(0, height, chunk):
            rows = min(chunk, height - top)
            block = region[top : top + rows + patch_size - 1]
            flat = np.arange(rows * (region.shape[1] - patch_size + 1))
            patches = _extract(block, flat, patch_size)
            total += patches.sum(axis=0)
            outer += patches.T @ patches
            count += len(patches)
    mean = total / count
    covariance = outer / count - np.outer(mean, mean)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    eigenvalues = np.maximum(eigenvalues, 0.0)
    eps = epsilon * eigenvalues.mean()
    if eps == 0.0 and eigenvalues.min() <= 0.0:
        raise ValueError("whitening_epsilon=0 cannot whiten: the patch covariance is singular; pass a small epsilon.")
    matrix = (eigenvectors / np.sqrt(eigenvalues + eps)) @ eigenvectors.T
    return mean, matrix


def _check_num_patches(num_patches, base, patch_size):
    total = sum(_position_counts(base, patch_size))
    if num_patches is None:
        num_patches = min(DEFAULT_NUM_PATCHES[base], total)
    return check_int(num_patches, "num_patches", minimum=1, maximum=total)


def patch_positions(split="train", patch_size=8, num_patches=None, seed=0):
    """Where the patches of a split come from: ``(image, row, col)`` int arrays of length ``num_patches``.

    ``image`` indexes ``photographs()`` (0 china, 1 flower); ``(row, col)`` is the top-left pixel of the patch in
    the whole photograph. Train patches satisfy ``col + patch_size <= 4 * width // 5``, test patches
    ``col >= 4 * width // 5``. The order is the order of ``load_arrays``.
    """
    base, _ = parse_split(split)
    patch_size = check_int(patch_size, "patch_size", minimum=2, maximum=MAX_PATCH_SIZE)
    seed = check_int(seed, "seed", minimum=0)
    num_patches = _check_num_patches(num_patches, base, patch_size)
    counts = _position_counts(base, patch_size)
    rng = np.random.default_rng(seed if base == "train" else TEST_SEED)
    chosen = rng.choice(sum(counts), size=num_patches, replace=False)
    images = np.zeros(num_patches, dtype=np.int64)
    rows = np.zeros(num_patches, dtype=np.int64)
    cols = np.zeros(num_patches, dtype=np.int64)
    start = 0
    for i, (photo, count) in enumerate(zip(photographs(), counts)):
        mine = (chosen >= start) & (chosen < start + count)
        width = photo.shape[1]
        cut = width * TRAIN_FRACTION_FIFTHS // 5
        region_cols = (cut if base == "train" else width - cut) - patch_size + 1
        r, c = np.divmod(chosen[mine] - start, region_cols)
        images[mine], rows[mine], cols[mine] = i, r, c + (0 if base == "train" else cut)
        start += count
    return images, rows, cols


def load_arrays(name="photo_patches", split="train", patch_size=8, num_patches=None, seed=0, whitening="zca",
                whitening_epsilon=DEFAULT_WHITENING_EPSILON):
    """Loads a split of whitened photograph patches as one numpy array.

    Args:
        name: ``"photo_patches"``.
        split: ``"train"`` (the left 80% of each photograph), ``"test"`` (the
            right 20%) or a slice of the drawn patches such as ``"test[:1000]"``.
        patch_size: the side of the square patches, an integer in 2..32.
        num_patches: how many patches to draw (without replacement) before any
            slice; defaults to 100,000 for ``"train"`` and 10,000 for
            ``"test"``; at most the number of positions of the split.
        seed: a non-negative integer choosing the train positions (the test
            positions are fixed).
        whitening: ``"zca"`` (fitted on the train positions, see the module
            docstring) or ``"none"`` (grey levels in [0, 1]).
        whitening_epsilon: a number >= 0, the ZCA regulariser as a fraction of
            the mean eigenvalue of the train covariance.

    Returns:
        ``float32 (N, patch_size ** 2)`` patch vectors.

    Raises:
        ValueError: for an invalid argument (named in the message) or a slice
            that selects nothing.
        DataNotFoundError: when scikit-learn, which ships the photographs, is
            not installed.
    """
    core.check_name(name, NAMES, "patches")
    base, index = parse_split(split)
    patch_size = check_int(patch_size, "patch_size", minimum=2, maximum=MAX_PATCH_SIZE)
    seed = check_int(seed, "seed", minimum=0)
    epsilon = _check_whitening(whitening, whitening_epsilon)
    num_patches = _check_num_patches(num_patches, base, patch_size)

    images, rows, cols = patch_positions(base, patch_size, num_patches, seed)
    photos = photographs()
    offsets = np.arange(patch_size)
    patches = np.empty((num_patches, patch_size, patch_size), dtype=np.float64)
    for i, photo in enumerate(photos):
        mine = images == i
        r = rows[mine][:, None, None] + offsets[None, :, None]
        c = cols[mine][:, None, None] + offsets[None, None, :]
        patches[mine] = photo[r, c]
    patches = patches.reshape(num_patches, patch_size * patch_size)
    patches = patches[index]
    if len(patches) == 0:
        raise ValueError(
            f"split={split!r} selects no patches (the {base} split drew {num_patches})."
        )
    if whitening == "zca":
        mean, matrix = whitening_transform(patch_size, epsilon)
        patches = (patches - mean) @ matrix
    return patches.astype(np.float32)


def load(name="photo_patches", split="train", batch_size=256, patch_size=8, num_patches=None, shuffle=None, seed=0,
         drop_remainder=False, whitening="zca", whitening_epsilon=DEFAULT_WHITENING_EPSILON):
    """Loads photograph patches as a batched, prefetched, deterministic ``tf.data.Dataset``.

    Elements are ``float32 (B, patch_size ** 2)`` patch vectors, the rows of
    ``load_arrays(name, split, patch_size, num_patches, seed, whitening,
    whitening_epsilon)``.

    Args:
        name: ``"photo_patches"``.
        split: ``"train"``, ``"test"`` or a slice such as ``"train[:5000]"``.
        batch_size: a positive integer.
        patch_size: see ``load_arrays``.
        num_patches: see ``load_arrays``.
        shuffle: whether to shuffle the patches (seeded, reshuffled every
            epoch). Defaults to True for train splits, False otherwise.
        seed: a non-negative integer seeding the train positions and the
            shuffle.
        drop_remainder: whether to drop the last partial batch.
        whitening: see ``load_arrays``.
        whitening_epsilon: see ``load_arrays``.

    Returns:
        A ``tf.data.Dataset``.

    Raises:
        ValueError: for an invalid argument (named in the message).
        DataNotFoundError: when scikit-learn is not installed.
    """
    core.check_name(name, NAMES, "patches")
    _, batch_size, shuffle, seed, drop_remainder = core.pipeline_args(split, batch_size, shuffle, seed, drop_remainder)
    patches = load_arrays(name, split, patch_size, num_patches, seed, whitening, whitening_epsilon)

    import tensorflow as tf

    dataset = core.shuffled(tf.data.Dataset.from_tensor_slices(patches), shuffle, seed)
    return core.finish(dataset.batch(batch_size, drop_remainder=drop_remainder))


core.register(__name__, NAMES)

"""MNIST and binarized MNIST: reading, validation, sources and binarisation.

Three sources hold the digits:

- ``"local"``: the original gzipped IDX files (``train-images-idx3-ubyte.gz``,
  ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
  ``t10k-labels-idx1-ubyte.gz``) in ``<data_dir>/mnist/`` or directly in
  ``<data_dir>``. ``data_dir`` defaults to the ``KGEN_DATA_DIR`` environment
  variable. Uncompressed IDX files under the same names without ``.gz`` are
  accepted too. The folder is only ever read.
- ``"tfds"``: tensorflow_datasets' ``mnist``: a copy already prepared in the
  TFDS data folder, or (only with ``source="tfds"``) downloaded and prepared
  there (see ``kgen.data.core``).
- ``"embedded"``: a small real subset of MNIST shipped inside kgen (the first
  8,000 train and the first 2,000 test digits), made by
  ``tools/make_embedded_mnist.py``.

Binarized MNIST uses a fixed, seeded stochastic binarisation (see
``binarize``): pixel = 1 with probability intensity / 255, drawn with
``numpy.random.default_rng(seed)``, seed ``BINARIZATION_SEEDS["test"] = 0`` for
the test split and ``BINARIZATION_SEEDS["train"] = 1`` for the train split. The
whole base split is binarised before any slice is taken, so ``"test[:100]"``
holds exactly the first 100 digits of ``"test"``, and the embedded subsets are
binarised exactly like the first digits of the full splits.
"""

import functools
import gzip
import importlib.resources
import zlib
from pathlib import Path

import numpy as np

from kgen.data import core
from kgen.data.core import DataNotFoundError, parse_split

NAMES = ("mnist", "binarized_mnist")
BINARIZATIONS = ("dynamic", "fixed")

# Seeds of the fixed binarisation of binarized_mnist, one per base split.
BINARIZATION_SEEDS = {"train": 1, "test": 0}

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
IMAGE_SIZE = 28
NUM_CLASSES = 10
TFDS_NAME = "mnist"
EMBEDDED_FILE = "mnist_subset.npz"

_IDX_UBYTE = 0x08
_HOW_TO_PROVIDE = core.how_to_provide(
    "MNIST",
    f"mnist/ with the four IDX files ({', '.join(IDX_FILES['train'] + IDX_FILES['test'])})",
    others=(
        f'use source="tfds" to download it with tensorflow_datasets ({TFDS_NAME!r}); a copy already prepared '
        "there is used automatically",
        'use source="embedded" for the small real subset shipped with kgen (the first 8,000 train and 2,000 '
        "test digits)",
    ),
)


# ----------------------------------------------------------------------------
# IDX files
# ----------------------------------------------------------------------------


def _decompress(path, raw):
    if raw[:2] != b"\x1f\x8b":
        if path.name.endswith(".gz"):
            raise ValueError(
                f"Corrupt MNIST file {path}: expected a gzip file (it starts with "
                f"bytes {raw[:2].hex() or 'nothing'}, not 1f8b)."
            )
        return raw  # An uncompressed IDX file.
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"Corrupt MNIST file {path}: not a valid gzip stream ({e}).") from e


def _parse_idx(path, data, ndim, tail_dims):
    """Parses and validates an unsigned-byte IDX array of ``ndim`` dimensions."""
    expected_magic = (_IDX_UBYTE << 8) | ndim
    header_len = 4 + 4 * ndim
    if len(data) < 4:
        raise ValueError(
            f"Corrupt MNIST file {path}: {len(data)} bytes, too short for an IDX "
            f"header (expected magic number {expected_magic} = "
            f"0x{expected_magic:08x})."
        )
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        raise ValueError(
            f"Corrupt MNIST file {path}: wrong IDX magic number {magic} "
            f"(0x{magic:08x}); expected {expected_magic} (0x{expected_magic:08x}: "
            f"unsigned bytes, {ndim} dimension{'s' if ndim > 1 else ''})."
        )
    if len(data) < header_len:
        raise ValueError(
            f"Corrupt MNIST file {path}: truncated IDX header ({len(data)} bytes, "
            f"expected {header_len})."
        )
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if dims[1:] != tuple(tail_dims):
        expected = ("N",) + tuple(tail_dims)
        raise ValueError(f"Corrupt MNIST file {path}: wrong dimensions {dims}; expected {expected}.")
    if dims[0] == 0:
        raise ValueError(f"Corrupt MNIST file {path}: it holds no examples.")
    expected_len = header_len + int(np.prod(dims))
    if len(data) != expected_len:
        what = "truncated" if len(data) < expected_len else "trailing bytes"
        raise ValueError(
            f"Corrupt MNIST file {path}: {what}: {len(data) - header_len} data "
            f"bytes, expected {expected_len - header_len} for dimensions {dims}."
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims)


@functools.lru_cache(maxsize=8)
def _read_idx_cached(path_str, mtime_ns, size, ndim, tail_dims):
    # mtime_ns and size are part of the cache key so a changed file is re-read.
    del mtime_ns, size
    path = Path(path_str)
    array = _parse_idx(path, _decompress(path, path.read_bytes()), ndim, tail_dims).copy()
    array.flags.writeable = False
    return array


def read_idx(path, ndim, tail_dims):
    """Reads and fully validates an unsigned-byte IDX file (gzipped or not).

    Parsed arrays are cached in memory per (path, modification time, size).

    Args:
        path: the file.
        ndim: the expected number of dimensions (3 for images, 1 for labels).
        tail_dims: the expected dimensions after the first, e.g. ``(28, 28)``.

    Returns:
        A read-only ``uint8`` array.

    Raises:
        DataNotFoundError: if the file does not exist.
        ValueError: if the file is not a valid IDX file of that form.
    """
    return core.read_cached(_read_idx_cached, path, ndim, tuple(tail_dims), what="MNIST file")


def _find_idx_file(data_dir, filename, where):
    names = [filename, filename[: -len(".gz")]]
    candidates = [d / n for d in (data_dir / "mnist", data_dir) for n in names]
    looked = ", ".join(str(c) for c in candidates[::2])
    return core.find_local(data_dir, where, candidates, f"MNIST file {filename}", _HOW_TO_PROVIDE, looked=looked)


def _local_key(data_dir, base, where):
    paths = [_find_idx_file(data_dir, name, where) for name in IDX_FILES[base]]
    # Modification times and sizes make a changed file a new cache entry.
    stats = tuple((s.st_mtime_ns, s.st_size) for s in (p.stat() for p in paths))
    return ("local", str(paths[0]), str(paths[1]), stats)


def _read_local(images_path, labels_path):
    images = read_idx(images_path, 3, (IMAGE_SIZE, IMAGE_SIZE))
    labels = read_idx(labels_path, 1, ())
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"MNIST files do not match: {images_path} holds {images.shape[0]} "
            f"images but {labels_path} holds {labels.shape[0]} labels; expected "
            "the same count."
        )
    if labels.max() >= NUM_CLASSES:
        raise ValueError(
            f"Corrupt MNIST file {labels_path}: label {int(labels.max())} found; "
            f"expected labels in 0..{NUM_CLASSES - 1}."
        )
    return images, labels


# ----------------------------------------------------------------------------
# tfds and embedded sources
# ----------------------------------------------------------------------------


def _read_tfds(base, tfds_dir):
    builder = core.tfds_builder(TFDS_NAME, tfds_dir, "MNIST", _HOW_TO_PROVIDE, download=False)
    images, labels = core.read_tfds(builder, "MNIST", _HOW_TO_PROVIDE, split=base, batch_size=-1, as_supervised=True)
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE, 1):
        raise ValueError(
            f"tensorflow_datasets returned MNIST images of shape {images.shape} and "
            f"dtype {images.dtype}; expected (N, 28, 28, 1) uint8."
        )
    return images[..., 0], np.asarray(labels)


def _embedded_resource():
    return importlib.resources.files(__package__).joinpath("embedded", EMBEDDED_FILE)


def _read_embedded(base):
    resource = _embedded_resource()
    if not resource.is_file():
        raise DataNotFoundError(
            f"The embedded MNIST subset {resource} is missing from this kgen "
            "installation; rebuild it with tools/make_embedded_mnist.py or use "
            "another source."
        )
    with resource.open("rb") as f, np.load(f) as npz:
        try:
            images = npz[f"{base}_images"]
            labels = npz[f"{base}_labels"]
        except KeyError as e:
            raise ValueError(
                f"Corrupt embedded MNIST subset {resource}: missing array {e}; "
                "expected train_images, train_labels, test_images, test_labels."
            ) from e
    if (
        images.dtype != np.uint8
        or images.ndim != 3
        or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE)
        or labels.shape != images.shape[:1]
        or labels.min() < 0
        or labels.max() >= NUM_CLASSES
    ):
        raise ValueError(
            f"Corrupt embedded MNIST subset {resource}: {base} images "
            f"{images.shape} {images.dtype}, labels {labels.shape} {labels.dtype}; "
            "expected (N, 28, 28) uint8 images and N labels in 0..9."
        )
    return images, labels


@functools.lru_cache(maxsize=6)
def _base_arrays(key):
    """Returns read-only ``(images (N, 28, 28, 1) uint8, labels int64)``."""
    source = key[0]
    if source == "local":
        images, labels = _read_local(key[1], key[2])
    elif source == "tfds":
        images, labels = _read_tfds(key[1], key[2])
    else:
        images, labels = _read_embedded(key[1])
    images = np.ascontiguousarray(images, dtype=np.uint8).reshape((-1, IMAGE_SIZE, IMAGE_SIZE, 1))
    labels = np.asarray(labels, dtype=np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


@functools.lru_cache(maxsize=4)
def _fixed_binarized(key, seed):
    binary = binarize(_base_arrays(key)[0], seed)
    binary.flags.writeable = False
    return binary


def _resolve_key(base, data_dir, source):
    """Chooses the source and returns the cache key of the base split."""
    if source == "embedded":
        resource = _embedded_resource()
        if isinstance(resource, Path) and resource.is_file():  # package data on disk (not inside a zip)
            core.note_file(resource)
        return ("embedded", base)
    if source in ("local", None):
        path, where = core.local_data_dir(data_dir, source == "local", _HOW_TO_PROVIDE)
        if path is not None:
            return _local_key(path, base, where)
    # source == "tfds", or auto without a local folder: a prepared copy, downloaded only for source="tfds".
    tfds_dir = core.tfds_data_dir()
    core.tfds_builder(TFDS_NAME, tfds_dir, "MNIST", _HOW_TO_PROVIDE, download=source == "tfds")
    return ("tfds", base, tfds_dir)


# ----------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------


def binarize(images, seed):
    """Stochastically binarises 8-bit images with a fixed seed.

    Each pixel becomes 1 with probability ``intensity / 255``: with
    ``u = numpy.random.default_rng(seed).integers(0, 255, images.shape,
    dtype=uint8)`` (uniform on 0..254), the result is ``u < images``. The draw is
    sequential over the C-ordered array, so binarising the first ``k`` images
    alone gives the same bits as binarising all of them and keeping the first
    ``k``.

    Args:
        images: a ``uint8`` array of any shape.
        seed: a non-negative integer seed.

    Returns:
        A ``uint8`` array of the same shape holding 0 and 1.

    Raises:
        ValueError: if ``images`` is not ``uint8`` or ``seed`` is not a
            non-negative integer.
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be a uint8 array of intensities 0..255, got dtype {images.dtype}.")
    _check_seed(seed)
    rng = np.random.default_rng(int(seed))
    uniform = rng.integers(0, 255, size=images.shape, dtype=np.uint8)
    return (uniform < images).astype(np.uint8)


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")


def _check_flag(value, name, allow_none=False):
    if not isinstance(value, (bool, np.bool_)) and not (allow_none and value is None):
        raise ValueError(f"{name} must be True{', False or None' if allow_none else ' or False'}, got {value!r}.")


def load_arrays(name, split="train", data_dir=None, source=None):
    """Loads MNIST or binarized MNIST as numpy arrays.

    Args:
        name: ``"mnist"`` (intensities 0..255) or ``"binarized_mnist"`` (0/1
            pixels from the fixed seeded binarisation, see ``binarize`` and
            ``BINARIZATION_SEEDS``: seed 1 for train, 0 for test).
        split: ``"train"``, ``"test"`` or a slice such as ``"train[:1000]"``
            or ``"test[500:2000]"`` (Python slice semantics on the example
            index).
        data_dir: a folder holding ``mnist/`` with the four IDX files (or the
            files themselves). Defaults to the ``KGEN_DATA_DIR`` environment
            variable. Only read, never written.
        source: ``"local"``, ``"tfds"`` (a prepared tensorflow_datasets copy,
            downloaded first if there is none), ``"embedded"`` or ``None``
            (auto: local if ``data_dir`` or ``KGEN_DATA_DIR`` is set,
            otherwise a copy already prepared by tensorflow_datasets,
            otherwise ``DataNotFoundError``; auto never downloads).

    Returns:
        ``(images, labels)``: ``uint8`` images of shape ``(N, 28, 28, 1)`` and
        ``int64`` labels of shape ``(N,)``. Both are fresh copies.

    Raises:
        ValueError: for an unknown ``name``, ``split`` or ``source``, a slice
            that selects nothing, or a corrupt data file (naming the file).
        DataNotFoundError: when the data cannot be found (naming where it
            looked and how to provide it).
    """
    core.check_name(name, NAMES)
    base, index = parse_split(split)
    core.check_source(source)
    core.check_data_dir_source(data_dir, source)
    key = _resolve_key(base, data_dir, source)
    images, labels = _base_arrays(key)
    if name == "binarized_mnist":
        images = _fixed_binarized(key, BINARIZATION_SEEDS[base])
    images, labels = images[index], labels[index]
    if images.shape[0] == 0:
        raise ValueError(
            f"split={split!r} selects no examples (the {base} split of source "
            f"{key[0]!r} holds {_base_arrays(key)[0].shape[0]})."
        )
    return np.array(images), np.array(labels)


def load(name, split="train", batch_size=64, shuffle=None, with_labels=False, data_dir=None, source=None, seed=0,
         drop_remainder=False, binarization=None):
    """Loads MNIST or binarized MNIST as a batched, prefetched ``tf.data.Dataset``.

    The dataset feeds ``model.fit``/``evaluate`` on every Keras backend. Its
    elements are ``float32`` images of shape ``(B, 28, 28, 1)`` holding the
    integer pixel levels (0..255 for ``"mnist"``, 0/1 for
    ``"binarized_mnist"``), or with ``with_labels=True`` dicts
    ``{"images": images, "labels": int32 labels of shape (B,)}``.

    Args:
        name: ``"mnist"`` or ``"binarized_mnist"``.
        split: ``"train"``, ``"test"`` or a slice such as ``"train[:1000]"``.
        batch_size: a positive integer.
        shuffle: whether to shuffle (seeded, reshuffled every epoch). Defaults
            to True for train splits, False otherwise.
        with_labels: whether elements are dicts with images and labels.
        data_dir: see ``load_arrays``.
        source: see ``load_arrays``.
        seed: a non-negative integer seeding the shuffle and the dynamic
            binarisation.
        drop_remainder: whether to drop the last partial batch.
        binarization: only for ``"binarized_mnist"``. ``"dynamic"`` draws a
            fresh stochastic binarisation every epoch (seeded by ``seed``; the
            default for train splits), ``"fixed"`` uses the fixed seeded one
            of ``load_arrays`` (the default for test splits).

    Returns:
        A ``tf.data.Dataset``.

    Raises:
        ValueError: for an invalid argument (named in the message) or a
            corrupt data file.
        DataNotFoundError: when the data cannot be found.
    """
    core.check_name(name, NAMES)
    is_train = parse_split(split)[0] == "train"
    core.check_source(source)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
    _check_flag(shuffle, "shuffle", allow_none=True)
    _check_flag(with_labels, "with_labels")
    _check_flag(drop_remainder, "drop_remainder")
    _check_seed(seed)
    if name == "binarized_mnist":
        if binarization is None:
            binarization = "dynamic" if is_train else "fixed"
        if binarization not in BINARIZATIONS:
            raise ValueError(
                f"Unknown binarization={binarization!r}. Expected None (default), "
                "'dynamic' (fresh each epoch) or 'fixed' (the seeded fixed one)."
            )
    elif binarization is not None:
        raise ValueError(
            f"binarization={binarization!r} only applies to name='binarized_mnist', "
            f"not name={name!r}; leave it None."
        )
    shuffle = is_train if shuffle is None else bool(shuffle)
    dynamic = binarization == "dynamic"

    images, labels = load_arrays("mnist" if dynamic else name, split, data_dir=data_dir, source=source)

    import tensorflow as tf

    seed = int(seed)
    dataset = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    dataset = core.shuffled(dataset, shuffle, seed)
    dataset = dataset.batch(int(batch_size), drop_remainder=bool(drop_remainder))

    if dynamic:
        # A fresh binarisation of every batch in every epoch (iteration), reproducible from `seed`.
        dataset = tf.data.Dataset.zip((dataset, core.epoch_seeds(seed)))

        def to_float(batch, batch_seed):
            x, y = batch
            uniform = tf.random.stateless_uniform(tf.shape(x), seed=batch_seed, minval=0, maxval=255, dtype=tf.int32)
            return tf.cast(uniform < tf.cast(x, tf.int32), tf.float32), y

    else:

        def to_float(x, y):
            return tf.cast(x, tf.float32), y

    if with_labels:

        def finish(*args):
            x, y = to_float(*args)
            return {"images": x, "labels": y}

    else:

        def finish(*args):
            return to_float(*args)[0]

    return core.finish(dataset, finish)


core.register(__name__, NAMES)

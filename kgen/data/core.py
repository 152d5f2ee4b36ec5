"""The data core every data set module is built from: sources, splits, errors, cached files, tf.data helpers.

Where data comes from (a data set module offers the sources that fit it):

- ``"local"``: files in ``data_dir`` or, when that is None, in the folder named by the ``KGEN_DATA_DIR``
  environment variable. The folder is only ever read.
- ``"tfds"``: ``tensorflow_datasets``, in its data folder (``TFDS_DATA_DIR``, default
  ``~/tensorflow_datasets``). Whether a copy is already there is asked of tfds itself
  (``builder.is_prepared()``); only when the caller chose ``source="tfds"`` is a missing copy downloaded
  (``builder.download_and_prepare()``, through whatever network and proxy settings tfds uses), and a failed
  download is a ``DataNotFoundError`` that says how else to provide the data.
- ``"embedded"``: data shipped inside kgen (``kgen/data/embedded/``, package data): a small real subset of MNIST
  and of FSDD, and the whole of Tiny Shakespeare. Each file is made reproducibly from the real data by
  ``tools/make_embedded_*.py`` and is read as untrusted: its size and every size it claims are bounded before
  memory is spent, and a missing, corrupt or altered file is one error naming it.

``source=None`` (automatic) means: the local folder when one is set (and then only it), otherwise a copy
already prepared by tensorflow_datasets, otherwise ``DataNotFoundError``; it never starts a download and never
falls back to the embedded data (a subset would silently change every result); the error says
``source="embedded"`` is there.

Each data set module calls ``register`` with its names; ``kgen.data.load`` dispatches through ``DATASETS``.
"""

import contextlib
import functools
import hashlib
import importlib.resources
import io
import os
import re
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np

from kgen.validation import check_bool, check_int

DATA_DIR_ENV = "KGEN_DATA_DIR"
TFDS_DATA_DIR_ENV = "TFDS_DATA_DIR"
SOURCES = ("local", "tfds", "embedded")

# Data set name -> the module that loads it, in registration order (filled by each data set module on import).
DATASETS = {}

_SPLIT_RE = re.compile(r"^(train|test)(?:\[(-?\d+)?:(-?\d+)?\])?$")


class DataNotFoundError(FileNotFoundError):
    """The requested data set is not available from the chosen source."""


def register(module_name, names):
    """Registers the data set module ``module_name`` (already imported) as the loader of ``names``."""
    for name in names:
        DATASETS[name] = sys.modules[module_name]


# ----------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------


def check_name(name, names, loader=None):
    """Raises a ValueError listing ``names`` unless ``name`` is one of them (``loader`` names the loader)."""
    if not isinstance(name, str) or name not in names:
        owner = f" for the {loader} loader" if loader else ""
        raise ValueError(f"Unknown data set name={name!r}{owner}. Expected one of: {', '.join(names)}.")


def parse_split(split):
    """Parses a split string into its base split and a slice.

    Args:
        split: ``"train"``, ``"test"`` or a tfds-style slice such as
            ``"train[:1000]"`` or ``"test[500:2000]"`` (Python slice semantics on
            the example index; negative indices count from the end).

    Returns:
        A tuple ``(base, slice_object)`` with ``base`` in ``("train", "test")``.

    Raises:
        ValueError: if ``split`` has any other form.
    """
    match = _SPLIT_RE.match(split) if isinstance(split, str) else None
    if match is None:
        raise ValueError(
            f"Invalid split={split!r}. Expected 'train', 'test', or a slice of "
            "one of them such as 'train[:1000]', 'test[500:2000]' or 'train[-100:]'."
        )
    base, start, stop = match.groups()
    start = None if start is None else int(start)
    stop = None if stop is None else int(stop)
    return base, slice(start, stop)


def check_source(source, sources=SOURCES, title=None):
    """Raises a ValueError unless ``source`` is None (automatic) or one of ``sources``."""
    if source is not None and source not in sources:
        owner = f" for {title}" if title else ""
        raise ValueError(
            f"Unknown source={source!r}{owner}. Expected None (auto) or one of: "
            f"{', '.join(repr(s) for s in sources)}."
        )


def check_data_dir_source(data_dir, source):
    """Raises a ValueError when ``data_dir`` is given with a source that does not read it."""
    if data_dir is not None and source not in ("local", None):
        raise ValueError(
            f'data_dir={str(data_dir)!r} is only used with source="local" or None, not source={source!r}.'
        )


def pipeline_args(split, batch_size, shuffle, seed, drop_remainder):
    """Checks the arguments every ``load`` shares; shuffling defaults to on for train splits.

    Returns:
        ``(is_train, batch_size, shuffle, seed, drop_remainder)`` as plain Python values.
    """
    is_train = parse_split(split)[0] == "train"
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    shuffle = check_bool(shuffle, "shuffle", allow_none=True)
    seed = check_int(seed, "seed", minimum=0)
    drop_remainder = check_bool(drop_remainder, "drop_remainder")
    return is_train, batch_size, is_train if shuffle is None else shuffle, seed, drop_remainder


# ----------------------------------------------------------------------------
# Local files
# ----------------------------------------------------------------------------


def how_to_provide(title, contents, functions="kgen.data.load / kgen.data.load_arrays", others=()):
    """The message part that says how to provide a data set: the local folder first, then ``others``."""
    ways = [
        f"set the environment variable {DATA_DIR_ENV} to a folder containing {contents}, "
        f"e.g. {DATA_DIR_ENV}=../shared/data",
        f"pass data_dir=<that folder> to {functions}",
        *others,
    ]
    ways[-1] = "or " + ways[-1]
    return f"Provide {title} in one of these ways:\n" + ";\n".join(f"  - {way}" for way in ways) + "."


def local_data_dir(data_dir, required, how, what='source="local"'):
    """The local data folder as ``(Path, where)`` from ``data_dir`` or ``KGEN_DATA_DIR``.

    Returns ``(None, None)`` when neither is set, unless ``required``: then raises a ``DataNotFoundError``
    saying that ``what`` needs a data folder, followed by ``how``.
    """
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)) or str(data_dir) == "":
            raise ValueError(f"data_dir must be a non-empty path (str or os.PathLike), got {data_dir!r}.")
        return Path(data_dir).expanduser(), "data_dir argument"
    env = os.environ.get(DATA_DIR_ENV, "")
    if env:
        return Path(env).expanduser(), f"environment variable {DATA_DIR_ENV}"
    if required:
        raise DataNotFoundError(
            f"{what} needs a data folder, but data_dir is None and {DATA_DIR_ENV} is not set.\n{how}"
        )
    return None, None


# The lists of the `recording_files` blocks now open (innermost last).
_RECORDINGS = []


@contextlib.contextmanager
def recording_files():
    """Collects the data files the loaders read inside the block: yields a list that fills with their resolved paths
    (``str``, each once, in the order they were first read). Every local file a loader finds (``find_local``) or
    reads (``read_cached``) and every embedded file (when it is on disk) are noted; tensorflow_datasets copies are
    not (tfds checks its own files).

    Example:

    ```python
    with recording_files() as files:
        kgen.data.load("mnist", split="train")
    # files: [".../mnist/train-images-idx3-ubyte.gz", ".../mnist/train-labels-idx1-ubyte.gz"]
    ```
    """
    files = []
    _RECORDINGS.append(files)
    try:
        yield files
    finally:
        _RECORDINGS.remove(files)


def note_file(path):
    """Notes ``path`` as read by a loader in every open ``recording_files`` block."""
    if not _RECORDINGS:
        return
    resolved = str(Path(path).resolve())
    for files in _RECORDINGS:
        if resolved not in files:
            files.append(resolved)


def find_local(data_dir, where, candidates, what, how, accept=Path.is_file, looked=None):
    """The first of ``candidates`` that ``accept`` takes (by default: a file).

    Raises:
        DataNotFoundError: "``what`` not found", saying that ``data_dir`` (from ``where``) is missing or where
            it looked (``looked``, by default the candidates), followed by ``how``.
    """
    for candidate in candidates:
        if accept(candidate):
            if candidate.is_file():
                note_file(candidate)
            return candidate
    if not data_dir.is_dir():
        reason = f"the data folder {data_dir} (from the {where}) does not exist or is not a folder"
    else:
        looked = ", ".join(str(c) for c in candidates) if looked is None else looked
        reason = f"looked for {looked} (data folder from the {where})"
    raise DataNotFoundError(f"{what} not found: {reason}.\n{how}")


def read_cached(reader, path, *args, what="file"):
    """``reader(resolved path, modification time, size, *args)``: with an ``lru_cache``d reader, a changed file
    is read again.

    Raises:
        DataNotFoundError: "``what`` not found" when ``path`` does not exist.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError as e:
        raise DataNotFoundError(f"{what} not found: {path}") from e
    note_file(path)
    return reader(str(path.resolve()), stat.st_mtime_ns, stat.st_size, *args)


# ----------------------------------------------------------------------------
# Embedded files (package data, read as untrusted)
# ----------------------------------------------------------------------------

# The folder of the embedded files (an importlib.resources Traversable: a Path on disk, or inside a zip).
EMBEDDED_DIR = importlib.resources.files(__package__).joinpath("embedded")
_NPY_MAX_HEADER = 10_000


def embedded_resource(file_name):
    """The embedded file ``file_name`` (an ``importlib.resources`` Traversable in ``EMBEDDED_DIR``)."""
    return EMBEDDED_DIR.joinpath(file_name)


def read_embedded(file_name, title, max_bytes, rebuild, reader, *args):
    """``reader(raw bytes, where, *args)`` of the embedded file ``file_name``, cached per (file, modification time,
    size) when the file is on disk.

    The file is noted (``recording_files``) and read only up to ``max_bytes``. ``reader`` validates the bytes and
    raises a ValueError naming ``where`` (``"embedded <title> <file>"``) for anything wrong.

    Raises:
        DataNotFoundError: when the file is missing from the installation (saying how to rebuild it: ``rebuild``).
        ValueError: when it is larger than ``max_bytes`` or ``reader`` finds it corrupt.
    """
    resource = embedded_resource(file_name)
    if not resource.is_file():
        raise DataNotFoundError(
            f"The embedded {title} {resource} is missing from this kgen installation; rebuild it with {rebuild} "
            "or use another source."
        )
    if isinstance(resource, Path):  # package data on disk (not inside a zip)
        return read_cached(_read_embedded_cached, resource, title, max_bytes, reader, args, what=f"embedded {title}")
    return _read_embedded_cached(resource, None, None, title, max_bytes, reader, args)


@functools.lru_cache(maxsize=8)
def _read_embedded_cached(resource, mtime_ns, size, title, max_bytes, reader, args):
    # mtime_ns and size are part of the cache key so a changed file is read again.
    del mtime_ns, size
    if isinstance(resource, str):
        resource = Path(resource)
    where = f"embedded {title} {resource}"
    with resource.open("rb") as f:
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ValueError(f"Corrupt {where}: larger than {max_bytes} bytes, the most this file may be.")
    return reader(raw, where, *args)


def gunzip_bounded(raw, where, max_bytes):
    """The contents of the single-member gzip stream ``raw``, at most ``max_bytes`` of them (CRC and size checked).

    Raises:
        ValueError: naming ``where``, when ``raw`` is not one whole valid gzip stream or holds more.
    """
    if raw[:2] != b"\x1f\x8b":
        raise ValueError(f"Corrupt {where}: not a gzip file (it starts with {raw[:2].hex() or 'nothing'}, not 1f8b).")
    decompressor = zlib.decompressobj(wbits=31)
    try:
        out = decompressor.decompress(raw, max_bytes + 1)
    except zlib.error as e:
        raise ValueError(f"Corrupt {where}: not a valid gzip stream ({e}).") from e
    if len(out) > max_bytes:
        raise ValueError(f"Corrupt {where}: it decompresses to more than {max_bytes} bytes, the most expected.")
    if not decompressor.eof:
        raise ValueError(f"Corrupt {where}: the gzip stream is truncated.")
    if decompressor.unused_data:
        raise ValueError(f"Corrupt {where}: {len(decompressor.unused_data)} bytes after the gzip stream.")
    return out


def check_md5(content, expected, where):
    """Raises a ValueError naming ``where`` unless the md5 of ``content`` is ``expected`` (hex)."""
    digest = hashlib.md5(content, usedforsecurity=False).hexdigest()
    if digest != expected:
        raise ValueError(f"Corrupt {where}: wrong md5 {digest} of its contents; expected {expected}.")


def read_npz_bounded(raw, where, names, max_bytes):
    """The arrays ``names`` of the ``.npz`` file ``raw`` (exactly those, no others), as read-only arrays.

    Every member's size is bounded by ``max_bytes`` (all of them together too) before it is decompressed, each
    ``.npy`` header is checked against the member's size before any array is made, and object (pickled) arrays
    are refused.

    Raises:
        ValueError: naming ``where`` and what is wrong.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ValueError(f"Corrupt {where}: not a valid .npz (zip) file ({e}).") from e
    with archive:
        members = sorted(archive.namelist())
        expected = sorted(f"{name}.npy" for name in names)
        if members != expected:
            raise ValueError(f"Corrupt {where}: it holds {members}; expected exactly {expected}.")
        arrays, total = {}, 0
        for name in names:
            info = archive.getinfo(f"{name}.npy")
            total += info.file_size
            if total > max_bytes:
                raise ValueError(f"Corrupt {where}: its arrays hold more than {max_bytes} bytes, the most expected.")
            try:
                data = archive.read(info)  # at most info.file_size bytes, CRC-checked
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as e:
                raise ValueError(f"Corrupt {where}: cannot read {name}.npy ({e}).") from e
            arrays[name] = _parse_npy(data, f"{where}: {name}.npy")
    return arrays


def _parse_npy(data, where):
    buffer = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buffer)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran_order, dtype = read_header(buffer, max_header_size=_NPY_MAX_HEADER)
    except (ValueError, EOFError, SyntaxError) as e:
        raise ValueError(f"Corrupt {where}: not a valid .npy array ({e}).") from e
    if dtype.hasobject:
        raise ValueError(f"Corrupt {where}: an object array (pickled data is never loaded).")
    count = 1
    for dim in shape:
        count *= dim
    if len(data) - buffer.tell() != count * dtype.itemsize:
        raise ValueError(
            f"Corrupt {where}: {len(data) - buffer.tell()} data bytes, but its header claims shape {shape} of "
            f"{dtype} ({count * dtype.itemsize} bytes)."
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=buffer.tell())
    array = array.reshape(shape, order="F" if fortran_order else "C")
    array.flags.writeable = False
    return array


# ----------------------------------------------------------------------------
# tensorflow_datasets
# ----------------------------------------------------------------------------


def tfds_data_dir():
    """The tensorflow_datasets data folder: ``TFDS_DATA_DIR`` or ``~/tensorflow_datasets``."""
    return os.environ.get(TFDS_DATA_DIR_ENV, os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def tfds_builder(tfds_name, tfds_dir, title, how, download):
    """A tensorflow_datasets builder of ``tfds_name`` in ``tfds_dir`` whose data is prepared.

    A copy already there (``builder.is_prepared()``) is used as it is; otherwise, only if ``download``,
    ``builder.download_and_prepare()`` fetches it.

    Raises:
        DataNotFoundError: naming ``title`` and followed by ``how``, when tensorflow_datasets is missing or
            fails, when nothing is prepared and ``download`` is False, or when the download fails.
    """
    where = f"tensorflow_datasets {tfds_name!r} in {tfds_dir}"
    try:
        import tensorflow_datasets as tfds

        builder = tfds.builder(tfds_name, data_dir=tfds_dir)
        prepared = builder.is_prepared()
    except Exception as e:  # tfds missing or broken: the data is not available this way.
        raise DataNotFoundError(f"Could not open {where} for {title}: {type(e).__name__}: {e}\n{how}") from e
    if prepared:
        return builder
    if not download:
        raise DataNotFoundError(
            f"{title} is not available: no local data folder ({DATA_DIR_ENV} is not set and data_dir is None) "
            f'and no prepared {where}; pass source="tfds" to download it with tensorflow_datasets.\n{how}'
        )
    try:
        builder.download_and_prepare()
    except Exception as e:  # network, proxy, checksum or disk errors all mean: not available.
        raise DataNotFoundError(
            f"Could not download {title} with {where}: {type(e).__name__}: {e}\n{how}"
        ) from e
    return builder


def read_tfds(builder, title, how, **as_dataset_kwargs):
    """``builder.as_dataset(**as_dataset_kwargs)`` as numpy: the arrays with ``batch_size=-1``, else a list.

    Raises:
        DataNotFoundError: naming ``title`` and followed by ``how``, when tensorflow_datasets fails to read.
    """
    try:
        import tensorflow_datasets as tfds

        result = tfds.as_numpy(builder.as_dataset(**as_dataset_kwargs))
        return result if as_dataset_kwargs.get("batch_size") == -1 else list(result)
    except Exception as e:  # an unreadable copy is not available either.
        raise DataNotFoundError(
            f"Could not read {title} from tensorflow_datasets in {builder.data_dir}: {type(e).__name__}: {e}\n{how}"
        ) from e


# ----------------------------------------------------------------------------
# tf.data pipelines
# ----------------------------------------------------------------------------


def shuffled(dataset, shuffle, seed):
    """``dataset`` shuffled as a whole with ``seed`` and reshuffled every epoch, when ``shuffle``."""
    if not shuffle:
        return dataset
    return dataset.shuffle(int(dataset.cardinality()), seed=seed, reshuffle_each_iteration=True)


def epoch_seeds(seed):
    """An endless dataset of stateless-random seeds (``int64 (2,)``), new in every epoch, reproducible from
    ``seed``: zip it with the elements that each need their own randomness."""
    import tensorflow as tf

    return tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).map(
        lambda s: tf.stack([s, tf.constant(seed, tf.int64)])
    )


def finish(dataset, map_fn=None):
    """Maps ``map_fn`` (if any) in parallel, keeps the element order deterministic and prefetches."""
    import tensorflow as tf

    if map_fn is not None:
        dataset = dataset.map(map_fn, num_parallel_calls=tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)

"""Character-level text corpora: Tiny Shakespeare.

Tiny Shakespeare (``"tinyshakespeare"``) is 1,115,394 characters of plays
(Shakespeare's works, public domain, as collected by Andrej Karpathy for
char-rnn, https://github.com/karpathy/char-rnn, MIT). The ``"train"`` split is
the first 90% of the characters (``len(text) * 9 // 10``), ``"test"`` the last
10%, held out. A slice such as ``"test[:5000]"`` takes characters of a split.

Two sources hold the text:

- ``"local"``: ``<data_dir>/tinyshakespeare/input.txt`` (or
  ``<data_dir>/input.txt``); ``data_dir`` defaults to the ``KGEN_DATA_DIR``
  environment variable and is only ever read.
- ``"embedded"``: the whole corpus shipped inside kgen, gzip-compressed
  (``kgen/data/embedded/tinyshakespeare.txt.gz``, made by
  ``tools/make_embedded_shakespeare.py``). Its md5 (``EMBEDDED``) is checked on
  every read, so its splits are byte-identical to those of the local file.
  Needs no files and no network.

``source=None`` (automatic) is the local folder; without ``data_dir`` or
``KGEN_DATA_DIR`` it is a ``DataNotFoundError`` naming the ways to provide the
text (``source="embedded"`` among them), like every kgen loader: automatic
never falls back to the embedded data.

Text becomes byte ids (vocabulary 256) with
``keras_hub.tokenizers.ByteTokenizer`` (UTF-8 bytes, no lowercasing); Tiny
Shakespeare is ASCII, so one character is one byte.
"""

import functools
from pathlib import Path

import numpy as np

from kgen.data import core
from kgen.data.core import parse_split
from kgen.validation import check_int

NAMES = ("tinyshakespeare",)
SOURCES = ("local", "embedded")
FILES = {"tinyshakespeare": ("tinyshakespeare", "input.txt")}
# The embedded copy of each corpus: (file in kgen/data/embedded, md5 of the text, most bytes the file may have).
EMBEDDED = {"tinyshakespeare": ("tinyshakespeare.txt.gz", "6fb458f1232090904fb40fe944165e91", 1024 * 1024)}
_EMBEDDED_MAX_TEXT_BYTES = 4 * 1024 * 1024
_EMBEDDED_REBUILD = "tools/make_embedded_shakespeare.py"
TRAIN_FRACTION_TENTHS = 9  # train is the first 9/10 of the characters
PAD_ID = 0  # the byte id of padding (always with weight 0)


def _how_to_provide(name):
    folder, file_name = FILES[name]
    return core.how_to_provide(
        name, f"{folder}/{file_name}", functions="kgen.data.load / kgen.data.load_text",
        others=('use source="embedded" for the copy shipped with kgen (the whole corpus, md5-checked)',),
    )


def _find_file(name, data_dir, where):
    folder, file_name = FILES[name]
    candidates = (data_dir / folder / file_name, data_dir / file_name)
    return core.find_local(data_dir, where, candidates, f"{name} text file {file_name}", _how_to_provide(name))


def _decode(raw, where):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"Bad text file {where}: not valid UTF-8 ({e}).") from e
    if "\x00" in text:
        raise ValueError(f"Bad text file {where}: it holds NUL characters; expected plain text.")
    if len(text) < 10:
        raise ValueError(
            f"Bad text file {where}: {len(text)} characters; expected a corpus of "
            "at least 10 characters to split 90/10."
        )
    return text


@functools.lru_cache(maxsize=4)
def _read_text(path_str, mtime_ns, size):
    # mtime_ns and size are part of the cache key so a changed file is re-read.
    del mtime_ns, size
    return _decode(Path(path_str).read_bytes(), path_str)


def _parse_embedded(raw, where, md5):
    content = core.gunzip_bounded(raw, where, _EMBEDDED_MAX_TEXT_BYTES)
    core.check_md5(content, md5, where)
    return _decode(content, where)


def _corpus(name, data_dir, source):
    """The whole text of corpus ``name`` from the chosen source."""
    if source == "embedded":
        file_name, md5, max_bytes = EMBEDDED[name]
        return core.read_embedded(file_name, f"{name} text", max_bytes, _EMBEDDED_REBUILD, _parse_embedded, md5)
    path, where = core.local_data_dir(data_dir, True, _how_to_provide(name), what=name)
    return core.read_cached(_read_text, _find_file(name, path, where))


def _check_source(source, data_dir):
    core.check_source(source, SOURCES, "text")
    core.check_data_dir_source(data_dir, source)


def load_text(name="tinyshakespeare", split="train", data_dir=None, source=None):
    """Loads a split of a text corpus as a string.

    Args:
        name: ``"tinyshakespeare"``.
        split: ``"train"`` (the first 90% of the characters), ``"test"`` (the
            last 10%) or a slice of their characters such as ``"test[:1000]"``.
        data_dir: a folder holding ``tinyshakespeare/input.txt`` (or
            ``input.txt``). Defaults to the ``KGEN_DATA_DIR`` environment
            variable. Only read, never written.
        source: ``"local"`` (the file in ``data_dir``), ``"embedded"`` (the
            whole corpus shipped with kgen, md5-checked: the same splits, no
            files or network needed) or ``None`` (auto: the local file; never
            the embedded copy).

    Returns:
        The text of the split (``str``).

    Raises:
        ValueError: for an unknown ``name``, ``split`` or ``source``, a slice
            that selects nothing, or a bad file (naming it; an embedded file
            whose contents do not have the recorded md5 too).
        DataNotFoundError: when the file cannot be found (naming where it
            looked and how to provide it).

    Example (offline, no data folder):

    ```python
    text = kgen.data.load_text("tinyshakespeare", "test", source="embedded")  # 111,540 characters
    ```
    """
    core.check_name(name, NAMES, "text")
    base, index = parse_split(split)
    _check_source(source, data_dir)
    text = _corpus(name, data_dir, source)
    cut = len(text) * TRAIN_FRACTION_TENTHS // 10
    base_text = text[:cut] if base == "train" else text[cut:]
    selected = base_text[index]
    if not selected:
        raise ValueError(
            f"split={split!r} selects no characters (the {base} split of {name} "
            f"holds {len(base_text)})."
        )
    return selected


@functools.lru_cache(maxsize=1)
def _tokenizer():
    import keras_hub

    return keras_hub.tokenizers.ByteTokenizer(lowercase=False)


def tokenize(text):
    """UTF-8 byte ids of ``text`` (``int32``, shape ``(len(bytes),)``) via ByteTokenizer."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a str, got {type(text).__name__}.")
    return np.asarray(_tokenizer()(text), dtype=np.int32).reshape(-1)


def load_arrays(name="tinyshakespeare", split="train", data_dir=None, source=None):
    """The byte ids of a split as one ``int32`` array (see ``load_text``)."""
    return tokenize(load_text(name, split, data_dir=data_dir, source=source))


def evaluation_windows(tokens, sequence_length):
    """Overlapping windows that score every token exactly once.

    Windows of ``sequence_length`` start every ``sequence_length // 2``
    tokens. The first window scores all its positions; each later one only the
    positions the previous window did not cover (its last ``sequence_length //
    2`` positions), so every scored token after the first window has at least
    ``sequence_length - sequence_length // 2`` tokens of context. The last
    window is right-padded with ``PAD_ID`` and weight 0.

    Args:
        tokens: a 1-D integer array of ``n >= 1`` token ids.
        sequence_length: an integer >= 2.

    Returns:
        ``(windows, weights)``: ``int32 (W, sequence_length)`` and ``float32
        (W, sequence_length)`` whose weights sum to ``n``.
    """
    tokens = np.asarray(tokens)
    if tokens.ndim != 1 or tokens.shape[0] == 0 or not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(
            f"tokens must be a non-empty 1-D integer array, got shape {tokens.shape} "
            f"and dtype {tokens.dtype}."
        )
    length = check_int(sequence_length, "sequence_length", minimum=2)
    n = tokens.shape[0]
    stride = length // 2
    count = 1 + -(-max(n - length, 0) // stride)
    starts = np.arange(count, dtype=np.int64) * stride
    positions = starts[:, None] + np.arange(length)[None, :]
    real = positions < n
    windows = np.where(real, tokens[np.minimum(positions, n - 1)], PAD_ID).astype(np.int32)
    new = np.ones((count, length), dtype=bool)
    new[1:, : length - stride] = False
    weights = (real & new).astype(np.float32)
    return windows, weights


def load(name="tinyshakespeare", split="train", batch_size=32, sequence_length=256, shuffle=None, seed=0,
         drop_remainder=False, data_dir=None, source=None):
    """Loads a text corpus as a batched, prefetched, deterministic ``tf.data.Dataset``.

    Elements are ``(tokens, tokens, weights)`` (``x``, ``y`` and
    ``sample_weight`` for ``model.fit``): ``int32 (B, sequence_length)`` byte
    ids (``keras_hub.tokenizers.ByteTokenizer``, vocabulary 256) and
    ``float32 (B, sequence_length)`` weights.

    - Train splits: every epoch ``n // sequence_length`` windows (``n`` the
      number of bytes of the split) at random start offsets, seeded by
      ``seed``, new in every epoch and reproducible; all weights 1.
    - Other splits: the windows of ``evaluation_windows``: stride
      ``sequence_length // 2``, weights 1 only on positions not scored by the
      previous window, so every byte is scored exactly once (the weights sum
      to ``n``) and, after the first window, with at least half a window of
      context; the last window is right-padded with weight 0.

    Args:
        name: ``"tinyshakespeare"``.
        split: ``"train"``, ``"test"`` or a slice of characters such as
            ``"test[:5000]"``.
        batch_size: a positive integer.
        sequence_length: the window length, an integer >= 2 (for train splits
            at most the length of the split).
        shuffle: whether to shuffle the order of the windows (seeded,
            reshuffled every epoch). Defaults to True for train splits, False
            otherwise. With ``shuffle=False`` the random train windows of an
            epoch come in the order of their start offsets.
        seed: a non-negative integer seeding the windows and the shuffle.
        drop_remainder: whether to drop the last partial batch.
        data_dir: see ``load_text``.
        source: see ``load_text``; ``"embedded"`` works offline.

    Returns:
        A ``tf.data.Dataset`` of ``(tokens, tokens, weights)`` batches.

    Raises:
        ValueError: for an invalid argument (named in the message), a train
            split shorter than ``sequence_length``, or a bad text file.
        DataNotFoundError: when the text file cannot be found.
    """
    core.check_name(name, NAMES, "text")
    length = check_int(sequence_length, "sequence_length", minimum=2)
    is_train, batch_size, shuffle, seed, drop_remainder = core.pipeline_args(
        split, batch_size, shuffle, seed, drop_remainder
    )
    _check_source(source, data_dir)

    tokens = load_arrays(name, split, data_dir=data_dir, source=source)
    n = tokens.shape[0]

    import tensorflow as tf

    if is_train:
        count = n // length
        if count == 0:
            raise ValueError(
                f"sequence_length={length} is longer than split={split!r} ({n} "
                "bytes); pass a shorter sequence_length or a larger split."
            )
        all_tokens = tf.constant(tokens, dtype=tf.int32)

        def offsets(epoch_seed):
            starts = tf.random.stateless_uniform(
                [count], seed=epoch_seed, minval=0, maxval=n - length + 1, dtype=tf.int64
            )
            return starts if shuffle else tf.sort(starts)

        def window(start):
            piece = tf.ensure_shape(tf.slice(all_tokens, [start], [length]), [length])
            return piece, tf.ones([length], tf.float32)

        dataset = core.epoch_seeds(seed).take(1).map(offsets).unbatch()
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(count))
        dataset = dataset.map(window, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = core.shuffled(tf.data.Dataset.from_tensor_slices(evaluation_windows(tokens, length)), shuffle, seed)
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    return core.finish(dataset, lambda t, w: (t, t, w))


core.register(__name__, NAMES)

"""FSDD, the Free Spoken Digit Dataset: reading, validation and audio pipelines.

3,000 recordings of the spoken digits 0-9 by 6 speakers, 50 of each digit per
speaker, as 8 kHz mono 16-bit PCM WAV files named
``{digit}_{speaker}_{index}.wav``. The usual split, used here: indices 0-4 of
each speaker and digit are the test split (300 recordings), the rest the train
split (2,700).

Two sources hold the recordings:

- ``"local"``: the WAV files in ``<data_dir>/fsdd/recordings/`` (or
  ``<data_dir>/recordings/``, or directly in ``<data_dir>``). ``data_dir``
  defaults to the ``KGEN_DATA_DIR`` environment variable. The folder is only
  ever read. The name of every ``.wav`` file in it is checked (other files
  are ignored); every file of the requested split is read in full and checked
  too: its sample rate (8000 Hz), its channels (mono) and its contents. Decoded
  recordings are cached in memory per (path, modification time, size).
- ``"tfds"``: tensorflow_datasets' ``spoken_digit``: a copy already prepared in
  the TFDS data folder, or (only with ``source="tfds"``) downloaded and
  prepared there (see ``kgen.data.core``). It has only a train split; the
  train/test split above is made from each example's file name.
- ``"embedded"``: a small real subset shipped inside kgen
  (``kgen/data/embedded/fsdd_subset.npz``, made by
  ``tools/make_embedded_fsdd.py``): for every speaker and digit, the
  recordings with index 5 and 6 (train, 120 recordings) and index 0 (test, 60),
  180 in all, their 16-bit samples exactly as in the WAV files. It follows the
  usual split, so its test recordings are real test recordings. Needs no files
  and no network.

``source=None`` (automatic) is the local folder when ``data_dir`` or
``KGEN_DATA_DIR`` is set, otherwise a copy already prepared by
tensorflow_datasets, otherwise a ``DataNotFoundError`` that names the ways to
provide the data; it never downloads and never falls back to the embedded
subset (which would silently change every result).

Recordings come in a fixed order: by speaker (in ``FSDD_SPEAKERS`` order), then
digit, then index.

Source and licence: the Free Spoken Digit Dataset by Zohar Jackson
(Jakobovski) et al., https://github.com/Jakobovski/free-spoken-digit-dataset,
licensed CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/); the
embedded subset is shared under the same licence, and its metadata says so.
"""

import functools
import json
import os
import re

import numpy as np

from kgen.audio import mu_law_encode, read_wav
from kgen.data import core
from kgen.data.core import DataNotFoundError, parse_split
from kgen.validation import check_bool, check_int

NAME = "fsdd"
NAMES = (NAME,)
SOURCES = ("local", "tfds", "embedded")
LABELS = ("digit", "speaker")
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
NUM_DIGITS = 10
SAMPLE_RATE = 8000
# Recordings with an index below this are the test split.
NUM_TEST_INDICES = 5
TFDS_NAME = "spoken_digit"
EMBEDDED_FILE = "fsdd_subset.npz"
# Bounds on the embedded file (it is read as untrusted): the file, its arrays together, its recordings.
EMBEDDED_MAX_BYTES = 2 * 1024 * 1024
_EMBEDDED_MAX_ARRAY_BYTES = 16 * 1024 * 1024
_EMBEDDED_MAX_RECORDINGS = 3000
_EMBEDDED_ARRAYS = ("samples", "lengths", "file_names", "digits", "speakers", "indices", "metadata")
_EMBEDDED_REBUILD = "tools/make_embedded_fsdd.py"

_FILE_RE = re.compile(r"^([0-9])_([a-z]+)_(0|[1-9][0-9]*)\.wav$")
_FILE_FORM = (
    "{digit}_{speaker}_{index}.wav with digit 0-9, speaker one of "
    f"{', '.join(FSDD_SPEAKERS)} and index a non-negative integer without "
    "leading zeros (e.g. 7_jackson_32.wav)"
)
_MAX_QUANTIZATION_CHANNELS = 2**16
_HOW_TO_PROVIDE = core.how_to_provide(
    "FSDD",
    "fsdd/recordings/ with the WAV files ({digit}_{speaker}_{index}.wav, 8 kHz mono)",
    others=(
        f'use source="tfds" to download it with tensorflow_datasets ({TFDS_NAME!r}); a copy already prepared '
        "there is used automatically",
        'use source="embedded" for the small real subset shipped with kgen (180 recordings: index 5 and 6 of '
        "every speaker and digit for train, index 0 for test)",
    ),
)


# ----------------------------------------------------------------------------
# File names and local files
# ----------------------------------------------------------------------------


def parse_file_name(file_name, where=None):
    """Parses an FSDD file name into ``(digit, speaker_index, index)``.

    Args:
        file_name: a name such as ``"7_jackson_32.wav"``.
        where: how to name the file in an error (defaults to ``file_name``).

    Returns:
        ``(digit, speaker_index, index)`` as ints, ``speaker_index`` into
        ``FSDD_SPEAKERS``.

    Raises:
        ValueError: naming the file, if the name has any other form or names an
            unknown speaker.
    """
    where = file_name if where is None else where
    match = _FILE_RE.match(file_name)
    if match is None:
        raise ValueError(f"Bad FSDD file name {where}: expected {_FILE_FORM}.")
    digit, speaker, index = match.groups()
    if speaker not in FSDD_SPEAKERS:
        raise ValueError(
            f"Bad FSDD file name {where}: unknown speaker {speaker!r}; expected "
            f"one of {', '.join(FSDD_SPEAKERS)}."
        )
    return int(digit), FSDD_SPEAKERS.index(speaker), int(index)


def _in_split(index, base):
    return (index < NUM_TEST_INDICES) == (base == "test")


def _wav_names(folder):
    return [
        entry.name
        for entry in os.scandir(folder)
        if entry.name.lower().endswith(".wav") and not entry.name.startswith(".") and entry.is_file()
    ]


def _find_folder(data_dir, where):
    candidates = (data_dir / "fsdd" / "recordings", data_dir / "recordings", data_dir)
    looked = f"{candidates[0]}, {candidates[1]} and for WAV files in {data_dir}"
    return core.find_local(
        data_dir, where, candidates, "FSDD recordings", _HOW_TO_PROVIDE, looked=looked,
        accept=lambda p: p.is_dir() and (p != data_dir or bool(_wav_names(p))),
    )


@functools.lru_cache(maxsize=16384)
def _read_recording(path_str, mtime_ns, size):
    # mtime_ns and size are part of the cache key so a changed file is re-read.
    del mtime_ns, size
    wave, _ = read_wav(path_str, expected_rate=SAMPLE_RATE)
    if wave.shape[0] == 0:
        raise ValueError(f"Bad FSDD recording {path_str}: it holds no samples.")
    wave.flags.writeable = False
    return wave


def _local_records(folder, base):
    """Returns the sorted ``(speaker, digit, index, wave)`` records of a split."""
    parsed = []
    for file_name in _wav_names(folder):
        path = folder / file_name
        digit, speaker, index = parse_file_name(file_name, where=str(path))
        parsed.append((speaker, digit, index, path))
    records = [
        (speaker, digit, index, core.read_cached(_read_recording, path))
        for speaker, digit, index, path in sorted(parsed)
        if _in_split(index, base)
    ]
    if not records:
        indices = f"0-{NUM_TEST_INDICES - 1}" if base == "test" else f"{NUM_TEST_INDICES} and up"
        raise DataNotFoundError(
            f"The FSDD folder {folder} holds no recordings of the {base} split "
            f"(indices {indices}; {len(parsed)} WAV files in all).\n{_HOW_TO_PROVIDE}"
        )
    return records


# ----------------------------------------------------------------------------
# tensorflow_datasets
# ----------------------------------------------------------------------------


def _pcm_to_float(audio, where):
    audio = np.asarray(audio)
    if audio.ndim != 1 or audio.shape[0] == 0:
        raise ValueError(
            f"Bad FSDD recording {where}: audio of shape {audio.shape}; expected "
            "a non-empty 1-D (mono) waveform."
        )
    if np.issubdtype(audio.dtype, np.integer):
        if audio.min() < -32768 or audio.max() > 32767:
            raise ValueError(
                f"Bad FSDD recording {where}: integer samples in "
                f"{audio.min()}..{audio.max()}; expected 16-bit PCM."
            )
        return (audio.astype(np.float32) / 32768.0).astype(np.float32)
    if np.issubdtype(audio.dtype, np.floating) and np.all(np.isfinite(audio)):
        return np.clip(audio, -1.0, 1.0).astype(np.float32)
    raise ValueError(
        f"Bad FSDD recording {where}: audio of dtype {audio.dtype}; expected "
        "16-bit integer PCM or finite floats."
    )


@functools.lru_cache(maxsize=2)
def _tfds_records(tfds_dir):
    """All ``(speaker, digit, index, wave)`` records of the prepared tfds spoken_digit, sorted."""
    builder = core.tfds_builder(TFDS_NAME, tfds_dir, "FSDD", _HOW_TO_PROVIDE, download=False)
    examples = core.read_tfds(builder, "FSDD", _HOW_TO_PROVIDE, split="train")
    rate = builder.info.features["audio"].sample_rate
    if rate != SAMPLE_RATE:
        raise ValueError(f"tensorflow_datasets {TFDS_NAME!r} has sample rate {rate} Hz; expected {SAMPLE_RATE} Hz.")
    records = []
    for example in examples:
        file_name = example["audio/filename"]
        if isinstance(file_name, bytes):
            file_name = file_name.decode("utf-8", errors="replace")
        file_name = os.path.basename(str(file_name))
        where = f"{file_name} (tensorflow_datasets {TFDS_NAME!r})"
        digit, speaker, index = parse_file_name(file_name, where=where)
        label = int(example["label"])
        if label != digit:
            raise ValueError(f"Bad FSDD recording {where}: label {label} but the file name says digit {digit}.")
        wave = _pcm_to_float(example["audio"], where)
        wave.flags.writeable = False
        records.append((speaker, digit, index, wave))
    records.sort(key=lambda r: r[:3])
    return tuple(records)


# ----------------------------------------------------------------------------
# The embedded subset
# ----------------------------------------------------------------------------


def _embedded_error(where, problem):
    return ValueError(f"Corrupt {where}: {problem}; rebuild it with {_EMBEDDED_REBUILD}.")


def _check_embedded_array(arrays, name, where, kind, ndim):
    array = arrays[name]
    if array.dtype.kind != kind or array.ndim != ndim or (kind in "iu" and array.dtype.itemsize > 8):
        raise _embedded_error(where, f"array {name!r} is {array.dtype} of shape {array.shape}")
    return array


def _parse_embedded(raw, where):
    """All ``(speaker, digit, index, wave)`` records of the embedded subset, sorted, after checking everything."""
    arrays = core.read_npz_bounded(raw, where, _EMBEDDED_ARRAYS, _EMBEDDED_MAX_ARRAY_BYTES)
    samples = _check_embedded_array(arrays, "samples", where, "i", 1)
    if samples.dtype != np.int16:
        raise _embedded_error(where, f"samples are {samples.dtype}; expected int16 PCM")
    lengths = _check_embedded_array(arrays, "lengths", where, "i", 1)
    count = lengths.shape[0]
    if not 0 < count <= _EMBEDDED_MAX_RECORDINGS:
        raise _embedded_error(where, f"{count} recordings; expected 1 to {_EMBEDDED_MAX_RECORDINGS}")
    columns = {name: _check_embedded_array(arrays, name, where, "u", 1) for name in ("digits", "speakers", "indices")}
    names = _check_embedded_array(arrays, "file_names", where, "U", 1)
    if any(a.shape[0] != count for a in (names, *columns.values())):
        raise _embedded_error(where, "the arrays file_names, digits, speakers, indices and lengths differ in length")
    if lengths.min() < 1 or int(lengths.astype(np.int64).sum()) != samples.shape[0]:
        raise _embedded_error(
            where, f"lengths (from {lengths.min()}) do not split the {samples.shape[0]} samples into recordings"
        )
    metadata = _check_embedded_array(arrays, "metadata", where, "U", 1)
    if metadata.shape != (1,):
        raise _embedded_error(where, f"array 'metadata' has shape {metadata.shape}; expected (1,), one JSON text")
    try:
        metadata = json.loads(str(metadata[0]))
    except json.JSONDecodeError as e:
        raise _embedded_error(where, f"its metadata is not JSON ({e})") from e
    if not isinstance(metadata, dict) or metadata.get("sample_rate") != SAMPLE_RATE:
        rate = metadata.get("sample_rate") if isinstance(metadata, dict) else None
        raise _embedded_error(where, f"its metadata gives sample rate {rate!r}; expected {SAMPLE_RATE}")
    if metadata.get("speakers") != list(FSDD_SPEAKERS) or "CC BY-SA 4.0" not in str(metadata.get("license")):
        raise _embedded_error(where, "its metadata does not list the FSDD speakers and the CC BY-SA 4.0 licence")
    records = []
    offsets = np.concatenate([[0], np.cumsum(lengths.astype(np.int64))])
    for row, file_name in enumerate(names.tolist()):
        parsed = parse_file_name(file_name, where=f"{file_name} in {where}")
        stored = tuple(int(columns[k][row]) for k in ("digits", "speakers", "indices"))
        if parsed != stored:
            raise _embedded_error(where, f"{file_name} is stored as digit, speaker, index {stored}")
        wave = _pcm_to_float(samples[offsets[row] : offsets[row + 1]], f"{file_name} in {where}")
        wave.flags.writeable = False
        records.append((parsed[1], parsed[0], parsed[2], wave))
    keys = [r[:3] for r in records]
    if keys != sorted(set(keys)):
        raise _embedded_error(where, "its recordings are not in order (speaker, digit, index) or repeat")
    return tuple(records)


def _embedded_records(base):
    records = core.read_embedded(EMBEDDED_FILE, "FSDD subset", EMBEDDED_MAX_BYTES, _EMBEDDED_REBUILD, _parse_embedded)
    selected = [r for r in records if _in_split(r[2], base)]
    if not selected:
        where = f"embedded FSDD subset {core.embedded_resource(EMBEDDED_FILE)}"
        raise _embedded_error(where, f"it holds no recordings of the {base} split")
    return selected


def _records(base, data_dir, source):
    """Chooses the source and returns the sorted records of the base split and the source's name."""
    if source == "embedded":
        return _embedded_records(base), "embedded"
    if source in ("local", None):
        path, where = core.local_data_dir(data_dir, source == "local", _HOW_TO_PROVIDE)
        if path is not None:
            return _local_records(_find_folder(path, where), base), "local"
    # source == "tfds", or auto without a local folder: a prepared copy, downloaded only for source="tfds".
    tfds_dir = core.tfds_data_dir()
    core.tfds_builder(TFDS_NAME, tfds_dir, "FSDD", _HOW_TO_PROVIDE, download=source == "tfds")
    records = [r for r in _tfds_records(tfds_dir) if _in_split(r[2], base)]
    if not records:
        raise DataNotFoundError(
            f"tensorflow_datasets {TFDS_NAME!r} in {tfds_dir} holds no recordings "
            f"of the {base} split.\n{_HOW_TO_PROVIDE}"
        )
    return records, "tfds"


# ----------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------


def load_arrays(name="fsdd", split="train", data_dir=None, source=None):
    """Loads FSDD recordings as numpy arrays.

    Args:
        name: ``"fsdd"``.
        split: ``"train"`` (indices 5-49 of each speaker and digit, 2,700
            recordings), ``"test"`` (indices 0-4, 300 recordings) or a slice
            such as ``"train[:100]"`` or ``"test[-20:]"`` (Python slice
            semantics on the recording order).
        data_dir: a folder holding ``fsdd/recordings/`` (or ``recordings/``,
            or the WAV files themselves). Defaults to the ``KGEN_DATA_DIR``
            environment variable. Only read, never written.
        source: ``"local"``, ``"tfds"`` (a prepared tensorflow_datasets copy,
            downloaded first if there is none), ``"embedded"`` (the 180
            recordings shipped with kgen: train 120, test 60; no files or
            network needed) or ``None`` (auto: local if ``data_dir`` or
            ``KGEN_DATA_DIR`` is set, otherwise a copy already prepared by
            tensorflow_datasets, otherwise ``DataNotFoundError``; auto never
            downloads and never falls back to the embedded subset).

    Returns:
        ``(waves, digits, speakers)``: a list of 1-D ``float32`` waveforms in
        ``[-1, 1]`` (8 kHz), ``int64`` digits ``(N,)`` in 0..9 and ``int64``
        speaker indices ``(N,)`` into ``FSDD_SPEAKERS``; ordered by speaker,
        digit, index. All are fresh copies.

    Raises:
        ValueError: for an unknown ``name``, ``split`` or ``source``, a slice
            that selects nothing, or a bad file (naming it and what is wrong;
            the embedded file too).
        DataNotFoundError: when the data cannot be found (naming where it
            looked and how to provide it).

    Example (offline, no data folder):

    ```python
    waves, digits, speakers = kgen.data.load_arrays("fsdd", "test", source="embedded")  # 60 recordings
    ```
    """
    core.check_name(name, NAMES, "FSDD")
    base, index = parse_split(split)
    core.check_source(source, SOURCES, "FSDD")
    core.check_data_dir_source(data_dir, source)
    records, kind = _records(base, data_dir, source)
    selected = records[index]
    if not selected:
        raise ValueError(
            f"split={split!r} selects no recordings (the {base} split of source "
            f"{kind!r} holds {len(records)})."
        )
    waves = [np.array(r[3], dtype=np.float32) for r in selected]
    digits = np.array([r[1] for r in selected], dtype=np.int64)
    speakers = np.array([r[0] for r in selected], dtype=np.int64)
    return waves, digits, speakers


def load(name="fsdd", split="train", batch_size=8, segment_length=None, random_crop=None, with_labels=False,
         label="digit", shuffle=None, seed=0, drop_remainder=False, data_dir=None, source=None,
         quantization_channels=256):
    """Loads FSDD as a batched, prefetched, deterministic ``tf.data.Dataset``.

    Elements are ``(x, tokens, weights)``, ready for ``model.fit(dataset)`` as
    ``(x, y, sample_weight)`` on every Keras backend:

    - ``tokens``: ``int32 (B, T)`` mu-law codes (``kgen.audio.mu_law_encode``,
      ``quantization_channels`` codes) of the samples;
    - ``weights``: ``float32 (B, T)``, 1 on real samples and 0 on padding;
      padding holds the code of 0.0 (``quantization_channels // 2``);
    - ``x``: ``tokens``, or with ``with_labels=True`` a dict
      ``{"tokens": tokens, "labels": int32 (B,)}``.

    What a row holds depends on ``segment_length`` and ``random_crop``:

    - ``segment_length=None``: one whole recording, right-padded to the
      longest in the batch.
    - ``segment_length=L``, ``random_crop=True``: one random crop of length
      ``L`` of every recording per epoch (seeded by ``seed``, new in every
      epoch, reproducible); a recording shorter than ``L`` is whole and
      right-padded.
    - ``segment_length=L``, ``random_crop=False``: every recording cut into
      consecutive non-overlapping chunks of length ``L`` that cover each sample
      exactly once; a recording's last chunk is right-padded.

    Args:
        name: ``"fsdd"``.
        split: ``"train"``, ``"test"`` or a slice such as ``"test[:20]"``.
        batch_size: a positive integer.
        segment_length: ``None`` (whole recordings) or a positive integer.
        random_crop: whether to crop at random (needs ``segment_length``).
            Defaults to True for train splits with a ``segment_length``, False
            otherwise.
        with_labels: whether ``x`` is a dict with tokens and labels.
        label: the labels with ``with_labels=True``: ``"digit"`` (0..9) or
            ``"speaker"`` (an index into ``FSDD_SPEAKERS``).
        shuffle: whether to shuffle the rows (seeded, reshuffled every epoch).
            Defaults to True for train splits, False otherwise.
        seed: a non-negative integer seeding the shuffle and the crops.
        drop_remainder: whether to drop the last partial batch.
        data_dir: see ``load_arrays``.
        source: see ``load_arrays``.
        quantization_channels: the number of mu-law codes, 2..65536.

    Returns:
        A ``tf.data.Dataset`` of ``(x, tokens, weights)`` batches.

    Raises:
        ValueError: for an invalid argument (named in the message) or a bad
            recording (naming its file).
        DataNotFoundError: when the recordings cannot be found.
    """
    core.check_name(name, NAMES, "FSDD")
    if segment_length is not None:
        segment_length = check_int(segment_length, "segment_length", minimum=1)
    random_crop = check_bool(random_crop, "random_crop", allow_none=True)
    if random_crop and segment_length is None:
        raise ValueError(
            "random_crop=True needs a segment_length (the crop length); pass "
            "segment_length=<samples> or leave random_crop None."
        )
    with_labels = check_bool(with_labels, "with_labels")
    if not isinstance(label, str) or label not in LABELS:
        raise ValueError(f"Unknown label={label!r}. Expected one of: {', '.join(repr(x) for x in LABELS)}.")
    is_train, batch_size, shuffle, seed, drop_remainder = core.pipeline_args(
        split, batch_size, shuffle, seed, drop_remainder
    )
    core.check_source(source, SOURCES, "FSDD")
    quantization_channels = check_int(
        quantization_channels, "quantization_channels", minimum=2, maximum=_MAX_QUANTIZATION_CHANNELS
    )
    if random_crop is None:
        random_crop = is_train and segment_length is not None

    waves, digits, speakers = load_arrays(name, split, data_dir=data_dir, source=source)
    labels = (digits if label == "digit" else speakers).astype(np.int32)
    lengths = np.array([w.shape[0] for w in waves], dtype=np.int64)
    codes = mu_law_encode(np.concatenate(waves), quantization_channels)
    pad = int(mu_law_encode(np.zeros(1, np.float32), quantization_channels)[0])

    import tensorflow as tf

    if segment_length is not None and not random_crop:
        dataset = _chunk_dataset(tf, codes, lengths, labels, segment_length, pad)
    else:
        ragged = tf.RaggedTensor.from_row_lengths(codes, lengths)
        dataset = tf.data.Dataset.from_tensor_slices((ragged, labels))
    dataset = core.shuffled(dataset, shuffle, seed)

    if segment_length is None:
        dataset = dataset.map(
            lambda c, y: (c, tf.ones_like(c, dtype=tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE
        )
        dataset = dataset.padded_batch(
            batch_size,
            padded_shapes=([None], [None], []),
            padding_values=(tf.constant(pad, tf.int32), tf.constant(0.0, tf.float32), tf.constant(0, tf.int32)),
            drop_remainder=drop_remainder,
        )
    elif random_crop:
        dataset = tf.data.Dataset.zip((dataset, core.epoch_seeds(seed)))
        length = segment_length

        def crop(element, crop_seed):
            c, y = element
            n = tf.shape(c)[0]
            start = tf.random.stateless_uniform(
                [], seed=crop_seed, minval=0, maxval=tf.maximum(n - length, 0) + 1, dtype=tf.int32
            )
            piece = c[start : start + length]
            m = tf.shape(piece)[0]
            tokens = tf.ensure_shape(tf.pad(piece, [[0, length - m]], constant_values=pad), [length])
            weights = tf.ensure_shape(tf.pad(tf.ones([m], tf.float32), [[0, length - m]]), [length])
            return tokens, weights, y

        dataset = dataset.map(crop, num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    else:
        length = segment_length

        def add_weights(tokens, m, y):
            return tokens, tf.cast(tf.range(length) < m[:, None], tf.float32), y

        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
        dataset = dataset.map(add_weights, num_parallel_calls=tf.data.AUTOTUNE)

    if with_labels:

        def finish(tokens, weights, y):
            return {"tokens": tokens, "labels": y}, tokens, weights

    else:

        def finish(tokens, weights, y):
            return tokens, tokens, weights

    return core.finish(dataset, finish)


def _chunk_dataset(tf, codes, lengths, labels, length, pad):
    """Consecutive non-overlapping chunks of every recording, the last one padded."""
    counts = -(-lengths // length)  # ceil
    tokens = np.full((int(counts.sum()), length), pad, dtype=np.int32)
    valid = np.empty(tokens.shape[0], dtype=np.int32)
    row = offset = 0
    for n, k in zip(lengths.tolist(), counts.tolist()):
        flat = tokens[row : row + k].reshape(-1)
        flat[:n] = codes[offset : offset + n]
        valid[row : row + k] = length
        valid[row + k - 1] = n - (k - 1) * length
        row += k
        offset += n
    chunk_labels = np.repeat(labels, counts)
    return tf.data.Dataset.from_tensor_slices((tokens, valid, chunk_labels))


core.register(__name__, NAMES)

"""Lossless compression with the probabilities of an autoregressive zoo model (`kgen compress` / `kgen decompress`).

A generative model that assigns data x the probability p(x) can code it in about -log2 p(x) bits: an entropy coder
turns each step's next-symbol distribution into bits. kgen drives constriction's range coder (a queue, so symbols
decode in the order they were encoded; `constriction.stream.queue.RangeEncoder` with the `Categorical(perfect=False)`
model family, 24-bit fixed-point probabilities) with the tables of the model's incremental protocol
(`model.coding_steps`, `kgen.samplers.coding`). The encoder and the decoder run the same compiled step on the same
batch layout, so they see bit for bit the same tables, and the round trip is exact.

What it codes (`model.coding_kinds` says which the model takes):

- "image": PNG files of the model's image shape. Binary models (two levels) take black-and-white PNGs (mode "1", or
  "L" holding only 0 and 255, or only 0 and 1); 256-level models take 8-bit greyscale ("L") or "RGB" PNGs. The
  decompressed PNG holds the same pixels in the same mode (not necessarily the same file bytes).
- "bytes": any file, byte by byte, with a 256-level sequence model (the text models).
- "audio": WAV files, coded as the model's mu-law codes (`kgen.audio.mu_law_encode`, as the audio models are
  trained). Lossless for the mu-law signal, not for the original samples: the decompressed WAV is the decoded
  mu-law signal as 16-bit PCM, which every player reads and which compresses again to the very same codes.

Container (`.kgz`): `MAGIC`, a 4-byte big-endian header length, a UTF-8 JSON header, then the range coder's payload
(little-endian 32-bit words). The header names the model (its zoo name or file, and the sha256 of its weights), the
Keras backend, the data kind, every item (name, shape, class label, the sha256 of its symbols), the batch layout
and the payload's length and sha256. `decompress` refuses a file made with other weights or another backend,
a truncated or corrupted file, and checks every decoded item against its sha256 before writing anything; each
output file is written atomically.

Sequences longer than `segment_length` symbols (default `DEFAULT_SEGMENT_LENGTH`, or the model's `max_length`) are
cut into segments, each coded from an empty context; rows (images or segments) are coded `batch_size` at a time.

Reproducibility: the tables must be recomputed exactly when decoding, so decode with the same backend (recorded and
checked), and the same kgen version on the same kind of machine; anything else is detected by the checksums.
"""

import hashlib
import io
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np

MAGIC = b"\x89KGZ\r\n\x1a\n"
FORMAT_VERSION = 1
SUFFIX = ".kgz"
KINDS = ("image", "bytes", "audio")
DEFAULT_SEGMENT_LENGTH = 4096
DEFAULT_BATCH_SIZE = 64
_MAX_HEADER = 64 * 1024 * 1024


class CompressedFileError(ValueError):
    """A `.kgz` file that cannot be decoded: not one, truncated, corrupted, or made with another model."""


# ================================================================================================ identity
def weights_sha256(model):
    """sha256 of a model's floating-point weights (names, shapes and float32 values, in order): the same for the
    same trained weights however they were loaded (a .keras file, a preset folder, float16 storage or not)."""
    from keras import ops

    digest = hashlib.sha256()
    for variable in model.weights:
        value = np.asarray(ops.convert_to_numpy(variable))
        if not np.issubdtype(value.dtype, np.floating):
            continue  # seed-generator states and counters are not weights
        digest.update(f"{variable.path}:{value.shape}\n".encode())
        digest.update(np.ascontiguousarray(value, dtype="<f4").tobytes())
    return digest.hexdigest()


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _data_sha256(items):
    """sha256 of items of symbols: every item's length, then its symbols, as little-endian int32."""
    digest = hashlib.sha256()
    for symbols in items:
        symbols = np.ascontiguousarray(np.asarray(symbols).reshape(-1), dtype="<i4")
        digest.update(struct.pack("<Q", symbols.size))
        digest.update(symbols.tobytes())
    return digest.hexdigest()


def _backend():
    import keras

    return keras.backend.backend()


def _constriction():
    try:
        import constriction
    except ImportError as e:  # a declared dependency; say what to install
        raise ImportError("kgen compression needs the `constriction` package: pip install constriction") from e
    return constriction


# ================================================================================================ coding loop
def _rows(lengths, segment_length):
    """Cut every item into rows of at most `segment_length` symbols: [(item, start, length)]."""
    rows = []
    for item, n in enumerate(lengths):
        if n == 0:
            continue
        step = n if segment_length is None else segment_length
        for start in range(0, n, step):
            rows.append((item, start, min(step, n - start)))
    return rows


def _walk(model, rows, labels, batch_size, visit, progress=None):
    """Run the coding steps over `rows`, `batch_size` rows at a time; `visit(batch_rows, t, tables, active)` returns
    the batch's symbols of step t (int32 (B,), anything where not active) and is the only place encoder and decoder
    differ."""
    for first in range(0, len(rows), batch_size):
        batch = rows[first : first + batch_size]
        lengths = np.array([r[2] for r in batch])
        row_labels = None if labels is None else np.array([labels[r[0]] for r in batch], dtype="int32")
        steps = model.coding_steps(len(batch), labels=row_labels)
        previous = None
        for t in range(int(lengths.max())):
            tables = steps.next(previous)
            active = lengths > t
            previous = visit(batch, t, tables, active)
            if progress is not None:
                progress.add(int(active.sum()))


def _check_batch_args(model, batch_size, segment_length):
    from kgen.validation import check_int

    batch_size = check_int(DEFAULT_BATCH_SIZE if batch_size is None else batch_size, "batch_size")
    limit = model.coding_max_length
    if segment_length is None:
        segment_length = min(DEFAULT_SEGMENT_LENGTH, limit) if limit else DEFAULT_SEGMENT_LENGTH
    segment_length = check_int(segment_length, "segment_length")
    if limit is not None and segment_length > limit:
        raise ValueError(f"`segment_length` must be at most the model's max_length={limit}, got {segment_length}.")
    return batch_size, segment_length


def encode_symbols(model, kind, symbols_list, labels=None, batch_size=None, segment_length=None, progress=None):
    """Range-code items of symbols with the model's tables.

    Args:
        model: an autoregressive kgen model whose `coding_kinds` include `kind`.
        kind: "image" (each item: (H, W, C) levels) or "bytes" / "audio" (each item: 1-D tokens).
        symbols_list: the items.
        labels: one class label per item, for a class-conditional model.
        batch_size, segment_length: the batch layout (see the module docstring).
        progress: show a keras Progbar over the symbols.

    Returns:
        (payload bytes, layout dict for the header, stats dict: symbols, information content in bits computed
        from the tables).
    """
    constriction = _constriction()
    if kind not in model.coding_kinds:
        raise ValueError(f"This {type(model).__name__} codes {', '.join(model.coding_kinds) or 'nothing'}, "
                         f"not {kind!r} data.")
    batch_size, segment_length = _check_batch_args(model, batch_size, segment_length)
    labels = _check_labels(model, labels, len(symbols_list))
    if kind == "image":
        flat = [_validate_image(model, x, f"item {i}").reshape(-1).astype(np.int32) for i, x in enumerate(symbols_list)]
        segment_length = None  # an image is one row
    else:
        flat = [_validate_tokens(model, x, f"item {i}", segment_length) for i, x in enumerate(symbols_list)]
    rows = _rows([len(f) for f in flat], segment_length)
    encoder = constriction.stream.queue.RangeEncoder()
    family = constriction.stream.model.Categorical(perfect=False)
    bits = [0.0]

    def visit(batch, t, tables, active):
        symbols = np.zeros(len(batch), np.int32)
        for j, (item, start, length) in enumerate(batch):
            if t < length:
                symbols[j] = flat[item][start + t]
        chosen = tables[active]
        encoder.encode(symbols[active], family, chosen)
        picked = chosen[np.arange(len(chosen)), symbols[active]] / chosen.sum(axis=1)
        bits[0] -= float(np.log2(np.maximum(picked, 1e-300)).sum())
        return symbols

    total = sum(len(f) for f in flat)
    _walk(model, rows, labels, batch_size, visit, _progbar(total, progress))
    payload = np.asarray(encoder.get_compressed(), dtype="<u4").tobytes()
    layout = {
        "batch_size": batch_size,
        "segment_length": segment_length,
        "num_levels": int(model.coding_levels),
        "data_sha256": _data_sha256(flat),
    }
    items = [{"length": int(len(f)), "label": None if labels is None else int(labels[i])} for i, f in enumerate(flat)]
    return payload, layout, items, {"symbols": int(total), "information_bits": bits[0]}


def decode_symbols(model, kind, payload, layout, items, progress=None):
    """The inverse of `encode_symbols`: the items' symbol arrays (images reshaped to the model's image shape).
    Raises `CompressedFileError` if a decoded item does not match its sha256."""
    constriction = _constriction()
    words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
    decoder = constriction.stream.queue.RangeDecoder(words)
    family = constriction.stream.model.Categorical(perfect=False)
    lengths = [int(it["length"]) for it in items]
    labels = None if not items or items[0].get("label") is None else [int(it["label"]) for it in items]
    segment_length = layout.get("segment_length")
    rows = _rows(lengths, segment_length)
    out = [np.zeros(n, np.int32) for n in lengths]

    def visit(batch, t, tables, active):
        symbols = np.zeros(len(batch), np.int32)
        if active.any():
            try:
                symbols[active] = decoder.decode(family, tables[active])
            except Exception as e:  # constriction reports running out of data and invalid states
                raise CompressedFileError(f"the payload cannot be decoded: {type(e).__name__}: {e}") from e
        for j, (item, start, length) in enumerate(batch):
            if t < length:
                out[item][start + t] = symbols[j]
        return symbols

    _walk(model, rows, labels, int(layout["batch_size"]), visit, _progbar(sum(lengths), progress))
    if _data_sha256(out) != layout.get("data_sha256"):
        raise CompressedFileError(
            "the decoded data's sha256 differs from the one recorded: the file is corrupted, or the model's "
            "probabilities differ from those it was made with (another kgen version or machine)."
        )
    if kind == "image":
        return [s.reshape(model.image_shape) for s in out]
    return out


def _progbar(total, show):
    from kgen.progress import Progress, wanted

    if not wanted(show):
        return None

    return Progress(total, unit_name="symbol", show=True, interval=1.0)


def _check_labels(model, labels, count):
    if not model.conditional:
        if labels is not None:
            raise ValueError(f"`labels` apply only to a class-conditional model; this {type(model).__name__} is not.")
        return None
    if labels is None:
        raise ValueError(f"This {type(model).__name__} is class-conditional: give `labels` (the class of each item, "
                         f"0..{model.num_classes - 1}; `kgen compress --label N`).")
    return model.validate_labels(labels, count)  # one int for all, or one per item; errors name `labels`


def _validate_image(model, image, name):
    arr = np.asarray(image)
    if arr.shape != tuple(model.image_shape):
        raise ValueError(f"{name} must have the model's image shape {tuple(model.image_shape)}, got {arr.shape}.")
    model.validate_images(arr[None], name)
    return arr


def _validate_tokens(model, tokens, name, segment_length):
    arr = np.asarray(tokens)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D token sequence, got shape {arr.shape}.")
    for start in range(0, arr.size, segment_length):  # as the model will see it: one segment at a time
        model.validate_tokens(arr[None, start : start + segment_length], name)
    return arr.astype(np.int32)


# ================================================================================================ container
def _columns(items):
    keys = sorted({k for item in items for k in item})
    return {k: [item.get(k) for item in items] for k in keys}


def _rows_of(columns, count):
    return [{k: v[i] for k, v in columns.items()} for i in range(count)]


def pack(header, payload):
    """The container bytes: MAGIC, header length, the zlib-compressed JSON header (items stored as columns, with
    the payload's length and sha256), payload."""
    items = header.get("items", [])
    header = dict(header, items=_columns(items), num_items=len(items), payload_bytes=len(payload),
                  payload_sha256=_sha256(payload))
    head = zlib.compress(json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8"), 9)
    return MAGIC + struct.pack(">I", len(head)) + head + payload


def unpack(blob, where="the file"):
    """(header dict, payload bytes) of container bytes; a `CompressedFileError` naming `where` for anything that is
    not a whole, intact kgen container."""
    if blob[: len(MAGIC)] != MAGIC:
        raise CompressedFileError(f"{where} is not a kgen compressed file (it does not start with the .kgz signature).")
    start = len(MAGIC) + 4
    if len(blob) < start:
        raise CompressedFileError(f"{where} is truncated: it ends inside the header.")
    (size,) = struct.unpack(">I", blob[len(MAGIC) : start])
    if size > _MAX_HEADER or len(blob) < start + size:
        raise CompressedFileError(f"{where} is truncated or corrupted: its header claims {size} bytes, "
                                  f"{max(len(blob) - start, 0)} follow.")
    try:
        header = json.loads(zlib.decompress(blob[start : start + size]).decode("utf-8"))
        expected = int(header["payload_bytes"])
        version = header["format"]
        header["items"] = _rows_of(header["items"], int(header["num_items"]))
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError, IndexError,
            AttributeError) as e:
        raise CompressedFileError(f"{where} has a corrupted header ({type(e).__name__}: {e}).") from None
    if version != FORMAT_VERSION:
        raise CompressedFileError(f"{where} has container format {version!r}; this kgen reads format {FORMAT_VERSION}.")
    payload = blob[start + size :]
    if expected % 4:
        raise CompressedFileError(f"{where} has a corrupted header: a payload of {expected} bytes is not a whole "
                                  "number of the coder's 32-bit words.")
    if len(payload) < expected:
        raise CompressedFileError(f"{where} is truncated: {len(payload)} of its {expected} payload bytes are there.")
    if len(payload) > expected:
        raise CompressedFileError(f"{where} has {len(payload) - expected} bytes after its payload (corrupted or "
                                  "concatenated).")
    if _sha256(payload) != header.get("payload_sha256"):
        raise CompressedFileError(f"{where} is corrupted: its payload does not match the sha256 in its header.")
    return header, payload


def read_header(path):
    """The JSON header of a `.kgz` file (checked as `decompress` checks it)."""
    path = Path(path)
    return unpack(_read(path), str(path))[0]


def _read(path):
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"`file` {str(path)!r} does not exist.") from None
    except IsADirectoryError:
        raise ValueError(f"`file` {str(path)!r} is a folder, not a .kgz file.") from None


def check_model(header, model, where="the file"):
    """Refuse to decode with another model or backend than the one `header` was made with."""
    recorded = header.get("model", {})
    if weights_sha256(model) != recorded.get("weights_sha256"):
        raise CompressedFileError(
            f"{where} was made with the model {recorded.get('name')!r} (weights sha256 "
            f"{str(recorded.get('weights_sha256'))[:16]}...), not with these weights "
            f"({weights_sha256(model)[:16]}...): decoding with another model would give garbage."
        )
    if header.get("backend") != _backend():
        raise CompressedFileError(
            f"{where} was made under KERAS_BACKEND={header.get('backend')}; decode it under the same backend "
            f"(this process runs {_backend()}): the probability tables must be recomputed bit for bit."
        )


# ================================================================================================ files
def _read_png(path, model):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            mode = img.mode
            arr = np.asarray(img.convert("L") if mode == "1" else img)
    except FileNotFoundError:
        raise FileNotFoundError(f"input file {str(path)!r} does not exist.") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"input {str(path)!r} is not a readable PNG image ({type(e).__name__}: {e}).") from None
    levels = model.coding_levels
    h, w, c = model.image_shape
    expected_modes = {1: ("1", "L"), 3: ("RGB",)}.get(c, ())
    if mode not in expected_modes:
        raise ValueError(f"input {str(path)!r} is a {mode!r} image; this model takes {c}-channel images "
                         f"(PNG mode {' or '.join(map(repr, expected_modes)) or 'none'}).")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.shape != (h, w, c):
        raise ValueError(f"input {str(path)!r} is {arr.shape[1]}x{arr.shape[0]}; this model takes {w}x{h} images.")
    white = None
    if levels == 2:
        values = set(np.unique(arr).tolist())
        if values <= {0, 1}:
            white = 1
        elif values <= {0, 255}:
            white = 255
            arr = arr // 255
        else:
            raise ValueError(f"input {str(path)!r} must be black and white (only 0 and 255, or 0 and 1) for this "
                             f"binary model; it has {len(values)} grey levels.")
    elif levels != 256:
        raise ValueError(f"this model has {levels} levels per pixel; PNG compression takes 2- or 256-level models.")
    return arr.astype(np.int32), {"mode": mode, "white": white}


def _png_bytes(image, info):
    from PIL import Image

    arr = np.asarray(image).astype(np.uint8)
    if info.get("white") is not None:
        arr = arr * np.uint8(info["white"])
    arr = arr[..., 0] if arr.shape[-1] == 1 else arr
    img = Image.fromarray(arr, mode="L" if arr.ndim == 2 else "RGB")
    if info.get("mode") == "1":
        img = img.convert("1")
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _read_input(path, kind, model):
    """(symbols, item info) of one input file."""
    from kgen import audio

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file {str(path)!r} does not exist." if not path.exists()
                                else f"input {str(path)!r} is not a file.")
    if kind == "image":
        return _read_png(path, model)
    if kind == "audio":
        wave, rate = audio.read_wav(path, expected_rate=model.AUDIO_RATE)
        return audio.mu_law_encode(wave, model.coding_levels).astype(np.int32), {"rate": rate}
    return np.frombuffer(path.read_bytes(), dtype=np.uint8).astype(np.int32), {}


def _output_bytes(symbols, kind, info, model):
    from kgen import audio

    if kind == "image":
        return _png_bytes(symbols, info)
    if kind == "audio":
        return audio.wav_bytes(audio.mu_law_decode(symbols, model.coding_levels), info["rate"])
    return np.asarray(symbols, dtype=np.uint8).tobytes()


def kind_of(path):
    """The data kind of an input file, from its suffix: .png -> "image", .wav -> "audio", anything else "bytes"."""
    suffix = Path(path).suffix.lower()
    return {".png": "image", ".wav": "audio"}.get(suffix, "bytes")


def compress(model, inputs, out, model_name, labels=None, batch_size=None, segment_length=None, overwrite=False,
             progress=None):
    """Compress input files into one `.kgz` file with `model`'s probabilities.

    Args:
        model: an autoregressive kgen model (trained: `kgen.zoo.get(name, pretrained=True)` or a .keras file).
        inputs: files of one kind (see `kind_of`): PNG images, WAV recordings, or any files as bytes.
        out: the .kgz file to write (atomically).
        model_name: how `decompress` finds the model again: a zoo preset name with shipped weights, or a path.
        labels: class label of every input (one int for all), for a class-conditional model.
        batch_size, segment_length: the batch layout (see the module docstring).
        overwrite: replace an existing `out`.
        progress: show a progress bar on stderr: True, False or None (the default: where someone watches, a
            terminal or a notebook; KGEN_PROGRESS=0 turns it off; see kgen.progress).

    Returns:
        a dict: inputs, symbols, input_bytes, file_bytes, payload_bytes, header_bytes, information_bits (what the
        model's tables say the data costs) and bits_per_symbol (of the payload).
    """
    from kgen import __version__
    from kgen.io import atomic_path

    inputs = [Path(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs))]
    if not inputs:
        raise ValueError("`inputs` must name at least one file.")
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"`out` {str(out)!r} exists; pass overwrite=True (--force) to replace it.")
    kinds = {kind_of(p) for p in inputs}
    if len(kinds) > 1:
        raise ValueError(f"`inputs` must all be of one kind (PNG images, WAV audio, or other files as bytes), got "
                         f"{', '.join(sorted(kinds))}.")
    kind = kinds.pop()
    if kind not in model.coding_kinds:
        raise ValueError(f"This {type(model).__name__} codes {', '.join(model.coding_kinds) or 'nothing'}; "
                         f"the inputs are {kind} files ({inputs[0]}).")
    names = [p.name for p in inputs]
    if len(set(names)) != len(names):
        raise ValueError("`inputs` must have distinct file names (they are restored by name).")
    read = [_read_input(p, kind, model) for p in inputs]
    payload, layout, items, stats = encode_symbols(
        model, kind, [r[0] for r in read], labels=labels, batch_size=batch_size, segment_length=segment_length,
        progress=progress)
    for item, name, (_, info) in zip(items, names, read):
        item.update(name=name, **info)
    header = {
        "format": FORMAT_VERSION,
        "kgen_version": __version__,
        "coder": "constriction.stream.queue.RangeEncoder + model.Categorical(perfect=False)",
        "model": {"name": str(model_name), "weights_sha256": weights_sha256(model)},
        "backend": _backend(),
        "kind": kind,
        "items": items,
        **layout,
    }
    blob = pack(header, payload)
    with atomic_path(out) as tmp:
        tmp.write_bytes(blob)
    input_bytes = sum(p.stat().st_size for p in inputs)
    return {
        "inputs": len(inputs),
        "kind": kind,
        "symbols": stats["symbols"],
        "input_bytes": input_bytes,
        "file_bytes": len(blob),
        "payload_bytes": len(payload),
        "header_bytes": len(blob) - len(payload),
        "information_bits": stats["information_bits"],
        "bits_per_symbol": 8.0 * len(payload) / max(stats["symbols"], 1),
    }


def decompress(path, model, out_dir, overwrite=False, progress=None):
    """Decode a `.kgz` file with `model` (the one it was made with) into `out_dir`, one file per item under its
    original name. Everything is decoded and checked before the first file is written; each is written atomically.
    Returns the paths written."""
    from kgen.io import atomic_path

    path = Path(path)
    header, payload = unpack(_read(path), str(path))
    check_model(header, model, str(path))
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"`out` {str(out_dir)!r} is a file; expected a folder for the decompressed files.")
    items = header["items"]
    targets = []
    for item in items:
        name = str(item.get("name", ""))
        if not name or Path(name).name != name or name in (".", ".."):
            raise CompressedFileError(f"{path} has an item with an unsafe file name {name!r}.")
        target = out_dir / name
        if target.exists() and not overwrite:
            raise FileExistsError(f"{str(target)!r} exists; pass overwrite=True (--force) to replace it.")
        targets.append(target)
    decoded = decode_symbols(model, header["kind"], payload, header, items, progress=progress)
    data = [_output_bytes(s, header["kind"], item, model) for s, item in zip(decoded, items)]
    out_dir.mkdir(parents=True, exist_ok=True)
    for target, content in zip(targets, data):
        with atomic_path(target) as tmp:
            tmp.write_bytes(content)
    return targets

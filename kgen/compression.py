"""Lossless compression with the probabilities of an autoregressive zoo model (`kgen compress` / `kgen decompress`).

A generative model that assigns data x the probability p(x) can code it in about -log2 p(x) bits: an entropy coder
turns each step's next-symbol distribution into bits. kgen drives constriction's range coder (a queue, so symbols
decode in the order they were encoded; `constriction.stream.queue.RangeEncoder` with the `Categorical(perfect=False)`
model family, 24-bit fixed-point probabilities) with the tables of the model's incremental protocol
(`model.coding_steps`, `kgen.samplers.coding`). The encoder and the decoder run the same compiled step on the same
batch layout, so they see bit for bit the same tables, and the round trip is exact.

What it codes (`model.coding_kinds` says which the model takes), one codec per data kind (`CODECS`: the files it
reads, the symbols it codes, the file bytes it writes back, what each item records in the container and its checks;
the rest of this module works through that interface only, so a new kind of data is one codec):

- "image" (`ImageCodec`): PNG files of the model's image shape. Binary models (two levels) take black-and-white
  PNGs (mode "1", or "L" holding only 0 and 255, or only 0 and 1); 256-level models take 8-bit greyscale ("L") or
  "RGB" PNGs. The decompressed PNG holds the same pixels in the same mode (not necessarily the same file bytes).
- "bytes" (`BytesCodec`): any other file, byte by byte, with a 256-level sequence model (the text models).
- "audio" (`AudioCodec`): WAV files, coded as the model's mu-law codes (`kgen.audio.mu_law_encode`, as the audio
  models are trained), at the model's sample rate where it records one (`model.sample_rate`). Lossless for the
  mu-law signal, not for the original samples: the decompressed WAV is the decoded mu-law signal as 16-bit PCM at
  the file's rate, which every player reads and which compresses again to the very same codes.

Container (`.kgz`, format 2, see `pack`): `MAGIC`, a compact binary header (a few dozen bytes plus the model's and
the items' names: the data kind, the Keras backend, the first 16 bytes of the sha256 of the model's weights and of
the data, the batch layout, every item's name, method, length and class label), the range coder's payload
(little-endian 32-bit words), the items stored raw or with LZMA2, and a CRC-32 of it all. Each item is coded with
the model, stored, or packed with LZMA2, whichever is smallest, so a file the model does not know never grows much.
`decompress` refuses a file made with other weights or another backend, a truncated or corrupted one, and one that
claims more than it holds (every size and count is checked against the file's own size before memory or work is
spent on it; decoding stops once the decoded symbols' information content exceeds the payload's bits); it checks
the decoded data against its sha256 before writing anything, and writes all the files or none.

Sequences longer than `segment_length` symbols (default `DEFAULT_SEGMENT_LENGTH`, or the model's `max_length`) are
cut into segments, each coded from an empty context; rows (images or segments) are coded `batch_size` at a time.

Reproducibility: the tables must be recomputed exactly when decoding, so decode with the same backend (recorded and
checked), and the same kgen version on the same kind of machine; anything else is detected by the checksums.
"""

import hashlib
import io
import itertools
import lzma
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np

MAGIC = b"\x89KGZ\r\n\x1a\n"
FORMAT_VERSION = 2
SUFFIX = ".kgz"
DEFAULT_SEGMENT_LENGTH = 4096
DEFAULT_BATCH_SIZE = 64


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
    """Cut every item into rows of at most `segment_length` symbols: (item, start, length), one at a time (a
    generator: a file's claimed lengths cost no memory before they are decoded)."""
    for item, n in enumerate(lengths):
        if n == 0:
            continue
        step = n if segment_length is None else segment_length
        for start in range(0, n, step):
            yield item, start, min(step, n - start)


# The range coder's probabilities are 24-bit fixed point in which every symbol keeps at least one unit (constriction's
# leaky quantization): a symbol costs at most 24 bits however small its probability, and the quantization moves any
# other symbol's cost by well under 1e-3 bits.
_MIN_PROBABILITY = 2.0**-24
_QUANTIZATION_SLACK_BITS = 1e-3


def _costs(chosen, symbols):
    """(the information content -log2 p of each symbol under the tables `chosen`, and what the range coder spends
    on it at most, the probability floored at 2^-24)."""
    picked = chosen[np.arange(len(chosen)), symbols] / chosen.sum(axis=1)
    exact = -np.log2(np.maximum(picked, 1e-300))
    return exact, np.minimum(exact, 24.0)


def _walk(model, rows, labels, batch_size, visit, progress=None):
    """Run the coding steps over `rows`, `batch_size` rows at a time; `visit(batch_rows, t, tables, active)` returns
    the batch's symbols of step t (int32 (B,), anything where not active) and is the only place encoder and decoder
    differ."""
    rows = iter(rows)
    while batch := list(itertools.islice(rows, batch_size)):
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
        kind: a data kind of `CODECS`: "image" (each item: (H, W, C) levels) or "bytes" / "audio" (each item: 1-D
            tokens).
        symbols_list: the items.
        labels: one class label per item, for a class-conditional model.
        batch_size, segment_length: the batch layout (see the module docstring).
        progress: show a keras Progbar over the symbols.

    Returns:
        (payload bytes, layout dict for the header, stats dict: symbols, information content in bits computed
        from the tables).
    """
    constriction = _constriction()
    codec = codec_of(kind)
    if kind not in model.coding_kinds:
        raise ValueError(f"This {type(model).__name__} codes {', '.join(model.coding_kinds) or 'nothing'}, "
                         f"not {kind!r} data.")
    batch_size, segment_length = _check_batch_args(model, batch_size, segment_length)
    labels = _check_labels(model, labels, len(symbols_list))
    segment_length = codec.row_length(segment_length)
    flat = [codec.flat_symbols(model, x, f"item {i}", segment_length) for i, x in enumerate(symbols_list)]
    rows = _rows([len(f) for f in flat], segment_length)
    encoder = constriction.stream.queue.RangeEncoder()
    family = constriction.stream.model.Categorical(perfect=False)
    item_bits = np.zeros(len(flat))  # the information content of each item
    item_coded = np.zeros(len(flat))  # what the coder spends on it (the fallback's yardstick)

    def visit(batch, t, tables, active):
        symbols = np.zeros(len(batch), np.int32)
        for j, (item, start, length) in enumerate(batch):
            if t < length:
                symbols[j] = flat[item][start + t]
        chosen = tables[active]
        encoder.encode(symbols[active], family, chosen)
        exact, coded = _costs(chosen, symbols[active])
        owners = np.array([r[0] for r in batch])[active]
        np.add.at(item_bits, owners, exact)
        np.add.at(item_coded, owners, coded)
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
    stats = {"symbols": int(total), "information_bits": float(item_bits.sum()), "item_bits": item_bits.tolist(),
             "item_coded_bits": item_coded.tolist()}
    return payload, layout, items, stats


def decode_symbols(model, kind, payload, layout, items, progress=None, where="the file"):
    """The inverse of `encode_symbols`: the items' symbol arrays (images reshaped to the model's image shape).

    Work is bounded by the payload: decoding stops with a `CompressedFileError` as soon as the decoded symbols'
    cost to the range coder (their -log2 probability under the model's tables, at most 24 bits each: `_costs`)
    exceeds the payload's bits (plus 64 bits and 1e-3 bits a symbol for the coder's flush and quantization), which
    no file the encoder wrote can do; outputs grow as symbols are decoded, not as
    the header claims. Raises `CompressedFileError` if a decoded item does not match the recorded sha256."""
    constriction = _constriction()
    codec = codec_of(kind)
    words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
    decoder = constriction.stream.queue.RangeDecoder(words)
    family = constriction.stream.model.Categorical(perfect=False)
    lengths = [int(it["length"]) for it in items]
    codec.check_lengths(model, lengths, where)
    labels = None if not items or items[0].get("label") is None else [int(it["label"]) for it in items]
    if labels is not None:
        labels = model.validate_labels(labels, len(items))
    rows = _rows(lengths, codec.row_length(layout.get("segment_length")))
    out = [{} for _ in lengths]  # per item, {row start: bytearray}: symbols < 256, appended as they are decoded
    budget = 8.0 * len(payload) + 64.0
    spent = [0.0, 0]  # the coder's bits for the symbols decoded so far, and their number

    def visit(batch, t, tables, active):
        symbols = np.zeros(len(batch), np.int32)
        if active.any():
            chosen = tables[active]
            try:
                symbols[active] = decoder.decode(family, chosen)
            except Exception as e:  # constriction reports running out of data and invalid states
                raise CompressedFileError(f"{where}: the payload cannot be decoded: {type(e).__name__}: {e}") from e
            spent[0] += float(_costs(chosen, symbols[active])[1].sum())
            spent[1] += int(active.sum())
            if spent[0] > budget + _QUANTIZATION_SLACK_BITS * spent[1]:
                raise CompressedFileError(
                    f"{where} is corrupted: its items claim more data than its payload of {len(payload):,} bytes "
                    "holds (decoding stopped).")
        for j, (item, start, length) in enumerate(batch):
            if t < length:
                out[item].setdefault(start, bytearray()).append(int(symbols[j]))
        return symbols

    _walk(model, rows, labels, int(layout["batch_size"]), visit, _progbar(sum(lengths), progress))
    out = [np.frombuffer(b"".join(rows[start] for start in sorted(rows)), dtype=np.uint8).astype(np.int32)
           for rows in out]
    return [codec.as_item(model, symbols) for symbols in out]


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


# ================================================================================================ codecs
class Codec:
    """How one kind of data meets the models: the files it reads, the symbols it codes, the file bytes it writes
    back, what each item records beside its symbols in the container, and its checks (the model's, the items',
    every size a file claims). `CODECS` holds one per data kind; the coding loop, the container and `compress` /
    `decompress` work through this interface only, so a new kind of data is one codec (and the models'
    `coding_kinds` naming it).

    Attributes:
        kind: the kind's name, as `model.coding_kinds` and the header name it.
        code: its byte in the container (format 2). A shipped code keeps its meaning: new kinds take new codes.
        suffixes: the input file suffixes it takes (lower case); the codec with `any_file` takes the files no
            other codec claims.
        files: its inputs in words, for messages ("PNG images").
    """

    kind = None
    code = None
    suffixes = ()
    any_file = False
    files = ""

    # ---------------------------------------------------------------------------------------------- checks
    def check_model(self, model):
        """Raise a ValueError where `model`, whose `coding_kinds` name this kind, still cannot code its files."""

    def flat_symbols(self, model, item, name, segment_length):
        """One item of symbols, checked against the model (a ValueError naming `name`), as 1-D int32."""
        raise NotImplementedError(f"{type(self).__name__} must define flat_symbols (every codec does).")

    def row_length(self, segment_length):
        """The longest row the coding loop cuts an item into: `segment_length` (None: every item is one row)."""
        return segment_length

    def check_lengths(self, model, lengths, where):
        """Before any decoding: refuse (`CompressedFileError`) item lengths this kind's items cannot have."""

    def as_item(self, model, symbols):
        """Decoded 1-D symbols as the kind holds an item (its lengths checked by `check_lengths`)."""
        return symbols

    # ---------------------------------------------------------------------------------------------- files
    def read(self, path, model):
        """(symbols, item info) of one input file (an existing file): the info is what `write_fields` records and
        `to_bytes` needs to restore the file."""
        raise NotImplementedError(f"{type(self).__name__} must define read (every codec does).")

    def to_bytes(self, symbols, info, model):
        """The bytes of the file an item restores, from its decoded symbols (`as_item`) and its info."""
        raise NotImplementedError(f"{type(self).__name__} must define to_bytes (every codec does).")

    # ---------------------------------------------------------------------------------------------- container
    def write_fields(self, item):
        """The item's info as container bytes (after the fields every item has)."""
        return b""

    def read_fields(self, reader, index):
        """The item's info read back with a `_Reader` (every value bounded)."""
        return {}


def _check_tokens(model, tokens, name, segment_length):
    arr = np.asarray(tokens)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D token sequence, got shape {arr.shape}.")
    for start in range(0, arr.size, segment_length):  # as the model will see it: one segment at a time
        model.validate_tokens(arr[None, start : start + segment_length], name)
    return arr.astype(np.int32)


class ImageCodec(Codec):
    """PNG files of the model's image shape, coded pixel by pixel (sub-pixels in the model's channel order); each
    item is one row of the coding loop and records its PNG mode and white level."""

    kind, code, suffixes, files = "image", 0, (".png",), "PNG images"
    MODES = {None: 0, "1": 1, "L": 2, "RGB": 3}  # container codes
    WHITES = {None: 0, 1: 1, 255: 2}

    def check_model(self, model):
        levels = model.coding_levels
        if levels not in (2, 256):
            raise ValueError(f"this model has {levels} levels per pixel; PNG compression takes 2- or 256-level "
                             "models.")

    def flat_symbols(self, model, item, name, segment_length):
        arr = np.asarray(item)
        if arr.shape != tuple(model.image_shape):
            raise ValueError(f"{name} must have the model's image shape {tuple(model.image_shape)}, got {arr.shape}.")
        model.validate_images(arr[None], name)
        return arr.reshape(-1).astype(np.int32)

    def row_length(self, segment_length):
        return None  # an image is one row

    def check_lengths(self, model, lengths, where):
        size = int(np.prod(model.image_shape))
        for i, n in enumerate(lengths):
            if n != size:
                raise CompressedFileError(f"{where}: item {i} claims {n} pixels; this model's images have {size}.")

    def as_item(self, model, symbols):
        return symbols.reshape(model.image_shape)

    def read(self, path, model):
        return _read_png(path, model)

    def to_bytes(self, symbols, info, model):
        return _png_bytes(symbols, info)

    def write_fields(self, item):
        return bytes([_code(self.MODES, item.get("mode"), "mode"), _code(self.WHITES, item.get("white"), "white")])

    def read_fields(self, reader, index):
        return {"mode": reader.choice(self.MODES, f"the PNG mode of item {index}"),
                "white": reader.choice(self.WHITES, f"the white level of item {index}")}


class BytesCodec(Codec):
    """Any file, byte by byte (a 256-level sequence model's tokens); cut into rows of `segment_length` bytes."""

    kind, code, any_file, files = "bytes", 1, True, "other files as bytes"

    def flat_symbols(self, model, item, name, segment_length):
        return _check_tokens(model, item, name, segment_length)

    def read(self, path, model):
        return np.frombuffer(path.read_bytes(), dtype=np.uint8).astype(np.int32), {}

    def to_bytes(self, symbols, info, model):
        return np.asarray(symbols, dtype=np.uint8).tobytes()


class AudioCodec(Codec):
    """WAV files as the model's mu-law codes (`coding_levels` channels), at the model's sample rate where it records
    one (`model.sample_rate`; a model without one takes a file of any rate); each item records its file's rate, and
    restores the decoded mu-law signal as 16-bit PCM at that rate."""

    kind, code, suffixes, files = "audio", 2, (".wav",), "WAV recordings"
    MAX_RATE = 1 << 20  # the largest sample rate an item may claim

    def flat_symbols(self, model, item, name, segment_length):
        return _check_tokens(model, item, name, segment_length)

    def read(self, path, model):
        from kgen import audio

        wave, rate = audio.read_wav(path, expected_rate=model.sample_rate)
        return audio.mu_law_encode(wave, model.coding_levels).astype(np.int32), {"rate": rate}

    def to_bytes(self, symbols, info, model):
        from kgen import audio

        return audio.wav_bytes(audio.mu_law_decode(symbols, model.coding_levels), info["rate"])

    def write_fields(self, item):
        return _varint(item["rate"])

    def read_fields(self, reader, index):
        return {"rate": reader.varint(f"the sample rate of item {index}", self.MAX_RATE)}


#: The codec of every data kind, by name (the order of `KINDS`).
CODECS = {codec.kind: codec for codec in (ImageCodec(), BytesCodec(), AudioCodec())}
KINDS = tuple(CODECS)


def codec_of(kind):
    """The codec of a data kind; a ValueError naming the kinds for another."""
    if kind not in CODECS:
        raise ValueError(f"`kind` must be one of {', '.join(map(repr, KINDS))}, got {kind!r}.")
    return CODECS[kind]


def kind_of(path):
    """The data kind of an input file, from its suffix (the codecs' `suffixes`): .png -> "image", .wav -> "audio",
    anything else "bytes"."""
    suffix = Path(path).suffix.lower()
    for codec in CODECS.values():
        if suffix in codec.suffixes:
            return codec.kind
    return next(codec.kind for codec in CODECS.values() if codec.any_file)


# ================================================================================================ container
_KIND_CODES = {kind: codec.code for kind, codec in CODECS.items()}
_BACKEND_CODES = {"tensorflow": 0, "jax": 1, "torch": 2}
_METHOD_CODES = {"model": 0, "stored": 1, "lzma": 2}
_DIGEST_BYTES = 16  # the weights' and the data's sha256, truncated: 128 bits, no accidental collision
_FIXED = len(MAGIC) + 4 + 2 * _DIGEST_BYTES  # magic, format, kind, backend, levels-1, the two digests
#: The most bytes (or symbols) one .kgz file may restore in all: a file claiming more is refused before anything
#: is decoded (every claim is checked against the file before memory or work is spent).
MAX_DECODED_BYTES = 1 << 30
MAX_NAME_BYTES = 255  # a file name on the usual file systems
MAX_ITEMS = 100_000  # files in one .kgz: each costs memory when the header is read
MAX_TABLE_BYTES = 32 << 20  # the item table: at most MAX_ITEMS items of a 255-byte name and their fields


def _varint(value):
    value = int(value)
    if value < 0:
        raise ValueError(f"a container field must be a non-negative int, got {value}.")
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _code(table, value, field):
    try:
        return table[value]
    except (KeyError, TypeError):
        raise ValueError(f"the header field {field} must be one of {sorted(map(str, table))}, got {value!r}.") from None


def pack(header, payload):
    """The container bytes of a header dict (as `unpack` returns it) and the model's payload.

    Layout (format 2): MAGIC, format, kind, backend, levels - 1 (one byte each), the first 16 bytes of the weights'
    sha256 and of the data's sha256, then varints: batch size, segment length (0: none), the model name's length and
    UTF-8 bytes; the item table (the item count, then every item: name length and bytes, method, symbols, label + 1
    (0: none), stored bytes, and per kind the PNG mode and white level or the audio rate) as its size, its packed
    size (0: stored as it is) and its bytes, raw deflate where that is smaller (the fields of many items repeat); the
    payload's length; then the model's payload (the range coder's 32-bit words), the items stored raw or with LZMA2,
    one after the other, and a CRC-32 of everything before it (4 bytes, big-endian).
    """
    items = header.get("items", [])
    levels = int(header["num_levels"])
    out = bytearray(MAGIC)
    out += bytes([FORMAT_VERSION, _code(_KIND_CODES, header["kind"], "kind"),
                  _code(_BACKEND_CODES, header["backend"], "backend"), levels - 1])
    for field in (header["model"]["weights_sha256"], header["data_sha256"]):
        out += bytes.fromhex(field)[:_DIGEST_BYTES].ljust(_DIGEST_BYTES, b"\0")
    name = str(header["model"]["name"]).encode("utf-8")
    out += _varint(header["batch_size"]) + _varint(header.get("segment_length") or 0)
    out += _varint(len(name)) + name
    table = bytearray(_varint(len(items)))
    chunks = []
    for item in items:
        item_name = str(item["name"]).encode("utf-8")
        chunk = item.get("chunk", b"") if item.get("method", "model") != "model" else b""
        chunks.append(chunk)
        label = item.get("label")
        method = _code(_METHOD_CODES, item.get("method", "model"), "method")
        table += _varint(len(item_name)) + item_name + bytes([method])
        table += _varint(item["length"]) + _varint(0 if label is None else int(label) + 1) + _varint(len(chunk))
        table += codec_of(header["kind"]).write_fields(item)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(bytes(table)) + packer.flush()
    if len(packed) < len(table):
        out += _varint(len(table)) + _varint(len(packed)) + packed
    else:
        out += _varint(len(table)) + _varint(0) + table
    out += _varint(len(payload))
    out += payload + b"".join(chunks)
    return bytes(out) + struct.pack(">I", zlib.crc32(out) & 0xFFFFFFFF)


class _Reader:
    """Reads a container's fields, every one bounded by what the file holds."""

    def __init__(self, blob, where):
        self.blob, self.where, self.at = blob, where, 0

    def fail(self, what):
        raise CompressedFileError(f"{self.where} has a corrupted header: {what}.")

    def bytes(self, count, what):
        if count > len(self.blob) - self.at:
            raise CompressedFileError(f"{self.where} is truncated: it ends inside its {what}.")
        chunk = self.blob[self.at : self.at + count]
        self.at += count
        return chunk

    def byte(self, what):
        return self.bytes(1, what)[0]

    def varint(self, what, limit):
        value = shift = 0
        for _ in range(10):
            b = self.byte(what)
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                if value > limit:
                    self.fail(f"{what} is {value:,}, more than the {limit:,} allowed here")
                return value
        self.fail(f"{what} is not a valid number")

    def text(self, what, limit):
        raw = self.bytes(self.varint(f"the length of {what}", limit), what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fail(f"{what} is not UTF-8")

    def choice(self, table, what):
        code = self.byte(what)
        for value, c in table.items():
            if c == code:
                return value
        self.fail(f"{what} has the unknown code {code}")


def unpack(blob, where="the file"):
    """(header dict, payload bytes) of container bytes; a `CompressedFileError` naming `where` for anything that is
    not a whole, intact kgen container. Every count and size in the header is checked against the file's own size
    (and `MAX_DECODED_BYTES`) before anything is allocated for it; items stored raw or with xz come back as bytes
    in their item's "chunk"."""
    blob = bytes(blob)
    if blob[: len(MAGIC)] != MAGIC:
        raise CompressedFileError(f"{where} is not a kgen compressed file (it does not start with the .kgz signature).")
    if len(blob) < len(MAGIC) + 1:
        raise CompressedFileError(f"{where} is truncated: it ends inside the header.")
    version = blob[len(MAGIC)]
    if version != FORMAT_VERSION:
        raise CompressedFileError(f"{where} has container format {version}; this kgen reads format {FORMAT_VERSION} "
                                  "(decompress it with the kgen version that made it).")
    if len(blob) < _FIXED + 4:
        raise CompressedFileError(f"{where} is truncated: it ends inside the header.")
    if struct.unpack(">I", blob[-4:])[0] != zlib.crc32(blob[:-4]) & 0xFFFFFFFF:
        raise CompressedFileError(f"{where} is truncated or corrupted: its CRC-32 does not match its content.")
    body = blob[:-4]
    r = _Reader(body, where)
    r.at = len(MAGIC) + 1
    kind = r.choice(_KIND_CODES, "the data kind")
    backend = r.choice(_BACKEND_CODES, "the backend")
    levels = r.byte("the number of levels") + 1
    weights = r.bytes(_DIGEST_BYTES, "the weights' digest").hex()
    data = r.bytes(_DIGEST_BYTES, "the data's digest").hex()
    size = len(body)
    batch_size = r.varint("the batch size", 1 << 16)
    segment_length = r.varint("the segment length", MAX_DECODED_BYTES) or None
    name = r.text("the model name", 4096)
    table_bytes = r.varint("the item table's size", MAX_TABLE_BYTES)
    packed_bytes = r.varint("the packed item table's size", size)
    if packed_bytes == 0:
        table = r.bytes(table_bytes, "item table")
    else:
        if table_bytes > 1032 * packed_bytes + 64:  # deflate's largest expansion
            r.fail(f"an item table of {table_bytes:,} bytes cannot come from {packed_bytes:,} packed bytes")
        packed = r.bytes(packed_bytes, "item table")
        unpacker = zlib.decompressobj(-15)
        try:
            table = unpacker.decompress(packed, table_bytes + 1)  # never more than it claims (and one byte)
        except zlib.error as e:
            r.fail(f"its item table cannot be unpacked ({e})")
        if len(table) != table_bytes or not unpacker.eof or unpacker.unused_data:
            r.fail(f"its item table unpacks to other than the {table_bytes:,} bytes it claims")
    t = _Reader(table, where)
    # An item takes at least 6 bytes of the table (a 1-byte name and five fields): no more items than that allows.
    num_items = t.varint("the item count", min(MAX_ITEMS, len(table) // 6))
    items, total = [], 0
    for i in range(num_items):
        item = {"name": t.text(f"the name of item {i}", MAX_NAME_BYTES)}
        item["method"] = t.choice(_METHOD_CODES, f"the method of item {i}")
        item["length"] = t.varint(f"the length of item {i}", MAX_DECODED_BYTES)
        label = t.varint(f"the label of item {i}", 1 << 20)
        item["label"] = None if label == 0 else label - 1
        item["chunk_bytes"] = t.varint(f"the stored bytes of item {i}", size)
        item.update(CODECS[kind].read_fields(t, i))
        if item["method"] == "stored" and item["chunk_bytes"] != _stored_bytes(item["length"], levels):
            t.fail(f"item {i} is stored raw with {item['chunk_bytes']} bytes for {item['length']} symbols")
        if item["method"] == "model" and item["chunk_bytes"]:
            t.fail(f"item {i} is coded with the model but has stored bytes")
        total += item["length"]
        if total > MAX_DECODED_BYTES:
            t.fail(f"its items claim more than {MAX_DECODED_BYTES:,} symbols in all")
        items.append(item)
    if t.at != len(table):
        t.fail(f"its item table has {len(table) - t.at} bytes after its last item")
    payload_bytes = r.varint("the payload length", size)
    if payload_bytes % 4:
        r.fail(f"a payload of {payload_bytes} bytes is not a whole number of the coder's 32-bit words")
    payload = r.bytes(payload_bytes, "payload")
    for i, item in enumerate(items):
        item["chunk"] = r.bytes(item.pop("chunk_bytes"), f"stored item {i}")
    if r.at != len(body):
        raise CompressedFileError(f"{where} has {len(body) - r.at} bytes after its payload (corrupted or "
                                  "concatenated).")
    labels = {item["label"] is None for item in items if item["method"] == "model"}
    if len(labels) > 1:
        r.fail("some model-coded items have class labels and others not")
    header = {
        "format": version, "kind": kind, "backend": backend, "num_levels": levels,
        "model": {"name": name, "weights_sha256": weights}, "data_sha256": data,
        "batch_size": batch_size, "segment_length": segment_length, "items": items,
    }
    return header, payload


def read_header(path):
    """The header of a `.kgz` file (checked as `decompress` checks it), without the stored items' bytes."""
    path = Path(path)
    header = unpack(_read(path), str(path))[0]
    for item in header["items"]:
        item.pop("chunk", None)
    return header


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"`file` {str(path)!r} does not exist.") from None
    except IsADirectoryError:
        raise ValueError(f"`file` {str(path)!r} is a folder, not a .kgz file.") from None


def check_model(header, model, where="the file"):
    """Refuse to decode with another model or backend than the one `header` was made with."""
    recorded = header.get("model", {})
    mine = weights_sha256(model)
    if not mine.startswith(str(recorded.get("weights_sha256"))):
        raise CompressedFileError(
            f"{where} was made with the model {recorded.get('name')!r} (weights sha256 "
            f"{str(recorded.get('weights_sha256'))[:16]}...), not with these weights "
            f"({mine[:16]}...): decoding with another model would give garbage."
        )
    if header.get("backend") != _backend():
        raise CompressedFileError(
            f"{where} was made under KERAS_BACKEND={header.get('backend')}; decode it under the same backend "
            f"(this process runs {_backend()}): the probability tables must be recomputed bit for bit."
        )


# ================================================================================================ files
def _read_png(path, model):
    from PIL import Image, UnidentifiedImageError

    h, w, c = model.image_shape
    expected_modes = {1: ("1", "L"), 3: ("RGB",)}.get(c, ())
    try:
        with warnings.catch_warnings():
            # The size is checked against the model's before any pixel is decoded: no decompression bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path, formats=["PNG"]) as img:
                mode = img.mode
                if mode not in expected_modes:
                    raise ValueError(f"input {str(path)!r} is a {mode!r} image; this model takes {c}-channel images "
                                     f"(PNG mode {' or '.join(map(repr, expected_modes)) or 'none'}).")
                if img.size != (w, h):
                    raise ValueError(f"input {str(path)!r} is {img.size[0]}x{img.size[1]}; this model takes {w}x{h} "
                                     "images.")
                if getattr(img, "n_frames", 1) > 1:
                    raise ValueError(f"input {str(path)!r} is an animated PNG of {img.n_frames} frames; kgen "
                                     "compresses single images (it would drop the other frames).")
                img.load()
                arr = np.asarray(img.convert("L") if mode == "1" else img)
    except FileNotFoundError:
        raise FileNotFoundError(f"input file {str(path)!r} does not exist.") from None
    except Image.DecompressionBombError as e:
        raise ValueError(f"input {str(path)!r} is not a PNG kgen reads: {e}") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise ValueError(f"input {str(path)!r} is not a readable PNG image ({type(e).__name__}: {e}).") from None
    levels = model.coding_levels
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


def _read_input(path, codec, model):
    """(symbols, item info) of one input file, read by its kind's codec."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input file {str(path)!r} does not exist." if not path.exists()
                                else f"input {str(path)!r} is not a file.")
    return codec.read(path, model)


# An 8 MB dictionary (preset 6's): what the decoder allocates whatever a file says.
_LZMA_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 6 | lzma.PRESET_EXTREME}]


def _lzma(data):
    """LZMA2, xz's coder, without xz's container (the .kgz checks the data itself)."""
    return lzma.compress(data, format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)


def _unlzma(chunk, length, where):
    decoder = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)
    try:
        data = decoder.decompress(chunk, max_length=length + 1)  # never more than the item claims (and one byte)
    except lzma.LZMAError as e:
        raise CompressedFileError(f"{where} cannot be decoded: {e}.") from None
    if len(data) != length:
        raise CompressedFileError(f"{where} decodes to {len(data):,} bytes, not the {length:,} its header claims.")
    return data


def _stored_form(symbols, levels):
    """An item's symbols as the fallback stores them: eight to a byte for two levels, else one a byte."""
    values = np.asarray(symbols).reshape(-1).astype(np.uint8)
    return np.packbits(values).tobytes() if levels == 2 else values.tobytes()


def _stored_bytes(length, levels):
    return (length + 7) // 8 if levels == 2 else length


def _from_stored_form(data, length, levels):
    if levels == 2:
        return np.unpackbits(np.frombuffer(data, dtype=np.uint8))[:length].astype(np.int32)
    return np.frombuffer(data, dtype=np.uint8).astype(np.int32)


def compress(model, inputs, out, model_name, labels=None, batch_size=None, segment_length=None, overwrite=False,
             progress=None, fallback=True):
    """Compress input files into one `.kgz` file with `model`'s probabilities.

    Each item is coded with the model where that is smallest, else stored as it is (eight symbols a byte for a
    two-level model, else one a byte) or packed with LZMA2 (xz's coder), whichever is smaller, like zstd's raw
    blocks: a file the model does not know (random bytes, English that is not Shakespeare for a Shakespeare model)
    costs at most a few bytes of header more than the better of the two. An item goes to the model when what the
    range coder would spend on it (its -log2 probability under the model's tables, each symbol at most 24 bits) is at
    most the fallback's size; when some items fall back, the others are coded again without them.

    Args:
        model: an autoregressive kgen model (trained: `kgen.zoo.get(name, pretrained=True)` or a .keras file).
        inputs: files of one kind (see `kind_of` and `CODECS`): PNG images, WAV recordings, or any files as bytes.
        out: the .kgz file to write (atomically); never one of the inputs, never a folder.
        model_name: how `decompress` finds the model again: a zoo preset name with shipped weights, or a path.
        labels: class label of every input (one int for all), for a class-conditional model.
        batch_size, segment_length: the batch layout (see the module docstring).
        overwrite: replace an existing `out` (a .kgz file: kgen replaces a file only by one of its kind).
        progress: show a progress bar on stderr: True, False or None (the default: where someone watches, a
            terminal or a notebook; KGEN_PROGRESS=0 turns it off; see kgen.progress).
        fallback: False codes every item with the model, however large (to measure the model).

    Returns:
        a dict: inputs, kind, symbols, input_bytes, file_bytes, payload_bytes (the model's), stored_bytes (items
        stored raw or with LZMA2), header_bytes, methods ({method: items}), information_bits (what the model's
        tables say all the data costs) and bits_per_symbol (of the whole file).
    """
    from kgen.io import atomic_path, check_output_path

    inputs = [Path(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs))]
    if not inputs:
        raise ValueError("`inputs` must name at least one file.")
    out = check_output_path(out, "`out`", inputs=inputs)
    if os.path.lexists(out) and not overwrite:
        raise FileExistsError(f"`out` {str(out)!r} exists; pass overwrite=True (--force) to replace it.")
    kinds = {kind_of(p) for p in inputs}
    if len(kinds) > 1:
        raise ValueError(f"`inputs` must all be of one kind ({', '.join(c.files for c in CODECS.values())}), got "
                         f"{', '.join(sorted(kinds))}.")
    kind = kinds.pop()
    codec = CODECS[kind]
    if kind not in model.coding_kinds:
        raise ValueError(f"This {type(model).__name__} codes {', '.join(model.coding_kinds) or 'nothing'}; "
                         f"the inputs are {kind} files ({inputs[0]}).")
    codec.check_model(model)
    names = [p.name for p in inputs]
    if len(set(names)) != len(names):
        raise ValueError("`inputs` must have distinct file names (they are restored by name).")
    read = [_read_input(p, codec, model) for p in inputs]
    symbols = [r[0] for r in read]
    labels = _check_labels(model, labels, len(inputs))
    payload, layout, items, stats = encode_symbols(
        model, kind, symbols, labels=labels, batch_size=batch_size, segment_length=segment_length, progress=progress)
    raw = [_stored_form(x, int(model.coding_levels)) for x in symbols]
    chunks = []
    for item, data, bits in zip(items, raw, stats["item_coded_bits"]):
        packed = _lzma(data) if data and fallback else b""
        option = ("stored", data) if len(data) <= len(packed) else ("lzma", packed)
        if not fallback or bits / 8.0 <= len(option[1]):
            item["method"] = "model"
            chunks.append(b"")
        else:
            item["method"], chunk = option
            item["chunk"] = chunk
            chunks.append(chunk)
    coded = [i for i, item in enumerate(items) if item["method"] == "model"]
    if len(coded) < len(items):  # the model's rows without the items that fall back
        payload = b""
        if coded:
            payload = encode_symbols(model, kind, [symbols[i] for i in coded],
                                     labels=None if labels is None else [labels[i] for i in coded],
                                     batch_size=layout["batch_size"], segment_length=layout["segment_length"],
                                     progress=progress)[0]
    for item, name, (_, info) in zip(items, names, read):
        item.update(name=name, **info)
    header = {
        "format": FORMAT_VERSION,
        "model": {"name": str(model_name), "weights_sha256": weights_sha256(model)},
        "backend": _backend(),
        "kind": kind,
        "items": items,
        **layout,
        "data_sha256": _data_sha256([np.asarray(x).reshape(-1) for x in symbols]),
    }
    blob = pack(header, payload)
    with atomic_path(out) as tmp:
        tmp.write_bytes(blob)
    input_bytes = sum(p.stat().st_size for p in inputs)
    stored = sum(len(c) for c in chunks)
    methods = {}
    for item in items:
        methods[item["method"]] = methods.get(item["method"], 0) + 1
    return {
        "inputs": len(inputs),
        "kind": kind,
        "symbols": stats["symbols"],
        "input_bytes": input_bytes,
        "file_bytes": len(blob),
        "payload_bytes": len(payload),
        "stored_bytes": stored,
        "header_bytes": len(blob) - len(payload) - stored,
        "methods": methods,
        "information_bits": stats["information_bits"],
        "bits_per_symbol": 8.0 * len(blob) / stats["symbols"] if stats["symbols"] else 0.0,
    }


def _check_names(items, where):
    """Every item's name is one plain, portable file name, and no two are the same (nor the same but for case)."""
    seen = {}
    for i, item in enumerate(items):
        name = item["name"]
        if (not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name
                or len(name.encode("utf-8")) > MAX_NAME_BYTES):
            raise CompressedFileError(f"{where} has an item with an unsafe file name {name!r}.")
        key = name.casefold()
        if key in seen:
            raise CompressedFileError(f"{where} names two items {seen[key]!r} and {name!r}: one would replace the "
                                      "other.")
        seen[key] = name


def decompress(path, model, out_dir, overwrite=False, progress=None):
    """Decode a `.kgz` file with `model` (the one it was made with) into `out_dir`, one file per item under its
    original name.

    All or nothing: every name is checked first, everything is decoded and checked against the recorded sha256,
    then every file is written to a temporary beside its place and all are renamed at the end; if any write fails,
    the files already renamed are taken back and the error says so. Returns the paths written."""
    from kgen.io import check_output_path, write_files

    path = Path(path)
    out_dir = check_output_path(out_dir, "`out`", folder=True, inputs=[path])
    header, payload = unpack(_read(path), str(path))
    check_model(header, model, str(path))
    if header["num_levels"] != int(model.coding_levels):
        raise CompressedFileError(f"{path} was coded with {header['num_levels']} levels per symbol; this model has "
                                  f"{model.coding_levels}.")
    kind, items = header["kind"], header["items"]
    codec = CODECS[kind]
    if kind not in model.coding_kinds:
        raise CompressedFileError(f"{path} holds {kind} data; this {type(model).__name__} codes "
                                  f"{', '.join(model.coding_kinds) or 'nothing'}.")
    _check_names(items, path)
    codec.check_lengths(model, [item["length"] for item in items], path)
    targets = [out_dir / item["name"] for item in items]
    for target in targets:
        if target.is_dir():
            raise IsADirectoryError(f"{str(target)!r} is a folder; kgen never replaces a folder by a file.")
        if os.path.lexists(target) and not overwrite:
            raise FileExistsError(f"{str(target)!r} exists; pass overwrite=True (--force) to replace it.")
        if target.exists() and os.path.samefile(target, path):
            raise ValueError(f"{str(target)!r} is the .kgz file itself; choose another `out` folder.")
    coded = [i for i, item in enumerate(items) if item["method"] == "model"]
    decoded = dict(zip(coded, decode_symbols(model, kind, payload, header, [items[i] for i in coded],
                                             progress=progress, where=str(path))))
    symbols = []
    for i, item in enumerate(items):
        if i not in decoded:
            size = _stored_bytes(item["length"], header["num_levels"])
            data = item["chunk"] if item["method"] == "stored" else _unlzma(item["chunk"], size, f"{path}: item {i}")
            decoded[i] = _from_stored_form(data, item["length"], header["num_levels"])
        values = decoded[i].reshape(-1)
        if values.size and values.max() >= header["num_levels"]:
            raise CompressedFileError(f"{path}: item {i} holds symbols beyond the model's {header['num_levels']} "
                                      "levels.")
        symbols.append(values)
    if not _data_sha256(symbols).startswith(header["data_sha256"]):
        raise CompressedFileError(
            f"{path}: the decoded data's sha256 differs from the one recorded: the file is corrupted, or the "
            "model's probabilities differ from those it was made with (another kgen version or machine).")
    data = [codec.to_bytes(codec.as_item(model, s), item, model) for s, item in zip(symbols, items)]
    return write_files(zip(targets, data))

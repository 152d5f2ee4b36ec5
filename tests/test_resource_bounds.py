"""No file can make kgen run away (issue 27, class 3): every size and count a .kgz header claims is checked against
the file's own size (and `compression.MAX_DECODED_BYTES`) before memory or work is spent on it, and decoding stops
as soon as the decoded symbols' information content exceeds the payload's bits.

The hostile files are written here by an independent writer of the container layout (`_container`, from the format's
description in `kgen.compression.pack`), so the reader is tested against bytes it did not make. Each case runs under
tracemalloc (numpy's buffers included) and asserts the error, its one line naming the file and the field, and the
peak memory.
"""

import lzma
import tracemalloc
import zlib

import numpy as np
import pytest

from kgen import compression, zoo

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

MB = 1 << 20


def _varint(value):
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _item(name, method=0, length=0, label=0, stored=0, image=False):
    name = name.encode() if isinstance(name, str) else name
    out = _varint(len(name)) + name + bytes([method]) + _varint(length) + _varint(label) + _varint(stored)
    return out + (bytes([2, 0]) if image else b"")


def _container(items=b"", num_items=0, payload=b"", stored=b"", kind=1, levels=256, weights=bytes(16),
               backend=None, batch=64, segment=4096, name=b"m"):
    """A format-2 .kgz: MAGIC, format, kind, backend, levels - 1, two 16-byte digests, the varints, the item table
    (the count and the items as given, raw bytes, not packed), the payload, the stored items, and the CRC-32 (valid:
    these files get past it)."""
    import keras

    backend = {"tensorflow": 0, "jax": 1, "torch": 2}[keras.backend.backend()] if backend is None else backend
    body = compression.MAGIC + bytes([2, kind, backend, levels - 1]) + weights + bytes(16)
    table = _varint(num_items) + items  # the item table, stored as it is (packed size 0)
    body += _varint(batch) + _varint(segment) + _varint(len(name)) + name + _varint(len(table)) + _varint(0) + table
    body += _varint(len(payload)) + payload + stored
    return body + zlib.crc32(body).to_bytes(4, "big")


@pytest.fixture(scope="module")
def model():
    import keras

    keras.utils.set_random_seed(3)
    return zoo.get("lstm_lm.tiny")


@pytest.fixture(scope="module")
def image_model():
    import keras

    keras.utils.set_random_seed(4)
    return zoo.get("pixelcnn.tiny")


def _digest(model):
    return bytes.fromhex(compression.weights_sha256(model))[:16]


def _bomb_cases():
    ten_million = _container(num_items=10**7)
    huge_item = _container(_item("a", length=2**40), num_items=1)
    two_halves = _container(_item("a", length=2**29 + 1) + _item("b", length=2**29 + 1), num_items=2)
    long_name = _container(_varint(10**9) + b"x", num_items=1)
    stored_claim = _container(_item("a", method=1, length=5, stored=10**9), num_items=1)
    payload_claim = _container(b"", payload=b"", num_items=0)[:-4 - 1]  # the payload length byte replaced below
    body = payload_claim + _varint(10**12)
    payload_claim = body + zlib.crc32(body).to_bytes(4, "big")
    return [
        ("10^7 items in a tiny file", ten_million, "the item count is 10,000,000, more than the"),
        ("one item of 2^40 symbols", huge_item, "the length of item 0 is 1,099,511,627,776, more than the 1,073,741,824"),
        ("items over the limit together", two_halves, "claim more than 1,073,741,824 symbols in all"),
        ("a name of 10^9 bytes", long_name, "the length of the name of item 0 is 1,000,000,000, more than the 255"),
        ("a stored item of 10^9 bytes", stored_claim, "the stored bytes of item 0 is 1,000,000,000, more than the"),
        ("a payload of 10^12 bytes", payload_claim, "the payload length is 1,000,000,000,000, more than the"),
    ]


@pytest.mark.parametrize("blob,expected", [c[1:] for c in _bomb_cases()], ids=[c[0] for c in _bomb_cases()])
def test_claims_are_checked_against_the_file_before_memory_is_spent(model, tmp_path, blob, expected):
    path = tmp_path / "bomb.kgz"
    path.write_bytes(blob)
    assert len(blob) < 200
    tracemalloc.start()
    try:
        with pytest.raises(compression.CompressedFileError) as error:
            compression.decompress(path, model, tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    message = str(error.value)
    assert "\n" not in message and str(path) in message and expected in message, message
    assert peak < 1 * MB, f"{peak / MB:.1f} MB"
    assert not (tmp_path / "out").exists()


def test_an_lzma_item_decodes_no_further_than_it_claims(model, tmp_path):
    """15 KB of LZMA2 that would expand to 100 MB, in an item that claims 1,000 bytes: decoding stops at 1,001."""
    bomb = lzma.compress(bytes(100 * MB), format=lzma.FORMAT_RAW, filters=compression._LZMA_FILTERS)
    assert len(bomb) < 64 * 1024
    path = tmp_path / "bomb.kgz"
    path.write_bytes(_container(_item("a", method=2, length=1000, stored=len(bomb)), num_items=1, stored=bomb,
                                weights=_digest(model)))
    tracemalloc.start()
    try:
        with pytest.raises(compression.CompressedFileError, match="decodes to 1,001 bytes, not the 1,000"):
            compression.decompress(path, model, tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12 * MB, f"{peak / MB:.1f} MB"  # the decoder's 8 MB dictionary and the chunk
    assert not (tmp_path / "out").exists()


def test_decoding_stops_when_the_symbols_outgrow_the_payload(image_model, tmp_path, monkeypatch):
    """20,000 images claimed over a payload of 8 bytes (which the range decoder would read past without complaint):
    decoding stops within the first batch, once the symbols' information content exceeds 64 + 64 bits."""
    names = b"".join(_item(f"{i:05d}.png", length=64, image=True) for i in range(20_000))
    path = tmp_path / "many.kgz"
    path.write_bytes(_container(names, num_items=20_000, payload=bytes(8), kind=0, levels=2,
                                weights=_digest(image_model), batch=16))
    steps = []
    real = type(image_model).coding_steps

    def counting(self, *args, **kwargs):
        steps.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(type(image_model), "coding_steps", counting)
    with pytest.raises(compression.CompressedFileError, match="claim more data than its payload of 8 bytes"):
        compression.decompress(path, image_model, tmp_path / "out")
    assert len(steps) == 1  # one batch of 16 images started, not 1,250
    assert not (tmp_path / "out").exists()


def test_a_packed_item_table_unpacks_no_further_than_it_claims(model, tmp_path):
    """The item table may be deflated; a table that claims 1,000 bytes but would unpack to 50 MB stops at 1,001."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    packed = packer.compress(bytes(50 * MB)) + packer.flush()
    body = compression.MAGIC + bytes([2, 1, 2, 255]) + bytes(32) + _varint(64) + _varint(0) + _varint(1) + b"m"
    body += _varint(1000) + _varint(len(packed)) + packed + _varint(0)
    path = tmp_path / "table.kgz"
    path.write_bytes(body + zlib.crc32(body).to_bytes(4, "big"))
    tracemalloc.start()
    try:
        with pytest.raises(compression.CompressedFileError, match="unpacks to other than the 1,000 bytes it claims"):
            compression.decompress(path, model, tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 * MB, f"{peak / MB:.1f} MB"
    body = body[: body.index(_varint(1000) + _varint(len(packed)))] + _varint(10**8) + _varint(len(packed)) + packed
    path.write_bytes(body + _varint(0) + zlib.crc32(body + _varint(0)).to_bytes(4, "big"))
    with pytest.raises(compression.CompressedFileError, match="the item table's size is 100,000,000, more than the"):
        compression.decompress(path, model, tmp_path / "out")


def test_an_item_count_the_names_cannot_hold_is_refused_before_the_items_are_read(model, tmp_path):
    """The count is bounded by the header bytes that follow it (an item takes at least 6)."""
    items = b"".join(_item(f"item-{i}") for i in range(10))
    path = tmp_path / "count.kgz"
    path.write_bytes(_container(items, num_items=11))
    with pytest.raises(compression.CompressedFileError, match="truncated: it ends inside"):
        compression.decompress(path, model, tmp_path / "out")
    path.write_bytes(_container(items, num_items=10**6))
    with pytest.raises(compression.CompressedFileError, match="the item count is 1,000,000, more than the"):
        compression.decompress(path, model, tmp_path / "out")
    np.testing.assert_equal(sorted(p.name for p in tmp_path.iterdir()), ["count.kgz"])

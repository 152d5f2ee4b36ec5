"""Audio helpers: mu-law companding and WAV files.

``mu_law_encode`` / ``mu_law_decode`` are the companding and quantisation of
WaveNet (van den Oord et al., 2016, section 2.2): a waveform ``x`` in
``[-1, 1]`` becomes ``f(x) = sign(x) * ln(1 + mu |x|) / ln(1 + mu)`` with
``mu = quantization_channels - 1``, and ``f(x)`` is quantised to one of
``quantization_channels`` integer codes.

``read_wav`` / ``write_wav`` read and write mono PCM WAV files through
``scipy.io.wavfile``; reading checks the file fully (a corrupt or truncated
file is a ``ValueError`` naming it) and writing is atomic (a temporary file in
the same folder, renamed into place on success).

Example:

```python
from kgen import audio
wave, rate = audio.read_wav("0_george_0.wav", expected_rate=model.sample_rate)  # a WaveNet's rate
codes = audio.mu_law_encode(wave)          # int32 codes 0..255
audio.write_wav("copy.wav", audio.mu_law_decode(codes), rate)
```
"""

import io
import os
import warnings
from pathlib import Path

import numpy as np

from kgen.io import atomic_path

_MAX_QUANTIZATION_CHANNELS = 2**16
_MAX_RATE = 2**32 - 1  # the WAV header holds the rate in 32 bits


def _check_quantization_channels(quantization_channels):
    value = quantization_channels
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not 2 <= value <= _MAX_QUANTIZATION_CHANNELS
    ):
        raise ValueError(
            "quantization_channels must be an integer in "
            f"2..{_MAX_QUANTIZATION_CHANNELS}, got {value!r}."
        )
    return int(value)


def _check_path(path, name="path"):
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise ValueError(
            f"{name} must be a non-empty path (str or os.PathLike), got {path!r}."
        )
    return Path(path)


def _check_rate(rate, name):
    if (
        isinstance(rate, bool)
        or not isinstance(rate, (int, np.integer))
        or not 1 <= rate <= _MAX_RATE
    ):
        raise ValueError(
            f"{name} must be a positive integer number of samples per second "
            f"(at most {_MAX_RATE}), got {rate!r}."
        )
    return int(rate)


# ----------------------------------------------------------------------------
# Mu-law companding
# ----------------------------------------------------------------------------


def mu_law_encode(x, quantization_channels=256):
    """Compands and quantises a waveform to mu-law codes.

    ``code = floor((f(x) + 1) / 2 * mu + 1/2)`` with ``mu =
    quantization_channels - 1`` and ``f(x) = sign(x) ln(1 + mu |x|) /
    ln(1 + mu)``: ``-1`` maps to 0, ``1`` to ``mu`` and ``0.0`` to
    ``quantization_channels // 2``.

    Args:
        x: a float array (any shape) with values in ``[-1, 1]``.
        quantization_channels: the number of codes, an integer in 2..65536.

    Returns:
        An ``int32`` numpy array of the shape of ``x`` with codes in
        ``0..quantization_channels - 1``.

    Raises:
        ValueError: if ``x`` is not a float array, holds NaN or infinite
            values or values outside ``[-1, 1]``, or ``quantization_channels``
            is invalid.
    """
    q = _check_quantization_channels(quantization_channels)
    array = np.asarray(x)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"x must be a float array of samples in [-1, 1], got dtype "
            f"{array.dtype}. Scale integer PCM first (e.g. int16 / 32768)."
        )
    if array.size:
        if not np.all(np.isfinite(array)):
            raise ValueError("x holds NaN or infinite values; expected [-1, 1].")
        low, high = float(array.min()), float(array.max())
        if low < -1.0 or high > 1.0:
            raise ValueError(
                f"x must lie in [-1, 1], got values in [{low}, {high}]."
            )
    mu = q - 1
    x64 = array.astype(np.float64)
    companded = np.sign(x64) * np.log1p(mu * np.abs(x64)) / np.log1p(mu)
    codes = np.floor((companded + 1.0) / 2.0 * mu + 0.5)
    return np.clip(codes, 0, mu).astype(np.int32)


def mu_law_decode(codes, quantization_channels=256):
    """Maps mu-law codes back to a waveform (the inverse of ``mu_law_encode``).

    ``y = 2 code / mu - 1`` and ``x = sign(y) ((1 + mu)^|y| - 1) / mu``. The
    round trip error is at most ``(exp(ln(1 + mu) / mu) - 1) (|x| + 1 / mu)``
    (about 2.2% of ``|x| + 1/255`` for 256 codes).

    Args:
        codes: an integer array (any shape) with values in
            ``0..quantization_channels - 1``.
        quantization_channels: the number of codes, an integer in 2..65536.

    Returns:
        A ``float32`` numpy array of the shape of ``codes`` in ``[-1, 1]``.

    Raises:
        ValueError: if ``codes`` is not an integer array or holds a value
            outside ``0..quantization_channels - 1``, or
            ``quantization_channels`` is invalid.
    """
    q = _check_quantization_channels(quantization_channels)
    array = np.asarray(codes)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(
            f"codes must be an integer array of mu-law codes 0..{q - 1}, got "
            f"dtype {array.dtype}."
        )
    if array.size:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > q - 1:
            raise ValueError(
                f"codes must lie in 0..{q - 1} (quantization_channels={q}), got "
                f"values in {low}..{high}."
            )
    mu = q - 1
    companded = 2.0 * array.astype(np.float64) / mu - 1.0
    x = np.sign(companded) * np.expm1(np.abs(companded) * np.log1p(mu)) / mu
    return np.clip(x, -1.0, 1.0).astype(np.float32)


# ----------------------------------------------------------------------------
# WAV files
# ----------------------------------------------------------------------------


def _check_riff_chunks(raw, path):
    """Checks the chunk structure of a little-endian RIFF/WAVE file.

    scipy reads a truncated data chunk without complaint when the RIFF size in
    the header agrees with the file; this walk catches it.
    """
    if raw[:4] != b"RIFF":
        return  # RIFX / RF64 / garbage: left to scipy, which names the format.
    if len(raw) < 12 or raw[8:12] != b"WAVE":
        raise ValueError(
            f"Corrupt WAV file {path}: a RIFF file without the WAVE form type "
            f"(bytes 8..12 are {raw[8:12]!r})."
        )
    pos = 12
    while pos + 8 <= len(raw):
        chunk_id = raw[pos : pos + 4]
        size = int.from_bytes(raw[pos + 4 : pos + 8], "little")
        available = len(raw) - pos - 8
        if size > available:
            raise ValueError(
                f"Truncated WAV file {path}: chunk {chunk_id!r} at byte {pos} "
                f"declares {size} bytes but only {available} follow."
            )
        if chunk_id == b"data":
            return
        pos += 8 + size + (size & 1)
    raise ValueError(f"Corrupt WAV file {path}: no complete 'data' chunk found.")


def _to_float(data, path):
    """PCM samples (any scipy dtype) -> float32 in [-1, 1]."""
    dtype = data.dtype
    if dtype == np.uint8:
        return ((data.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    if np.issubdtype(dtype, np.signedinteger) and dtype.itemsize in (2, 4, 8):
        scale = float(2 ** (8 * dtype.itemsize - 1))
        return (data.astype(np.float64) / scale).astype(np.float32)
    if np.issubdtype(dtype, np.floating):
        if data.size and not np.all(np.isfinite(data)):
            raise ValueError(
                f"Corrupt WAV file {path}: float samples hold NaN or infinite values."
            )
        return np.clip(data, -1.0, 1.0).astype(np.float32)
    raise ValueError(
        f"Unsupported WAV sample format in {path}: dtype {dtype}; expected 8-bit "
        "unsigned, 16/24/32/64-bit signed integer or float PCM."
    )


def read_wav(path, expected_rate=None):
    """Reads a mono PCM WAV file as a float waveform.

    Integer PCM is scaled to ``[-1, 1)`` (``int16 / 2**15``, ``int32 / 2**31``
    (24-bit files too), ``(uint8 - 128) / 128``); float PCM is clipped to
    ``[-1, 1]``. The whole file is checked: a corrupt, truncated or non-WAV
    file is an error, never a shorter waveform.

    Args:
        path: the WAV file (str or os.PathLike).
        expected_rate: if given, the sample rate the file must have (a
            positive integer).

    Returns:
        ``(waveform, rate)``: a 1-D ``float32`` numpy array in ``[-1, 1]`` and
        the sample rate in Hz (int).

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: naming the file, if it is not a valid WAV file, has more
            than one channel, or its rate differs from ``expected_rate``
            (both rates named); or if an argument is invalid.
    """
    path = _check_path(path)
    if expected_rate is not None:
        expected_rate = _check_rate(expected_rate, "expected_rate")
    from scipy.io import wavfile

    try:
        raw = path.read_bytes()
    except FileNotFoundError as e:
        raise FileNotFoundError(f"WAV file not found: {path}") from e
    except IsADirectoryError as e:
        raise ValueError(f"Not a WAV file: {path} is a folder.") from e
    if not raw:
        raise ValueError(f"Corrupt WAV file {path}: the file is empty.")
    _check_riff_chunks(raw, path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rate, data = wavfile.read(io.BytesIO(raw))
        except Exception as e:  # scipy raises ValueError, struct.error, ...
            raise ValueError(
                f"Corrupt or unsupported WAV file {path}: {type(e).__name__}: {e}"
            ) from e
    for warning in caught:
        message = str(warning.message)
        if "EOF" in message or "prematurely" in message:
            raise ValueError(f"Truncated WAV file {path}: {message}")
        warnings.warn(f"{path}: {message}", warning.category, stacklevel=2)
    if data.ndim == 2 and data.shape[1] == 1:
        data = data[:, 0]
    if data.ndim != 1:
        raise ValueError(
            f"WAV file {path} has {data.shape[1]} channels; expected mono (1 channel)."
        )
    if expected_rate is not None and rate != expected_rate:
        raise ValueError(
            f"WAV file {path} has sample rate {rate} Hz; expected {expected_rate} Hz."
        )
    return _to_float(data, path), int(rate)


def write_wav(path, waveform, rate):
    """Writes a mono waveform as a 16-bit PCM WAV file, atomically.

    Samples are clipped to ``[-1, 1]`` and stored as ``round(x * 32768)``
    limited to ``-32768..32767``, so ``read_wav`` gives back every ``int16``
    level exactly (and any waveform to within ``2**-16``, ``2**-15`` at 1.0).
    The file is written under a temporary name in the same folder (created if
    missing) and renamed into place; on any error nothing is left behind and an
    existing file at ``path`` is unchanged.

    Args:
        path: where to write (str or os.PathLike).
        waveform: a 1-D float array with at least one finite sample; values
            outside ``[-1, 1]`` are clipped.
        rate: the sample rate in Hz, a positive integer.

    Returns:
        The ``pathlib.Path`` written.

    Raises:
        ValueError: if ``path``, ``waveform`` or ``rate`` is invalid.
    """
    path = _check_path(path)
    data = wav_bytes(waveform, rate)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return path


def wav_bytes(waveform, rate):
    """The bytes of the 16-bit PCM WAV file that ``write_wav`` writes (same
    checks, same ``round(x * 32768)`` levels), for callers that write files
    their own way (``kgen.compression``)."""
    rate = _check_rate(rate, "rate")
    array = np.asarray(waveform)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"waveform must be a float array of samples in [-1, 1], got dtype "
            f"{array.dtype}."
        )
    if array.ndim != 1 or array.shape[0] == 0:
        raise ValueError(
            f"waveform must be 1-D (mono) with at least one sample, got shape "
            f"{array.shape}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("waveform holds NaN or infinite values.")
    from scipy.io import wavfile

    levels = np.round(np.clip(array.astype(np.float64), -1.0, 1.0) * 32768.0)
    pcm = np.clip(levels, -32768, 32767).astype(np.int16)
    buffer = io.BytesIO()
    wavfile.write(buffer, rate, pcm)
    return buffer.getvalue()

"""Small file helpers: atomic writes and image grids.

Nothing kgen writes is ever left half-written: every file or folder is written
under a temporary name in the same folder and renamed into place on success.
"""

import contextlib
import csv
import math
import os
import shutil
import uuid
from pathlib import Path

import numpy as np

from kgen.validation import check_int


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


# The first bytes of the kinds of file kgen writes; anything else is "text" (UTF-8 without NUL) or "data".
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG image"),
    (b"GIF8", "GIF image"),
    (b"RIFF", "WAV audio"),
    (b"PK\x03\x04", "zip archive (.keras, .npz)"),
    (b"PK\x05\x06", "zip archive (.keras, .npz)"),
    (b"\x89HDF\r\n\x1a\n", "HDF5 file"),
    (b"\x89KGZ\r\n\x1a\n", "kgen compressed file"),
)


def file_kind(path):
    """What kind of file `path` holds, from its first bytes: "empty", one of the kinds kgen writes (a PNG image, a
    zip archive, a kgen compressed file...), "text" or "data". Follows symlinks."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if not head:
        return "empty"
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return kind
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as e:
        text = head[: e.start].decode("utf-8") if e.start > len(head) - 4 else None  # a character cut at 4096
    return "text" if text is not None and "\x00" not in text else "data"


def _relative_files(folder):
    return {os.path.relpath(os.path.join(d, n), folder) for d, dirs, names in os.walk(folder) for n in names + dirs}


def _check_replaceable(path, tmp):
    """Raise unless the new `tmp` may take the place of what stands at `path`: kgen replaces a file only by a file
    of the same kind, and a folder only by a folder that holds everything the old one held (what it writes anew);
    never a folder by a file or a file by a folder. Nothing kgen did not write is ever deleted."""
    old_is_dir = path.is_dir() and not path.is_symlink()
    new_is_dir = tmp.is_dir()
    if old_is_dir and not new_is_dir:
        raise IsADirectoryError(f"{str(path)!r} is a folder; kgen writes a file there and never replaces a folder: "
                                "choose another path.")
    if new_is_dir and not old_is_dir:
        raise FileExistsError(f"{str(path)!r} is a file; kgen writes a folder there and never replaces a file by a "
                              "folder: choose another path.")
    if new_is_dir:
        kept = sorted(_relative_files(path) - _relative_files(tmp))
        if kept:
            shown = ", ".join(kept[:3]) + (f" and {len(kept) - 3} more" if len(kept) > 3 else "")
            raise FileExistsError(f"{str(path)!r} holds files that kgen would not write again ({shown}); kgen "
                                  "replaces a folder only by one with the same files: choose another path.")
        return
    try:
        old_kind = file_kind(path)
    except OSError as e:
        raise FileExistsError(f"{str(path)!r} exists and cannot be read ({e.strerror}); kgen does not replace "
                              "it.") from None
    new_kind = file_kind(tmp)
    generic = ("text", "data")  # no signature: one kind (a restored file is whatever its owner had)
    if old_kind not in ("empty", new_kind) and not (old_kind in generic and new_kind in generic):
        raise FileExistsError(f"{str(path)!r} holds a {old_kind}, not a {new_kind} like the file kgen writes there; "
                              "kgen replaces a file only by one of the same kind: choose another path.")


def check_output_path(path, name, folder=False, inputs=()):
    """Check an output path before any work is spent on what goes there; raise a ValueError or FileExistsError
    naming `name`.

    Args:
        path: the file (or, with `folder`, the folder) to be written.
        name: the argument's name for the message (e.g. "--out" or "`out`").
        folder: whether a folder is written there (else a file).
        inputs: paths the same command reads: the output may not be one of them.

    Returns:
        `path` as a `pathlib.Path`.
    """
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise ValueError(f"{name} must be a non-empty path, got {path!r}.")
    path = Path(path)
    if not folder and path.is_dir():
        raise IsADirectoryError(f"{name} {str(path)!r} is a folder; expected a file path (kgen never replaces a "
                                "folder by a file).")
    if folder and os.path.lexists(path) and not path.is_dir():
        raise FileExistsError(f"{name} {str(path)!r} is a file; expected a folder path (kgen never replaces a file "
                              "by a folder).")
    for source in inputs:
        with contextlib.suppress(OSError):
            if path.exists() and os.path.samefile(path, source):
                raise ValueError(f"{name} {str(path)!r} is one of the inputs ({str(source)!r}); kgen never "
                                 "writes over its input: choose another path.")
    return path


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside ``path`` and renames it into place on success.

    The caller writes a file or creates a folder at the yielded path. When the
    block ends without an exception, it takes the place of ``path``; what stands
    there is replaced only when nothing kgen did not write is lost: a file only by
    a file of the same kind (a PNG by a PNG, text by text, an empty file by
    anything), a folder only by a folder holding every name the old one held;
    never a folder by a file or a file by a folder (`FileExistsError` or
    `IsADirectoryError` naming the path, and the old content stays). When the
    block raises, the temporary is removed and the exception propagates, so
    ``path`` keeps its old content (or stays absent). The parent folder of
    ``path`` is created if missing.

    Args:
        path: the final file or folder path (str or os.PathLike).

    Yields:
        A ``pathlib.Path`` in the same folder, not yet existing, whose name
        keeps the suffix of ``path`` (the name is shortened to fit the file
        system's limit of 255 bytes when ``path``'s own name is long).

    Raises:
        FileNotFoundError: if the block wrote nothing at the temporary path.

    Example:

    ```python
    with atomic_path("out/model.keras") as tmp:
        model.save(tmp)
    ```
    """
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise ValueError(f"path must be a non-empty str or os.PathLike, got {path!r}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path, "tmp")
    try:
        yield tmp
        if not os.path.lexists(tmp):
            raise FileNotFoundError(
                f"Nothing was written to the temporary path {tmp} for {path}."
            )
        if os.path.lexists(path):
            _check_replaceable(path, tmp)
        if tmp.is_dir() and path.is_dir():
            # rename() cannot replace a non-empty folder: move the old one aside first and put it back if the
            # rename fails. (The old folder holds only names the new one writes again: _check_replaceable.)
            backup = temporary_sibling(path, "old")
            os.replace(path, backup)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(backup, path)
                raise
            _remove(backup)
        else:
            os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def temporary_sibling(path, what):
    """A fresh hidden name beside `path` (".NAME.WHAT-TOKEN.SUFFIX"), kept within 255 bytes however long `path`'s
    own name is."""
    token = uuid.uuid4().hex[:12]
    suffix = path.suffix if len(path.suffix.encode()) <= 16 else ""
    extra = len(f"..{what}-{token}{suffix}".encode())
    stem = path.stem.encode()[: 255 - extra].decode("utf-8", "ignore")
    return path.with_name(f".{stem}.{what}-{token}{suffix}")


def _stretch_levels(images, levels):
    """Integer pixel levels 0..levels-1 as uint8 0..255; ValueError naming `levels` or `images` otherwise."""
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or not 2 <= levels <= 256:
        raise ValueError(f"`levels` must be an int in 2..256 (the number of pixel levels), got {levels!r}.")
    array = np.asarray(images)
    if not (np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)):
        raise ValueError(f"`images` with `levels` must hold integer pixel levels, got dtype {array.dtype}.")
    if array.size and (np.any(array != np.round(array)) or array.min() < 0 or array.max() > levels - 1):
        raise ValueError(f"`images` must hold integer levels in 0..{levels - 1} (levels={levels}); got values in "
                         f"[{array.min()}, {array.max()}].")
    return np.round(array.astype(np.float64) * (255.0 / (levels - 1))).astype(np.uint8)


def _to_uint8(images):
    """Validates an (N, H, W, C) image batch and returns it as uint8."""
    try:
        array = np.asarray(images)
    except Exception as e:
        raise ValueError(
            f"images must be an array of shape (N, H, W, C); got {type(images)}: {e}"
        ) from e
    if array.ndim != 4 or 0 in array.shape or array.shape[-1] not in (1, 3):
        raise ValueError(
            "images must have shape (N, H, W, C) with N, H, W >= 1 and C in {1, 3}; "
            f"got shape {array.shape}."
        )
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise ValueError("images holds NaN or infinite values; expected [0, 1].")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"Float images must lie in [0, 1]; got values in [{low}, {high}]. "
                "Divide 0..255 levels by 255 or pass uint8."
            )
        return np.round(array.astype(np.float64) * 255.0).astype(np.uint8)
    raise ValueError(
        f"images must be uint8 (0..255), bool, or float in [0, 1]; got dtype "
        f"{array.dtype}."
    )


def save_image_grid(images, path, ncols=None, scale=1, levels=None):
    """Tiles a batch of images into one PNG grid, written atomically.

    Tiles are laid out row by row with a 1 pixel white gutter between them
    (none around the border); unused cells of the last row are black. The PNG
    is ``ncols * W * scale + ncols - 1`` pixels wide and
    ``nrows * H * scale + nrows - 1`` high, with ``nrows = ceil(N / ncols)``.

    Args:
        images: an array of shape ``(N, H, W, C)`` with ``C`` 1 (grey) or 3
            (RGB): ``uint8`` levels, ``bool``, or floats in ``[0, 1]``.
        path: where to write the PNG; its parent folder is created if missing.
        ncols: tiles per row; defaults to ``ceil(sqrt(N))``.
        scale: a positive integer upscaling factor (nearest neighbour).
        levels: the number of pixel levels of integer images, such as a model's samples (2 for binary images,
            256 for 8-bit ones; `model.distribution.num_levels`): levels 0..levels-1 are stretched to 0..255.
            None: uint8 images are taken as 0..255 as they are.

    Returns:
        The ``pathlib.Path`` written.

    Raises:
        ValueError: if ``images``, ``ncols`` or ``scale`` is invalid.

    Example:

    ```python
    binary = model.sample(16, seed=0)                      # levels 0/1
    save_image_grid(binary, "samples/grid.png", scale=2, levels=2)
    ```
    """
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise ValueError(f"path must be a non-empty str or os.PathLike, got {path!r}.")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(image_grid_png(images, ncols=ncols, scale=scale, levels=levels))
    return path


def image_grid_png(images, ncols=None, scale=1, levels=None):
    """The PNG file (bytes) that `save_image_grid` writes, for a caller that writes it with other files
    (`write_files`)."""
    import io

    from PIL import Image

    if levels is not None:
        images = _stretch_levels(images, levels)
    array = _to_uint8(images)
    n, height, width, channels = array.shape
    if ncols is None:
        ncols = math.ceil(math.sqrt(n))
    ncols = check_int(ncols, "ncols")
    scale = check_int(scale, "scale")
    nrows = math.ceil(n / ncols)
    if scale > 1:
        array = array.repeat(scale, axis=1).repeat(scale, axis=2)
    tile_h, tile_w = height * scale, width * scale
    grid = np.full(
        (nrows * (tile_h + 1) - 1, ncols * (tile_w + 1) - 1, channels),
        255,
        dtype=np.uint8,
    )
    for row in range(nrows):
        for col in range(ncols):
            top, left = row * (tile_h + 1), col * (tile_w + 1)
            index = row * ncols + col
            tile = array[index] if index < n else 0
            grid[top : top + tile_h, left : left + tile_w] = tile
    out = io.BytesIO()
    Image.fromarray(grid[..., 0] if channels == 1 else grid).save(out, format="PNG")
    return out.getvalue()


def write_files(files):
    """Write several files all or nothing: each is written to a temporary beside it, every replacement is checked
    (as `atomic_path` checks it), and only then are they renamed into place; if anything fails, the files already
    renamed are taken back (the old content restored where there was one), the temporaries are removed, and an
    OSError says which files were not written.

    Args:
        files: a list of (path, bytes) pairs; their parent folders are created if missing.

    Returns:
        The paths written, as `pathlib.Path`s.
    """
    pairs = [(Path(path), content) for path, content in files]
    temporaries, moved = [], []  # moved: [target, backup or None, renamed]
    try:
        for target, content in pairs:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = temporary_sibling(target, "tmp")
            temporaries.append(tmp)
            with open(tmp, "xb") as f:
                f.write(content)
        for (target, _), tmp in zip(pairs, temporaries):
            if os.path.lexists(target):
                _check_replaceable(target, tmp)
        for (target, _), tmp in zip(pairs, temporaries):
            backup = None
            if os.path.lexists(target):
                backup = temporary_sibling(target, "old")
                os.replace(target, backup)
            moved.append([target, backup, False])
            os.replace(tmp, target)
            moved[-1][2] = True
    except BaseException as error:
        restored = []
        for target, backup, renamed in reversed(moved):
            with contextlib.suppress(OSError):
                if renamed:
                    target.unlink()
                    restored.append(str(target))
                if backup is not None:
                    os.replace(backup, target)
        for tmp in temporaries:
            with contextlib.suppress(OSError):
                _remove(tmp)
        if isinstance(error, OSError) and not isinstance(error, (FileExistsError, IsADirectoryError)):
            names = ", ".join(repr(str(t)) for t, _ in pairs[:5]) + (" ..." if len(pairs) > 5 else "")
            raise OSError(error.errno, f"{error.strerror or error}: none of the files was written ({names})"
                          + (f"; {len(restored)} taken back" if restored else ""), error.filename) from error
        raise
    for _, backup, _ in moved:
        if backup is not None:
            _remove(backup)
    return [target for target, _ in pairs]


def read_csv_rows(path):
    """The rows of a CSV file that kgen appends to (metrics.csv), as lists of cells, the header first, without
    blank lines. A last line without its line end was cut short (a full disk, a kill during the write): it is left
    out, and `cut` says so. Returns (rows, cut)."""
    with open(path, newline="", encoding="utf-8") as f:
        text = f.read()
    cut = bool(text) and not text.endswith(("\n", "\r"))
    lines = text.splitlines(keepends=True)
    if cut:
        lines = lines[:-1]
    return [row for row in csv.reader(lines) if row], cut


def read_json_object(path, max_bytes, what, error=ValueError):
    """The JSON object in the file `path`, read only if it is at most `max_bytes` (`what` names such a file in the
    message: "a preset's JSON file"); `error` (a ValueError type) naming the file for one that is larger, not UTF-8
    JSON, nested without end, or not an object."""
    import json

    size = Path(path).stat().st_size
    if size > max_bytes:
        raise error(f"{path}: {size:,} bytes; {what} is at most {max_bytes:,}.")
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path}: not a valid JSON file ({e}).") from None
    except RecursionError:
        raise error(f"{path}: not a JSON file kgen reads (nested too deep).") from None
    if not isinstance(obj, dict):
        raise error(f"{path}: expected a JSON object, got {type(obj).__name__}.")
    return obj

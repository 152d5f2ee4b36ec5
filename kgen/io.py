"""Small file helpers: atomic writes and image grids.

Nothing kgen writes is ever left half-written: every file or folder is written
under a temporary name in the same folder and renamed into place on success.
"""

import contextlib
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


@contextlib.contextmanager
def atomic_path(path):
    """Yields a temporary path beside ``path`` and renames it into place on success.

    The caller writes a file or creates a folder at the yielded path. When the
    block ends without an exception, it replaces whatever was at ``path``
    (file or folder). When the block raises, the temporary is removed and the
    exception propagates, so ``path`` keeps its old content (or stays absent).
    The parent folder of ``path`` is created if missing.

    Args:
        path: the final file or folder path (str or os.PathLike).

    Yields:
        A ``pathlib.Path`` in the same folder, not yet existing, whose name
        keeps the suffix of ``path``.

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
    token = uuid.uuid4().hex[:12]
    tmp = path.with_name(f".{path.stem}.tmp-{token}{path.suffix}")
    try:
        yield tmp
        if not os.path.lexists(tmp):
            raise FileNotFoundError(
                f"Nothing was written to the temporary path {tmp} for {path}."
            )
        if tmp.is_dir() or path.is_dir():
            # rename() cannot replace a non-empty folder (or a file by a folder):
            # move the old one aside first and put it back if the rename fails.
            backup = path.with_name(f".{path.name}.old-{token}")
            had_old = os.path.lexists(path)
            if had_old:
                os.replace(path, backup)
            try:
                os.replace(tmp, path)
            except BaseException:
                if had_old:
                    os.replace(backup, path)
                raise
            if had_old:
                _remove(backup)
        else:
            os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


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
    from PIL import Image

    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise ValueError(f"path must be a non-empty str or os.PathLike, got {path!r}.")
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
    image = Image.fromarray(grid[..., 0] if channels == 1 else grid)
    path = Path(path)
    with atomic_path(path) as tmp:
        image.save(tmp, format="PNG")
    return path

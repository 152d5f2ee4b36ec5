"""Pictures of learned filters: dictionary atoms, first-layer weights.

>>> from kgen.plotting import tile_filters
>>> tile_filters(model.filters(), "runs/sparse_coding/filters.png", scale=4)
"""

import math
import os

import numpy as np

from kgen.io import save_image_grid
from kgen.validation import check_int


def _as_images(filters):
    """(N, H, W), (N, H, W, 1 | 3) or (N, D) with D a perfect square -> float64 (N, H, W, C)."""
    try:
        array = np.asarray(filters, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"`filters` must be a numeric array, got {type(filters).__name__}: {e}") from None
    if array.ndim == 2 and array.shape[0] >= 1:
        side = math.isqrt(array.shape[1])
        if side * side != array.shape[1] or side == 0:
            raise ValueError(
                f"`filters` of shape (N, D) need D to be a square number (square patches), got {array.shape}; "
                "pass (N, height, width) instead."
            )
        array = array.reshape(len(array), side, side)
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or 0 in array.shape or array.shape[-1] not in (1, 3):
        raise ValueError(
            "`filters` must have shape (N, height, width), (N, height, width, 1 or 3) or (N, D) with D a square "
            f"number, got {np.shape(filters)}."
        )
    if not np.all(np.isfinite(array)):
        raise ValueError("`filters` holds NaN or infinite values.")
    return array


def tile_filters(filters, path, ncols=None, scale=4):
    """Write filters as one PNG grid, each filter scaled to its own min/max (min black, max white), atomically.

    A filter whose values are all equal is drawn mid-grey. Colour filters (C = 3) are scaled over their three
    channels together. Tiles are separated by a 1-pixel white gutter (see `kgen.io.save_image_grid`).

    Args:
        filters: (N, height, width), (N, height, width, 1 or 3), or (N, D) with D = s * s (square patches).
        path: where to write the PNG (str or os.PathLike); the parent folder is created if missing, and the file
            appears only once complete.
        ncols: tiles per row (default ceil(sqrt(N))).
        scale: a positive integer upscaling factor (nearest neighbour), 4 by default so 8x8 atoms are visible.

    Returns:
        The `pathlib.Path` written.

    Raises:
        ValueError: for a bad `filters`, `path`, `ncols` or `scale` (nothing is written).
    """
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise ValueError(f"`path` must be a non-empty str or os.PathLike, got {path!r}.")
    array = _as_images(filters)
    if ncols is not None:
        ncols = check_int(ncols, "ncols")
    scale = check_int(scale, "scale")
    low = array.min(axis=(1, 2, 3), keepdims=True)
    high = array.max(axis=(1, 2, 3), keepdims=True)
    span = high - low
    flat = span <= 1e-12 * np.maximum(np.abs(high), 1.0)
    scaled = np.where(flat, 0.5, (array - low) / np.where(flat, 1.0, span))
    return save_image_grid(np.clip(scaled, 0.0, 1.0), path, ncols=ncols, scale=scale)

"""Pictures: learned filters (dictionary atoms, first-layer weights), learning curves of runs, spectrograms.

>>> from kgen.plotting import tile_filters, plot_curves, write_spectrogram
>>> tile_filters(model.filters(), "runs/sparse_coding/filters.png", scale=4)
>>> plot_curves(["runs/pixelcnn_mnist", "runs/pixelrnn_row_mnist"], "curves.png")       # `kgen plot`
>>> write_spectrogram("digit.png", waveform, model.sample_rate)                        # beside digit.wav

The curves and spectrograms are drawn with matplotlib's object API on its Agg canvas (no global backend, no
display), imported only when a picture is drawn. Every file is written atomically.
"""

import math
import os
from pathlib import Path

import numpy as np

from kgen.io import atomic_path, read_csv_rows, save_image_grid
from kgen.validation import check_int

METRICS_FILE = "metrics.csv"
#: The default metric of `plot_curves`: the first of these that every run has (the main metric of image, sequence,
#: video and representation models), else the first other column of the first run that every run has.
DEFAULT_METRICS = ("nats", "bits_per_token", "nats_per_frame", "reconstruction_error", "loss")
_NOT_METRICS = ("epoch", "elapsed_min")


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


# ----------------------------------------------------------------------------
# Learning curves
# ----------------------------------------------------------------------------


def _check_png_path(path, name="path"):
    if not isinstance(path, (str, os.PathLike)) or str(path) == "":
        raise ValueError(f"`{name}` must be a non-empty str or os.PathLike ending in .png, got {path!r}.")
    if Path(path).suffix.lower() != ".png":
        raise ValueError(f"`{name}` must end in .png (a PNG picture is written), got {str(path)!r}.")
    if Path(path).is_dir():
        raise IsADirectoryError(f"`{name}` {str(path)!r} is a folder; expected a .png file name.")
    return Path(path)


def read_metrics(run):
    """The per-epoch metrics of a run folder (its `metrics.csv`, written by `kgen train` through Keras' CSVLogger).

    Args:
        run: a run folder (str or os.PathLike) holding metrics.csv.

    Returns:
        A dict from column name to a float64 array, one value per logged epoch (an empty or NA cell is NaN).

    Raises:
        FileNotFoundError: if `run` is not a folder or has no metrics.csv.
        ValueError: if metrics.csv has no epochs or a cell is not a number (the line and column are named).
    """
    if not isinstance(run, (str, os.PathLike)) or str(run) == "":
        raise ValueError(f"a run must be a non-empty path (str or os.PathLike) of a run folder, got {run!r}.")
    folder = Path(run)
    if not folder.is_dir():
        raise FileNotFoundError(f"run {str(run)!r} is not a folder; expected a run folder written by kgen train "
                                f"(holding {METRICS_FILE}).")
    path = folder / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"run {str(run)!r} has no {METRICS_FILE}; expected a run folder written by kgen "
                                "train.")
    rows, _ = read_csv_rows(path)  # a last row cut short (a full disk, a run killed) is left out
    if len(rows) < 2:
        raise ValueError(f"run {str(run)!r}: {METRICS_FILE} holds no epochs (it is empty or only a header); "
                         "train for at least one epoch first.")
    header = [name.strip() for name in rows[0]]
    columns = {name: [] for name in header}
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(f"run {str(run)!r}: line {line} of {METRICS_FILE} has {len(row)} cells; expected "
                             f"{len(header)} ({', '.join(header)}).")
        for name, cell in zip(header, row):
            try:
                columns[name].append(float(cell) if cell.strip() not in ("", "NA") else math.nan)  # CSVLogger's NA
            except ValueError:
                raise ValueError(f"run {str(run)!r}: line {line} of {METRICS_FILE}, column {name!r}: expected a "
                                 f"number, got {cell!r}.") from None
    return {name: np.asarray(values, dtype=np.float64) for name, values in columns.items()}


def _choose_metric(runs, tables, metric):
    if metric is not None:
        if not isinstance(metric, str) or not metric or metric in _NOT_METRICS or metric.startswith("val_"):
            raise ValueError(
                f"`metric` (--metric) must name a train column of metrics.csv such as 'nats' or 'loss' (its held-out "
                f"column val_<metric> is drawn beside it), got {metric!r}.")
        for run, table in zip(runs, tables):
            if metric not in table:
                raise ValueError(f"`metric` (--metric) {metric!r} is not a column of run {str(run)!r}; its columns: "
                                 f"{', '.join(table)}.")
        return metric
    first = [name for name in tables[0] if name not in _NOT_METRICS and not name.startswith("val_")]
    for name in list(DEFAULT_METRICS) + first:
        if all(name in table for table in tables):
            return name
    raise ValueError("the runs share no metric column; pass `metric` (--metric). Columns: " + "; ".join(
        f"{str(run)!r}: {', '.join(table)}" for run, table in zip(runs, tables)))


def _labels(runs):
    """The run folder names, or the paths as given where two runs share a name."""
    names = [Path(run).resolve().name or str(run) for run in runs]
    return [name if names.count(name) == 1 else str(run) for name, run in zip(names, runs)]


def plot_curves(runs, path, metric=None):
    """Draw the learning curves of one or more runs into a PNG: `metric` against epochs (left) and against training
    minutes (right, the `elapsed_min` column), train solid and held-out (`val_<metric>`) dashed, one colour per run.

    Args:
        runs: a run folder or a list of them (each holds the metrics.csv that `kgen train` writes).
        path: the .png to write (str or os.PathLike); replaced atomically if it exists, its folder created if missing.
        metric: the train column to draw (e.g. "nats", "bits_per_token", "loss"); default: the first of
            `DEFAULT_METRICS` that every run has. A run without `val_<metric>` (no held-out split watched) or without
            `elapsed_min` has only the curves it can have.

    Returns:
        The `pathlib.Path` written.

    Raises:
        ValueError, FileNotFoundError: for a bad `runs`, `path` or `metric`, each named (nothing is written).
    """
    path = _check_png_path(path)
    if isinstance(runs, (str, os.PathLike)):
        runs = [runs]
    if not isinstance(runs, (list, tuple)) or not runs:
        raise ValueError(f"`runs` must be a run folder or a non-empty list of them, got {runs!r}.")
    runs = list(runs)
    tables = [read_metrics(run) for run in runs]
    metric = _choose_metric(runs, tables, metric)

    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(10, 4), dpi=80)
    FigureCanvasAgg(figure)
    by_epoch, by_minute = figure.subplots(1, 2, sharey=True)
    cycle = [entry["color"] for entry in matplotlib.rcParams["axes.prop_cycle"]]
    handles = []
    for i, (label, table) in enumerate(zip(_labels(runs), tables)):
        colour = cycle[i % len(cycle)]
        epochs = table["epoch"] + 1 if "epoch" in table else np.arange(1, len(table[metric]) + 1, dtype=float)
        minutes = table.get("elapsed_min")
        marker = "." if len(epochs) < 30 else None
        for name, style in ((metric, "-"), (f"val_{metric}", "--")):
            if name not in table:
                continue
            by_epoch.plot(epochs, table[name], style, color=colour, marker=marker)
            if minutes is not None:
                by_minute.plot(minutes, table[name], style, color=colour, marker=marker)
        handles.append(Line2D([], [], color=colour, label=label))
    handles += [Line2D([], [], color="grey", linestyle="-", label="train"),
                Line2D([], [], color="grey", linestyle="--", label="held-out (val_)")]
    by_epoch.set_xlabel("epoch")
    by_epoch.xaxis.set_major_locator(MaxNLocator(integer=True))
    by_minute.set_xlabel("training minutes (elapsed_min)")
    by_epoch.set_ylabel(metric)
    for axes in (by_epoch, by_minute):
        axes.grid(True, alpha=0.3)
    by_minute.legend(handles=handles, fontsize="small", loc="upper right")
    figure.suptitle(f"{metric}: train solid, held-out dashed")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path


# ----------------------------------------------------------------------------
# Spectrograms
# ----------------------------------------------------------------------------


def spectrogram(waveform, rate, segment=256):
    """The log-magnitude short-time spectrum of a mono waveform (Hann windows of `segment` samples, 3/4 overlap).

    Args:
        waveform: a 1-D float array with at least one sample, finite.
        rate: the sample rate in Hz, a positive integer.
        segment: samples per window (shortened to the waveform's length), a positive integer.

    Returns:
        `(frequencies, times, decibels)`: frequencies (Hz, ascending, 0..rate/2), window centres (s) and the power
        in dB, shape (len(frequencies), len(times)).
    """
    array = np.asarray(waveform)
    if not np.issubdtype(array.dtype, np.floating) or array.ndim != 1 or array.shape[0] == 0:
        raise ValueError(f"`waveform` must be a 1-D float array with at least one sample, got dtype {array.dtype} "
                         f"and shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise ValueError("`waveform` holds NaN or infinite values.")
    rate = check_int(rate, "rate")
    segment = min(check_int(segment, "segment"), array.shape[0])
    from scipy import signal

    frequencies, times, power = signal.spectrogram(
        array.astype(np.float64), fs=rate, window="hann", nperseg=segment, noverlap=(3 * segment) // 4,
        scaling="spectrum", mode="psd")
    return frequencies, times, 10.0 * np.log10(power + 1e-12)


def write_spectrogram(path, waveform, rate, title=None):
    """Draw the spectrogram of a mono waveform (time on x, frequency on y, log magnitude in dB as colour) into a
    PNG, atomically.

    Args:
        path: the .png to write (str or os.PathLike); replaced if it exists.
        waveform: a 1-D float array (samples in [-1, 1]).
        rate: the sample rate in Hz.
        title: the title above the picture (default: the file name without suffix).

    Returns:
        The `pathlib.Path` written.
    """
    path = _check_png_path(path)
    frequencies, times, decibels = spectrogram(waveform, rate)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3), dpi=80)
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    duration = len(waveform) / rate
    top = decibels.max()
    image = axes.imshow(decibels, origin="lower", aspect="auto", cmap="magma", interpolation="nearest",
                        extent=(0.0, duration, 0.0, rate / 2), vmin=top - 80.0, vmax=top)
    axes.set_xlabel("time (s)")
    axes.set_ylabel("frequency (Hz)")
    axes.set_title(Path(path).stem if title is None else title)
    figure.colorbar(image, ax=axes, label="power (dB)")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path

"""Progress of the long work on stderr: a keras Progbar over batches (or symbols, queries, ...), or one line per
stage where the work is a few long steps (exporting: tracing each signature, writing the SavedModel).

One rule for every command and function that shows progress (`kgen sample`, `complete`, `encode`, `export`,
`compress`, `decompress`; `kgen.compression.compress`, `kgen.export.export_for_serving`, `HammingIndex.search`, the
`kgen.artifacts` writers): `progress=True` (`--verbose 1`) shows it, `progress=False` (`--verbose 0`) does not, and
`progress=None`, the default, shows it where someone watches: stderr is a terminal, or the code runs in a Jupyter
notebook (an IPython kernel), as Keras' own progress bars do. The environment variable `KGEN_PROGRESS=0` turns the
default off everywhere (a notebook's shared outputs, a CI log) and `KGEN_PROGRESS=1` on; an explicit argument wins.
It goes to stderr, so stdout keeps the one result line that scripts read. A compiled loop (a whole sampling loop in
one XLA call) is never split to fake finer progress: the unit is the batch or the stage.

Training follows the same rule on stdout, where Keras writes (`fit_verbose`): Keras' progress bars where someone
watches, one line per epoch in a file or a pipe.

>>> bar = Progress(total=4, unit_name="batch", show=None)   # None: where someone watches
>>> for batch in batches:
...     work(batch); bar.add(1)
>>> bar.stage("writing SavedModel")                     # for stage-wise work: one line on stderr
"""

import contextlib
import os
import sys
import time

#: The environment variable that sets the default: "0" no progress, "1" progress (unset: where someone watches).
ENV = "KGEN_PROGRESS"


def watched(stream):
    """Whether someone watches `stream`: a terminal, or a Jupyter notebook (or Colab, or any IPython kernel: it shows
    the output of the cell)."""
    isatty = getattr(stream, "isatty", None)
    try:
        if isatty is not None and isatty():
            return True
    except ValueError:  # a closed stream
        return False
    return in_notebook()


def in_notebook():
    """Whether this code runs in an IPython kernel (Jupyter, Colab): IPython is imported and its shell has a kernel.
    A process that merely imported ipykernel or nbclient (a test driving notebooks) is not one."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if get_ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def _default(stream):
    setting = os.environ.get(ENV, "").strip()
    if setting in ("0", "1"):
        return setting == "1"
    if setting:
        raise ValueError(f"the environment variable {ENV} must be 0 (no progress) or 1 (progress), got {setting!r}.")
    return watched(stream)


def wanted(verbose=None):
    """Whether to show progress on stderr: `verbose` (a function's `progress` argument, a command's `--verbose`)
    True or 1 yes, False or 0 no, None: KGEN_PROGRESS where set, else where stderr is watched (`watched`)."""
    if verbose is None:
        return _default(sys.stderr)
    if not isinstance(verbose, (bool, int)) or verbose < 0:
        raise ValueError(f"`progress` must be True, False or None (where someone watches), got {verbose!r}.")
    return verbose > 0


def fit_verbose(verbose=None):
    """The `verbose` of Keras' `fit` / `evaluate` for kgen's training: 0, 1 or 2 as given; None: 1 (progress bars)
    where stdout is watched or KGEN_PROGRESS=1, else 2 (one line per epoch: no redrawn bar in a log file)."""
    if verbose is None:
        return 1 if _default(sys.stdout) else 2
    if isinstance(verbose, bool) or not isinstance(verbose, int) or verbose not in (0, 1, 2):
        raise ValueError(f"`verbose` must be 0 (silent), 1 (progress bars), 2 (one line per epoch) or None (bars "
                         f"where someone watches), got {verbose!r}.")
    return verbose


@contextlib.contextmanager
def _to_stderr():
    # keras.utils.Progbar prints to sys.stdout; progress belongs on stderr.
    with contextlib.redirect_stdout(sys.stderr):
        yield


class Progress:
    """A keras Progbar on stderr over `total` units (`unit_name`), shown only where `show`; also prints stage lines.

    Args:
        total: units of work (None: unknown), e.g. batches.
        unit_name: what a unit is, shown in the time per unit ("batch", "symbol", "query").
        show: print anything at all: True, False, or None where someone watches (see `wanted`).
        label: the prefix of the stage lines, e.g. "kgen export".
        interval: least seconds between two redraws of the bar.
    """

    def __init__(self, total=None, unit_name="batch", show=None, label="kgen", interval=0.5):
        self.show = wanted(show)
        self.label = label
        self._start = time.monotonic()
        self._bar = None
        if self.show and total is not None:
            import keras

            with _to_stderr():
                self._bar = keras.utils.Progbar(total, unit_name=unit_name, interval=interval)
                self._bar.update(0)  # drawn at once: the first unit may be the whole work

    def add(self, n=1):
        """Advance the bar by `n` units."""
        if self._bar is not None:
            with _to_stderr():
                self._bar.add(n)

    def stage(self, name):
        """Print that the stage `name` begins, with the seconds since the start."""
        if self.show:
            print(f"{self.label}: {name} (at {time.monotonic() - self._start:.0f} s)", file=sys.stderr, flush=True)

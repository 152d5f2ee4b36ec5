"""Progress of the long commands on stderr: a keras Progbar over batches (or symbols, queries, ...), or one line per
stage where the work is a few long steps (exporting: tracing each signature, writing the SavedModel).

One rule for every command that shows progress (`kgen sample`, `complete`, `encode`, `export`, `compress`,
`decompress`): `--verbose 1` shows it, `--verbose 0` does not, and without the flag it is shown when stderr is a
terminal (`wanted`). It goes to stderr, so stdout keeps the one result line that scripts read. A compiled loop (a
whole sampling loop in one XLA call) is never split to fake finer progress: the unit is the batch or the stage.

>>> bar = Progress(total=4, unit_name="batch", show=True)
>>> for batch in batches:
...     work(batch); bar.add(1)
>>> bar.stage("writing SavedModel")                     # for stage-wise work: one line on stderr
"""

import contextlib
import sys
import time


def wanted(verbose):
    """Whether to show progress: `verbose` 1 (or more) yes, 0 no, None (the flag not given): when stderr is a
    terminal."""
    if verbose is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return verbose > 0


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
        show: print anything at all (see `wanted`).
        label: the prefix of the stage lines, e.g. "kgen export".
        interval: least seconds between two redraws of the bar.
    """

    def __init__(self, total=None, unit_name="batch", show=False, label="kgen", interval=0.5):
        self.show = bool(show)
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

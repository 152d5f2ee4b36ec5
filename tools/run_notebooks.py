"""Execute the tutorial notebooks (zoo/notebooks/*.ipynb) and write the executed copies, outputs included.

    python tools/run_notebooks.py --out site/notebooks                # the tutorials' own settings
    python tools/run_notebooks.py --out /tmp/nb --tiny pixelcnn text  # the test's tiny settings, two of them

The notebooks in the repository carry no outputs (tests/test_notebooks.py checks it); this writes OUT/NAME.ipynb for
each one that ran without error, atomically (a failed notebook leaves no copy, and its error is printed). Each runs
in a fresh Python kernel (the `python3` kernel of this interpreter's ipykernel) whose working folder is the
notebook's own, under the Keras backend of KERAS_BACKEND, as in Jupyter. `--tiny` sets KGEN_NOTEBOOK_TINY=1 for the
kernels, which each notebook reads at its top to pick its small settings; without it that variable is removed. kgen's
progress bars are left out of the copies (KGEN_PROGRESS=0, unless KGEN_PROGRESS is set): in a shared page they are
only control characters.

Exit status: 0 when every notebook ran, 1 when one failed, 2 for bad arguments. One line per notebook on stdout:
its name, the seconds it took and the copy written.
"""

import argparse
import os
import sys
import time
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "zoo" / "notebooks"
TINY_ENV = "KGEN_NOTEBOOK_TINY"
PROGRESS_ENV = "KGEN_PROGRESS"  # kgen.progress: "0" no progress bars
DEFAULT_TIMEOUT = 600  # seconds per cell


def notebook_paths(names=None):
    """The notebooks named (a name such as "pixelcnn", a file name, or a path to an .ipynb), default all in
    zoo/notebooks, sorted. Raises ValueError for a name that is no notebook."""
    if not names:
        return sorted(NOTEBOOKS.glob("*.ipynb"))
    known = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    paths = []
    for name in names:
        path = Path(name)
        if path.suffix != ".ipynb":
            path = NOTEBOOKS / f"{name}.ipynb"
        elif not path.exists() and len(path.parts) == 1:
            path = NOTEBOOKS / path
        if not path.is_file():
            raise ValueError(f"`notebook` {name!r} is not a notebook; expected one of {', '.join(known)} "
                             "or a path to an .ipynb file.")
        paths.append(path.resolve())
    return paths


def execute(path, tiny=False, timeout=DEFAULT_TIMEOUT):
    """Run every cell of the notebook at `path` in a fresh kernel; return the executed notebook (an
    nbformat.NotebookNode). Raises nbclient's CellExecutionError (with the cell's traceback) if a cell fails."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    env = dict(os.environ)
    env.pop(TINY_ENV, None)
    env.setdefault(PROGRESS_ENV, "0")
    if tiny:
        env[TINY_ENV] = "1"
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env=env)
    return notebook


def write_notebook(notebook, target):
    """Write `notebook` to `target` atomically (a temporary file in the same folder, then a rename)."""
    import nbformat

    target = Path(target)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        nbformat.write(notebook, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                   help="notebooks to run: names such as 'pixelcnn' or .ipynb paths (default: every one in "
                        "zoo/notebooks)")
    p.add_argument("--out", required=True, help="folder for the executed copies (created if missing)")
    p.add_argument("--tiny", action="store_true",
                   help=f"the test's tiny settings ({TINY_ENV}=1): about a minute per notebook on two CPU cores")
    p.add_argument("--timeout", type=int, default=DEFAULT_TIMEOUT,
                   help=f"seconds one cell may run before the notebook fails (default {DEFAULT_TIMEOUT})")
    args = p.parse_args(argv)
    try:
        paths = notebook_paths(args.notebooks)
    except ValueError as e:
        p.error(str(e))
    if args.timeout <= 0:
        p.error(f"`--timeout` must be a positive number of seconds, got {args.timeout}.")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        p.error(f"`--out` {str(out)!r} is a file; expected a folder for the executed notebooks.")
    if any(out.resolve() == path.parent for path in paths):
        p.error(f"`--out` {str(out)!r} is the notebooks' own folder; the executed copies would replace the sources.")
    if not paths:
        p.error(f"no notebooks in {NOTEBOOKS}")

    from nbclient.exceptions import CellExecutionError

    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in paths:
        start = time.perf_counter()
        try:
            notebook = execute(path, tiny=args.tiny, timeout=args.timeout)
        except (CellExecutionError, TimeoutError, RuntimeError) as e:
            failed += 1
            print(f"{path.name}: FAILED after {time.perf_counter() - start:.1f} s, no copy written", flush=True)
            print(f"{path.name}: {e}", file=sys.stderr, flush=True)
            continue
        target = write_notebook(notebook, out / path.name)
        print(f"{path.name}: {time.perf_counter() - start:.1f} s -> {target}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

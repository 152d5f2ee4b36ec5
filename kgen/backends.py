"""Run Python under a chosen Keras backend in a child process.

Keras fixes its backend when it is first imported, so everything that needs another backend than the current one
(exporting from JAX or torch through TensorFlow, loading a saved model under every backend, per-backend benchmarks)
runs a child interpreter with `KERAS_BACKEND` set. This module is the one place that does it:

    from kgen.backends import run_under_backend

    proc = run_under_backend("tensorflow", ["-m", "kgen.export", "model.keras", "out"], what="exporting")
    proc = run_under_backend("jax", ["-c", code, arg], timeout=600)          # proc.stdout holds what it printed

It uses only the standard library (no Keras import), so a parent process can use it without choosing a backend.
"""

import os
import subprocess
import sys

BACKENDS = ("tensorflow", "jax", "torch")


class BackendProcessError(RuntimeError):
    """A child process run by `run_under_backend` exited with a non-zero code.

    Attributes: `backend`, `returncode`, `stdout` and `stderr` (None where not captured) of the child.
    """

    def __init__(self, message, backend, returncode, stdout=None, stderr=None):
        super().__init__(message)
        self.backend = backend
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def check_backend(backend):
    """Return `backend` if it is a Keras backend kgen runs on, else raise a ValueError naming `backend`."""
    if backend not in BACKENDS:
        raise ValueError(f"`backend` must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}.")
    return backend


def backend_env(backend, env=None):
    """The environment of a child running under `backend`: `env` (default `os.environ`) with `KERAS_BACKEND` set
    and TensorFlow's C++ logging quieted to warnings and errors (`TF_CPP_MIN_LOG_LEVEL=2`, unless already set)."""
    out = dict(os.environ if env is None else env)
    out["KERAS_BACKEND"] = check_backend(backend)
    out.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return out


def stderr_tail(text, lines=15):
    """The last `lines` lines of a child's stderr (where its traceback ends), stripped; "" for None."""
    if not text:
        return ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return "\n".join(text.strip().splitlines()[-lines:])


def run_under_backend(backend, args, timeout=None, *, check=True, capture_stderr=True, what=None, env=None,
                      tail_lines=15):
    """Run `python ARGS...` (this interpreter) in a child process with `KERAS_BACKEND=backend`.

    Args:
        backend: "tensorflow", "jax" or "torch".
        args: the interpreter's arguments, a list: `["-c", code, *argv]`, `["-m", module, *argv]` or
            `[script, *argv]` (paths are converted with `os.fspath`).
        timeout: seconds before the child is killed and `subprocess.TimeoutExpired` raised (None: no limit).
        check: raise a `BackendProcessError` when the child exits with a non-zero code; its message says `what`
            failed under which backend, with the exit code and the last `tail_lines` lines of the child's stderr.
        capture_stderr: keep the child's stderr in the result (True), or let it go to this process's stderr as it
            comes (False: a long benchmark's progress stays visible).
        what: what the child does, for the error message (default "running Python under <backend>").
        env: the environment to start from (default `os.environ`); see `backend_env`.
        tail_lines: stderr lines shown in the error message.

    Returns:
        The `subprocess.CompletedProcess`, with `stdout` (and `stderr` when captured) as text.
    """
    check_backend(backend)
    if isinstance(args, (str, bytes)) or not isinstance(args, (list, tuple)):
        raise ValueError(
            f"`args` must be a list of the interpreter's arguments (e.g. ['-c', code]), got {type(args).__name__}."
        )
    cmd = [sys.executable] + [os.fspath(a) for a in args]
    proc = subprocess.run(
        cmd,
        env=backend_env(backend, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if capture_stderr else None,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        what = what or f"running Python under {backend}"
        tail = stderr_tail(proc.stderr, tail_lines) if capture_stderr else "(its stderr is above)"
        raise BackendProcessError(
            f"{what} in a child process failed (KERAS_BACKEND={backend}, exit code {proc.returncode}):\n{tail}",
            backend, proc.returncode, proc.stdout, proc.stderr,
        )
    return proc

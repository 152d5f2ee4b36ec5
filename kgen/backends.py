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


#: The loop of a `BackendWorker`'s child: one job per line on stdin ({"code", "argv"}), one reply per line on the
#: stdout it was started with ({"status", "error"}); what a job prints goes to the child's stderr.
_WORKER_LOOP = """\
import gc, json, os, sys, traceback
replies = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
sys.stdout = sys.stderr
for line in sys.stdin:
    job = json.loads(line)
    sys.argv = ["-c"] + job["argv"]
    status, error = 0, ""
    try:
        exec(compile(job["code"], "<job>", "exec"), {"__name__": "__main__"})
    except SystemExit as e:
        if isinstance(e.code, int) or e.code is None:
            status = e.code or 0
        else:
            status, error = 1, str(e.code)
    except BaseException:
        status, error = 1, traceback.format_exc()
    sys.stderr.flush()
    gc.collect()
    replies.write(json.dumps({"status": status, "error": error}) + "\\n")
"""


class BackendWorker:
    """A long-lived child interpreter under one backend that runs `["-c", code, *argv]` jobs one after another.

    Starting Python with TensorFlow, JAX or torch costs seconds; a test suite that checks many models in a child (the
    export checks of `kgen.testing`) starts one worker and sends it every job. Each job runs as `python -c` would run
    it: `__main__` globals of its own, `sys.argv` set, `sys.exit(...)` its exit status. The worker starts on the first
    job, restarts after a job that killed it or ran past its timeout, and after `max_rss_mb` of resident memory (what
    earlier jobs left behind stays bounded).

        worker = BackendWorker("tensorflow")
        worker.run(["-c", code, path], what="serving the SavedModel")   # raises BackendProcessError on failure
        worker.close()
    """

    def __init__(self, backend, env=None, max_rss_mb=1500):
        self.backend = check_backend(backend)
        self.env = env
        self.max_rss_mb = max_rss_mb
        self._proc = None
        self._log = None

    def _start(self):
        import tempfile

        self._log = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _WORKER_LOOP], env=backend_env(self.backend, self.env), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._log, text=True, bufsize=1,
        )

    def _rss_mb(self):
        try:
            with open(f"/proc/{self._proc.pid}/status") as f:
                kb = next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        except OSError:
            return 0
        return kb / 1024

    def _stderr_since(self, offset):
        self._log.seek(offset)
        return self._log.read().decode(errors="replace")

    def run(self, args, timeout=None, what=None, tail_lines=15):
        """Run one job, `args` = `["-c", code, *argv]`, as `run_under_backend(backend, args)` would (stdout is not
        returned). Raises a `BackendProcessError` (with the job's traceback and the end of its stderr) when the job
        fails or the worker dies, and `subprocess.TimeoutExpired` after `timeout` seconds (the worker is killed)."""
        import json
        import select

        if not (isinstance(args, (list, tuple)) and len(args) >= 2 and args[0] == "-c"):
            raise ValueError(f"`args` must be ['-c', code, *argv], got {args!r:.80}.")
        if self._proc is not None and (self._proc.poll() is not None or self._rss_mb() > self.max_rss_mb):
            self.close()
        if self._proc is None:
            self._start()
        self._log.seek(0, os.SEEK_END)
        offset = self._log.tell()
        what = what or f"running Python under {self.backend}"
        try:
            self._proc.stdin.write(json.dumps({"code": args[1], "argv": [os.fspath(a) for a in args[2:]]}) + "\n")
            self._proc.stdin.flush()
            ready, _, _ = select.select([self._proc.stdout], [], [], timeout)
            line = self._proc.stdout.readline() if ready else None
        except BrokenPipeError:  # the worker died before the job
            line = ""
        if line is None:
            self.close(kill=True)
            raise subprocess.TimeoutExpired(args[:2], timeout)
        if not line:  # the worker died during the job
            returncode = self._proc.wait()
            stderr = self._stderr_since(offset)
            self.close()
            raise BackendProcessError(
                f"{what} in a worker process failed (KERAS_BACKEND={self.backend}, the worker exited with code "
                f"{returncode}):\n{stderr_tail(stderr, tail_lines)}", self.backend, returncode, None, stderr)
        reply = json.loads(line)
        if reply["status"] != 0:
            stderr = self._stderr_since(offset)
            tail = stderr_tail(stderr + "\n" + reply["error"], tail_lines)
            raise BackendProcessError(
                f"{what} in a worker process failed (KERAS_BACKEND={self.backend}, exit code {reply['status']}):\n"
                f"{tail}", self.backend, reply["status"], None, stderr)

    def close(self, kill=False):
        """Stop the worker (the next job starts a new one): end of input, then killed after 10 s (at once with
        `kill`)."""
        if self._proc is not None:
            if self._proc.poll() is None:
                try:
                    self._proc.stdin.close()
                    self._proc.wait(timeout=0 if kill else 10)
                except (BrokenPipeError, subprocess.TimeoutExpired):
                    self._proc.kill()
                    self._proc.wait()
            else:
                try:
                    self._proc.stdin.close()
                except BrokenPipeError:
                    pass
            self._proc.stdout.close()
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

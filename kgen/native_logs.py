"""TensorFlow's native (C++) log lines kept off stderr: "oneDNN custom operations are on", "Could not find cuda
drivers", "Unable to register cuDNN factory", "failed call to cuInit", absl's "All log messages before
absl::InitializeLog() is called ...".

TF_CPP_MIN_LOG_LEVEL hides TensorFlow's informational and warning lines once its logging is set up, but not the ones
written before that (absl's, the CUDA stubs'), nor the error line of a CUDA library on a machine without a GPU. Those
are dropped here by reading file descriptor 2 through a pipe, line by line, and passing every other line on unchanged.

- `import kgen` calls `quiet_tensorflow()`: TF_CPP_MIN_LOG_LEVEL=2 unless it is set, and whenever TensorFlow is
  first imported (by kgen, Keras or the user, now or later), its import and its device discovery run under the
  filter. Setting TF_CPP_MIN_LOG_LEVEL to 0 or 1 before `import kgen` keeps every line (nothing is filtered).
- The `kgen` command runs under `quiet_command`: TF_CPP_MIN_LOG_LEVEL=2 unless it is set, and its whole run filtered
  (`filter_stderr`), unless `--debug` or TF_CPP_MIN_LOG_LEVEL is 0 or 1.
"""

import contextlib
import os
import re
import sys
import threading

# "I0000 00:00:1796094602.384100   21525 port.cc:153] oneDNN custom ...": informational and warning lines, and the
# error lines of a CUDA library on a machine without a GPU (other error lines are kept: they may be real).
_NATIVE_LOG = re.compile(
    rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
    rb"|E\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] .*(?:cuInit|CUDA|cuda|cuDNN|cuFFT|cuBLAS)"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR)"
)


def is_native_log(line):
    """Whether the bytes `line` (without its newline) is one of TensorFlow's native log lines that are dropped."""
    return _NATIVE_LOG.match(line) is not None


def filter_stderr():
    """Drop TensorFlow's native log lines from this process's stderr (file descriptor 2) and pass everything else
    through unchanged, until the returned function is called. Where fd 2 cannot be redirected, nothing is done."""
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
    try:
        target = os.dup(2)
        restore_fd = os.dup(2)
        read_end, write_end = os.pipe()
        os.dup2(write_end, 2)
        os.close(write_end)
    except OSError:
        return lambda: None

    def emit(data, state={"open": True}):
        # Once the real stderr is gone (a closed pipe), keep reading and drop the rest: the process must never block.
        while data and state["open"]:
            try:
                data = data[os.write(target, data):]
            except OSError:
                state["open"] = False

    def pump():
        pending = b""
        while True:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            out = b"".join(line + b"\n" for line in lines if not is_native_log(line))
            if pending and pending[:1] not in (b"I", b"W", b"E"):  # a partial line (a progress bar): now
                out, pending = out + pending, b""
            emit(out)
        if pending and not is_native_log(pending):
            emit(pending)
        os.close(read_end)
        os.close(target)

    thread = threading.Thread(target=pump, name="kgen-stderr", daemon=True)
    thread.start()

    def undo():
        try:
            sys.stderr.flush()
        except (AttributeError, OSError, ValueError):
            pass
        os.dup2(restore_fd, 2)  # closes the pipe's last write end: the pump reads to the end and stops
        os.close(restore_fd)
        thread.join(timeout=5)

    return undo


def user_wants_native_logs():
    """True where TF_CPP_MIN_LOG_LEVEL is set to 0 or 1: the user asked for TensorFlow's info or warning lines."""
    return os.environ.get("TF_CPP_MIN_LOG_LEVEL", "").strip() in ("0", "1")


@contextlib.contextmanager
def quiet_command(debug=False):
    """The `kgen` command's run (`kgen.cli.run`): TensorFlow's native log lines kept off stderr for the whole block.

    Sets TF_CPP_MIN_LOG_LEVEL=2 where it is unset and filters file descriptor 2 (`filter_stderr`) until the block
    ends, so that the lines written before TensorFlow's logging is set up (absl's, the CUDA stubs') are dropped too.
    The command imports TensorFlow inside the block, if at all (`kgen --help` never does).

    Args:
        debug: keep every line (`kgen --debug`): nothing is set or filtered. Nothing is either where the user set
            TF_CPP_MIN_LOG_LEVEL to 0 or 1 (`user_wants_native_logs`).
    """
    if debug or user_wants_native_logs():
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    undo = filter_stderr()
    try:
        yield
    finally:
        undo()


class _QuietLoader:
    """The loader of the `tensorflow` package, run under `filter_stderr`, with its devices listed before the filter
    ends (that is when CUDA reports a missing driver)."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        _remove_hook()  # once: TensorFlow is imported now
        undo = filter_stderr()
        try:
            self.loader.exec_module(module)
            try:
                module.config.list_physical_devices()
            except Exception:  # only to make CUDA speak now; any real problem shows at the first use
                pass
        finally:
            undo()
            module.__loader__ = self.loader
            if module.__spec__ is not None:
                module.__spec__.loader = self.loader

    def __getattr__(self, name):
        return getattr(self.loader, name)


class _QuietTensorFlowImport:
    """A `sys.meta_path` finder that answers only for `tensorflow`: its usual spec, with a `_QuietLoader`. It stays
    until TensorFlow is imported (a `find_spec` alone, an availability check, does not import it)."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        for finder in list(sys.meta_path):
            if finder is self:
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None

    def invalidate_caches(self):
        pass


_HOOK = []  # the installed finder, if any


def _remove_hook():
    while _HOOK:
        finder = _HOOK.pop()
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)


def quiet_tensorflow():
    """Set TF_CPP_MIN_LOG_LEVEL=2 where it is unset, and filter TensorFlow's native lines while it is first imported
    (see the module docstring); nothing where the user set TF_CPP_MIN_LOG_LEVEL to 0 or 1, or TensorFlow is already
    imported. Called by `import kgen`."""
    if user_wants_native_logs():
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules or _HOOK:
        return
    finder = _QuietTensorFlowImport()
    _HOOK.append(finder)
    sys.meta_path.insert(0, finder)

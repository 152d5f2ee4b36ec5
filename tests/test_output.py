"""Output fits its place (issue 26, point 3): Keras' progress bars where someone watches and one line per epoch in a
file or a pipe; kgen's own progress in a terminal or a notebook, with `progress=False` / KGEN_PROGRESS=0 to turn it
off; no TensorFlow native log lines on `import kgen` (kgen/native_logs.py)."""

import os
import re
import subprocess
import sys
import types

import pytest

from kgen import native_logs, progress

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
ENV.pop("TF_CPP_MIN_LOG_LEVEL", None)
ENV.pop(progress.ENV, None)
ESCAPES = re.compile(r"[\r\x08\x1b]")  # a redrawn bar: carriage returns, backspaces, terminal escapes


def test_import_kgen_and_a_model_print_nothing_on_stderr():
    """As in a script or a notebook: TensorFlow's absl and CUDA lines (a machine without a GPU reports a failed
    cuInit) are kept off stderr, and TF_CPP_MIN_LOG_LEVEL is set for what comes later."""
    code = "import os, kgen; kgen.zoo.get('pixelcnn.tiny'); print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(ENV, KERAS_BACKEND="tensorflow"), timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    assert result.stdout.strip() == "2"


def test_a_later_tensorflow_import_is_quiet_too():
    """Under a backend that needs no TensorFlow for `import kgen`, the data pipelines import it later: quiet too."""
    code = ("import sys, kgen\n"
            "import tensorflow as tf\n"
            "tf.constant(1.0) + 1.0\n"
            "print(type(tf.__loader__).__name__, tf.__spec__.loader is tf.__loader__)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(ENV, KERAS_BACKEND="jax"), timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr
    assert "_QuietLoader" not in result.stdout and result.stdout.strip().endswith("True")


def test_a_level_the_user_set_is_kept(monkeypatch):
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(native_logs, "_HOOK", [])
    for level, wants in (("0", True), ("1", True), ("2", False), ("3", False)):
        monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", level)
        assert native_logs.user_wants_native_logs() is wants
        native_logs.quiet_tensorflow()
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == level
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
    monkeypatch.delitem(sys.modules, "tensorflow", raising=False)
    native_logs.quiet_tensorflow()
    assert native_logs._HOOK == []  # 0 or 1: every line is kept, nothing filtered


@pytest.mark.parametrize("line,native", [
    ("I0000 00:00:1796094602.384100   21525 port.cc:153] oneDNN custom operations are on.", True),
    ("W0000 00:00:1796094602.389830   21525 cudart_stub.cc:31] something", True),
    ("I0000 00:00:1796284895.290650    5745 cudart_stub.cc:31] Could not find cuda drivers on your machine", True),
    ("E0000 00:00:1796094230.997430   21115 cuda_platform.cc:52] failed call to cuInit: INTERNAL", True),
    ("E0000 00:00:1721.1 1 cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting to register factory", True),
    ("E0000 00:00:1796094230.997430   21115 op_kernel.cc:1857] OP_REQUIRES failed: out of memory", False),
    ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR", True),
    ("Traceback (most recent call last):", False),
    ("kgen train: error: argument --epochs: expected an integer at least 1", False),
    ("Epoch 1/10", False),
])
def test_what_counts_as_a_native_log_line(line, native):
    assert native_logs.is_native_log(line.encode()) is native


def test_the_filter_passes_everything_else_through():
    """Through a real file descriptor 2: partial lines (progress bars) and ordinary lines arrive, native ones not."""
    code = (
        "import os, sys\n"
        "sys.argv = ['kgen']\n"  # the command's lazy import: nothing else writes to stderr
        "from kgen import native_logs\n"
        "undo = native_logs.filter_stderr()\n"
        "os.write(2, b'I0000 00:00:1796094602.384100   21525 port.cc:153] noise\\n')\n"
        "os.write(2, b'progress 1/2\\r')\n"
        "os.write(2, b'progress 2/2\\n')\n"
        "sys.stderr.write('a Python warning\\n')\n"
        "os.write(2, b'W0000 00:00:17.1 1 x.cc:1] more noise\\n')\n"
        "undo()\n"
        "os.write(2, b'after\\n')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, env=ENV, timeout=300)  # bytes: \r kept
    assert result.returncode == 0, result.stderr
    assert result.stderr == b"progress 1/2\rprogress 2/2\na Python warning\nafter\n"


def test_the_command_runs_under_one_quiet_block():
    """`kgen.cli.run` is `native_logs.quiet_command`: TF_CPP_MIN_LOG_LEVEL=2 unless set and native lines dropped;
    every line kept with --debug (debug=True) or a level of 0 or 1 the user set."""
    code = (
        "import os, sys\n"
        "sys.argv = ['kgen']\n"
        "from kgen import native_logs\n"
        "noise = b'I0000 00:00:1796094602.384100   21525 port.cc:153] noise\\n'\n"
        "with native_logs.quiet_command():\n"
        "    os.write(2, noise)\n"
        "    os.write(2, b'kept\\n')\n"
        "    print(os.environ['TF_CPP_MIN_LOG_LEVEL'])\n"
        "with native_logs.quiet_command(debug=True):\n"
        "    os.write(2, noise)\n"
        "os.environ['TF_CPP_MIN_LOG_LEVEL'] = '1'\n"
        "with native_logs.quiet_command():\n"
        "    os.write(2, noise)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, env=ENV, timeout=300)
    assert result.returncode == 0, result.stderr
    noise = b"I0000 00:00:1796094602.384100   21525 port.cc:153] noise\n"
    assert result.stdout == b"2\n" and result.stderr == b"kept\n" + noise + noise, result.stderr


def test_train_into_a_file_writes_one_line_per_epoch(tmp_path):
    """`kgen train` with stdout to a file (not a terminal): no redrawn bars, one line per epoch, then the evaluation's
    one line and the result line."""
    log = tmp_path / "train.log"
    with open(log, "wb") as f:
        result = subprocess.run(
            [sys.executable, "-m", "kgen.cli", "train", "demo", "--out", str(tmp_path / "run"), "--epochs", "3",
             "--steps-per-epoch", "2", "--batch-size", "8", "--monitor-split", "test[:16]", "--eval-split",
             "test[:16]", "--samples", "0"],
            stdout=f, stderr=subprocess.PIPE, timeout=600,
            env=dict(ENV, KERAS_BACKEND=os.environ.get("KERAS_BACKEND", "tensorflow")))
    assert result.returncode == 0, result.stderr.decode()
    text = log.read_bytes().decode()
    assert not ESCAPES.search(text), text[:500]
    lines = text.splitlines()
    epochs = [line for line in lines if line.startswith("Epoch ")]
    assert [line.split(" - ")[0] for line in epochs] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"], text
    assert all(" - 2 steps - " in line and " - loss: " in line and " - val_loss: " in line for line in epochs), text
    assert len(lines) == 5 and "nats/image" in lines[-1], text  # the evaluation's line, the result line
    assert not ESCAPES.search(result.stderr.decode()), result.stderr


def test_fit_verbose_follows_the_output(monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.setattr(sys, "stdout", _Stream(tty=False))
    assert progress.fit_verbose(None) == 2
    monkeypatch.setattr(sys, "stdout", _Stream(tty=True))
    assert progress.fit_verbose(None) == 1
    monkeypatch.setenv(progress.ENV, "0")
    assert progress.fit_verbose(None) == 2
    assert [progress.fit_verbose(v) for v in (0, 1, 2)] == [0, 1, 2]  # as given
    for bad in (3, -1, True, "auto"):
        with pytest.raises(ValueError, match="`verbose` must be 0"):
            progress.fit_verbose(bad)


def _pretend_a_notebook(monkeypatch):
    """What an IPython kernel looks like from the code it runs: IPython imported, its shell with a kernel."""
    ipython = types.ModuleType("IPython")
    shell = types.SimpleNamespace(kernel=object())
    ipython.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", ipython)


class _Stream:
    def __init__(self, tty):
        self.tty = tty
        self.text = []

    def isatty(self):
        return self.tty

    def write(self, text):
        self.text.append(text)

    def flush(self):
        pass


def test_progress_shows_in_a_notebook_and_turns_off(monkeypatch):
    """The default (None) shows progress in a terminal and in a notebook (an IPython kernel is loaded, stderr is its
    stream, not a terminal); `progress=False` and KGEN_PROGRESS=0 turn it off; True shows it anywhere."""
    monkeypatch.delenv(progress.ENV, raising=False)
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    monkeypatch.setattr(sys, "stderr", _Stream(tty=False))
    assert progress.wanted(None) is False  # a script with stderr to a file
    assert progress.wanted(True) is True and progress.wanted(1) is True
    _pretend_a_notebook(monkeypatch)
    assert progress.wanted(None) is True  # a notebook
    monkeypatch.setattr(sys.modules["IPython"], "get_ipython", lambda: None)
    assert progress.wanted(None) is False  # IPython imported, no kernel: a script
    _pretend_a_notebook(monkeypatch)
    assert progress.wanted(False) is False and progress.wanted(0) is False
    monkeypatch.setenv(progress.ENV, "0")
    assert progress.wanted(None) is False and progress.wanted(True) is True  # an explicit argument wins
    monkeypatch.setenv(progress.ENV, "1")
    monkeypatch.delitem(sys.modules, "IPython")
    assert progress.wanted(None) is True
    monkeypatch.setenv(progress.ENV, "yes")
    with pytest.raises(ValueError, match="KGEN_PROGRESS must be 0"):
        progress.wanted(None)
    with pytest.raises(ValueError, match="`progress` must be True, False or None"):
        progress.wanted("auto")


def test_the_library_shows_progress_by_default_in_a_notebook(monkeypatch):
    """A function of the Python API called without `progress` (here the sampling loop of `kgen sample` and of the
    artifacts writers) draws its bar in a notebook and nothing with progress=False."""
    import numpy as np

    from kgen import artifacts

    monkeypatch.delenv(progress.ENV, raising=False)
    _pretend_a_notebook(monkeypatch)
    for kwargs, shown in (({}, True), ({"progress": False}, False)):
        stream = _Stream(tty=False)
        monkeypatch.setattr(sys, "stderr", stream)
        rows = artifacts.sample_in_batches(lambda idx, seed: np.zeros((len(idx), 2)), 5, batch_size=2, **kwargs)
        assert rows.shape == (5, 2)
        assert ("3/3" in "".join(stream.text)) is shown, stream.text


def test_in_a_real_notebook_kernel(tmp_path):
    """A Jupyter kernel runs `import kgen`: no TensorFlow lines in the cell's output; a kgen loop called without
    `progress` draws its bar in the cell (on stderr), and progress=False draws none."""
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipykernel")
    cells = [
        "import kgen\nmodel = kgen.zoo.get('pixelcnn.tiny')",
        "import numpy as np\nfrom kgen import artifacts\n"
        "rows = artifacts.sample_in_batches(lambda idx, seed: np.zeros((len(idx), 2)), 5, batch_size=2)",
        "rows = artifacts.sample_in_batches(lambda idx, seed: np.zeros((len(idx), 2)), 5, batch_size=2, "
        "progress=False)\nprint('done', rows.shape)",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    env = dict(ENV, KERAS_BACKEND="tensorflow")
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)

    def text(cell, name):
        return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream"
                       and o.get("name") == name)

    first, bar, quiet = notebook.cells
    assert text(first, "stderr") == "" and text(first, "stdout") == "", first.outputs
    assert "3/3" in text(bar, "stderr"), bar.outputs
    assert text(quiet, "stderr") == "" and text(quiet, "stdout").strip() == "done (5, 2)", quiet.outputs

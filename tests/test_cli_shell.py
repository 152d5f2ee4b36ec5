"""The `kgen` command as a shell user meets it: --version, help on every argument, `list --recipes`, a `--help` that
starts neither Keras nor TensorFlow, no native TensorFlow log lines, and `evaluate` outside a run folder (issue 16,
point 6)."""

import argparse
import json
import os
import subprocess
import sys

import pytest

from kgen import __version__, cli, recipes, zoo

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))


def _actions(parser, prefix="kgen"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, f"{prefix} {name}")
        yield prefix, action


def test_every_flag_and_positional_has_help():
    missing = [f"{where}: {action.option_strings or action.dest}"
               for where, action in _actions(cli.build_parser()) if not (action.help or "").strip()]
    assert not missing, missing


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"kgen {__version__}"


def test_list_recipes(capsys):
    assert cli.main(["list", "--recipes"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == recipes.available()
    assert any(line.startswith("pixelcnn_binarized_mnist ") and "PixelCNN" in line for line in lines)
    assert cli.main(["list", "--recipes", "wavenet*"]) == 0
    assert capsys.readouterr().out.split()[0] == "wavenet_fsdd"


def _python(code, *args):
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=ENV, timeout=300)


def test_help_and_version_start_neither_keras_nor_tensorflow():
    """`kgen --help` imports the package lazily (kgen/__init__.py): argv[0] is the console script's name."""
    code = (
        "import sys\n"
        "sys.argv = ['kgen'] + sys.argv[1:]\n"
        "from kgen import cli\n"
        "assert cli.main(sys.argv[1:]) == 0\n"
        "heavy = sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch', 'matplotlib') if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    for argv in (["--help"], ["--version"], ["train", "--help"], ["compress", "--help"], ["plot", "--help"]):
        result = _python(code, *argv)
        assert result.returncode == 0, result.stderr
        assert "HEAVY []" in result.stderr, (argv, result.stderr)
        assert "usage: kgen" in result.stdout or result.stdout.startswith("kgen ")


def test_import_kgen_outside_the_command_registers_the_classes(tmp_path):
    """Library users keep `import kgen` then `keras.saving.load_model`: the lazy import is for the command only."""
    path = tmp_path / "m.keras"
    zoo.get("pixelcnn.tiny").save(path)
    result = _python("import sys, kgen, keras; m = keras.saving.load_model(sys.argv[1]); print(type(m).__name__)",
                     str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("PixelCNN")


def test_the_command_shows_no_native_tensorflow_log_lines():
    """`python -m kgen.cli` runs `cli.run`, the console script's entry: TensorFlow's C++ log lines are filtered out,
    everything else on stderr passes; --debug shows them all."""
    result = subprocess.run([sys.executable, "-m", "kgen.cli", "list", "--pretrained"], capture_output=True,
                            text=True, env=dict(ENV, KERAS_BACKEND="tensorflow"), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "pixelcnn.mnist" in result.stdout
    assert not [line for line in result.stderr.splitlines() if cli._is_native_log(line.encode())], result.stderr
    assert "absl::InitializeLog" not in result.stderr
    bad = subprocess.run([sys.executable, "-m", "kgen.cli", "sample", "pixelcnn.huge", "--out", "x.png"],
                         capture_output=True, text=True, env=dict(ENV, KERAS_BACKEND="tensorflow"), timeout=300)
    assert bad.returncode == 2
    assert [line for line in bad.stderr.splitlines() if line.strip()] == [
        line for line in bad.stderr.splitlines() if line.startswith("kgen sample: error: Unknown model name")]


@pytest.mark.parametrize("line,native", [
    ("I0000 00:00:1796094602.384100   21525 port.cc:153] oneDNN custom operations are on.", True),
    ("W0000 00:00:1796094602.389830   21525 cudart_stub.cc:31] something", True),
    ("E0000 00:00:1796094230.997430   21115 cuda_platform.cc:52] failed call to cuInit: INTERNAL", True),
    ("E0000 00:00:1796094230.997430   21115 op_kernel.cc:1857] OP_REQUIRES failed: out of memory", False),
    ("WARNING: All log messages before absl::InitializeLog() is called are written to STDERR", True),
    ("Traceback (most recent call last):", False),
    ("kgen train: error: argument --epochs: expected an integer at least 1", False),
    ("Epoch 1/10", False),
])
def test_what_counts_as_a_native_log_line(line, native):
    assert cli._is_native_log(line.encode()) is native


def test_the_filter_passes_everything_else_through(tmp_path):
    """Through a real file descriptor 2: partial lines (progress bars) and ordinary lines arrive, native ones not."""
    code = (
        "import os, sys\n"
        "sys.argv = ['kgen']\n"  # the command's lazy import: nothing else writes to stderr
        "from kgen import cli\n"
        "undo = cli._filter_native_logs()\n"
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


def test_evaluate_outside_its_run_folder_takes_the_data_from_data(tmp_path, capsys):
    path = tmp_path / "elsewhere" / "pixelcnn.keras"
    path.parent.mkdir()
    zoo.get("pixelcnn.tiny", image_shape=(28, 28, 1)).save(path)
    assert cli.main(["evaluate", str(path), "--verbose", "0"]) == 2
    assert "`--data` is required" in capsys.readouterr().err
    assert cli.main(["evaluate", str(path), "--data", "binarized_mnist", "--data-source", "embedded",
                     "--split", "test[:32]", "--verbose", "0"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["dataset"] == "binarized_mnist" and result["num_examples"] == 32

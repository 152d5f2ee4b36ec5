"""The `kgen` command as a shell user meets it: --version, help on every argument, `list --recipes`, a `--help` and a
`kgen list` that start neither Keras nor TensorFlow (issue 26, point 2), no native TensorFlow log lines, and
`evaluate` outside a run folder (issue 16, point 6)."""

import argparse
import json
import os
import subprocess
import sys

import pytest

from kgen import __version__, cli, recipes, zoo

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
# The children choose their own TensorFlow log level, as a fresh shell's command does: `import jax` in this process
# (through keras, before kgen sets 2) leaves TF_CPP_MIN_LOG_LEVEL=1 here, which asks the command to show every line.
ENV.pop("TF_CPP_MIN_LOG_LEVEL", None)


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


def test_help_version_and_list_start_neither_keras_nor_tensorflow():
    """`kgen --help` imports the package lazily (kgen/__init__.py): argv[0] is the console script's name; `kgen list`
    answers from kgen/catalog.json and the recipe files."""
    code = (
        "import sys\n"
        "sys.argv = ['kgen'] + sys.argv[1:]\n"
        "from kgen import cli\n"
        "assert cli.main(sys.argv[1:]) == 0\n"
        "heavy = sorted(m for m in ('keras', 'tensorflow', 'jax', 'torch', 'matplotlib') if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    for argv in (["--help"], ["--version"], ["train", "--help"], ["compress", "--help"], ["plot", "--help"],
                 ["list"], ["list", "pixel*"], ["list", "--pretrained"], ["list", "--pretrained", "*.mnist"],
                 ["list", "--recipes"], ["list", "--recipes", "wavenet*"], ["list", "nothing*"]):
        result = _python(code, *argv)
        assert result.returncode == 0, result.stderr
        assert "HEAVY []" in result.stderr, (argv, result.stderr)
        if argv[0] == "list":
            assert bool(result.stdout.strip()) is ("nothing*" not in argv), (argv, result.stdout)
        else:
            assert "usage: kgen" in result.stdout or result.stdout.startswith("kgen ")


def test_list_as_a_shell_runs_it_imports_neither_keras_nor_tensorflow():
    """The real command line (`python -m kgen.cli`, the console script's entry), traced with -X importtime."""
    for argv in (["list"], ["list", "--pretrained"], ["list", "--recipes"]):
        result = subprocess.run([sys.executable, "-X", "importtime", "-m", "kgen.cli", *argv], capture_output=True,
                                text=True, env=dict(ENV, KERAS_BACKEND="tensorflow"), timeout=300)
        assert result.returncode == 0, result.stderr
        imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                    if line.startswith("import time:")}
        assert "kgen" in imported and not imported & {"keras", "tensorflow", "jax", "torch", "matplotlib"}, argv
        assert len(result.stdout.splitlines()) >= 10, (argv, result.stdout)


def test_list_prints_what_the_registry_holds(capsys):
    """The catalog's answer is the registry's (tests/test_catalog.py checks the catalog itself)."""
    for pattern, pretrained in (("*", False), ("pixel*", False), ("*", True), ("*.mnist", True)):
        assert cli.main(["list", pattern] + (["--pretrained"] if pretrained else [])) == 0
        assert capsys.readouterr().out == "".join(
            f"{name:24s} {zoo.describe(name)[0]}\n" for name in zoo.list_models(pattern, pretrained=pretrained))


def test_import_kgen_outside_the_command_registers_the_classes(tmp_path):
    """Library users keep `import kgen` then `keras.saving.load_model`: the lazy import is for the command only."""
    path = tmp_path / "m.keras"
    zoo.get("pixelcnn.tiny").save(path)
    result = _python("import sys, kgen, keras; m = keras.saving.load_model(sys.argv[1]); print(type(m).__name__)",
                     str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("PixelCNN")


def test_the_command_shows_no_native_tensorflow_log_lines(tmp_path):
    """`python -m kgen.cli` runs `cli.run`, the console script's entry: TensorFlow's C++ log lines are filtered out,
    everything else on stderr passes; --debug shows them all (see kgen/native_logs.py, tests/test_output.py)."""
    out = tmp_path / "x.png"
    result = subprocess.run([sys.executable, "-m", "kgen.cli", "sample", "pixelcnn.tiny", "--out", str(out),
                             "--num", "1", "--verbose", "0"], capture_output=True,
                            text=True, env=dict(ENV, KERAS_BACKEND="tensorflow"), timeout=300)
    assert result.returncode == 0, result.stderr
    assert out.is_file() and str(out) in result.stdout
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        "note: 'pixelcnn.tiny' is an untrained zoo model; pass a .keras file for a trained one"], result.stderr
    bad = subprocess.run([sys.executable, "-m", "kgen.cli", "sample", "pixelcnn.huge", "--out", "x.png"],
                         capture_output=True, text=True, env=dict(ENV, KERAS_BACKEND="tensorflow"), timeout=300)
    assert bad.returncode == 2
    assert [line for line in bad.stderr.splitlines() if line.strip()] == [
        line for line in bad.stderr.splitlines() if line.startswith("kgen sample: error: Unknown model name")]


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

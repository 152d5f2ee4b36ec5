"""The README as a person types it: every ```python and ```bash block, in the README's order, in one new working
folder, each Python block in a fresh interpreter and each shell block in bash (stopping at the first failing line),
on a fresh machine's terms: no KGEN_DATA_DIR (the embedded data and the shipped weights only), the Keras default
backend (TensorFlow), the `kgen` command of this environment on PATH.

Three blocks are not run here, each for a stated reason that the test checks still holds: the set-up block (`make
demo`, `make test`: CI runs `make test` itself, and tests/test_cli.py trains the demo recipe), the `pip install`
block (tests/test_packaging.py builds the wheel and installs it), and the TF Serving `curl` block (no server can run
here; tests/test_serving.py sends its bodies to the SavedModels)."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BLOCK = re.compile(r"^```(python|bash)\n(.*?)^```$", re.M | re.S)

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the README's blocks run under the default backend (TensorFlow) only: they choose none, and CI runs the "
           "suite once per backend",
)


def blocks():
    """[(language, code, line number in README.md)] of every fenced python and bash block, in order."""
    text = README.read_text()
    return [(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1) for m in BLOCK.finditer(text)]


def not_run(language, code):
    """Why a block is not run here (None: it is run)."""
    lines = [line.split("#")[0].strip() for line in code.splitlines()]
    commands = [line for line in lines if line]
    if language == "bash" and commands == ["make demo", "make test"]:
        return "set-up: CI runs make test; tests/test_cli.py trains the demo recipe"
    if language == "bash" and commands and all(c.startswith("pip install") or c.startswith("kgen --version")
                                                 for c in commands):
        return "install: tests/test_packaging.py builds and installs the wheel"
    if language == "bash" and "localhost:8501" in code:
        assert code.splitlines()[0].startswith("# (needs a running TF Serving server"), (
            "the README's curl block must say first that it needs a TF Serving server")
        return "TF Serving: tests/test_serving.py checks these bodies on the SavedModels"
    return None


def test_readme_blocks_are_classified():
    """Only the three blocks named in the module docstring are left out, and the set-up block is the Makefile's."""
    found = blocks()
    assert len(found) >= 10, f"the README has only {len(found)} python/bash blocks"
    skipped = [not_run(language, code) for language, code, _ in found]
    assert sum(s is not None for s in skipped) == 3, [s for s in skipped if s]
    assert skipped[0] is not None and skipped[0].startswith("set-up"), "the README must open with make demo / test"
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo: .*\n(\t.*\n)*\t.*kgen train demo ", makefile, re.M), "make demo must run kgen train demo"
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _environment():
    env = {k: v for k, v in os.environ.items() if k not in ("KGEN_DATA_DIR", "KERAS_BACKEND")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MPLBACKEND"] = "Agg"
    return env


def _run(language, code, line, cwd, env):
    command = [sys.executable, "-c", code] if language == "python" else ["bash", "-euo", "pipefail", "-c", code]
    start = time.monotonic()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1200)
    print(f"README.md line {line}: {language} block, {time.monotonic() - start:.0f} s")
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-30:])
        raise AssertionError(f"README.md line {line}: the {language} block failed (exit {result.returncode}):\n{tail}")
    return result


@pytest.mark.slow
def test_every_readme_block_runs_as_typed(tmp_path):
    env = _environment()
    ran = []
    for language, code, line in blocks():
        if not_run(language, code) is None:
            _run(language, code, line, tmp_path, env)
            ran.append(line)
    assert len(ran) >= 8, ran

    # What the blocks say they write is there and shows something.
    with Image.open(tmp_path / "samples.png") as image:
        pixels = np.asarray(image)
    assert pixels.min() == 0 and pixels.max() == 255, "samples.png must show black and white pixels, not one colour"
    digits = sorted((tmp_path / "digits").glob("*.png"))
    assert len(digits) == 8 and all(Image.open(p).size == (28, 28) for p in digits)
    restored = sorted((tmp_path / "restored").rglob("*.png"))
    assert [p.name for p in restored] == [p.name for p in digits], "decompress gave other files"
    for original, back in zip(digits, restored):   # the same pixels and mode (the PNG encoder's bytes may differ)
        with Image.open(original) as a, Image.open(back) as b:
            assert a.mode == b.mode and np.array_equal(np.asarray(a), np.asarray(b)), f"{back} differs from {original}"
    for name in ("pixelcnn.keras", "serving/pixelcnn/1/saved_model.pb", "seven.wav", "romeo.txt", "atoms.png",
                 "digits.kgz", "romeo.kgz", "seven.kgz", "grid.png", "completions.png", "seven7.wav", "seven7.png",
                 "serving/pcnn/1/saved_model.pb", "curves.png", "runs/pcnn/eval.json"):
        assert (tmp_path / name).exists(), f"the README's blocks did not write {name}"
    assert len((tmp_path / "romeo.txt").read_text()) >= 200

"""Property-based fuzzing of the readers of untrusted files (issue 27): tools/fuzz.py with a bounded number of
Hypothesis examples and a fixed seed, each target in a child process under an address-space and a CPU-time limit.
Every example must end in the reader's own error type (CompressedFileError, PresetError, RecipeError) or in a
whole success, never another exception, never a partial output. The longer runs are the tool's (its figures are in
the issue's closing note)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

TOOL = Path(__file__).resolve().parents[1] / "tools" / "fuzz.py"


def test_fuzzing_the_readers_finds_nothing(tmp_path):
    out = tmp_path / "fuzz.json"
    proc = subprocess.run([sys.executable, str(TOOL), "--examples", "50", "--seed", "0", "--memory-mb", "6144",
                           "--cpu-seconds", "600", "--json", str(out)], capture_output=True, text=True, timeout=900)
    reports = json.loads(out.read_text()) if out.exists() else []
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert [r["target"] for r in reports] == ["kgz", "preset", "recipe"]
    for report in reports:
        assert report["failure"] is None and report["examples"] >= 50, report
        errors = {"kgz": "CompressedFileError", "preset": "PresetError", "recipe": "RecipeError"}[report["target"]]
        assert set(report["outcomes"]) <= {errors, "decoded", "loaded", "valid"}
        assert report["outcomes"].get(errors, 0) > report["examples"] // 2  # the damage reaches the readers

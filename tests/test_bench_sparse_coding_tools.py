"""tools/bench_sparse_coding.py and tools/bench_psd.py run end to end (--quick, 2 s of training), once: in the
suite of the backend their `one_backend` marks name."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytest.importorskip("sklearn")


def _run(tool, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / tool), "--quick", "--seconds", "2", "--out", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    # keep the table and the notes (native libraries may log to stdout before it)
    lines = proc.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(("method ", "codes ")))
    return lines[start:]


@pytest.mark.one_backend("torch")
@pytest.mark.slow
def test_bench_sparse_coding_quick(tmp_path):
    lines = _run("bench_sparse_coding.py", tmp_path)
    assert lines[0].split()[:2] == ["method", "wall_s"], lines
    rows = [line for line in lines if line.startswith(("kgen", "sklearn"))]
    assert len(rows) == 2, lines
    ratios = [float(line.split()[-2]) for line in rows]
    assert ratios[1] == 1.0 and ratios[0] > 0, rows
    for name in ("kgen_atoms.png", "sklearn_atoms.png", "results.json"):
        assert (tmp_path / name).is_file()


@pytest.mark.one_backend("torch")
@pytest.mark.slow
def test_bench_psd_quick(tmp_path):
    lines = _run("bench_psd.py", tmp_path)
    assert lines[0].split()[:2] == ["codes", "objective"], lines
    assert all(any(line.startswith(m) for line in lines) for m in ("encoder", "FISTA", "ISTA", "zero")), lines
    assert "speed-up" in lines[-2] or "speed-up" in lines[-1], lines
    for name in ("psd_atoms.png", "model.keras", "results.json"):
        assert (tmp_path / name).is_file()

"""tools/bench_autoencoders.py runs end to end (--quick sizes), once: in the suite of the backend its `one_backend`
mark names."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.one_backend("jax")
@pytest.mark.slow
def test_bench_autoencoders_quick(tmp_path):
    out = tmp_path / "bench.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if keras.backend.backend() == "torch":
        env.setdefault("OMP_NUM_THREADS", "1")
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "bench_autoencoders.py"), "--quick", "--num-filters", "16",
         "--out-dir", str(tmp_path / "png"), "--json", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    assert "QUICK" in proc.stdout and "deep_autoencoder.mnist" in proc.stdout, proc.stdout
    result = json.loads(out.read_text())
    deep = result["deep"]
    assert result["quick"] and result["backend"] == keras.backend.backend()
    assert deep["pca30"]["test_sse_mean"] > 0 and deep["deep_autoencoder.mnist"]["test_sse_mean"] > 0
    assert deep["ratio_ae_over_pca"] == pytest.approx(
        deep["deep_autoencoder.mnist"]["test_sse_mean"] / deep["pca30"]["test_sse_mean"])
    levels = [row["corruption_level"] for row in result["denoising"]]
    assert levels == [0.0, 0.25, 0.5]
    for row in result["denoising"]:
        png = Path(row["png"])
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

"""The benchmark scripts in tools/ run end to end (tiny --smoke sizes), each once: under the backend its
`one_backend` mark names (the scripts do not depend on the backend beyond what the model tests check)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

REPO = Path(__file__).resolve().parents[1]


def run_smoke(script, tmp_path, *args, one_torch_thread=True):
    """Run tools/`script` --smoke on the current backend with --json; return (stdout lines, first JSON result)."""
    backend = keras.backend.backend()
    out = tmp_path / "bench.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if backend == "torch" and one_torch_thread:
        env.setdefault("OMP_NUM_THREADS", "1")  # torch's default threads crawl on tiny ops when the cores are busy
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / script), "--smoke", *args, "--backends", backend, "--json", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    return proc.stdout.splitlines(), json.loads(out.read_text())["results"][0]


@pytest.mark.one_backend("jax")
@pytest.mark.slow
def test_bench_pixelcnn_smoke(tmp_path):
    backend = keras.backend.backend()
    lines, result = run_smoke("bench_pixelcnn.py", tmp_path)
    assert lines[0].split()[:4] == ["backend", "kgen", "img/s", "baseline"], lines
    row = next(line for line in lines[1:] if line.startswith(backend))
    assert "FAILED" not in row, lines
    values = row.split()
    assert len(values) == 10, row  # backend, 6 numbers, "first", "/", "second"
    assert all(float(v) > 0 for v in values[1:7]), row
    assert result["backend"] == backend and "error" not in result
    assert result["params_kgen"] == result["params_baseline"]
    assert result["masks_equal"] and result["sample_same_seed_identical"]
    assert result["sample_shape"] == [2, 8, 8, 1]


@pytest.mark.one_backend("jax")
@pytest.mark.slow
def test_bench_sampling_smoke(tmp_path):
    backend = keras.backend.backend()
    lines, result = run_smoke("bench_sampling.py", tmp_path)
    assert lines[0].split()[:3] == ["backend", "naive_s", "naive_ms/step"], lines
    row = next(line for line in lines[1:] if line.startswith(backend)).split()
    assert row[5] == "True", lines  # cached and naive gave identical images
    assert result["identical"] and result["speedup"] > 0 and result["cached_state_bytes"] > 0
    assert result["naive_steps_timed"] == 8  # one row of the 8x8 tiny model


@pytest.mark.one_backend("torch")
@pytest.mark.slow
def test_bench_sampling_wavenet_smoke(tmp_path):
    backend = keras.backend.backend()
    lines, result = run_smoke("bench_sampling.py", tmp_path, "--model", "wavenet.fsdd", one_torch_thread=False)
    assert lines[0].split() == ["backend", "naive_s", "naive_ms/step", "cached_s", "speedup", "identical", "RTF",
                                "state_MB", "forward_MB"], lines
    row = next(line for line in lines[1:] if line.startswith(backend)).split()
    assert row[5] == "True", lines  # cached and naive gave identical audio codes
    assert result["model"] == "wavenet.tiny" and result["naive_steps_timed"] == 8
    assert result["rtf"] > 0 and result["cached_state_bytes"] > 0


@pytest.mark.one_backend("jax")
@pytest.mark.slow
def test_bench_attention_smoke(tmp_path):
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "bench_attention.py"), "--smoke", "--backend", keras.backend.backend(),
         "--json", str(out)],
        cwd=REPO, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"), capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    results = json.loads(out.read_text())["results"]
    assert {(r["pattern"], r["length"]) for r in results} == {(p, 64) for p in ("dense", "strided", "fixed")}
    assert all("error" not in r and r["seconds"] > 0 for r in results), results
    assert "strided/dense" in proc.stdout


@pytest.mark.one_backend("jax")
@pytest.mark.slow
def test_bench_video_smoke(tmp_path):
    backend = keras.backend.backend()
    lines, result = run_smoke("bench_video.py", tmp_path)
    assert lines[1].split() == ["backend", "params", "data", "s", "step", "s", "data/step", "cached", "s/frame",
                                "naive", "s/frame", "naive/cached"], lines
    row = next(line for line in lines[2:] if line.startswith(backend))
    assert "failed" not in row, lines
    assert result["backend"] == backend and result["frames"] == 4 and result["batch"] == 2
    assert result["data_s"] > 0 and result["step_s"] > 0 and result["cached_frame_s"] > 0 and result["naive_frame_s"] > 0


@pytest.mark.one_backend("torch")
def test_bench_compression_smoke(tmp_path):
    """tools/bench_compression.py --smoke: tiny untrained models code real slices of every task's data and decode
    them exactly; each row has the generic coders, the model's NLL and a payload within a few bits of it."""
    out = tmp_path / "bench.json"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND=keras.backend.backend())
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "bench_compression.py"), "--smoke", "--noise-images", "4", "--json",
         str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    rows = json.loads(out.read_text())
    model_rows = [r for r in rows if "units" in r]
    assert {r["task"] for r in model_rows} == {"binarized_mnist", "shakespeare", "fsdd"}
    # Out of domain (whole .kgz files with the fallback): never much more than the better of raw and LZMA2.
    whole = {r["task"]: r for r in rows if "units" not in r}
    assert set(whole) == {"English prose (LICENSE)", "random bytes", "small file, 230 bytes", "MNIST-shaped noise"}
    for r in whole.values():
        assert r["exact"] and r["kgz_bytes"] <= min(r["raw_bytes"], r["lzma2 (kgen's fallback)"]) + r["header_bytes"]
    for r in model_rows:
        assert r["exact"], r
        assert r["gzip -9"] > 0 and r["bzip2 -9"] > 0 and r["xz -9"] > 0
        # The payload is the NLL plus at most the coder's flush (a few 32-bit words over the whole batch).
        assert r["payload"] * r["units"] <= r["nll"] * r["units"] + 96, r


@pytest.mark.one_backend("tensorflow")
@pytest.mark.slow
@pytest.mark.parametrize("tool, flags, labels, key, recorded", [
    ("bf16_check.py", [], ("float32", "mixed_bfloat16"), "dtype", ("float32", "mixed_bfloat16")),
    ("ema_check.py", ["--ema-momentum", "0.9"], ("trained", "ema_0.9"), "ema_momentum", (None, 0.9)),
])
def test_pair_check_smoke(tmp_path, tool, flags, labels, key, recorded):
    # Two runs of the demo recipe, equal steps, same seed, differing in one recipe key (the run's recipe.json says
    # which); one line per run, the ratios, summary.json; an existing --out is refused before anything is written,
    # and --resume reads the finished runs instead of training them again.
    out = tmp_path / "check"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    command = [sys.executable, str(REPO / "tools" / tool), "demo", "--epochs", "1", "--steps-per-epoch", "3",
               "--data-source", "embedded", "--eval-split", "test[:32]", "--out", str(out), *flags]
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-4000:]
    lines = proc.stdout.splitlines()
    rows = {line.split()[0]: line.split() for line in lines if line.startswith(labels)}
    assert set(rows) == set(labels) and all(r[1] == "nats" for r in rows.values()), lines
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["eval_split"] == "test[:32]"
    base, other = (summary["runs"][label]["value"] for label in labels)
    assert summary["nll_ratio"] == pytest.approx(other / base) and base > 0 and other > 0 and base != other
    for label, value in zip(labels, recorded):
        assert json.loads((out / label / "recipe.json").read_text())["train"][key] == value
    again = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and "exists" in again.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted([*labels, "summary.json"])
    resumed = subprocess.run(command + ["--resume"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0 and "finished earlier" in resumed.stderr, resumed.stderr[-4000:]
    assert json.loads((out / "summary.json").read_text()) == summary


def _run_folder(path, model, nats, epochs, quality=None):
    path.mkdir(parents=True)
    (path / "recipe.json").write_text(json.dumps({"model": model, "train": {"steps_per_epoch": 100, "batch_size": 64}}))
    (path / "eval.json").write_text(json.dumps({"split": "test[:2000]", "nats": nats, "bits_per_dim": nats / 543.4}))
    (path / "metrics.csv").write_text("epoch,loss\n" + "".join(f"{i},1.0\n" for i in range(epochs)))
    if quality:
        (path / "quality.json").write_text(json.dumps({"rows": quality}))


@pytest.mark.one_backend("torch")
def test_equal_budget_table(tmp_path):
    # One row per finished run in the script's order, the best NLL in bold, FD and confidence where scored ("-" where
    # not), the ceiling and floor from the first scored run; an unfinished run (no eval.json) is left out.
    import equal_budget_table as tool

    rows = {"real": {"frechet_distance": 10.06, "confidence": 0.9886},
            "model": {"frechet_distance": 40.5, "confidence": 0.85},
            "untrained": {"frechet_distance": 348.45, "confidence": 0.1002}}
    _run_folder(tmp_path / "pixelcnn", "pixelcnn.mnist", 89.29, 36, quality=rows)
    _run_folder(tmp_path / "pixelrnn_row", "pixelrnn_row.mnist", 86.01, 38)
    (tmp_path / "gated_pixelcnn").mkdir()  # still training
    lines = tool.table(tmp_path, parameters=lambda name: 1234567)
    assert lines[2] == "| `pixelrnn_row.mnist` | 1,234,567 | 38 x 100 x 64 | **86.01** | 0.1583 | - | - |"
    assert lines[3] == "| `pixelcnn.mnist` | 1,234,567 | 36 x 100 x 64 | 89.29 | 0.1643 | 40.50 | 0.8500 |"
    assert len(lines) == 6 and "test[:2000] nats/image" in lines[0]
    assert lines[5] == ("Real test digits: FD 10.06, confidence 0.9886; an untrained `pixelcnn.mnist`: FD 348.45, "
                        "confidence 0.1002.")
    assert tool.main([str(tmp_path / "nothing")]) == 2


@pytest.mark.one_backend("torch")
@pytest.mark.parametrize("value", ["1", "0", "1.5", "abc", "nan"])
def test_ema_check_refuses_a_momentum_outside_0_1_before_training(tmp_path, value):
    import ema_check as tool

    with pytest.raises(SystemExit, match="--ema-momentum must be a number above 0 and below 1"):
        tool.main(["demo", "--epochs", "1", "--steps-per-epoch", "1", "--ema-momentum", value,
                   "--out", str(tmp_path / "check")])
    assert not (tmp_path / "check").exists()

"""The CLI and recipe runner with a video model: a tiny VPN on Moving MNIST made from the embedded MNIST subset
(nats per frame beside the targets' entropy, strips and a GIF after training, `kgen sample --context --frames`,
`--resume`)."""

import json

from PIL import Image

from kgen import cli

RECIPE = """
model = "video_pixel_network.tiny"
[model_args]
frame_shape = [32, 32, 1]
num_context_frames = 2
[data]
name = "moving_mnist"
train_split = "train"
eval_split = "test[:3]"
monitor_split = "test[:2]"
source = "embedded"
options = { frame_size = 32, num_frames = 4 }
eval_options = { frame_size = 32, num_frames = 4 }
eval_batch_size = 2
[train]
batch_size = 2
epochs = 2
steps_per_epoch = 2
num_samples = 1
"""


def test_train_evaluate_sample_and_resume(tmp_path, capsys):
    recipe = tmp_path / "vpn_tiny.toml"
    recipe.write_text(RECIPE)
    run = tmp_path / "run"
    assert cli.main(["train", str(recipe), "--out", str(run), "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "nats/frame over the predicted frames (the targets' own entropy:" in out and "(3 sequences)" in out
    result = json.loads((run / "eval.json").read_text())
    assert result["dataset"] == "moving_mnist" and result["split"] == "test[:3]" and result["num_examples"] == 3
    assert 0 < result["target_entropy_per_frame"] < result["nats_per_frame"]
    # after training: 1 video, strips of 2 context, 2 generated, 2 true frames, and the GIF of 4 frames
    assert Image.open(run / "samples.png").size == (2 * 64 + 1, 3 * 64 + 2)
    assert Image.open(run / "samples.gif").n_frames == 4

    strip = tmp_path / "strip.png"
    assert cli.main(["sample", str(run), "--context", "3", "--frames", "1", "--num", "2", "--out", str(strip),
                     "--verbose", "1"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1
    assert "wrote 2 videos (3 context frames, 1 generated, the truth)" in captured.out
    assert "1/1" in captured.err and "/batch" in captured.err
    assert Image.open(strip).size == (3 * 64 + 2, 6 * 64 + 5) and Image.open(tmp_path / "strip.gif").n_frames == 4

    # The strips and the GIF are written both or neither: a folder where the GIF goes keeps the PNG from being made.
    (tmp_path / "taken.gif").mkdir()
    status = cli.main(["sample", str(run), "--num", "1", "--out", str(tmp_path / "taken.png"), "--verbose", "0"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status != 0 and len(err) == 1 and "taken.gif" in err[0], err
    assert not (tmp_path / "taken.png").exists() and not any((tmp_path / "taken.gif").iterdir())

    # --resume of a finished run (no backup/ left): refused, and the run folder is left as it was.
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    capsys.readouterr()
    assert cli.main(["train", str(recipe), "--out", str(run), "--resume", "--epochs", "3", "--verbose", "0"]) == 2
    assert "finished (metrics.csv records 2 epoch(s)" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before

"""Pictures where people would rather look than read (issue 16, point 8): `kgen plot` / `kgen.plotting.plot_curves`
(learning curves of run folders) and `kgen.plotting.spectrogram` / `write_spectrogram` (beside every WAV written)."""

import numpy as np
import pytest
from PIL import Image

from kgen import cli, plotting

HEADER = "epoch,bits_per_dim,elapsed_min,loss,nats,val_bits_per_dim,val_loss,val_nats"
TAB_BLUE, TAB_ORANGE = (31, 119, 180), (255, 127, 14)  # matplotlib's first two line colours: the two runs


def _run(folder, rows, header=HEADER):
    folder.mkdir(parents=True)
    (folder / "metrics.csv").write_text("\n".join([header] + rows) + "\n")
    return folder


def _image_runs(root):
    a = _run(root / "run_a", [f"{e},{0.2 - e / 100},{1.5 * (e + 1)},{120 - 5 * e},{120 - 5 * e},0,{100 - 3 * e},"
                              f"{100 - 3 * e}" for e in range(6)])
    b = _run(root / "run_b", ["0,0.3,2.0,150,150,,,", "1,0.25,4.1,130,130,,,", "2,0.2,6.0,118,118,,,"])  # no val_
    return a, b


def _has_colour(pixels, colour, tolerance=12):
    return bool(np.any(np.all(np.abs(pixels[..., :3].astype(int) - colour) <= tolerance, axis=-1)))


def test_two_runs_make_one_png_with_a_colour_per_run(tmp_path):
    a, b = _image_runs(tmp_path)
    path = plotting.plot_curves([a, b], tmp_path / "out" / "curves.png")
    assert path == tmp_path / "out" / "curves.png"
    assert [p.name for p in path.parent.iterdir()] == ["curves.png"]  # no temporary file left
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (800, 320)
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.std() > 10 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # not blank
    assert _has_colour(pixels, TAB_BLUE) and _has_colour(pixels, TAB_ORANGE)
    one = np.asarray(Image.open(plotting.plot_curves(a, tmp_path / "one.png")).convert("RGB"))
    assert _has_colour(one, TAB_BLUE) and not _has_colour(one, TAB_ORANGE)


def test_the_command_and_the_default_metric(tmp_path, capsys):
    a, b = _image_runs(tmp_path)
    out = tmp_path / "c.png"
    assert cli.main(["plot", str(a), str(b), "--out", str(out), "--metric", "loss"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote the learning curves of 2 run(s) to {out}"
    assert out.stat().st_size > 1000
    tables = [plotting.read_metrics(a), plotting.read_metrics(b)]
    assert plotting._choose_metric([a, b], tables, None) == "nats"
    assert np.isnan(tables[1]["val_nats"]).all() and tables[0]["val_nats"][5] == 85.0
    text = _run(tmp_path / "text", ["0,4.3,2.5,3.0,3.0,3.5,2.4,2.4"],
                "epoch,bits_per_token,elapsed_min,loss,nats_per_token,val_bits_per_token,val_loss,val_nats_per_token")
    assert plotting._choose_metric([text], [plotting.read_metrics(text)], None) == "bits_per_token"
    assert plotting._choose_metric([a, text], [tables[0], plotting.read_metrics(text)], None) == "loss"


@pytest.mark.parametrize("make, kwargs, match", [
    (lambda r: r / "nothing_here", {}, "is not a folder"),
    (lambda r: (r / "no_csv").mkdir() or r / "no_csv", {}, "has no metrics.csv"),
    (lambda r: _run(r / "empty", []), {}, "holds no epochs"),
    (lambda r: _run(r / "header_only", [], header=""), {}, "holds no epochs"),
    (lambda r: _run(r / "garbled", ["0,0.2,1.0,x,1,1,1,1"]), {}, "line 2 of metrics.csv, column 'loss'"),
    (lambda r: _run(r / "short", ["0,0.2,1.0"]), {}, "has 3 cells"),
    (lambda r: _image_runs(r)[0], {"metric": "bogus"}, "'bogus' is not a column of run .*run_a.*val_nats"),
    (lambda r: _image_runs(r)[0], {"metric": "val_nats"}, "train column"),
    (lambda r: _image_runs(r)[0], {"path": "curves.jpg"}, "must end in .png"),
    (lambda r: [], {}, "non-empty list"),
])
def test_bad_input_names_what_is_wrong_and_writes_nothing(tmp_path, make, kwargs, match):
    runs = make(_mkdir(tmp_path / "in"))
    path = tmp_path / "out" / kwargs.pop("path", "curves.png")
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        plotting.plot_curves(runs, path, **kwargs)
    assert not (tmp_path / "out").exists()


def _mkdir(path):
    path.mkdir()
    return path


def test_the_spectrogram_of_a_sine_peaks_at_its_frequency(tmp_path):
    rate, t = 8000, np.arange(8000) / 8000
    for hertz in (440.0, 1000.0, 2500.0):
        wave = (0.5 * np.sin(2 * np.pi * hertz * t)).astype("float32")
        frequencies, times, decibels = plotting.spectrogram(wave, rate)
        assert decibels.shape == (len(frequencies), len(times)) and frequencies[-1] == rate / 2
        assert abs(times[-1] - 1.0) < 0.05
        brightest = frequencies[np.argmax(decibels.mean(axis=1))]
        assert abs(brightest - hertz) <= rate / 256, (hertz, brightest)  # within one bin of 256-sample windows
    path = plotting.write_spectrogram(tmp_path / "sine.png", wave, rate)
    with Image.open(path) as image:
        assert image.size == (480, 240)
        assert np.asarray(image.convert("L")).std() > 10
    with pytest.raises(ValueError, match="waveform"):
        plotting.write_spectrogram(tmp_path / "bad.png", np.zeros((2, 8)), rate)
    with pytest.raises(ValueError, match="rate"):
        plotting.write_spectrogram(tmp_path / "bad.png", wave, 0)
    assert [p.name for p in tmp_path.iterdir()] == ["sine.png"]

"""Bad input through the `kgen` command, as one table: every case exits with status 2 and one line on stderr that
names the argument and what was expected, with no Python traceback and nothing new on disk (issue 16, point 5).

The model files are tiny untrained zoo models saved once for the module; the cases run `kgen.cli.main` in this
process (the console script is `kgen.cli.run`, which adds only the log filter tested in tests/test_cli_shell.py).
"""

import os
import wave

import numpy as np
import pytest

from kgen import cli, zoo

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)


def _save(name, path, **kwargs):
    model = zoo.get(name, **kwargs)
    model.save(path)
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The inputs every case may name, made once; `snapshot` lists them so a case can check nothing was added."""
    root = tmp_path_factory.mktemp("inputs")
    f = {
        "root": str(root),
        "pixelcnn": _save("pixelcnn.tiny", root / "pixelcnn.keras"),
        "conditional": _save("gated_pixelcnn.tiny", root / "conditional.keras", num_classes=3),
        "autoencoder": _save("autoencoder.tiny", root / "autoencoder.keras"),
        "lstm": _save("lstm_lm.tiny", root / "lstm.keras"),
        "wavenet": _save("wavenet.tiny", root / "wavenet.keras"),
    }
    (root / "corrupt.keras").write_bytes(b"this is not a zip file")
    f["corrupt"] = str(root / "corrupt.keras")
    (root / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    f["png"] = str(root / "picture.png")
    from PIL import Image

    Image.fromarray(np.zeros((5, 7), np.uint8), mode="L").save(root / "odd.png")
    f["odd_png"] = str(root / "odd.png")
    (root / "text.txt").write_text("to be or not to be\n")
    f["txt"] = str(root / "text.txt")
    with wave.open(str(root / "fast.wav"), "wb") as w:  # 16 kHz: not the 8 kHz of the models here
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(np.zeros(1600, np.int16).tobytes())
    f["wav16k"] = str(root / "fast.wav")
    (root / "empty_run").mkdir()
    f["empty_run"] = str(root / "empty_run")
    (root / "existing_export").mkdir()
    f["existing_export"] = str(root / "existing_export")
    (root / "existing.kgz").write_bytes(b"keep me")
    f["existing_kgz"] = str(root / "existing.kgz")
    (root / "not_a.kgz").write_bytes(b"PK\x03\x04 something else entirely")
    f["not_kgz"] = str(root / "not_a.kgz")
    (root / "bad.toml").write_text("model = \n")
    f["bad_toml"] = str(root / "bad.toml")
    (root / "typo.toml").write_text('model = "pixelcnn.tiny"\n[train]\nbatchsize = 3\n')
    f["typo_toml"] = str(root / "typo.toml")
    (root / "old_run").mkdir()
    (root / "old_run" / "metrics.csv").write_text("epoch\n")
    f["old_run"] = str(root / "old_run")
    (root / "short_run").mkdir()
    (root / "short_run" / "metrics.csv").write_text("epoch,elapsed_min,loss,val_loss\n0,0.5,3.0,2.9\n")
    f["short_run"] = str(root / "short_run")
    (root / "finished_run").mkdir()  # what a finished run keeps: no backup/ (Keras removes it at the end)
    (root / "finished_run" / "model.keras").write_bytes((root / "pixelcnn.keras").read_bytes())
    (root / "finished_run" / "metrics.csv").write_text("epoch,elapsed_min,loss\n0,0.1,3.0\n1,0.2,2.5\n")
    f["finished_run"] = str(root / "finished_run")
    return f


# (argv, what the one error line must contain). {name} is a path from `files`; {out} a path under a fresh folder.
CASES = [
    # the command line itself (argparse)
    (["bogus"], "argument COMMAND: invalid choice: 'bogus'"),
    (["list", "--bogus-flag"], "unrecognized arguments: --bogus-flag"),
    (["train", "demo"], "the following arguments are required: --out"),
    (["train", "demo", "--out", "{out}/r", "--epochs", "0"], "argument --epochs: expected an integer at least 1"),
    (["train", "demo", "--out", "{out}/r", "--epochs", "ten"], "argument --epochs: expected an integer"),
    (["train", "demo", "--out", "{out}/r", "--epochs", "1000000000000"], "at most 1,000,000, got 1000000000000"),
    (["train", "demo", "--out", "{out}/r", "--batch-size", "-1"], "argument --batch-size: expected an integer"),
    (["train", "demo", "--out", "{out}/r", "--steps-per-epoch", "2.5"], "argument --steps-per-epoch: expected an integer"),
    (["train", "demo", "--out", "{out}/r", "--learning-rate", "0"], "argument --learning-rate: expected a number above 0"),
    (["train", "demo", "--out", "{out}/r", "--learning-rate", "nan"], "argument --learning-rate: expected a number"),
    (["train", "demo", "--out", "{out}/r", "--time-budget-minutes", "-5"], "argument --time-budget-minutes"),
    (["train", "demo", "--out", "{out}/r", "--ema-momentum", "0"], "argument --ema-momentum: expected a number above 0"),
    (["train", "demo", "--out", "{out}/r", "--ema-momentum", "1"], "ema_momentum`: input should be less than 1"),
    (["train", "demo", "--out", "{out}/r", "--seed", "-1"], "argument --seed: expected an integer at least 0"),
    (["train", "demo", "--out", "{out}/r", "--data-source", "ftp"], "argument --data-source: invalid choice: 'ftp'"),
    (["train", "demo", "--out", "{out}/r", "--verbose", "7"], "argument --verbose: expected an integer at least 0"),
    (["sample", "{pixelcnn}", "--out", "{out}/g.png", "--num", "0"], "argument --num: expected an integer at least 1"),
    (["sample", "{pixelcnn}", "--out", "{out}/g.png", "--num", "100000"], "argument --num: expected an integer"),
    (["sample", "{wavenet}", "--out", "{out}/a.wav", "--seconds", "0"], "argument --seconds: expected a number above"),
    (["sample", "{wavenet}", "--out", "{out}/a.wav", "--rate", "0"], "argument --rate: expected an integer at least 1"),
    (["sample", "{wavenet}", "--out", "{out}/a.wav", "--guidance", "-1"], "argument --guidance: expected a number at least 0"),
    (["sample", "{pixelcnn}", "--out", "{out}/g.png", "--guidance", "2"], "`--guidance` needs a class-conditional model"),
    (["sample", "{wavenet}", "--out", "{out}/a.wav", "--guidance", "2"], "`--guidance` needs a class-conditional model"),
    (["sample", "{lstm}", "--out", "{out}/t.txt", "--sampler", "best"], "argument --sampler: invalid choice"),
    (["sample", "{conditional}", "--out", "{out}/g.png", "--label", "-1"], "argument --label: expected an integer"),
    (["complete", "{pixelcnn}", "--out", "{out}/c.png", "--completions", "0"], "argument --completions"),
    (["compress", "{lstm}", "{txt}", "--out", "{out}/x.kgz", "--batch-size", "0"], "argument --batch-size"),
    (["compress", "{lstm}", "{txt}", "--out", "{out}/x.kgz", "--segment-length", "-4"], "argument --segment-length"),
    # names and files
    (["train", "pixelcnn.huge", "--out", "{out}/r"], "Unknown model name 'pixelcnn.huge'"),
    (["train", "{root}/missing.toml", "--out", "{out}/r"], "does not exist"),
    (["train", "{bad_toml}", "--out", "{out}/r"], "not valid TOML"),
    (["train", "{typo_toml}", "--out", "{out}/r"], "batchsize"),
    (["train", "demo", "--out", "{out}/r", "--resume"], "no run to resume"),
    (["train", "demo", "--out", "{finished_run}", "--resume", "--epochs", "3"],
     "--resume: the run in {finished_run!r} finished (metrics.csv records 2 epoch(s)"),
    (["train", "demo", "--out", "{out}/r", "--train-split", "train[5:x]"], "split"),
    (["train", "demo", "--out", "{old_run}"], "--resume"),
    (["evaluate", "{root}/nothing.keras"], "`model` file"),
    (["evaluate", "{png}"], "`model` must be a .keras file"),
    (["evaluate", "{empty_run}"], "`model` file"),
    (["evaluate", "{pixelcnn}"], "`--data` is required"),
    (["evaluate", "{pixelcnn}", "--data", "cifar99"], "cifar99"),
    (["sample", "{corrupt}", "--out", "{out}/g.png"], "not a readable .keras model"),
    (["sample", "pixelcnn.huge", "--out", "{out}/g.png"], "Unknown model name"),
    (["sample", "{pixelcnn}", "--out", "{out}/g.wav"], "--out"),
    (["sample", "{conditional}", "--out", "{out}/g.png", "--label", "99"], "label"),
    (["sample", "{wavenet}", "--out", "{out}/a.wav", "--prompt", "{wav16k}"], "rate"),
    (["sample", "{wavenet}", "--out", "{out}/a.wav", "--prompt", "{root}/missing.wav"], "--prompt"),
    (["complete", "{lstm}", "--out", "{out}/c.png", "--data", "binarized_mnist"], "does not complete images"),
    (["encode", "{pixelcnn}", "--out", "{out}/codes.npz", "--data", "binarized_mnist"], "has no codes"),
    (["encode", "{autoencoder}", "--out", "{out}/codes.txt", "--data", "binarized_mnist"], "`--out` must be an .npz"),
    (["export", "{pixelcnn}", "{existing_export}"], "already exists"),
    (["export", "{corrupt}", "{out}/serving"], "not a readable .keras model"),
    (["compress", "pixelcnn.huge", "{txt}", "--out", "{out}/x.kgz"], "neither a file nor a zoo preset"),
    (["compress", "{autoencoder}", "{txt}", "--out", "{out}/x.kgz"], "codes nothing"),
    (["compress", "{lstm}", "{root}/missing.txt", "--out", "{out}/x.kgz"], "missing.txt"),
    (["compress", "{lstm}", "{txt}", "--out", "{existing_kgz}"], "exists; pass overwrite=True (--force)"),
    (["compress", "{pixelcnn}", "{odd_png}", "--out", "{out}/x.kgz"], "odd.png"),
    (["compress", "{pixelcnn}", "{wav16k}", "--out", "{out}/x.kgz"], "fast.wav"),
    (["decompress", "{not_kgz}", "--out", "{out}/restored"], "not a kgen compressed file"),
    (["decompress", "{root}/missing.kgz", "--out", "{out}/restored"], "missing.kgz"),
    (["plot", "{short_run}"], "the following arguments are required: --out"),
    (["plot", "{short_run}", "--out", "{out}/curves.jpg"], "`path` must end in .png"),
    (["plot", "{empty_run}", "--out", "{out}/curves.png"], "has no metrics.csv"),
    (["plot", "{root}/missing_run", "--out", "{out}/curves.png"], "'{root}/missing_run' is not a folder"),
    (["plot", "{old_run}", "--out", "{out}/curves.png"], "metrics.csv holds no epochs"),
    (["plot", "{short_run}", "--out", "{out}/curves.png", "--metric", "nats"],
     "'nats' is not a column of run '{short_run}'; its columns: epoch, elapsed_min, loss, val_loss"),
    (["plot", "{short_run}", "{empty_run}", "--out", "{out}/curves.png"], "has no metrics.csv"),
]


def _listing(root):
    return sorted(os.path.join(d, n) for d, dirs, names in os.walk(root) for n in dirs + names)


@pytest.mark.parametrize("argv,expected", CASES, ids=[f"{i:02d}-{c[0][0]}" for i, c in enumerate(CASES)])
def test_bad_input_is_one_clear_line_and_exit_status_2(files, tmp_path, capsys, argv, expected):
    out = tmp_path / "out"
    out.mkdir()
    argv = [a.format(out=out, **files) for a in argv]
    before = _listing(files["root"])
    status = cli.main(argv)
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip()]
    assert status == 2, captured.err
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("kgen") and ": error: " in lines[0], lines[0]
    assert expected.format(**files) in lines[0], lines[0]
    assert "Traceback" not in captured.err + captured.out
    assert _listing(files["root"]) == before  # no partial output next to the inputs
    assert _listing(out) == []  # and none where the output would have gone


def test_the_table_is_at_least_forty_cases():
    assert len(CASES) >= 40
    assert len({tuple(argv) for argv, _ in CASES}) == len(CASES)


def test_debug_shows_the_traceback(files):
    with pytest.raises(ValueError, match="Unknown model name"):
        cli.main(["--debug", "sample", "pixelcnn.huge", "--out", "g.png"])


def test_an_internal_error_is_one_line_with_status_1(monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("something inside broke")

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_fn(parser(), broken))
    assert cli.main(["list"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("kgen list: internal error: RuntimeError: something inside broke (run again with --debug "
                           "for the traceback)")


def _with_fn(parser, fn):
    parser.set_defaults(fn=fn)
    for action in parser._subparsers._group_actions:
        for sub in action.choices.values():
            sub.set_defaults(fn=fn)
    return parser

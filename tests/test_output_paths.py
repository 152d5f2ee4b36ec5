"""Output paths never lose data (issue 27, class 1): kgen never deletes a folder or a file that it did not write to
replace it; --force replaces a file of the same kind, never a folder, never an input.

One table of `kgen` command lines, run in a fresh folder that holds the same files every time. Each case asserts the
exit status, the one stderr line naming the path and what was expected, and every file on disk afterwards: on
failure nothing changed (no file gone, none added, no byte different); on success only the named output changed.
The rule itself lives in kgen/io.py (`atomic_path`, `check_output_path`, `write_files`).
"""

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from kgen import cli, compression, io, pretrained, zoo

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)

TEXT = b"To be, or not to be, that is the question.\n"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny untrained models saved once (read-only inputs of every case) and a .kgz made with one of them."""
    import keras

    root = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(1)
    paths = {}
    for name in ("pixelcnn.tiny", "lstm_lm.tiny", "autoencoder.tiny"):
        paths[name] = root / f"{name.split('.')[0]}.keras"
        zoo.get(name).save(paths[name])
    (root / "a.txt").write_bytes(TEXT)
    paths["kgz"] = root / "texts.kgz"
    compression.compress(keras.saving.load_model(paths["lstm_lm.tiny"]), [root / "a.txt"], paths["kgz"],
                         model_name=str(paths["lstm_lm.tiny"]))
    return {k: str(v) for k, v in paths.items()}


def _make_folder(root, models):
    """The files every case starts from, in `root` (the current folder of the case)."""
    (root / "in").mkdir()
    (root / "in" / "a.txt").write_bytes(b"an older version\n")
    (root / "in" / "b.txt").write_bytes(TEXT.upper())
    (root / "a.txt").write_bytes(TEXT)
    (root / "grid.png").mkdir()  # a folder named like a file
    (root / "grid.png" / "keep.txt").write_text("mine")
    (root / "notes.png").write_text("a text file named .png")
    (root / "picture.kgz").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))  # a PNG named .kgz
    (root / "old.kgz").write_bytes(Path(models["kgz"]).read_bytes())  # a real .kgz: --force may replace it
    (root / "codes.npz").mkdir()
    (root / "codes.npz" / "keep.txt").write_text("mine")
    (root / "a_file").write_text("not a folder")
    (root / "project").mkdir()
    (root / "project" / "train.py").write_text("print('my code')\n")
    (root / "restored").mkdir()
    (root / "restored" / "a.txt").mkdir()  # a folder where an item would go
    (root / "restored" / "a.txt" / "keep.txt").write_text("mine")
    (root / "texts.kgz").write_bytes(Path(models["kgz"]).read_bytes())


def _state(root):
    """{relative path: sha256 of the file, or "folder"} of everything under `root`."""
    state = {}
    for folder, dirs, names in os.walk(root):
        for d in dirs:
            state[os.path.relpath(os.path.join(folder, d), root)] = "folder"
        for n in names:
            path = os.path.join(folder, n)
            state[os.path.relpath(path, root)] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return state


# (argv, exit status, what the one stderr line must contain (None: no line), the paths that may change).
# {pixelcnn}, {lstm}, {autoencoder}: the saved models; paths are relative to the case's folder.
CASES = [
    # a folder at a file's place is never replaced, with or without --force
    (["compress", "{lstm}", "in/a.txt", "--out", "in", "--force"], 2, "--out 'in' is a folder", []),
    (["compress", "{lstm}", "a.txt", "--out", "grid.png", "--force"], 2, "--out 'grid.png' is a folder", []),
    (["sample", "{pixelcnn}", "--out", "grid.png", "--num", "1"], 2, "--out 'grid.png' is a folder", []),
    (["encode", "{autoencoder}", "--out", "codes.npz", "--data", "binarized_mnist", "--data-source", "embedded"],
     2, "--out 'codes.npz' is a folder", []),
    (["decompress", "texts.kgz", "--out", "restored", "--force"], 2, "restored/a.txt' is a folder", []),
    # an input is never an output
    (["compress", "{lstm}", "a.txt", "--out", "a.txt", "--force"], 2, "is one of the inputs", []),
    (["compress", "{lstm}", "in/a.txt", "in/b.txt", "--out", "in/b.txt", "--force"], 2, "is one of the inputs", []),
    (["sample", "{pixelcnn}", "--out", "{pixelcnn}", "--num", "1"], 2, "is one of the inputs", []),
    (["evaluate", "{pixelcnn}", "--out", "{pixelcnn}", "--data", "binarized_mnist"], 2, "is one of the inputs", []),
    (["decompress", "texts.kgz", "--out", "texts.kgz"], 2, "--out 'texts.kgz' is a file; expected a folder", []),
    # a file of another kind is never replaced, even with --force
    (["compress", "{lstm}", "a.txt", "--out", "picture.kgz", "--force"], 2,
     "'picture.kgz' holds a PNG image, not a kgen compressed file", []),
    (["sample", "{pixelcnn}", "--out", "notes.png", "--num", "1"], 2, "'notes.png' holds a text, not a PNG image", []),
    # a file where a folder goes
    (["export", "{pixelcnn}", "a_file"], 2, "OUT 'a_file' is a file; expected a folder", []),
    (["train", "demo", "--out", "a_file"], 2, "--out 'a_file' is a file; expected a folder", []),
    (["decompress", "texts.kgz", "--out", "a_file"], 2, "--out 'a_file' is a file; expected a folder", []),
    # empty paths
    (["decompress", "texts.kgz", "--out", ""], 2, "--out must be a non-empty path", []),
    (["sample", "{pixelcnn}", "--out", ""], 2, "--out must be a non-empty path", []),
    # what --force is for: a file of the same kind, and nothing else changes
    (["compress", "{lstm}", "in/b.txt", "--out", "old.kgz", "--force"], 0, None, ["old.kgz"]),
    (["decompress", "texts.kgz", "--out", "in", "--force"], 0, None, ["in/a.txt"]),
    (["sample", "{pixelcnn}", "--out", "new/grid.png", "--num", "1"], 0, None, ["new", "new/grid.png"]),
]


@pytest.mark.parametrize("argv,status,expected,changes", CASES,
                         ids=[f"{i:02d}-{c[0][0]}" for i, c in enumerate(CASES)])
def test_output_paths_lose_nothing(models, tmp_path, monkeypatch, capsys, argv, status, expected, changes):
    _make_folder(tmp_path, models)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KGEN_PROGRESS", "0")
    argv = [a.format(pixelcnn=models["pixelcnn.tiny"], lstm=models["lstm_lm.tiny"],
                     autoencoder=models["autoencoder.tiny"]) for a in argv]
    before = _state(tmp_path)
    assert cli.main(argv) == status, capsys.readouterr().err
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip() and not line.startswith("note:")]
    after = _state(tmp_path)
    if expected is None:
        assert err == []
    else:
        assert len(err) == 1 and err[0].startswith(f"kgen {argv[0]}: error: ") and expected in err[0], err
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert changed == sorted(changes)


def test_the_table_covers_every_writing_command():
    commands = {argv[0] for argv, *_ in CASES}
    assert commands >= {"compress", "decompress", "sample", "encode", "evaluate", "export", "train"}


# ================================================================================================ the Python API
def test_save_preset_never_replaces_a_project_folder(tmp_path):
    model = zoo.get("pixelcnn.tiny")
    project = tmp_path / "my_project"
    project.mkdir()
    (project / "train.py").write_text("print('my code')\n")
    (project / "README.md").write_text("# my project\n")
    before = _state(tmp_path)
    with pytest.raises(ValueError, match="not a preset folder kgen wrote"):
        pretrained.save_preset(model, project)
    assert _state(tmp_path) == before
    # A preset folder that kgen wrote is replaced (the same names, written anew).
    pretrained.save_preset(model, tmp_path / "preset")
    pretrained.save_preset(model, tmp_path / "preset")
    assert (tmp_path / "preset" / "config.json").is_file()


@pytest.mark.parametrize("old,new,error", [
    ("folder", "file", "is a folder"),
    ("file", "folder", "is a file"),
    ("png", "text", "holds a PNG image, not a text"),
    ("zip", "png", "holds a zip archive"),
    ("folder+extra", "folder", "would not write again"),
])
def test_atomic_path_refuses_what_it_would_lose(tmp_path, old, new, error):
    target = tmp_path / "target"
    if old.startswith("folder"):
        target.mkdir()
        (target / "same").write_text("old")
        if old == "folder+extra":
            (target / "extra").write_text("not kgen's")
    else:
        target.write_bytes({"file": b"text", "png": b"\x89PNG\r\n\x1a\n....", "zip": b"PK\x03\x04...."}[old])
    before = _state(tmp_path)
    with pytest.raises((FileExistsError, IsADirectoryError), match=error):
        with io.atomic_path(target) as tmp:
            if new == "folder":
                tmp.mkdir()
                (tmp / "same").write_text("new")
            else:
                tmp.write_bytes(b"\x89PNG\r\n\x1a\n new" if new == "png" else b"new text")
    assert _state(tmp_path) == before  # the old content, and no temporary left


@pytest.mark.parametrize("old,new", [("text", "data"), ("empty", "png"), ("png", "png")])
def test_atomic_path_replaces_a_file_of_the_same_kind(tmp_path, old, new):
    content = {"text": b"some text", "data": bytes(range(256)), "empty": b"", "png": b"\x89PNG\r\n\x1a\n...."}
    target = tmp_path / "target"
    target.write_bytes(content[old])
    with io.atomic_path(target) as tmp:
        tmp.write_bytes(content[new] + b"!")
    assert target.read_bytes() == content[new] + b"!" and _state(tmp_path) == {"target": _sha(content[new] + b"!")}


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def test_a_long_name_gets_a_temporary_that_fits(tmp_path):
    target = tmp_path / ("x" * 250 + ".png")  # a legal name: its temporary must fit in 255 bytes too
    with io.atomic_path(target) as tmp:
        assert len(tmp.name.encode()) <= 255
        tmp.write_bytes(b"\x89PNG\r\n\x1a\n")
    assert target.is_file()
    np.testing.assert_equal(sorted(p.name for p in tmp_path.iterdir()), [target.name])

"""One clear line for every malformed file (issue 27, class 4): exit status 2, one stderr line that names the file and
what is wrong with it, no Python traceback, no Pillow warning, and nothing new on disk.

The files are made once for the module from real ones (a preset folder kgen wrote, a run folder, a .kgz) and then
damaged the ways a disk, an editor or an attacker would: preset JSON that is null, nested 200,000 deep or 5 MB, a
weights file that declares a 1 GB array, a run's recipe.json that is not JSON, not an object or not a recipe, PNG
files that are bombs, animated or empty, .kgz headers with unknown codes. (A metrics.csv whose last row a full disk
cut: tests/test_faults.py, with the interrupted run it needs.)
"""

import hashlib
import json
import os
import shutil
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from kgen import cli, compression, zoo

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)


def _png_header_only(path, width, height):
    """A PNG that declares width x height grey pixels and holds none (what a bomb looks like before decoding)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def _preset_variant(base, root, name, edit):
    folder = root / name
    shutil.copytree(base, folder)
    edit(folder)
    return str(folder)


def _set_weights_file(folder, write):
    """Replace model.weights.h5 and record its sha256, so that the damage reaches the weights reader."""
    write(folder / "model.weights.h5")
    meta = json.loads((folder / "metadata.json").read_text())
    meta["sha256"] = hashlib.sha256((folder / "model.weights.h5").read_bytes()).hexdigest()
    (folder / "metadata.json").write_text(json.dumps(meta))


def _edit_config(folder, **config):
    spec = json.loads((folder / "config.json").read_text())
    spec["config"].update(config)
    (folder / "config.json").write_text(json.dumps(spec))


def _h5_bomb(path):
    import h5py

    with h5py.File(path, "w") as f:  # 2^28 float32 = 1 GB declared, nothing written: a small file
        f.create_dataset("layers/conv/vars/0", shape=(2**28,), dtype="float32")
    assert path.stat().st_size < 100_000


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    import keras

    root = tmp_path_factory.mktemp("malformed")
    keras.utils.set_random_seed(5)
    f = {"root": str(root)}
    pixelcnn = zoo.get("pixelcnn.tiny")
    f["pixelcnn"] = str(root / "pixelcnn.keras")
    pixelcnn.save(f["pixelcnn"])
    lstm = zoo.get("lstm_lm.tiny")
    f["lstm"] = str(root / "lstm.keras")
    lstm.save(f["lstm"])
    base = root / "preset"
    pixelcnn.save_to_preset(base, name="pixelcnn.tiny")
    f["model_null"] = _preset_variant(base, root, "model_null", lambda p: (p / "config.json").write_text(
        json.dumps({"name": "pixelcnn.tiny", "model": None})))
    f["deep"] = _preset_variant(base, root, "deep", lambda p: (p / "config.json").write_text(
        "[" * 200_000 + "]" * 200_000))
    f["huge_json"] = _preset_variant(base, root, "huge_json", lambda p: (p / "config.json").write_text(
        " " * 5_000_000 + "{}"))
    f["meta_list"] = _preset_variant(base, root, "meta_list", lambda p: (p / "metadata.json").write_text("[]"))
    f["h5_bomb"] = _preset_variant(base, root, "h5_bomb", lambda p: _set_weights_file(p, _h5_bomb))
    f["not_h5"] = _preset_variant(base, root, "not_h5", lambda p: _set_weights_file(
        p, lambda w: w.write_bytes(b"not an HDF5 file at all")))
    lstm_base = root / "lstm_preset"
    lstm.save_to_preset(lstm_base, name="lstm_lm.tiny")
    f["lstm_preset"] = str(lstm_base)
    f["wide"] = _preset_variant(lstm_base, root, "wide", lambda p: _edit_config(p, units=100_000))
    f["huge_number"] = _preset_variant(lstm_base, root, "huge_number", lambda p: _edit_config(p, units=10**12))
    f["wide_masked"] = _preset_variant(base, root, "wide_masked", lambda p: _edit_config(
        p, hidden_dim=200_000, output_dim=200_000))
    for name, text in {"recipe_garbage": "{not json", "recipe_list": "[1, 2]",
                       "recipe_bad": json.dumps({"model": "pixelcnn.tiny", "train": {"epochs": 0}})}.items():
        (root / name).mkdir()
        shutil.copy(f["pixelcnn"], root / name / "model.keras")
        (root / name / "recipe.json").write_text(text)
        f[name] = str(root / name)
    _png_header_only(root / "bomb.png", 30_000, 30_000)  # 900 M pixels: Pillow's bomb error
    _png_header_only(root / "large.png", 10_000, 10_000)  # 100 M pixels: Pillow's bomb warning
    frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (0, 255)]
    frames[0].save(root / "animated.png", save_all=True, append_images=frames[1:])
    (root / "empty.png").write_bytes(b"")
    (root / "empty.txt").write_bytes(b"")
    (root / "a.txt").write_bytes(b"hello")
    compression.compress(lstm, [root / "a.txt"], root / "good.kgz", model_name=f["lstm"])
    blob = (root / "good.kgz").read_bytes()
    body = bytearray(blob[:-4])
    body[len(compression.MAGIC) + 1] = 9  # the data kind
    (root / "kind9.kgz").write_bytes(bytes(body) + struct.pack(">I", zlib.crc32(bytes(body)) & 0xFFFFFFFF))
    (root / "cut.kgz").write_bytes(blob[:30])
    old = bytearray(blob)
    old[len(compression.MAGIC)] = 1
    (root / "format1.kgz").write_bytes(bytes(old))
    for name in ("bomb.png", "large.png", "animated.png", "empty.png", "empty.txt", "kind9.kgz", "cut.kgz",
                 "format1.kgz"):
        f[name.replace(".", "_")] = str(root / name)
    return f


# (argv, exit status, what the one stderr line must contain; None: success, no stderr line).
CASES = [
    (["sample", "{model_null}", "--out", "{out}/g.png"], 2, "{model_null}/config.json: its 'model' must be"),
    (["sample", "{deep}", "--out", "{out}/g.png"], 2, "{deep}/config.json: not a JSON file kgen reads (nested"),
    (["sample", "{huge_json}", "--out", "{out}/g.png"], 2, "{huge_json}/config.json: 5,000,002 bytes; a preset's"),
    (["sample", "{meta_list}", "--out", "{out}/g.png"], 2, "{meta_list}/metadata.json: expected a JSON object"),
    (["sample", "{h5_bomb}", "--out", "{out}/g.png"], 2, "{h5_bomb}/model.weights.h5: its arrays claim more than"),
    # 100,000 LSTM units: 160 GB of LSTM weights, counted (not allocated) before the build is refused.
    (["sample", "{wide}", "--out", "{out}/g.txt"], 2, "{wide}/config.json: describes a model of"),
    # A number no model of these weights needs is refused before the build.
    (["sample", "{huge_number}", "--out", "{out}/g.txt"], 2,
     "{huge_number}/config.json: `config.units` is 1,000,000,000,000, larger than a model whose weights file"),
    # A 200,000-wide PixelCNN: its masked kernels' masks (1.4 TB each) are built with keras.ops when a layer runs,
    # so the symbolic build makes none of them before the weights are counted and the model refused.
    (["sample", "{wide_masked}", "--out", "{out}/g.png"], 2, "{wide_masked}/config.json: describes a model of"),
    (["sample", "{not_h5}", "--out", "{out}/g.png"], 2, "{not_h5}/model.weights.h5: not a readable weights file"),
    (["sample", "{recipe_garbage}", "--out", "{out}/g.png"], 2, "{recipe_garbage}/recipe.json: not a valid JSON"),
    (["sample", "{recipe_list}", "--out", "{out}/g.png"], 2, "{recipe_list}/recipe.json: expected a JSON object"),
    (["evaluate", "{recipe_bad}"], 2, "{recipe_bad}/recipe.json: `[train] epochs`: input should be greater than"),
    (["compress", "{pixelcnn}", "{bomb_png}", "--out", "{out}/x.kgz"], 2, "input '{bomb_png}' is not a PNG kgen reads"),
    (["compress", "{pixelcnn}", "{large_png}", "--out", "{out}/x.kgz"], 2,
     "input '{large_png}' is 10000x10000; this model takes 8x8 images"),
    (["compress", "{pixelcnn}", "{animated_png}", "--out", "{out}/x.kgz"], 2,
     "input '{animated_png}' is an animated PNG of 2 frames"),
    (["compress", "{pixelcnn}", "{empty_png}", "--out", "{out}/x.kgz"], 2,
     "input '{empty_png}' is not a readable PNG image"),
    (["decompress", "{kind9_kgz}", "--out", "{out}/r", "--model", "{lstm}"], 2,
     "{kind9_kgz} has a corrupted header: the data kind has the unknown code 9"),
    (["decompress", "{cut_kgz}", "--out", "{out}/r", "--model", "{lstm}"], 2, "{cut_kgz} is truncated"),
    (["decompress", "{format1_kgz}", "--out", "{out}/r", "--model", "{lstm}"], 2,
     "{format1_kgz} has container format 1; this kgen reads format 2"),
]


def _listing(root):
    return sorted(os.path.join(d, n) for d, dirs, names in os.walk(root) for n in dirs + names)


@pytest.mark.parametrize("argv,status,expected", CASES, ids=[f"{i:02d}-{c[0][0]}" for i, c in enumerate(CASES)])
def test_a_malformed_file_is_one_clear_line(files, tmp_path, capsys, monkeypatch, argv, status, expected):
    monkeypatch.setenv("KGEN_PROGRESS", "0")
    out = tmp_path / "out"
    out.mkdir()
    argv = [a.format(out=out, **files) for a in argv]
    before = _listing(files["root"])
    assert cli.main(argv) == status, capsys.readouterr().err
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip() and not line.startswith("note:")]
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"kgen {argv[0]}: error: ") and expected.format(**files) in lines[0], lines[0]
    assert "Traceback" not in captured.err and "Warning" not in captured.err
    assert _listing(files["root"]) == before and _listing(out) == []


def test_an_empty_input_compresses_and_comes_back(files, tmp_path, capsys):
    """An empty file is a valid input: a .kgz of one empty item (no ZeroDivisionError after writing it)."""
    out = tmp_path / "e.kgz"
    assert cli.main(["compress", files["lstm"], files["empty_txt"], "--out", str(out), "--verbose", "0"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "0 -> " in printed[0]
    assert cli.main(["decompress", str(out), "--out", str(tmp_path / "r"), "--verbose", "0"]) == 0
    assert (tmp_path / "r" / "empty.txt").read_bytes() == b""


def test_the_table_covers_every_kind_of_file():
    said = " ".join(expected for _, _, expected in CASES)
    for what in ("config.json", "metadata.json", "model.weights.h5", "recipe.json", "PNG", "_kgz}"):
        assert what in said, what
    assert len(CASES) >= 15


def test_a_refused_preset_leaves_no_weights_to_allocate_later(files):
    """The refused model's deferred weights (160 GB) are not left for Keras to allocate at the next load."""
    from kgen import pretrained

    with pytest.raises(pretrained.PresetError, match="describes a model of"):
        pretrained.load_preset(files["wide"])
    model = zoo.get("lstm_lm.tiny", weights=files["lstm_preset"])  # would try to allocate them
    assert model.count_params() < 10**6

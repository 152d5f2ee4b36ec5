"""`kgen decompress` writes every file or none (issue 27, class 2).

Every name is checked before anything is decoded (a NUL byte, a path, a name longer than a file system takes, two
items with the same name or the same name but for case); everything is decoded and checked before anything is
written; every file goes to a temporary beside its place (a name of 250 bytes still fits) and all are renamed at
the end; a failed write (a full disk, here a file-size limit in a child process) or a failed rename leaves the
output folder as it was and says which files were not written.

The .kgz files are made with `kgen.compression.pack` from one real file: items stored raw, so that the cases cost
no model decoding.
"""

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kgen import cli, compression, zoo

pytestmark = pytest.mark.one_backend("torch")  # backend-independent: runs once (tests/conftest.py)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A tiny text model saved as a .keras file and the header of a real .kgz made with it."""
    import keras

    root = tmp_path_factory.mktemp("made")
    keras.utils.set_random_seed(3)
    model_path = root / "lstm.keras"
    zoo.get("lstm_lm.tiny").save(model_path)
    (root / "a.txt").write_bytes(b"hello\n")
    compression.compress(keras.saving.load_model(model_path), [root / "a.txt"], root / "real.kgz",
                         model_name=str(model_path))
    return {"model": str(model_path), "header": compression.unpack((root / "real.kgz").read_bytes())[0]}


def _kgz(made, path, items):
    """Write a .kgz at `path` holding `items` ([(name, content bytes)]), each stored raw."""
    header = dict(made["header"])
    header["items"] = [{"name": name, "method": "stored", "length": len(data), "label": None, "chunk": data}
                       for name, data in items]
    header["data_sha256"] = compression._data_sha256([list(data) for _, data in items])
    Path(path).write_bytes(compression.pack(header, b""))
    return str(path)


def _listing(folder):
    return sorted(os.path.relpath(os.path.join(d, n), folder) for d, ds, ns in os.walk(folder) for n in ds + ns)


LONG = "n" * 250 + ".txt"  # 254 bytes: a legal name on every usual file system

# (items, status, what the one stderr line must contain (None: success), the output folder's listing after).
# "out" starts with keep.txt ("mine") and, where a case names it, exists.txt.
CASES = [
    ([("a.txt", b"one"), ("b\0.txt", b"two")], 2, "unsafe file name 'b\\x00.txt'", ["keep.txt"]),
    ([("a.txt", b"one"), ("sub/b.txt", b"two")], 2, "unsafe file name 'sub/b.txt'", ["keep.txt"]),
    ([("a.txt", b"one"), ("x" * 256, b"two")], 2, "more than the 255 allowed", ["keep.txt"]),
    ([("a.txt", b"one"), ("a.txt", b"two")], 2, "names two items 'a.txt' and 'a.txt'", ["keep.txt"]),
    ([("Read.me", b"one"), ("READ.ME", b"two")], 2, "names two items 'Read.me' and 'READ.ME'", ["keep.txt"]),
    ([("a.txt", b"one"), ("keep.txt", b"two")], 2, "keep.txt' exists; pass overwrite=True (--force)", ["keep.txt"]),
    ([("a.txt", b"one"), (LONG, b"two")], 0, None, ["a.txt", "keep.txt", LONG]),
    ([("a.txt", b"one"), ("b.txt", b"")], 0, None, ["a.txt", "b.txt", "keep.txt"]),
]


@pytest.mark.parametrize("items,status,expected,after", CASES, ids=[f"{i:02d}" for i in range(len(CASES))])
def test_decompress_writes_all_or_nothing(made, tmp_path, capsys, items, status, expected, after):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    path = _kgz(made, tmp_path / "f.kgz", items)
    assert cli.main(["decompress", path, "--out", str(out), "--model", made["model"], "--verbose", "0"]) == status
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    if expected is None:
        assert err == []
        assert {name: (out / name).read_bytes() for name, _ in items} == dict(items)
    else:
        assert len(err) == 1 and err[0].startswith("kgen decompress: error: ") and str(path) in err[0] + path, err
        assert expected in err[0], err
    assert _listing(out) == sorted(after)
    assert (out / "keep.txt").read_text() == "mine"


def test_a_full_disk_on_the_second_file_leaves_nothing(made, tmp_path):
    """A file-size limit (what a full disk does to a write) in a child process: the second item cannot be written;
    the first is not left behind, and the error names the files."""
    out = tmp_path / "out"
    out.mkdir()
    path = _kgz(made, tmp_path / "f.kgz", [("small.txt", b"x" * 1000), ("large.bin", bytes(300_000))])

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    env = dict(os.environ, KGEN_PROGRESS="0")
    result = subprocess.run([sys.executable, "-m", "kgen.cli", "decompress", path, "--out", str(out),
                             "--model", made["model"]], preexec_fn=limit, env=env, capture_output=True, text=True,
                            timeout=300)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, result.stderr
    assert lines[-1].startswith("kgen decompress: error: ") and "none of the files was written" in lines[-1]
    assert "small.txt" in lines[-1] and "large.bin" in lines[-1]
    assert _listing(out) == []


def test_a_failed_rename_takes_back_the_files_already_renamed(made, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.txt").write_text("old a")
    path = _kgz(made, tmp_path / "f.kgz", [("a.txt", b"new a"), ("b.txt", b"new b")])
    real_replace, calls = os.replace, []

    def failing_replace(src, dst):
        calls.append(dst)
        if Path(dst).name == "b.txt":  # the rename into place (a temporary name may end in "b.txt" too)
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    from kgen import training

    with pytest.raises(OSError, match="none of the files was written.*1 taken back"):
        compression.decompress(path, training.load_model(made["model"]), out, overwrite=True)
    monkeypatch.setattr(os, "replace", real_replace)
    assert _listing(out) == ["a.txt"] and (out / "a.txt").read_text() == "old a"
    assert any(Path(c).name == "a.txt" for c in calls)  # a.txt had been renamed into place, then taken back

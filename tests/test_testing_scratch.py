"""kgen.testing's checks that write files (.keras files, SavedModels) leave nothing behind when given no folder:
each worked in a temporary folder of its own and removed it; a folder the caller gives keeps what the check wrote
and whatever was there before."""

import tempfile

import pytest

import kgen
from kgen.testing import TestCase

CHECKS = ["run_model_saving_test", "run_mixed_precision_test", "run_export_test"]


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    root = tmp_path / "temp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def left_in(root):
    """What is in `root`, but TensorFlow's autograph sources (tf.function writes each traced function's converted
    source there and keeps it for its tracebacks: TensorFlow's files, not the check's)."""
    return sorted(p.name for p in root.iterdir() if not p.name.startswith("__autograph_generated_file"))


@pytest.mark.parametrize("check", CHECKS)
def test_a_check_given_no_folder_removes_its_own(check, temp_root):
    getattr(TestCase(), check)(kgen.zoo.get("pixelcnn.tiny"))
    assert left_in(temp_root) == [], f"{check} left {left_in(temp_root)}"


def test_a_check_given_a_folder_keeps_it_and_what_was_there(tmp_path, temp_root):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("not kgen's")
    TestCase().run_model_saving_test(kgen.zoo.get("pixelcnn.tiny"), tmp_dir=mine)
    assert sorted(p.name for p in mine.iterdir()) == ["model.keras", "notes.txt"]
    assert (mine / "notes.txt").read_text() == "not kgen's"
    assert left_in(temp_root) == []

"""The tutorial notebooks (zoo/notebooks/*.ipynb): committed without outputs, and each runs as typed on its tiny
settings (KGEN_NOTEBOOK_TINY=1) through tools/run_notebooks.py, producing the outputs it is there to show.

Running them is TensorFlow-only: the suite runs once per backend, and running each notebook three times would cost
CI minutes without testing anything the backend-walking tests of the models do not.
"""

from pathlib import Path

import keras
import nbformat
import pytest

import run_notebooks  # tools/ (on the tests' path: pyproject.toml's pytest `pythonpath`)

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "zoo" / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))

# What each notebook must show, by the tag of the code cell that shows it: "image" an image/png output, "audio" an
# inline audio player (IPython.display.Audio's HTML), or a text that its printed output must contain.
EXPECTED = {
    "pixelcnn": {
        "loss": ["image"],
        "evaluate": ["nats per image"],
        "samples": ["image"],
        "pretrained": ["model card:", "nats per image", "image"],
        "completion": ["image"],
    },
    "text": {
        "generate": ["ROMEO:"],
        "compress": ["payload_bytes", "bits per byte"],
        "sizes": ["gzip -9", "bzip2 -9", ".kgz payload"],
        "decompress": ["identical to the original: True"],
    },
    "wavenet_audio": {
        "audio": ["audio"],
        "spectrogram": ["image"],
        "real": ["audio", "image", "60 test recordings"],  # the embedded FSDD subset: no data folder needed
        "likelihood": ["bits per sample"],
        "continue": ["audio", "image"],
    },
    "representation": {
        "atoms": ["image"],
        "codes": ["atoms used", "image"],
        "atoms_used": ["image"],
        "reconstructions": ["image", "reconstruction error on 500 test digits"],
        "compare": ["sparse_coding.mnist", "psd.mnist", "autoencoder.mnist"],
    },
}

tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the notebooks run under the TensorFlow backend only (the suite runs once per backend; CI time is tight)",
)




def _shown(cell):
    """What a code cell showed: ("image" if it displayed a PNG, "audio" if an audio player, and its text)."""
    kinds, text = set(), []
    for output in cell.outputs:
        if output.output_type == "stream" and output.name == "stdout":
            text.append(output.text)
        elif output.output_type in ("display_data", "execute_result"):
            data = output.get("data", {})
            if "image/png" in data:
                kinds.add("image")
            if "<audio" in data.get("text/html", ""):
                kinds.add("audio")
            if "text/plain" in data and not ({"image/png", "text/html"} & set(data)):
                text.append(data["text/plain"])
    return kinds, "".join(text)


def test_every_tutorial_is_there():
    assert {p.stem for p in NOTEBOOKS} >= set(EXPECTED), sorted(p.stem for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.get("kernelspec", {}).get("name") == "python3"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {cell.id} has outputs; clear them before committing"
            assert cell.execution_count is None, f"{path.name}: cell {cell.id} has an execution count"
            assert "execution" not in cell.metadata, f"{path.name}: cell {cell.id} has execution timings"
    # The tiny settings are read in the open, at the top: one documented variable, no hidden patching.
    first_code = next(c for c in notebook.cells if c.cell_type == "code")
    assert 'os.environ.get("KGEN_NOTEBOOK_TINY") == "1"' in first_code.source, path.name


@tensorflow_only
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs(name, tmp_path, capsys):
    status = run_notebooks.main(["--out", str(tmp_path), "--tiny", name])
    printed = capsys.readouterr()
    assert status == 0, printed.out + printed.err[-6000:]
    assert f"{name}.ipynb: " in printed.out and "FAILED" not in printed.out, printed.out
    notebook = nbformat.read(tmp_path / f"{name}.ipynb", as_version=4)
    cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert [c.execution_count for c in cells] == list(range(1, len(cells) + 1))
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]

    expected = EXPECTED[name]
    tagged = {}
    for cell in cells:
        for tag in cell.metadata.get("tags", []):
            tagged.setdefault(tag, []).append(cell)
    assert set(expected) <= set(tagged), f"cells tagged {sorted(tagged)}, expected {sorted(expected)}"
    for tag, wanted in expected.items():
        kinds, text = set(), ""
        for cell in tagged[tag]:
            k, t = _shown(cell)
            kinds |= k
            text += t
        for item in wanted:
            if item in ("image", "audio"):
                assert item in kinds, f"{name}: the cell tagged {tag!r} showed no {item} (it showed {sorted(kinds)})"
            else:
                assert item in text, f"{name}: the cell tagged {tag!r} did not print {item!r}; it printed:\n{text}"


@tensorflow_only
def test_tool_reports_a_failing_notebook(tmp_path, capsys):
    """A notebook whose cell raises: exit status 1, its error on stderr, no executed copy written."""
    source = tmp_path / "src" / "broken.ipynb"
    source.parent.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('before')"),
                                               nbformat.v4.new_code_cell("raise ValueError('the tutorial broke')")])
    notebook.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(notebook, source)
    out = tmp_path / "out"
    assert run_notebooks.main(["--out", str(out), str(source)]) == 1
    printed = capsys.readouterr()
    assert "broken.ipynb: FAILED" in printed.out
    assert "the tutorial broke" in printed.err
    assert list(out.iterdir()) == []

"""The model contract holds in the code: nothing outside kgen/models asks what kind a model is, no `kind == ...`
switch outside the codec table, kgen/zoo.py imports no family, and the import graph of the package has no cycle
and no import back up (function-level imports included)."""

import re
from pathlib import Path

import import_graph  # tools/ (on the tests' path: pyproject.toml's pytest `pythonpath`)

ROOT = Path(__file__).resolve().parents[1]
KIND_CLASSES = ("AutoregressiveImageModel", "AutoregressiveSequenceModel", "AutoregressiveVideoModel", "RepresentationModel",
                "Classifier")
KIND_PROBE = re.compile(
    r"\b(hasattr|getattr)\(\s*model\b"  # probing a model's attributes to guess its kind
    r"|\bisinstance\(\s*\w+\s*,\s*\(?\s*(" + "|".join(KIND_CLASSES) + r")\b"  # testing its kind class
    r"|^\s*(from|import)\s.*\b(" + "|".join(KIND_CLASSES) + r")\b"  # importing a kind class to test it
    r"|\bis_(sequence|representation|image)_model\b"
)


def _import_graph():
    return import_graph.import_graph(ROOT)[0]


def test_import_graph_is_acyclic():
    cycles = import_graph.cycles(_import_graph())
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_import_runs_back_up():
    """No module imports the package root `kgen` (whose __init__ imports most of the package), no family imports
    another family, and the lower packages (layers, likelihood heads, generation loops) import nothing above them
    (`tools/import_graph.py`)."""
    graph, root_imports = import_graph.import_graph(ROOT)
    assert not root_imports, f"imports of the package root: {root_imports}"
    assert not import_graph.family_imports(graph, import_graph.modules(ROOT)), "a family imports another family"
    assert not import_graph.upward_imports(graph), "a lower package imports a higher one"


def test_no_kind_switch_outside_the_codec_table():
    """Data kinds are told by the codec table of kgen/compression.py and the model contract, not by `kind == ...`
    switches (the tools and the tests included)."""
    switch = re.compile(r"""\bkind\s*(==|!=)\s*["']""")
    offenders = []
    for path in list((ROOT / "kgen").rglob("*.py")) + list((ROOT / "tools").glob("*.py")):
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if switch.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, "kind switches:\n" + "\n".join(offenders)


def test_zoo_imports_no_family():
    graph = _import_graph()
    assert not {m for m in graph["kgen.zoo"] if m.startswith("kgen.models")}, graph["kgen.zoo"]


def test_no_kind_dispatch_outside_the_models():
    """Training, the CLI, export, the test helpers, the test walker and the tools call the model contract; they
    never test a model's class or probe its attributes to decide what it is."""
    files = [p for p in (ROOT / "kgen").rglob("*.py") if "models" not in p.relative_to(ROOT / "kgen").parts[:1]]
    files += list((ROOT / "tools").glob("*.py")) + [ROOT / "tests" / "test_zoo.py"]
    offenders = []
    for path in files:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if KIND_PROBE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert not offenders, "kind dispatch outside kgen/models:\n" + "\n".join(offenders)

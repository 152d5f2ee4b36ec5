"""The model contract holds in the code: nothing outside kgen/models asks what kind a model is, kgen/zoo.py imports
no family, and the import graph of the package has no cycle (function-level imports included)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIND_CLASSES = ("AutoregressiveImageModel", "AutoregressiveSequenceModel", "RepresentationModel")
KIND_PROBE = re.compile(
    r"\b(hasattr|getattr)\(\s*model\b"  # probing a model's attributes to guess its kind
    r"|\bisinstance\(\s*\w+\s*,\s*\(?\s*(" + "|".join(KIND_CLASSES) + r")\b"  # testing its kind class
    r"|^\s*(from|import)\s.*\b(" + "|".join(KIND_CLASSES) + r")\b"  # importing a kind class to test it
    r"|\bis_(sequence|representation|image)_model\b"
)


def _modules():
    mods = {}
    for path in (ROOT / "kgen").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = path
    return mods


def _import_graph():
    mods = _modules()

    def resolve(name):
        while name and name not in mods:
            name = name.rsplit(".", 1)[0] if "." in name else ""
        return name

    graph = {m: set() for m in mods}
    for module, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for target in targets:
                found = resolve(target) if target.startswith("kgen") else ""
                # A module's own package (an ancestor) is imported before it anyway: not an edge of the design.
                if found and found != "kgen" and found != module and not module.startswith(found + "."):
                    graph[module].add(found)
    return graph


def test_import_graph_is_acyclic():
    graph = _import_graph()
    state, stack, cycles = {}, [], []

    def visit(u):
        state[u] = "open"
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == "open":
                cycles.append(stack[stack.index(v):] + [v])
            elif v not in state:
                visit(v)
        stack.pop()
        state[u] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


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

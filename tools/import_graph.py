"""The import graph of the kgen package, in figures: modules, imports, layers, cycles and imports back up.

Every `import kgen...` / `from kgen... import ...` of every module under kgen/ (function-level imports included) is
an edge from the importing module to the module it names (a name imported from a package resolves to its submodule
when there is one). A module's own ancestors are not edges (Python imports them first anyway).

- layers: the modules sorted so that every import points down: a module that imports nothing of kgen is layer 0,
  any other is one above the highest module it imports; the figure is the number of layers (None with a cycle);
- cycles: the import circles (each printed);
- back up: imports of the package root `kgen` itself (its `__init__` imports most of the package, so such an import
  runs from a lower module back up the house), and imports of a family folder from another family
  (kgen.models.<family>), and imports of a higher package from a lower one (`BELOW`: layers -> samplers or
  models, samplers -> models), each printed.

Usage (from the repository root; `--root` reads another checkout, e.g. a `git worktree` of an older commit):

    python tools/import_graph.py
    python tools/import_graph.py --root /tmp/kgen-before --edges

It prints one line of figures ("modules N, imports N, layers N, cycles N, back up N") and the offending imports.
"""

import argparse
import ast
import sys
from pathlib import Path

#: The lower packages and the higher ones they must not import: layers and likelihood heads know nothing of the
#: generation loops or the models built from them, and the loops know nothing of the models' families.
BELOW = {
    "kgen.layers": ("kgen.samplers", "kgen.models"),
    "kgen.distributions": ("kgen.samplers", "kgen.models"),
    "kgen.samplers": ("kgen.models",),
}


def modules(root):
    """{dotted module name: path} of every .py file under root/kgen (a package by its own name)."""
    found = {}
    for path in sorted((root / "kgen").rglob("*.py")):
        name = ".".join(path.relative_to(root).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def family_of(module, mods):
    """The family folder (kgen.models.<family>) a module belongs to, or None."""
    parts = module.split(".")
    if len(parts) < 3 or parts[:2] != ["kgen", "models"]:
        return None
    package = mods.get(".".join(parts[:3]))
    return ".".join(parts[:3]) if package is not None and package.name == "__init__.py" else None


def import_graph(root):
    """(graph, root_imports): graph {module: set of kgen modules it imports}; root_imports [(module, line)] of the
    imports that resolve to the package root `kgen` only."""
    mods = modules(root)

    def resolve(name):
        while name and name not in mods:
            name = name.rsplit(".", 1)[0] if "." in name else ""
        return name

    graph = {m: set() for m in mods}
    root_imports = []
    for module, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                groups = [[a.name] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from kgen.x import y`: the submodule kgen.x.y when there is one, else kgen.x itself
                groups = [[f"{node.module}.{a.name}", node.module] for a in node.names]
            else:
                continue
            for candidates in groups:
                if not candidates[0].startswith("kgen"):
                    continue
                found = next((c for c in candidates if c in mods), None) or resolve(candidates[-1])
                if found == "kgen" and module != "kgen":
                    root_imports.append((module, node.lineno))
                elif found and found != module and not module.startswith(found + "."):
                    graph[module].add(found)
    return graph, root_imports


def cycles(graph):
    state, stack, found = {}, [], []

    def visit(u):
        state[u] = "open"
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == "open":
                found.append(stack[stack.index(v):] + [v])
            elif v not in state:
                visit(v)
        stack.pop()
        state[u] = "done"

    for u in sorted(graph):
        if u not in state:
            visit(u)
    return found


def layers(graph):
    """{module: layer} (0: imports nothing of kgen), or None when the graph has a cycle."""
    level = {}

    def depth(u, path=()):
        if u in level:
            return level[u]
        if u in path:
            raise RecursionError
        level[u] = 1 + max((depth(v, path + (u,)) for v in graph[u]), default=-1)
        return level[u]

    try:
        for u in graph:
            depth(u)
    except RecursionError:
        return None
    return level


def family_imports(graph, mods):
    """[(module, imported)]: a module of one family folder importing another family's module."""
    out = []
    for u, targets in sorted(graph.items()):
        fu = family_of(u, mods)
        for v in sorted(targets):
            fv = family_of(v, mods)
            if fu and fv and fu != fv:
                out.append((u, v))
    return out


def upward_imports(graph):
    """[(module, imported)]: a module of a lower package (`BELOW`) importing one of the packages above it."""
    def within(module, package):
        return module == package or module.startswith(package + ".")

    return [(u, v) for u, targets in sorted(graph.items()) for v in sorted(targets)
            for low, highs in BELOW.items() if within(u, low) and any(within(v, h) for h in highs)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=Path(__file__).resolve().parents[1], type=Path,
                        help="the checkout to read (default: this one)")
    parser.add_argument("--edges", action="store_true", help="also print every import, one per line")
    args = parser.parse_args(argv)
    mods = modules(args.root)
    graph, root_imports = import_graph(args.root)
    circles = cycles(graph)
    level = layers(graph)
    across = family_imports(graph, mods)
    upward = upward_imports(graph)
    num_layers = None if level is None else max(level.values()) + 1
    print(f"modules {len(graph)}, imports {sum(map(len, graph.values()))}, layers {num_layers}, "
          f"cycles {len(circles)}, back up {len(root_imports) + len(across) + len(upward)}")
    for circle in circles:
        print("cycle: " + " -> ".join(circle))
    for module, line in root_imports:
        print(f"back up: {module} (line {line}) imports the package root kgen")
    for u, v in across:
        print(f"back up: {u} imports another family's {v}")
    for u, v in upward:
        print(f"back up: {u} (a lower package) imports {v}")
    if args.edges:
        for u in sorted(graph):
            for v in sorted(graph[u]):
                print(f"{u} -> {v}")
    return 1 if circles else 0


if __name__ == "__main__":
    sys.exit(main())

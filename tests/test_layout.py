"""The shape of the package: no import circle between its modules, and no function so long that a
reader cannot hold it (over 60 lines, unless it says why)."""

import ast
import pathlib

import chainrule

ROOT = pathlib.Path(chainrule.__file__).parent


def modules():
    """{module name: parsed source} of every module of the package."""
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = (path, ast.parse(path.read_text(encoding="utf-8")))
    return found


def imports(name, path, tree, names):
    """The package's modules that ``name`` imports, at its top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    edges = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                edges.add(sub if sub in names else target)  # `from . import memory` imports the module
        elif isinstance(node, ast.Import):
            edges.update(alias.name for alias in node.names)
    return {e for e in edges if e in names and e != name}


def test_no_import_circle_between_modules():
    found = modules()
    graph = {name: imports(name, *found[name], found) for name in found}
    graph["chainrule"] = set()  # the package's __init__ re-exports its modules: not a dependency of theirs
    state = {}

    def visit(name, path):
        state[name] = "open"
        for nxt in sorted(graph[name]):
            assert state.get(nxt) != "open", "import circle: " + " → ".join(path + [nxt])
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_no_function_over_60_lines_without_a_reason():
    long = []
    for name, (path, tree) in modules().items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > 60 and "over 60 lines" not in (ast.get_docstring(node) or ""):
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert long == []

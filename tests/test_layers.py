"""Dependencies run one way. Every import of the package counts, a lazy one inside a function
and one for type checkers alike (a lazy import hides a circle, it does not remove it)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "litwatch"


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports, anywhere in its code."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = (f"{base}.{node.module}" if node.module else base) if node.level else node.module or ""
                # "from . import api" imports the module litwatch.api; "from . import x" of a name, the package
                candidates = [f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            found |= {c for c in candidates if c in modules and c != name}
        graph[name] = found
    return graph


def test_the_import_graph_has_no_circle():
    graph, seen, stack, circles = _imports(), set(), [], []

    def visit(node):
        if node in stack:
            circles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        stack.pop()
    for node in sorted(graph):
        visit(node)
    assert circles == []


def test_the_store_knows_no_source_and_nothing_climbs_to_the_package():
    """The store receives the sources' tables (litwatch.catalog composes them); a source knows the
    store, not the layers above it; no module reaches the package's __init__ (``__version__``
    lives in litwatch.version)."""
    graph = _imports()
    above_store = {"litwatch.sources", "litwatch.catalog", "litwatch.config", "litwatch.gaps", "litwatch.evidence",
                   "litwatch.api", "litwatch.report", "litwatch.runs", "litwatch.lock"}
    for name, targets in graph.items():
        if name.startswith("litwatch.store"):
            assert not {t for t in targets if any(t == a or t.startswith(a + ".") for a in above_store)}, name
        if name.startswith("litwatch.sources"):
            upward = {"litwatch.catalog", "litwatch.config", "litwatch.evidence", "litwatch.api", "litwatch.sync",
                      "litwatch.report", "litwatch.gaps", "litwatch.runs", "litwatch.cli"}
            assert not {t for t in targets if any(t == a or t.startswith(a + ".") for a in upward)}, name
        assert "litwatch" not in targets or name == "litwatch.__main__", name
